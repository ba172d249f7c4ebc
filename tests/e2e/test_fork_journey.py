"""Issue 2's user journey on a fresh fork: repro, no-op, one param changed, bad inputs.

One module-scoped fork is driven step by step, as a user would; each bad-input case restores
the fork afterwards, so the order of the cases does not matter. The one-param change puts back a
copy of the fork taken before it, as a `git checkout` would, instead of re-training to undo it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tabular_mlops.core.lineage import file_md5
from tabular_mlops.core.params import Params, load_params
from tabular_mlops.core.task import DIRECTIONS, METRICS, PRIMARY

STAGES = ("validate", "prepare", "train", "evaluate", "track")
#: The train param the one-param-change test edits: one that changes this kind of model.
CHANGES_THE_MODEL = {
    "random_forest": "n_estimators",
    "hist_gradient_boosting": "max_iter",
    "linear": "alpha",
}


def mlflow_runs(fork) -> list:
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=fork.tracking_uri)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    return client.search_runs(
        [e.experiment_id for e in experiments], run_view_type=ViewType.ALL, max_results=1000
    )


def model_md5_in_lock(fork, params: Params) -> str:
    lock = yaml.safe_load((fork.path / "dvc.lock").read_text())
    outs = lock["stages"]["train"]["outs"]
    return next(out["md5"] for out in outs if out["path"] == params.paths.model)


@pytest.fixture(scope="module")
def fork_params(fork) -> Params:
    """The fork's own params.yaml: every path and name the journey checks comes from it."""
    return load_params(fork.path / "params.yaml")


@pytest.fixture(scope="module")
def first_repro(fork):
    """`make repro`'s work on the fork, then the user commits the results as DVC suggests."""
    done = fork.dvc("repro")
    fork.commit("First repro")
    return done


def test_first_repro_runs_every_stage_and_records_one_mlflow_run(
    fork, first_repro, fork_params
) -> None:
    paths = fork_params.paths
    for stage in STAGES:
        assert f"Running stage '{stage}'" in first_repro.stdout
    assert (fork.path / "mlflow.db").is_file(), "MLflow's default store sits at the repo root"
    [run] = mlflow_runs(fork)
    assert run.info.status == "FINISHED"
    train = fork_params.train
    key = CHANGES_THE_MODEL[train.model]
    assert run.data.params[f"train.{train.model}.{key}"] == str(getattr(train.chosen, key))
    metrics = json.loads((fork.path / paths.metrics).read_text())
    task = fork_params.data.task
    assert {f"baseline.{name}" for name in METRICS[task]} <= set(run.data.metrics)
    for name in METRICS[task]:
        if metrics[name] is not None:
            assert run.data.metrics[name] == pytest.approx(metrics[name])
    primary = PRIMARY[task]
    model, baseline = run.data.metrics[primary], run.data.metrics[f"baseline.{primary}"]
    assert (model - baseline) * (1 if DIRECTIONS[primary] == "higher" else -1) > 0
    assert run.data.tags["git.commit"] == fork.git("rev-parse", "HEAD~1")
    assert run.data.tags["git.branch"] == "main"
    assert run.data.tags["data.raw.md5"] == file_md5(fork.path / paths.raw)
    inputs = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"train", "test"}
    assert all(dataset.digest for dataset in inputs.values())
    info = json.loads((fork.path / paths.run_info).read_text())
    assert info["run_id"] == run.info.run_id
    assert info["registered_model"] == fork_params.track.registered_model
    assert run.info.experiment_id == info["experiment_id"]


def test_logged_model_has_signature_example_and_pinned_requirements(
    fork, first_repro, fork_params
) -> None:
    """Through the fork's store by name: an earlier test may have left another tracking URI in
    MLflow's globals, which would win over the environment."""
    import mlflow
    from mlflow import MlflowClient

    info = json.loads((fork.path / fork_params.paths.run_info).read_text())
    client = MlflowClient(fork.tracking_uri)
    assert client.get_experiment(info["experiment_id"]).name == fork_params.track.experiment
    logged = client.get_logged_model(info["model_uri"].removeprefix("models:/"))
    location = Path(logged.artifact_location.removeprefix("file://"))
    local = location if location.is_absolute() else fork.path / location
    inputs = mlflow.models.Model.load(str(local)).signature.inputs.input_names()
    assert sorted(inputs) == sorted(fork_params.data.features), "the features, no id, no target"
    assert (local / "input_example.json").is_file()
    requirements = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements


def test_second_repro_is_a_noop(fork, first_repro) -> None:
    before = len(mlflow_runs(fork))
    done = fork.dvc("repro")
    assert "Data and pipelines are up to date" in done.stdout
    assert "Running stage" not in done.stdout
    assert len(mlflow_runs(fork)) == before


def restore(path: Path, snapshot: Path) -> None:
    """`path` as `snapshot` holds it. Files are rewritten in place, not replaced: this process's
    MLflow client keeps its SQLite store open, and a new file would leave it reading the old one."""
    for found in sorted(path.rglob("*"), reverse=True):
        if not (snapshot / found.relative_to(path)).exists():
            found.rmdir() if found.is_dir() else found.unlink()
    shutil.copytree(snapshot, path, dirs_exist_ok=True)


