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

BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+){0,2}$")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    on = workflow.get("on", workflow.get(True))
    return on if isinstance(on, dict) else {name: None for name in ([on] if on else [])}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_there_is_a_workflow_for_each_part_of_the_product() -> None:
    names = {path.stem for path in FILES}
    assert names == {"ci", "pr-report", "pr-comment", "retrain", "deploy", "drift"}


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


def jobs_of_every_workflow() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.stem, name, job) for path in FILES for name, job in load(path)["jobs"].items()]


EVERY_JOB = pytest.mark.parametrize(
    ("workflow", "name", "job"),
    jobs_of_every_workflow(),
    ids=lambda value: value if isinstance(value, str) else "",
)


def runs_project_code(job: dict[str, Any]) -> bool:
    return any(
        "make " in step.get("run", "") or "python" in step.get("run", "")
        for step in job.get("steps", [])
    )


@EVERY_JOB
def test_a_job_with_a_write_token_runs_none_of_the_projects_code(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    """Models are pickles: code that loads what a DVC remote or an artifact holds must not hold
    a token that can push, comment, open issues or dispatch workflows."""
    if "write" in job["permissions"].values():
        assert not runs_project_code(job), f"{workflow}/{name}"
        assert not any("setup-uv" in step.get("uses", "") for step in job["steps"])


@EVERY_JOB
def test_a_job_with_secrets_loads_only_what_it_built_or_its_own_registry_holds(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    """Only deploy, in the protected environment, holds the registry's secret; it pulls no DVC
    remote and restores no cache, so every model it unpickles was trained by it or promoted by
    an earlier deploy."""
    if "secrets." in yaml.safe_dump(job):
        assert (workflow, name) == ("deploy", "deploy")
        assert job["environment"] == "production"
        runs = " ".join(step.get("run", "") for step in job["steps"])
        assert "dvc-pull" not in runs and "refresh-data" not in runs


def test_deploy_runs_in_a_protected_environment_without_restored_caches() -> None:
    workflow = load(WORKFLOWS / "deploy.yml")
    job = workflow["jobs"]["deploy"]
    assert job["environment"] == "production"
    runs = [step.get("run", "") for step in job["steps"]]
    assert "make promote FAIL_ON_REJECT=1" in runs and "make smoke" in runs
    assert runs.index("make promote FAIL_ON_REJECT=1") < runs.index("make smoke")
    assert not any("dvc-pull" in run for run in runs)
    assert not any("actions/cache" in step.get("uses", "") for step in job["steps"])
    for step in job["steps"]:
        if "setup-uv" in step.get("uses", ""):
            assert step["with"]["enable-cache"] is False


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
    audit = subprocess.run(
        [BIN / "zizmor", "--offline", "--quiet", ".github/workflows"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout


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
