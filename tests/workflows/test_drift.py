"""The drift watch, executed with act: a shifted batch of new data opens an issue naming the
drifted column and dispatches retraining; a batch like the training data does neither."""

from __future__ import annotations

import pytest

from tabular_mlops.core.io import read_csv
from tabular_mlops.core.params import Params
from tests.support import documented_shifts, shift_arguments
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


@pytest.fixture
def feature_shift(root, params: Params) -> tuple[str, str]:
    """The simulator arguments of a shift of one feature, and the column it shifts."""
    raw = read_csv(root / params.paths.raw)
    shifts = documented_shifts(raw, params.data, params.drift.discrete_max_values)
    shift, column = next(pair for pair in shifts.values() if pair[1] != params.data.target)
    return shift_arguments(shift), column


def test_a_shifted_batch_opens_an_issue_and_dispatches_retraining(
    fork_with_results: Fork, results: Results, feature_shift: tuple[str, str]
) -> None:
    shift, column = feature_shift
    run = run_drift_watch(fork_with_results, results, shift)
    assert run.returncode == 0, run.failure_summary()
    assert run.step_succeeded("Open an issue")
    [issue, dispatch] = run.gh_calls
    assert issue["args"][:2] == ["issue", "create"]
    assert column in issue["files"]["--body-file"]
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
