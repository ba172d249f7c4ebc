"""The CI workflow, executed with act: green on good data, red on a corrupted data file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tabular_mlops.core.params import Params
from tests.workflows.act_run import assert_collects
from tests.workflows.conftest import Fork

PUSH = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}


def test_ci_passes_on_good_data_and_reuses_the_dvc_remote(
    fork_with_results: Fork, own_remote: Path
) -> None:
    """With the runner variables set, the job runs on the runner TRAIN_RUNNER names: act is given
    only the two named runners, not GitHub's default. The suite steps collect their folders' tests
    (COLLECT_ONLY): the suite itself runs outside act."""
    variables = {
        "DVC_REMOTE_URL": str(own_remote),
        "TRAIN_RUNNER": "gpu-large",
        "RUNNER": "small",
    }
    run = fork_with_results.act("push", "ci.yml", PUSH, variables=variables)
    assert run.returncode == 0, run.failure_summary()
    for step in (
        "Lint (ruff, actionlint, zizmor)",
        "Check the data against the contract",
        "Reproduce the pipeline",
        "Push the DVC cache and run-cache (main only, when a remote is configured)",
    ):
        assert run.step_succeeded(step), step
    assert_collects(run, "Unit and data tests", fork_with_results.path, "tests/unit", "tests/data")
    assert_collects(run, "Model tests", fork_with_results.path, "tests/model")
    # The DVC remote gave back the committed model and data: nothing was retrained.
    assert "Stage 'train' didn't change, skipping" in run.output
    assert "Running stage 'train'" not in run.output
    [setup] = run.recorded("astral-sh/setup-uv")
    assert setup["inputs"]["cache-dependency-glob"] == "uv.lock"
    report = json.loads((run.artifact("validation-") / "validation.json").read_text())
    assert report["success"] is True


def test_ci_fails_at_the_contract_on_a_corrupted_data_file(
    fork_with_results: Fork, params: Params
) -> None:
    raw = fork_with_results.path / params.paths.raw
    frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
    dropped = params.data.features[-1]
    frame.drop(columns=[dropped]).to_csv(raw, index=False)
    fork_with_results.commit_all(f"A data extract that lost its {dropped} column")
    run = fork_with_results.act("push", "ci.yml", PUSH)
    assert run.returncode != 0
    assert run.step_failed("Check the data against the contract")
    assert dropped in run.output
    assert not run.step_succeeded("Reproduce the pipeline")
    report = json.loads((run.artifact("validation-") / "validation.json").read_text())
    assert report["success"] is False
    assert any(failure["column"] == dropped for failure in report["failures"])
