"""Issue 8's journey on a private copy: a schedule tick with nothing new, a corrupt batch, a
shifted batch taken from the incoming folder to a retrained, gated model with one command, and
the prediction log as the window a drift check reads. The steps share one copy and run in order,
as an operator's day would. Every column, label and path comes from params.yaml."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tabular_mlops.core.io import read_csv
from tabular_mlops.core.lineage import file_md5
from tabular_mlops.core.params import Params
from tabular_mlops.ct.decide import main as decide_main
from tabular_mlops.ct.drift import main as drift_main
from tabular_mlops.ct.ingest import main as ingest_main
from tabular_mlops.ct.simulate import Shift, fresh_ids
from tests.drift.conftest import in_process, make
from tests.ingest_project import rejected_cell
from tests.support import documented_shifts, prediction_record, shift_arguments

BATCH_ROWS = 1000


def outputs(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def feature_shift(root, params: Params) -> tuple[Shift, str, set[str]]:
    """A shift of one feature, the column the check must name, and the features it cannot move:
    a numeric change leaves every feature but the column and the columns linked to it; a share
    shift re-weights whole rows, so it may move any feature."""
    raw = read_csv(root / params.paths.raw)
    shifts = documented_shifts(raw, params.data, params.drift.discrete_max_values)
    shift, column = next(pair for pair in shifts.values() if pair[1] != params.data.target)
    moved = {column, *params.simulate.linked.get(column, ())}
    untouched = set(params.data.features) - moved if shift.covariate else set()
    return shift, column, untouched


def test_a_tick_with_nothing_new_ingests_nothing_and_does_not_retrain(
    project, params: Params, tmp_path, capsys
) -> None:
    ingest = in_process(project, ingest_main, ["--refresh"], capsys)
    assert ingest.returncode == 0, ingest.stderr
    assert f"nothing new in {params.paths.incoming}" in ingest.stdout
    github_output = tmp_path / "out"
    done = make(project, "decide", env={"GITHUB_OUTPUT": str(github_output)})
    assert done.returncode == 0, done.stderr
    assert outputs(github_output)["retrain"] == "false"
    assert "nothing new since the last training" in outputs(github_output)["reason"]
    assert "retrain=false" in done.stdout
    decision = json.loads((project.path / params.paths.decision).read_text())
    assert decision["retrain"] is False


def test_a_corrupt_batch_is_quarantined_and_the_training_set_is_unchanged(
    project, params: Params, capsys
) -> None:
    paths, data = params.paths, params.data
    raw_md5 = file_md5(project.path / paths.raw)
    manifest = (project.path / paths.batches).read_text()
    incoming = project.path / paths.incoming
    incoming.mkdir(exist_ok=True)
    batch = pd.read_csv(project.path / paths.raw).head(100).copy()
    if data.id_column is not None:
        shipped = read_csv(project.path / paths.raw)[data.id_column]
        batch[data.id_column] = fresh_ids(shipped, len(batch), seed=3)
    column, value = rejected_cell(data)
    batch[column] = batch[column].astype(object)
    batch.loc[3, column] = value
    batch.to_csv(incoming / "bad-values.csv", index=False)
    text = (project.path / paths.raw).read_text().splitlines()
    cut = text[60][: len(text[60]) // 2]
    (incoming / "truncated.csv").write_text("\n".join(text[:60]) + "\n" + cut)

    done = in_process(project, ingest_main, [], capsys)

    assert done.returncode == 2
    assert f"{paths.incoming}/bad-values.csv: {column}" in done.stderr
    assert f"{paths.incoming}/truncated.csv: last line has" in done.stderr
    assert "2 batch(es) rejected and quarantined" in done.stderr
    for name in ("bad-values", "truncated"):
        [folder] = (project.path / paths.quarantine).glob(f"{name}-*")
        assert (folder / f"{name}.csv").is_file()
        report = json.loads((folder / "validation.json").read_text())
        assert report["reasons"] and report["source"] == f"{paths.incoming}/{name}.csv"
        assert (folder / "validation.txt").read_text().startswith(f"{paths.incoming}/{name}.csv: ")
    assert file_md5(project.path / paths.raw) == raw_md5
    assert (project.path / paths.batches).read_text() == manifest
    assert not list(incoming.glob("*.csv"))


def test_a_shifted_batch_is_flagged_then_retrained_and_gated_with_one_command(
    project, params: Params, feature_shift, tmp_path, capsys
) -> None:
    paths = params.paths
    shift, column, untouched = feature_shift
    batch = f"{paths.incoming}/batch-shifted.csv"
    simulated = make(
        project,
        "simulate",
        "SEED=7",
        f"ROWS={BATCH_ROWS}",
        f"SHIFT={shift_arguments(shift)}",
        f"BATCH={batch}",
    )
    assert simulated.returncode == 0, simulated.stderr

    github_output, summary = tmp_path / "out", tmp_path / "summary.md"
    env = {"GITHUB_OUTPUT": str(github_output), "GITHUB_STEP_SUMMARY": str(summary)}
    drift = make(project, "drift", f"CURRENT={batch}", env=env)
    assert drift.returncode == 0, drift.stderr
    assert outputs(github_output)["drift"] == "true"
    report = json.loads((project.path / paths.drift).read_text())
    assert column in report["drifted_features"]
    assert not untouched & set(report["drifted_features"])
    assert not report["prior_shift"]["drifted"]
    assert report["prediction_drift"]["current_rows"] == BATCH_ROWS
    html = (project.path / paths.drift).with_suffix(".html").read_text()
    assert "<svg" in html and column in html
    assert "Drift watch" in summary.read_text()

    decide = make(project, "decide", env=env)
    assert outputs(github_output)["retrain"] == "true"
    assert "batch-shifted.csv" in decide.stdout and column in decide.stdout

    rows_before = len(pd.read_csv(project.path / paths.raw))
    retrain = make(project, "retrain")
    assert retrain.returncode == 0, retrain.stdout[-2000:] + retrain.stderr[-2000:]
    assert f"{BATCH_ROWS} rows appended to {paths.raw}" in retrain.stdout
    assert "Running stage 'train'" in retrain.stdout
    assert "promote: " in retrain.stdout, "the gate judged the new challenger"
    assert len(pd.read_csv(project.path / paths.raw)) == rows_before + BATCH_ROWS
    lock = yaml.safe_load((project.path / "dvc.lock").read_text())
    raw_dep = next(d for d in lock["stages"]["validate"]["deps"] if d["path"] == paths.raw)
    assert raw_dep["md5"] == file_md5(project.path / paths.raw)
    assert latest_run_tags(project)["data.batches"] == "batch-shifted.csv"

    again = in_process(project, decide_main, ["--force", "false"], capsys, env)
    assert "retrain=false" in again.stdout, "the report is about the model before retraining"
    after = in_process(project, drift_main, [], capsys, env)
    assert after.returncode == 0, after.stderr
    assert outputs(github_output)["drift"] == "false", "the batch is now training data"
    assert "nothing to compare" in (project.path / paths.drift).with_suffix(".md").read_text()
    forced = make(project, "decide", "FORCE=true", env=env)
    assert "retrain=true: forced" in forced.stdout


def test_the_prediction_log_is_a_current_window(project, params: Params, capsys) -> None:
    import joblib

    from tabular_mlops.core.task import model_scores
    from tabular_mlops.ct.drift import model_input

    model = joblib.load(project.path / params.paths.model)
    test = pd.read_parquet(project.path / params.paths.test)
    held_out = test.head(min(600, len(test) // 2))  # the rest is the reference
    features = model_input(held_out, params.data)
    scores = model_scores(model, features, params.data.task)
    log = project.path / "logs/predictions.jsonl"
    log.parent.mkdir()
    with log.open("w") as handle:
        for i, (row, score) in enumerate(zip(features.to_dict("records"), scores, strict=True)):
            inputs = {k: (None if pd.isna(v) else v) for k, v in row.items()}
            record = {"request_id": str(i), "time": "2026-11-23T10:00:00Z", "model_version": "2"}
            line = {**record, **prediction_record(params.data, inputs, score)}
            handle.write(json.dumps(line) + "\n")

    done = in_process(project, drift_main, ["--current", "logs/predictions.jsonl"], capsys)

    assert done.returncode == 0, done.stderr
    report = json.loads((project.path / params.paths.drift).read_text())
    assert report["current"].startswith("prediction log logs/predictions.jsonl")
    assert report["prior_shift"] is None
    assert report["prediction_drift"]["current_rows"] == len(held_out)
    assert report["drift"] is False


def test_bad_input_to_drift_and_decide_is_one_line_and_exit_2(
    project, params: Params, capsys
) -> None:
    nope = f"{params.paths.incoming}/nope.csv"
    missing = in_process(project, drift_main, ["--current", nope], capsys)
    assert missing.returncode == 2
    assert f"error: {params.paths.incoming}/nope.csv: file not found" in missing.stderr
    everything = in_process(project, drift_main, ["--current", params.paths.raw], capsys)
    if params.data.id_column is not None:
        assert everything.returncode == 2
        assert "error: reference window is empty" in everything.stderr
    else:
        assert everything.returncode == 0, everything.stderr
        assert "drift=false" in everything.stdout
    force = in_process(project, decide_main, ["--force", "maybe"], capsys)
    assert force.returncode == 2
    assert "error: FORCE='maybe': expected true or false" in force.stderr


def latest_run_tags(project) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=project.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    [run] = client.search_runs(experiments, order_by=["start_time DESC"], max_results=1)
    return run.data.tags


def test_refresh_data_updates_a_dvc_import_then_ingests_the_new_version(
    project, params: Params, tmp_path
) -> None:
    from tabular_mlops.ct.simulate import simulate

    data = params.data
    shipped = pd.read_csv(project.path / params.paths.raw)
    source = tmp_path / "upstream.csv"
    older = simulate(shipped, data, params.simulate, 200, seed=11)
    older.to_csv(source, index=False)
    (project.path / params.paths.incoming).mkdir(exist_ok=True)  # as the README's command does
    target = f"{params.paths.incoming}/upstream.csv"
    project.dvc("import-url", str(source), target)
    settings = project.path / "params.yaml"
    settings.write_text(
        settings.read_text().replace("update_imports: false", "update_imports: true")
    )
    taken = None
    if data.id_column is not None:
        taken = pd.concat([shipped[data.id_column], older[data.id_column]], ignore_index=True)
    newer = simulate(shipped, data, params.simulate, 300, seed=12, taken_ids=taken)
    newer.to_csv(source, index=False)

    done = make(project, "refresh-data")

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"dvc update {target}.dvc" in done.stdout
    assert "upstream.csv: 300 rows appended" in done.stdout
    batches = json.loads((project.path / params.paths.batches).read_text())["batches"]
    assert batches[-1]["name"] == "upstream.csv" and batches[-1]["rows"] == 300
