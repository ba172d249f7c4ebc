"""Issue 8's journey on a private copy: a schedule tick with nothing new, a corrupt batch, a
shifted batch taken from the incoming folder to a retrained, gated model with one command, and
the prediction log as the window a drift check reads. The steps share one copy and run in order,
as an operator's day would."""

from __future__ import annotations

import json

import pandas as pd
import yaml

from tabular_mlops.core.lineage import file_md5
from tests.drift.conftest import make

RAW = "data/raw/churn.csv"


def outputs(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_a_tick_with_nothing_new_ingests_nothing_and_does_not_retrain(project, tmp_path) -> None:
    ingest = make(project, "refresh-data")
    assert ingest.returncode == 0, ingest.stderr
    assert "nothing new in data/incoming" in ingest.stdout
    github_output = tmp_path / "out"
    done = make(project, "decide", env={"GITHUB_OUTPUT": str(github_output)})
    assert done.returncode == 0, done.stderr
    assert outputs(github_output)["retrain"] == "false"
    assert "nothing new since the last training" in outputs(github_output)["reason"]
    assert "retrain=false" in done.stdout
    decision = json.loads((project.path / "reports/decision.json").read_text())
    assert decision["retrain"] is False


def test_a_corrupt_batch_is_quarantined_and_the_training_set_is_unchanged(project) -> None:
    raw_md5 = file_md5(project.path / RAW)
    manifest = (project.path / "data/batches.json").read_text()
    incoming = project.path / "data/incoming"
    incoming.mkdir(exist_ok=True)
    batch = pd.read_csv(project.path / RAW).head(100).copy()
    batch["customer_id"] = range(900_000, 900_100)
    batch.loc[3, "contract"] = "Lifetime"
    batch.to_csv(incoming / "bad-values.csv", index=False)
    text = (project.path / RAW).read_text().splitlines()
    (incoming / "truncated.csv").write_text("\n".join(text[:60]) + "\n" + text[60][:25])

    done = make(project, "ingest")

    assert done.returncode == 2
    assert "data/incoming/bad-values.csv: contract" in done.stderr
    assert "data/incoming/truncated.csv: last line has" in done.stderr
    assert "2 batch(es) rejected and quarantined" in done.stderr
    for name in ("bad-values", "truncated"):
        folder = project.path / "data/quarantine" / name
        assert (folder / f"{name}.csv").is_file()
        report = json.loads((folder / "validation.json").read_text())
        assert report["reasons"] and report["source"] == f"data/incoming/{name}.csv"
        assert (folder / "validation.txt").read_text().startswith(f"data/incoming/{name}.csv: ")
    assert file_md5(project.path / RAW) == raw_md5
    assert (project.path / "data/batches.json").read_text() == manifest
    assert not list(incoming.glob("*.csv"))


def test_a_shifted_batch_is_flagged_then_retrained_and_gated_with_one_command(
    project, tmp_path
) -> None:
    batch = "data/incoming/batch-shifted.csv"
    simulated = make(
        project, "simulate", "SEED=7", "SHIFT=--covariate monthly_charges=+15%", f"BATCH={batch}"
    )
    assert simulated.returncode == 0, simulated.stderr

    github_output, summary = tmp_path / "out", tmp_path / "summary.md"
    env = {"GITHUB_OUTPUT": str(github_output), "GITHUB_STEP_SUMMARY": str(summary)}
    drift = make(project, "drift", f"CURRENT={batch}", env=env)
    assert drift.returncode == 0, drift.stderr
    assert outputs(github_output)["drift"] == "true"
    report = json.loads((project.path / "reports/drift.json").read_text())
    assert "monthly_charges" in report["drifted_features"]
    assert not {"contract", "internet_service", "tenure"} & set(report["drifted_features"])
    assert not report["prior_shift"]["drifted"]
    assert report["prediction_drift"]["current_rows"] == 1000
    html = (project.path / "reports/drift.html").read_text()
    assert "<svg" in html and "monthly_charges" in html
    assert "Drift watch" in summary.read_text()

    decide = make(project, "decide", env=env)
    assert outputs(github_output)["retrain"] == "true"
    assert "batch-shifted.csv" in decide.stdout and "monthly_charges" in decide.stdout

    rows_before = len(pd.read_csv(project.path / RAW))
    retrain = make(project, "retrain")
    assert retrain.returncode == 0, retrain.stdout[-2000:] + retrain.stderr[-2000:]
    assert "1000 rows appended to data/raw/churn.csv" in retrain.stdout
    assert "Running stage 'train'" in retrain.stdout
    assert "promote: " in retrain.stdout, "the gate judged the new challenger"
    assert len(pd.read_csv(project.path / RAW)) == rows_before + 1000
    lock = yaml.safe_load((project.path / "dvc.lock").read_text())
    raw_dep = next(d for d in lock["stages"]["validate"]["deps"] if d["path"] == RAW)
    assert raw_dep["md5"] == file_md5(project.path / RAW)
    assert latest_run_tags(project)["data.batches"] == "batch-shifted.csv"

    again = make(project, "decide", env=env)
    assert "retrain=false" in again.stdout, "the report is about the model before retraining"
    after = make(project, "drift", env=env)
    assert after.returncode == 0, after.stderr
    assert outputs(github_output)["drift"] == "false", "the batch is now training data"
    assert "nothing to compare" in (project.path / "reports/drift.md").read_text()
    forced = make(project, "decide", "FORCE=true", env=env)
    assert "retrain=true: forced" in forced.stdout


def test_the_prediction_log_is_a_current_window(project) -> None:
    import joblib

    from tabular_mlops.core.params import load_params
    from tabular_mlops.ct.drift import model_input

    params = load_params(project.path / "params.yaml")
    model = joblib.load(project.path / "models/model.pkl")
    held_out = pd.read_parquet(project.path / "data/prepared/test.parquet").head(600)
    features = model_input(held_out, params.data)
    scores = model.predict_proba(features)[:, 1]
    log = project.path / "logs/predictions.jsonl"
    log.parent.mkdir()
    with log.open("w") as handle:
        for i, (row, score) in enumerate(zip(features.to_dict("records"), scores, strict=True)):
            inputs = {k: (None if pd.isna(v) else v) for k, v in row.items()}
            record = {"request_id": str(i), "time": "2026-11-23T10:00:00Z", "model_version": "2"}
            handle.write(json.dumps({**record, "inputs": inputs, "probability": score}) + "\n")

    done = make(project, "drift", "CURRENT=logs/predictions.jsonl")

    assert done.returncode == 0, done.stderr
    report = json.loads((project.path / "reports/drift.json").read_text())
    assert report["current"].startswith("prediction log logs/predictions.jsonl")
    assert report["prior_shift"] is None
    assert report["prediction_drift"]["current_rows"] == 600
    assert report["drift"] is False


def test_bad_input_to_drift_and_decide_is_one_line_and_exit_2(project) -> None:
    missing = make(project, "drift", "CURRENT=data/incoming/nope.csv")
    assert missing.returncode == 2
    assert "error: data/incoming/nope.csv: file not found" in missing.stderr
    everything = make(project, "drift", f"CURRENT={RAW}")
    assert everything.returncode == 2
    assert "error: reference window is empty" in everything.stderr
    force = make(project, "decide", "FORCE=maybe")
    assert force.returncode == 2
    assert "error: FORCE='maybe': expected true or false" in force.stderr


def latest_run_tags(project) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=project.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    [run] = client.search_runs(experiments, order_by=["start_time DESC"], max_results=1)
    return run.data.tags


def test_refresh_data_updates_a_dvc_import_then_ingests_the_new_version(project, tmp_path) -> None:
    from tabular_mlops.core.params import load_params
    from tabular_mlops.ct.simulate import simulate

    params = load_params(project.path / "params.yaml")
    shipped = pd.read_csv(project.path / RAW)
    source = tmp_path / "upstream.csv"
    simulate(shipped, params.data, params.simulate, 200, seed=11).to_csv(source, index=False)
    (project.path / "data/incoming").mkdir(exist_ok=True)  # as the README's command does
    project.dvc("import-url", str(source), "data/incoming/upstream.csv")
    settings = project.path / "params.yaml"
    settings.write_text(
        settings.read_text().replace("update_imports: false", "update_imports: true")
    )
    newer = simulate(shipped, params.data, params.simulate, 300, seed=12)
    newer[params.data.id_column] += 10_000
    newer.to_csv(source, index=False)

    done = make(project, "refresh-data")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "dvc update data/incoming/upstream.csv.dvc" in done.stdout
    assert "upstream.csv: 300 rows appended" in done.stdout
    batches = json.loads((project.path / "data/batches.json").read_text())["batches"]
    assert batches[-1]["name"] == "upstream.csv" and batches[-1]["rows"] == 300
