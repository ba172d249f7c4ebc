"""The two-part pull-request report, executed with act: an unprivileged `pull_request` run builds
the report; a privileged `workflow_run` run posts it, treating the artifact as data."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tabular_mlops.core.params import Params
from tabular_mlops.core.task import PRIMARY
from tests.workflows.act_run import ActRun
from tests.workflows.conftest import REPOSITORY, Fork, set_param

PR_NUMBER = 7
PULLS = f"repos/{REPOSITORY}/pulls?state=open&per_page=100"


def pull_request_event(fork: Fork, base: str, head: str) -> dict:
    return {
        "action": "synchronize",
        "number": PR_NUMBER,
        "pull_request": {
            "number": PR_NUMBER,
            "head": {"sha": head, "ref": "feature"},
            "base": {"sha": base, "ref": "main"},
        },
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
    }


def workflow_run_event(head: str, conclusion: str = "success") -> dict:
    return {
        "action": "completed",
        "workflow_run": {
            "id": 4242,
            "name": "PR report",
            "event": "pull_request",
            "conclusion": conclusion,
            "head_sha": head,
            "head_branch": "feature",
            "pull_requests": [],
        },
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
    }


def smaller_model(params: Params) -> tuple[str, object, object]:
    """A setting of the configured model family whose change moves the model's metrics:
    (key within the family's block, base, head)."""
    train = params.train
    settings = train.chosen
    if train.model == "linear":
        return "alpha", settings.alpha, settings.alpha * 10
    if train.model == "hist_gradient_boosting":
        return "max_iter", settings.max_iter, max(1, settings.max_iter // 8)
    fewer = settings.n_estimators // 8 if settings.n_estimators >= 8 else settings.n_estimators * 8
    return "n_estimators", settings.n_estimators, fewer


@pytest.fixture(scope="module")
def report_run(
    results, params: Params, tmp_path_factory, warm_python: dict[str, str]
) -> tuple[ActRun, str, Path]:
    """A pull request that changes one param, built by the PR report workflow once per module."""
    from tests.workflows.conftest import clone_fork

    fork = clone_fork(results.upstream, tmp_path_factory.mktemp("pr") / "fork", warm_python)
    base = fork.git("rev-parse", "HEAD")
    fork.git("checkout", "-qb", "feature")
    key, _, head_value = smaller_model(params)
    set_param(fork.path / "params.yaml", "train", key, head_value)
    head = fork.commit_all(f"A smaller model: train.{key}")
    run = fork.act("pull_request", "pr-report.yml", pull_request_event(fork, base, head))
    return run, head, fork.scratch


def test_the_report_workflow_builds_the_report_with_the_changed_param_and_metrics(
    report_run: tuple[ActRun, str, Path], params: Params
) -> None:
    run, _, _ = report_run
    assert run.step_succeeded("Reproduce the pipeline"), run.failure_summary()
    report = (run.artifact("pr-report") / "pr-report.md").read_text(encoding="utf-8")
    assert report.splitlines()[0] == f"<!-- tabular-mlops:pr-report pr={PR_NUMBER} -->"
    key, base_param, head_param = smaller_model(params)
    family = re.escape(params.train.model)
    changed = (
        rf"\| `?train\.{family}\.{key}`? \| {re.escape(str(base_param))} "
        rf"\| {re.escape(str(head_param))} \|"
    )
    assert re.search(changed, report)
    primary = PRIMARY[params.data.task]
    row = next(line for line in report.splitlines() if line.startswith(f"| `{primary}`"))
    base_value, head_value = [cell.strip() for cell in row.strip("|").split("|")][1:3]
    assert base_value != head_value
    [upload] = run.recorded("actions/upload-artifact")
    assert "reports/pr-report.md" in upload["extra"]["files"] or any(
        name.endswith("pr-report.md") for name in upload["extra"]["files"]
    )


def test_the_comment_workflow_posts_that_report_on_the_right_pull_request(
    report_run: tuple[ActRun, str, Path], fork: Fork
) -> None:
    built, head, _ = report_run
    artifacts = fork.scratch / "artifacts"
    shutil.copytree(built.artifacts, artifacts)
    run = fork.act(
        "workflow_run",
        "pr-comment.yml",
        workflow_run_event(head),
        artifacts=artifacts,
        gh_api={
            PULLS: [
                {"number": 3, "head": {"sha": "0" * 40}},
                {"number": PR_NUMBER, "head": {"sha": head}},
            ]
        },
    )
    assert run.returncode == 0, run.failure_summary()
    [download] = run.recorded("actions/download-artifact")
    assert download["inputs"]["run-id"] == "4242"
    [comment] = run.recorded("marocchino/sticky-pull-request-comment")
    assert comment["inputs"]["number"] == str(PR_NUMBER)
    assert comment["inputs"]["header"] == "tabular-mlops-report"
    posted = comment["extra"]["body"]
    assert posted == (built.artifact("pr-report") / "pr-report.md").read_text(encoding="utf-8")
    assert [call["args"][0] for call in run.gh_calls] == ["api"]


def test_the_comment_workflow_refuses_a_report_made_for_another_pull_request(
    report_run: tuple[ActRun, str, Path], fork: Fork
) -> None:
    built, head, _ = report_run
    artifacts = fork.scratch / "artifacts"
    shutil.copytree(built.artifacts, artifacts)
    run = fork.act(
        "workflow_run",
        "pr-comment.yml",
        workflow_run_event(head),
        artifacts=artifacts,
        gh_api={PULLS: [{"number": 99, "head": {"sha": head}}]},
    )
    assert run.returncode != 0
    assert "does not match pull request #99" in run.output
    assert not run.recorded("marocchino/sticky-pull-request-comment")


def test_the_comment_workflow_does_nothing_without_an_open_pull_request(fork: Fork) -> None:
    artifacts = fork.scratch / "artifacts" / "pr-report"
    artifacts.mkdir(parents=True)
    (artifacts / "pr-report.md").write_text(f"<!-- tabular-mlops:pr-report pr={PR_NUMBER} -->\n")
    run = fork.act(
        "workflow_run",
        "pr-comment.yml",
        workflow_run_event("f" * 40),
        artifacts=artifacts.parent,
        gh_api={PULLS: []},
    )
    assert run.returncode == 0, run.failure_summary()
    assert "nothing to comment on" in run.output
    assert not run.recorded("marocchino/sticky-pull-request-comment")


def test_the_comment_workflow_skips_cancelled_report_runs(fork: Fork) -> None:
    run = fork.act("workflow_run", "pr-comment.yml", workflow_run_event("f" * 40, "cancelled"))
    assert run.returncode == 0
    assert not run.records
    assert not run.gh_calls
