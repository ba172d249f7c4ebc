"""The drift watch, executed with act: a shifted batch of new data opens an issue naming the
drifted column and dispatches retraining; a batch like the training data does neither."""

from __future__ import annotations

from tests.workflows.conftest import REPOSITORY, Fork, Results

SCHEDULE = {"schedule": "0 6 * * *", "repository": {"full_name": REPOSITORY}}


def run_drift_watch(fork: Fork, results: Results, shift: str) -> object:
    fork.make("simulate", "ROWS=1000", "SEED=5", f"SHIFT={shift}", "BATCH=data/incoming/b1.csv")
    fork.commit_all("A new batch lands in data/incoming")
    return fork.act(
        "schedule",
        "drift.yml",
        SCHEDULE,
        variables={"DVC_REMOTE_URL": str(results.dvc_remote)},
    )


def test_a_shifted_batch_opens_an_issue_and_dispatches_retraining(
    fork_with_results: Fork, results: Results
) -> None:
    run = run_drift_watch(fork_with_results, results, "--covariate monthly_charges=+15%")
    assert run.returncode == 0, run.failure_summary()
    assert run.step_succeeded("Open an issue")
    [issue, dispatch] = run.gh_calls
    assert issue["args"][:2] == ["issue", "create"]
    assert "monthly_charges" in issue["files"]["--body-file"]
    assert dispatch["args"][:3] == ["workflow", "run", "retrain.yml"]
    assert "reason=drift" in dispatch["args"]
    uploaded = {p.name for p in run.artifact("drift-").iterdir()}
    assert {"drift.json", "drift.md", "drift.html"} <= uploaded


def test_a_batch_like_the_training_data_raises_no_alarm(
    fork_with_results: Fork, results: Results
) -> None:
    run = run_drift_watch(fork_with_results, results, "")
    assert run.returncode == 0, run.failure_summary()
    assert run.step_succeeded("Compare the newest data with the training data")
    assert not run.gh_calls
