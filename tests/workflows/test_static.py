"""The workflows are secure by construction: checked statically, before any of them runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflows.conftest import ROOT, STAND_IN_FOR, WORKFLOWS
from tests.workflows.settings import (
    DVC_CREDENTIALS,
    GITHUB_APP_KEY,
    LOCATIONS,
    MLFLOW_CREDENTIALS,
    OPTIONS,
    RUNNERS,
)
from tests.workflows.workflow_files import (
    EVERY_JOB,
    FILES,
    environment_names,
    evaluate,
    jobs_of_every_workflow,
    load,
    runs_of,
    runs_project_code,
    secrets_of,
    steps,
    triggers,
)

BIN = Path(sys.executable).parent
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+){0,2}$")


def test_there_is_a_workflow_for_each_part_of_the_product() -> None:
    names = {path.stem for path in FILES}
    assert names == {"ci", "pr-report", "pr-comment", "retrain", "deploy", "rollback", "drift"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert lines
    unpinned = [line.strip() for line in lines if not PINNED.match(line)]
    assert not unpinned


def test_every_pinned_action_has_a_stand_in_or_is_checkout() -> None:
    used = {
        match.group(1)
        for path in FILES
        for line in path.read_text(encoding="utf-8").splitlines()
        if (match := PINNED.match(line))
    }
    assert used - set(STAND_IN_FOR) == {"actions/checkout"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_least_privilege(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} must declare its own permissions"
        assert all(level in ("read", "write") for level in job["permissions"].values())
        assert "write-all" not in str(job["permissions"])
        assert job.get("secrets") != "inherit"


def test_write_permissions_only_where_the_job_needs_them() -> None:
    writes = {
        (path.stem, scope)
        for path in FILES
        for job in load(path)["jobs"].values()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert writes == {
        ("pr-comment", "pull-requests"),
        ("retrain", "contents"),
        ("retrain", "pull-requests"),
        ("drift", "issues"),
        ("drift", "actions"),
        ("deploy", "packages"),
        ("deploy", "attestations"),
        ("deploy", "id-token"),
        ("rollback", "packages"),
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_privileged_trigger_and_no_expression_inside_a_script(path: Path) -> None:
    workflow = load(path)
    assert "pull_request_target" not in triggers(workflow)
    for step in steps(workflow):
        assert "${{" not in step.get("run", ""), f"pass {step.get('name')!r} data through env:"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_checkout_never_persists_the_token(path: Path) -> None:
    for step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


def test_the_privileged_comment_workflow_never_checks_out_code() -> None:
    workflow = load(WORKFLOWS / "pr-comment.yml")
    assert set(triggers(workflow)) == {"workflow_run"}
    uses = [step.get("uses", "") for step in steps(workflow)]
    assert not any(action.startswith("actions/checkout@") for action in uses)
    assert not any("make " in step.get("run", "") for step in steps(workflow))


def test_the_report_workflow_runs_without_secrets_and_with_a_read_only_token() -> None:
    text = (WORKFLOWS / "pr-report.yml").read_text(encoding="utf-8")
    assert "secrets." not in text
    workflow = load(WORKFLOWS / "pr-report.yml")
    assert set(triggers(workflow)) == {"pull_request"}
    assert workflow["jobs"]["report"]["permissions"] == {"contents": "read"}


def test_retraining_never_pushes_the_default_branch_and_runs_one_at_a_time() -> None:
    workflow = load(WORKFLOWS / "retrain.yml")
    assert set(triggers(workflow)) == {"schedule", "workflow_dispatch", "repository_dispatch"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    pull_request = next(s for s in steps(workflow) if "create-pull-request" in s.get("uses", ""))
    assert pull_request["with"]["branch"].startswith("retrain/")
    assert not any("git push" in step.get("run", "") for step in steps(workflow))


@EVERY_JOB
def test_a_job_with_a_write_token_holds_no_secret_and_runs_none_of_the_projects_code(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    """Models are pickles: code that loads what a DVC remote or an artifact holds must not hold
    a token that can push, publish, comment, open issues or dispatch workflows, and the jobs that
    hold one take no secret they could leak: only the retraining pull request's job may hold the
    GitHub App's key, behind an environment of its own."""
    if "write" in job["permissions"].values():
        assert not runs_project_code(job), f"{workflow}/{name}"
        assert not any("setup-uv" in step.get("uses", "") for step in job["steps"])
        held = secrets_of(job)
        assert held <= GITHUB_APP_KEY, f"{workflow}/{name}"
        assert environment_names(job) == ({"retrain-pr"} if held else set()), f"{workflow}/{name}"