def test_changing_one_param_reruns_only_the_stages_that_read_it(
    fork, first_repro, fork_params, tmp_path: Path
) -> None:
    snapshot = tmp_path / "before"
    shutil.copytree(fork.path, snapshot)
    before = len(mlflow_runs(fork))
    params_path = fork.path / "params.yaml"
    original = params_path.read_text()
    key = CHANGES_THE_MODEL[fork_params.train.model]
    old = getattr(fork_params.train.chosen, key)
    new = (max(1, old // 8) if old // 8 != old else old + 1) if isinstance(old, int) else old / 100
    line = re.compile(rf"^(\s+{key}:\s*)\S+", re.MULTILINE)
    assert len(line.findall(original)) == 1, f"params.yaml: one '{key}:' line expected"
    params_path.write_text(line.sub(rf"\g<1>{new}", original))
    try:
        done = fork.dvc("repro")
        for stage in ("validate", "prepare"):
            assert f"Stage '{stage}' didn't change, skipping" in done.stdout
        for stage in ("train", "evaluate", "track"):
            assert f"Running stage '{stage}'" in done.stdout
        params_diff = json.loads(fork.dvc("params", "diff", "--json").stdout)
        changed = params_diff["params.yaml"][f"train.{fork_params.train.model}.{key}"]
        assert (changed["old"], changed["new"]) == (old, new)
        metrics_diff = json.loads(fork.dvc("metrics", "diff", "--json").stdout)
        moved = metrics_diff[fork_params.paths.metrics][PRIMARY[fork_params.data.task]]
        assert moved["old"] != moved["new"]
        assert len(mlflow_runs(fork)) == before + 1
    finally:
        restore(fork.path, snapshot)


def edit_params(path: Path, section: str, edit) -> None:
    raw = yaml.safe_load(path.read_text())
    edit(raw[section])
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def drop_column(path: Path, column: str) -> None:
    import pandas as pd

    pd.read_csv(path).drop(columns=[column]).to_csv(path, index=False)


def unreadable(path: Path, params: Params) -> None:
    header = ",".join(params.data.all_columns).encode()
    path.write_bytes(header + b"\n\xff\xfe\x00")


#: case: (break the fork (root, params), what one error line must name (params))
BAD_INPUTS = {
    "params-unknown-key": (
        lambda root, p: edit_params(root / "params.yaml", "train", lambda s: s.update(n_trees=9)),
        lambda p: ["params.yaml", "unknown key 'train.n_trees'"],
    ),
    "params-missing-key": (
        lambda root, p: edit_params(root / "params.yaml", "train", lambda s: s.pop("seed")),
        lambda p: ["params.yaml", "missing key 'train.seed'"],
    ),
    "params-wrong-type": (
        lambda root, p: edit_params(
            root / "params.yaml", "train", lambda s: s.update(seed="forty-two")
        ),
        lambda p: ["params.yaml", "train.seed"],
    ),
    "raw-data-missing": (
        lambda root, p: (root / p.paths.raw).unlink(),
        lambda p: [p.paths.raw],
    ),
    "raw-data-unreadable": (
        lambda root, p: unreadable(root / p.paths.raw, p),
        lambda p: [p.paths.raw],
    ),
    "target-column-absent": (
        lambda root, p: drop_column(root / p.paths.raw, p.data.target),
        lambda p: [p.paths.raw, p.data.target],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_clearly_and_loses_nothing(fork, first_repro, fork_params, case) -> None:
    break_it, naming = BAD_INPUTS[case]
    expected = naming(fork_params)
    runs_before = len(mlflow_runs(fork))
    lock_before = (fork.path / "dvc.lock").read_bytes()
    metrics_before = (fork.path / fork_params.paths.metrics).read_bytes()
    break_it(fork.path, fork_params)
    try:
        done = fork.dvc("repro", check=False)
        assert done.returncode != 0
        error_lines = [
            line for line in done.stderr.splitlines() if line.lower().startswith("error")
        ]
        assert error_lines, done.stderr
        assert any(all(part in line for part in expected) for line in done.stderr.splitlines()), (
            f"no line names {expected}:\n{done.stderr}"
        )
        assert "Traceback" not in done.stderr
        assert len(mlflow_runs(fork)) == runs_before, "MLflow store must not gain a run"
        assert (fork.path / "dvc.lock").read_bytes() == lock_before
        assert (fork.path / fork_params.paths.metrics).read_bytes() == metrics_before
    finally:
        fork.run("git", "checkout", "--", ".")
        fork.dvc("checkout", "--force")
    model = fork.path / fork_params.paths.model
    assert file_md5(model) == model_md5_in_lock(fork, fork_params), (
        "last good model restored from DVC cache"
    )
    assert "Data and pipelines are up to date" in fork.dvc("repro").stdout
