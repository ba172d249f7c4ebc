"""The retraining workflow (CT), executed with act: nothing new means no retraining; a new batch
of data means a retrained, tested, gated model proposed in a pull request, never pushed."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

from tabular_mlops.core.params import Params
from tests.workflows.act_run import assert_collects
from tests.workflows.conftest import REPOSITORY, Fork, Results

REPOSITORY_EVENT = {"full_name": REPOSITORY, "default_branch": "main"}


def test_a_schedule_tick_with_nothing_new_does_not_retrain(fork_with_results: Fork) -> None:
    run = fork_with_results.act(
        "schedule", "retrain.yml", {"schedule": "17 5 * * 1", "repository": REPOSITORY_EVENT}
    )
    assert run.returncode == 0, run.failure_summary()
    assert run.step_succeeded("Decide whether to retrain")
    assert "retrain=false" in run.output
    assert "Running stage 'train'" not in run.output
    assert not run.recorded("peter-evans/create-pull-request")


def tolerate_any_change(path: Path) -> None:
    """Let the regression gates pass any change: new rows may move a fork's metrics for real, and
    what this test checks is the workflow's wiring (tests/model and test_promote judge gates)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for gate in raw["gates"]["metrics"].values():
        gate["abs_tolerance"] = 1.0
    raw["gates"]["slices"]["abs_tolerance"] = 1.0
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def run_cache_entries(remote: Path) -> set[Path]:
    return {path.relative_to(remote) for path in (remote / "runs").rglob("*") if path.is_file()}


def test_new_data_is_retrained_tested_gated_and_proposed_in_a_pull_request(
    fork_with_results: Fork, results: Results, params: Params, tmp_path: Path
) -> None:
    """The retrained model that passed the tests and the gate is pushed to the DVC remote with
    its run-cache, so the pull request's dvc.lock can be pulled instead of retrained."""
    fork = fork_with_results
    remote = shutil.copytree(results.dvc_remote, tmp_path / "dvc-remote")
    cached_before = run_cache_entries(remote)
    tolerate_any_change(fork.path / "params.yaml")
    fork.make("simulate", "ROWS=600", "SEED=11", "BATCH=data/incoming/batch-new.csv")
    fork.commit_all("A new batch of rows arrives")
    run = fork.act(
        "repository_dispatch",
        "retrain.yml",
        {"action": "new-data", "client_payload": {}, "repository": REPOSITORY_EVENT},
        variables={"DVC_REMOTE_URL": str(remote)},
    )
    assert run.returncode == 0, run.failure_summary()
    for step in ("Retrain", "Gate against the committed model and build the report"):
        assert run.step_succeeded(step), step
    assert_collects(run, "Model tests", fork.path, "tests/model")
    [request] = run.recorded("peter-evans/create-pull-request")
    inputs, seen = request["inputs"], request["extra"]
    assert inputs["branch"] == "retrain/scheduled"
    assert inputs["base"] == "main"
    assert inputs["title"] == f"Retrain: {dt.datetime.now(dt.UTC):%Y-%m-%d}"
    assert "new-data" in inputs["commit-message"]
    assert {"dvc.lock", params.paths.raw} <= set(seen["changed"])
    assert seen["dvc_lock"] != seen["head_dvc_lock"]
    assert seen["body"].startswith("<!-- tabular-mlops:pr-report")
    # No GitHub App: the workflow's own token opens it, and the body says why no check ran.
    assert inputs["token"] == "test-token"
    assert not run.recorded("actions/create-github-app-token")
    assert "No checks ran on this pull request" in seen["body"]
    assert "RETRAIN_APP_ID" in seen["body"]
    assert params.paths.raw in seen["body"]
    [model] = [
        out
        for out in yaml.safe_load(seen["dvc_lock"])["stages"]["train"]["outs"]
        if out["path"] == params.paths.model
    ]
    assert (remote / "files" / "md5" / model["md5"][:2] / model["md5"][2:]).is_file()
    assert run_cache_entries(remote) > cached_before