@EVERY_JOB
def test_every_job_runs_on_a_runner_from_a_variable_with_ubuntu_latest_as_default(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    """A team sends the jobs that may train (`make repro`, or `make reviewed-model`, which
    rebuilds the model without a DVC remote) to a larger or GPU runner with TRAIN_RUNNER, every
    other job with RUNNER; unset, both are GitHub's."""
    trains = re.search(r"make (repro|reviewed-model)\b", runs_of(job))
    variable = "TRAIN_RUNNER" if trains else "RUNNER"
    assert job["runs-on"] == f"${{{{ vars.{variable} || 'ubuntu-latest' }}}}", f"{workflow}/{name}"


@EVERY_JOB
def test_secrets_are_read_only_behind_an_environment(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    """An environment's secrets reach a job only from the branches its protection rules allow,
    so unreviewed code never holds the shared stores' credentials."""
    if secrets_of(job):
        assert job.get("environment"), f"{workflow}/{name} reads secrets outside an environment"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_credentials_are_secrets_and_locations_are_variables(path: Path) -> None:
    workflow = load(path)
    assert "secrets." not in yaml.safe_dump(workflow.get("env", {}))
    text = path.read_text(encoding="utf-8")
    secrets = MLFLOW_CREDENTIALS | DVC_CREDENTIALS | GITHUB_APP_KEY
    assert set(re.findall(r"\bsecrets\.(\w+)", text)) <= secrets
    assert set(re.findall(r"\bvars\.(\w+)", text)) <= LOCATIONS | RUNNERS | OPTIONS


PROPOSE_PERMISSIONS = {"contents": "write", "pull-requests": "write"}


def test_which_jobs_hold_which_credentials() -> None:
    """The jobs that reproduce the pipeline against the shared stores, each with the least it
    needs and a read-only token: CI and retraining log to MLflow and share the DVC cache, the
    drift watch only reads the DVC cache; deploy's build reads the DVC cache and writes the
    registry, its staging and production jobs and rollback only move the registry's aliases."""
    held = {
        (workflow, name): (environment_names(job), secrets_of(job), job["permissions"])
        for workflow, name, job in jobs_of_every_workflow()
        if secrets_of(job)
    }
    read_only = {"contents": "read"}
    assert held == {
        ("ci", "test"): ({"training"}, MLFLOW_CREDENTIALS | DVC_CREDENTIALS, read_only),
        ("retrain", "retrain"): ({"training"}, MLFLOW_CREDENTIALS | DVC_CREDENTIALS, read_only),
        ("drift", "drift"): ({"training"}, DVC_CREDENTIALS, read_only),
        ("deploy", "build"): ({"training"}, MLFLOW_CREDENTIALS | DVC_CREDENTIALS, read_only),
        ("deploy", "staging"): ({"staging"}, MLFLOW_CREDENTIALS, read_only),
        ("deploy", "production"): ({"production"}, MLFLOW_CREDENTIALS, read_only),
        ("rollback", "rollback"): ({"production"}, MLFLOW_CREDENTIALS, read_only),
        ("retrain", "propose"): ({"retrain-pr"}, GITHUB_APP_KEY, PROPOSE_PERMISSIONS),
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_pull_request_or_a_branch_runs_without_an_environment(path: Path) -> None:
    """A fork's pull request gets no secret at all, and a branch or a same-repository pull
    request must not get the shared stores' credentials: jobs that run on those events enter
    their environment only on a push to main, so they work with no secrets, from scratch."""
    workflow = load(path)
    on = triggers(workflow)
    cases = [("pull_request", "refs/pull/1/merge")] if "pull_request" in on else []
    if "push" in on:
        branches = (on["push"] or {}).get("branches", ["main", "feature"])
        cases += [("push", f"refs/heads/{branch}") for branch in branches]
    for name, job in workflow["jobs"].items():
        if "environment" in job:
            for event, ref in cases:
                main_push = (event, ref) == ("push", "refs/heads/main")
                entered = evaluate(job["environment"], event, ref)
                assert bool(entered) == main_push, f"{path.stem}/{name} on {event} {ref}"


def test_the_shared_stores_are_read_before_repro_and_written_only_after_the_tests() -> None:
    """CI writes the DVC remote only on a push to main, retraining only once its model passed
    the model tests and the gate; deploy only reads it (`make reviewed-model` pulls)."""
    ci, retrain, drift = (load(WORKFLOWS / f"{n}.yml")["jobs"] for n in ("ci", "retrain", "drift"))
    for job in (ci["test"], retrain["retrain"], drift["drift"]):
        runs = [step.get("run", "") for step in job["steps"]]
        assert runs.index("make dvc-pull") < runs.index("make repro")
    for job, after in ((ci["test"], "make test-model"), (retrain["retrain"], "make report")):
        runs = [step.get("run", "") for step in job["steps"]]
        push = next(i for i, run in enumerate(runs) if run == "make dvc-push")
        assert push > max(i for i, run in enumerate(runs) if run.startswith(after))
    [ci_push] = [step for step in ci["test"]["steps"] if step.get("run") == "make dvc-push"]
    assert evaluate(f"${{{{ {ci_push['if']} }}}}", "push", "refs/heads/main")
    assert not evaluate(f"${{{{ {ci_push['if']} }}}}", "push", "refs/heads/feature")
    assert not evaluate(f"${{{{ {ci_push['if']} }}}}", "pull_request", "refs/pull/1/merge")
    assert "make dvc-push" not in runs_of(drift["drift"])


def test_deploy_ships_the_reviewed_model_through_staging_then_production() -> None:
    """The model comes from dvc.lock's hash, never from `make repro`; it is tested, registered
    and gated before it is packaged, and production waits for staging. No job restores a cache."""
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    build = [step.get("run", "") for step in jobs["build"]["steps"]]
    order = [
        "make reviewed-model",
        "make test-model",
        "make register",
        "make promote FAIL_ON_REJECT=1 ALIAS=staging",
        "make bundle",
    ]
    assert [build.index(run) for run in order] == sorted(build.index(run) for run in order)
    assert not any("make repro" in run for run in build)
    assert (jobs["staging"]["environment"], jobs["production"]["environment"]) == (
        "staging",
        "production",
    )
    assert "staging" in jobs["production"]["needs"]
    assert "make release ALIAS=staging" in runs_of(jobs["staging"])
    assert "make release ALIAS=champion" in runs_of(jobs["production"])
    for workflow in ("deploy", "rollback"):
        for step in steps(load(WORKFLOWS / f"{workflow}.yml")):
            assert "actions/cache" not in step.get("uses", "")
            if "setup-uv" in step.get("uses", ""):
                assert step["with"]["enable-cache"] is False


def test_staging_and_production_load_the_model_without_the_registry_credentials() -> None:
    """A model is a pickle: in the jobs holding the staging and production credentials, only the
    step that moves the alias (digests and tags, nothing unpickled) gets them."""
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    for name in ("staging", "production"):
        assert not secrets_of({key: value for key, value in jobs[name].items() if key != "steps"})
        for step in jobs[name]["steps"]:
            if secrets_of(step):
                assert step["run"].startswith("make release ALIAS="), step["name"]


def test_rollback_is_one_step_in_the_production_environment() -> None:
    workflow = load(WORKFLOWS / "rollback.yml")
    assert set(triggers(workflow)) == {"workflow_dispatch"}
    assert workflow["concurrency"] == load(WORKFLOWS / "deploy.yml")["concurrency"]
    job = workflow["jobs"]["rollback"]
    assert job["environment"] == "production"
    assert [run for run in runs_of(job).splitlines() if run.startswith("make rollback")] == [
        'make rollback TO="$TO" REASON="$REASON"'
    ]


def test_ci_cancels_superseded_runs_and_keys_the_uv_cache_on_the_lock() -> None:
    workflow = load(WORKFLOWS / "ci.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in workflow["concurrency"]["group"]
    setup = next(s for s in steps(workflow) if "setup-uv" in s.get("uses", ""))
    assert setup["with"] == {"enable-cache": True, "cache-dependency-glob": "uv.lock"}


def test_every_make_target_a_workflow_calls_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):", makefile, flags=re.MULTILINE))
    called = {
        target
        for path in FILES
        for step in steps(load(path))
        for line in step.get("run", "").splitlines()
        for target in re.findall(r"\bmake ((?:[a-z][\w-]*\s?)+)", line)[0:1]
        for target in target.split()
    }
    assert called
    assert called <= targets


def test_every_zizmor_suppression_is_justified_next_to_it() -> None:
    for path in FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "zizmor: ignore" in line:
                assert re.search(r"zizmor: ignore\[[\w-]+\] -- \S.{20,}", line), line


def test_dependabot_updates_the_actions_and_the_uv_lock() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert {"github-actions", "uv"} <= ecosystems


def test_actionlint_and_zizmor_report_nothing() -> None:
    lint = subprocess.run([BIN / "actionlint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    for persona in ("regular", "auditor"):
        audit = subprocess.run(
            [BIN / "zizmor", "--offline", "--quiet", f"--persona={persona}", ".github/workflows"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert audit.returncode == 0, f"{persona}: {audit.stdout}"


def test_zizmor_and_actionlint_would_catch_an_injection(tmp_path: Path) -> None:
    """Proof that the linters run in earnest: a planted script injection is reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    permissions: {}\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    audit = subprocess.run(
        [BIN / "zizmor", "--offline", str(bad.parent)], capture_output=True, text=True
    )
    assert audit.returncode != 0
    assert "template-injection" in audit.stdout
    lint = subprocess.run([BIN / "actionlint", str(bad)], capture_output=True, text=True)
    assert "github.event.pull_request.title" in lint.stdout
