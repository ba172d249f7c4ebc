"""Every task end to end, as a fork would run it: from this project's own data, a regression and a
multiclass target are derived (a wide-ranging numeric column; a category column with a few
values, or terciles of that number), and each fork runs `make init`, `dvc repro`, promote, the
service and the drift check with no other edit.

The derived targets come from the configured CSV, so a fork's own data exercises the tasks it
does not itself pose. After the pipeline, the commands run as `main(argv)` in this process, in the
fork's folder: each fork's test is about what the commands do for its task; their process
boundary is tested where they are (tests/serve, tests/faults, tests/unit).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.params import Params, load_params
from tabular_mlops.core.task import METRICS, PRIMARY, model_scores
from tabular_mlops.ct import drift, promote, simulate
from tabular_mlops.serving import smoke
from tabular_mlops.serving.model import load_file
from tests.in_process import run_main

from .conftest import ROOT, Workspace, copy_project, fork_env, warmed

ROWS = 1500
SEED = 20261125


def regression_target(raw: pd.DataFrame, params: Params) -> str | None:
    """The numeric feature with the most distinct values, when it has at least 20."""
    data = params.data
    counts = {name: raw[name].nunique() for name in data.numeric}
    best = max(counts, key=counts.__getitem__, default=None)
    return best if best is not None and counts[best] >= 20 else None


def multiclass_frame(raw: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, str] | None:
    """A category feature with 3 to 10 values of at least 5% of rows each, or, failing that,
    terciles of the regression target under a new column."""
    for name in params.data.categorical:
        shares = raw[name].value_counts(normalize=True)
        if 3 <= len(shares) <= 10 and shares.min() >= 0.05:
            return raw.dropna(subset=[name]), name
    number = regression_target(raw, params)
    if number is None:
        return None
    frame = raw.dropna(subset=[number]).copy()
    frame["tercile"] = pd.qcut(frame[number], 3, labels=["low", "middle", "high"]).astype(str)
    return frame.drop(columns=[number]), "tercile"


def derived(raw: pd.DataFrame, params: Params) -> list[tuple[str, pd.DataFrame, str]]:
    """(task, frame, target) for the tasks this data can pose besides its own."""
    found = []
    number = regression_target(raw, params)
    if number is not None and params.data.task != "regression":
        found.append(("regression", raw.dropna(subset=[number]), number))
    chosen = multiclass_frame(raw, params) if params.data.task != "multiclass" else None
    if chosen is not None:
        found.append(("multiclass", *chosen))
    return found


def _tasks() -> list[tuple[str, pd.DataFrame, str]]:
    params = load_params(ROOT / "params.yaml")
    raw = pd.read_csv(ROOT / params.paths.raw, na_values=["", " "], encoding="utf-8-sig")
    rng = np.random.default_rng(SEED)
    if len(raw) > ROWS:
        raw = raw.iloc[np.sort(rng.choice(len(raw), ROWS, replace=False))]
    return derived(raw.reset_index(drop=True), params)


TASKS = _tasks()


@pytest.fixture(scope="module", params=TASKS, ids=[task for task, _, _ in TASKS])
def task_fork(
    request, tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]
) -> tuple[Workspace, str]:
    """A fresh fork whose own CSV poses the task: `make init`'s draft, committed, then repro."""
    task, frame, target = request.param
    path = tmp_path_factory.mktemp(f"fork-{task}") / "repo"
    path.mkdir()
    copy_project(path)
    fork = warmed(Workspace(path, fork_env(path)), warm_python)
    fork.git("init", "-q", "-b", "main")
    fork.commit("Use this template")
    csv = path.parent / f"{task}.csv"
    frame.to_csv(csv, index=False)
    fork.run(
        "python",
        "-m",
        "tabular_mlops.init",
        "--csv",
        str(csv),
        "--target",
        target,
        "--task",
        task,
        "--force",
    )
    fork.commit("Our data")
    fork.dvc("repro")
    return fork, task


def in_fork(
    fork: Workspace,
    capsys: pytest.CaptureFixture[str],
    main: Callable[[list[str]], None],
    *argv: str,
) -> int:
    """`main(argv)`'s exit code, run in the fork's folder (tests/in_process.py). The store's URI
    is absolute: MLflow keeps one engine per URI, and both forks would share `mlflow.db`'s."""
    drop = ("MLFLOW_", "DVC_", "GIT_")
    done = run_main(
        main, argv, cwd=fork.path, capsys=capsys, tracking_uri=fork.tracking_uri, drop=drop
    )
    return done.returncode


def test_the_pipeline_writes_the_tasks_metrics_and_beats_the_baseline(task_fork) -> None:
    fork, task = task_fork
    params = load_params(fork.path / "params.yaml")
    assert params.data.task == task
    metrics = json.loads((fork.path / params.paths.metrics).read_text())
    assert set(METRICS[task]) <= set(metrics) and set(METRICS[task]) <= set(metrics["baseline"])
    primary = PRIMARY[task]
    assert metrics[primary] > metrics["baseline"][primary]
    if task == "multiclass":
        assert set(metrics["per_class"]) == set(params.data.class_names)


def test_promote_makes_it_the_champion_and_the_service_answers_in_the_tasks_shape(
    task_fork, capsys: pytest.CaptureFixture[str]
) -> None:
    fork, task = task_fork
    assert in_fork(fork, capsys, promote.main) == 0
    params = load_params(fork.path / "params.yaml")
    decision = json.loads((fork.path / params.paths.promotion).read_text())
    assert decision["decision"] == "bootstrapped", decision
    assert in_fork(fork, capsys, smoke.main) == 0
    served = load_file(fork.path / params.paths.model, params)
    test = pd.read_parquet(fork.path / params.paths.test)
    x = test.drop(columns=[params.data.target]).head(50)
    columns = {name: x[name].tolist() for name in params.data.features}
    expected = model_scores(served.pipeline, x, task)
    np.testing.assert_allclose(served.predict(columns), expected, atol=1e-9)
    if task == "multiclass":
        np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-9)
    else:
        assert np.isfinite(expected).all()


def test_a_shifted_target_is_found_by_the_drift_check(
    task_fork, capsys: pytest.CaptureFixture[str]
) -> None:
    fork, task = task_fork
    params = load_params(fork.path / "params.yaml")
    target = params.data.target
    if task == "regression":
        shift = [f"--covariate={target}=+30%"]
    else:
        shift = [f"--share={target}={params.data.class_names[0]}:0.9"]
    batch = fork.path.parent / "shifted.csv"
    argv = ("--rows", "600", "--seed", "3", *shift, "--out", str(batch))
    assert in_fork(fork, capsys, simulate.main, *argv) == 0
    in_fork(fork, capsys, drift.main, "--current", str(batch))
    report = json.loads((fork.path / params.paths.drift).read_text())
    prior = report["prior_shift"]
    assert prior is not None and prior["column"] == target and prior["drifted"], report
