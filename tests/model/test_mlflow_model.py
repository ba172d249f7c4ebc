"""The model logged by the pipeline's MLflow run loads from its URI and predicts like the file:
the task's scores (probabilities, or values for regression), also through MLflow's pyfunc."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from tabular_mlops.core.params import Params
from tabular_mlops.core.task import PRIMARY, model_scores
from tabular_mlops.ct import server

ROOT = Path(__file__).resolve().parents[2]


def absolute(uri: str) -> str:
    """`sqlite:///mlflow.db` is relative to the project root, where `make repro` ran."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(ROOT / uri[len(prefix) :])
    return uri


def assert_same_predictions(local: str, params: Params, features) -> None:
    import joblib
    import mlflow

    task = params.data.task
    logged = mlflow.sklearn.load_model(local)
    in_memory = joblib.load(ROOT / params.paths.model)
    expected = model_scores(in_memory, features, task)
    np.testing.assert_allclose(
        model_scores(logged, features, task), expected, rtol=1e-12, atol=1e-12
    )
    pyfunc = mlflow.pyfunc.load_model(local)
    assert (pyfunc.metadata.metadata or {}).get("task") == task
    served = np.asarray(pyfunc.predict(features[[*params.data.numeric, *params.data.categorical]]))
    if task == "binary":
        served = served[:, 1]
    np.testing.assert_allclose(served, expected, rtol=1e-12, atol=1e-12)


def test_logged_model_predicts_like_the_model_file(
    params: Params, features, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The very model the pipeline's run logged, from the store that run wrote to: its files on
    this machine, or fetched through a tracking server's proxy as the project's clients fetch
    them (ct/server.py: no presigned URLs, few retries)."""

    run_info = ROOT / params.paths.run_info
    if not run_info.is_file():
        pytest.fail(f"{run_info}: not found (run `make repro` first)", pytrace=False)
    info = json.loads(run_info.read_text(encoding="utf-8"))
    store = absolute(info["tracking_uri"])
    if store.startswith("sqlite:///") and not Path(store.removeprefix("sqlite:///")).is_file():
        pytest.skip(
            f"{store}: the run's MLflow store is not on this machine (the model was restored "
            "from a DVC remote); the round trip below still checks the logging code"
        )
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    # Through a client of the run's own store: `models:/<id>` would resolve through whatever
    # registry URI an earlier test left in MLflow's globals.
    try:
        logged = MlflowClient(tracking_uri=store).get_logged_model(
            info["model_uri"].removeprefix("models:/")
        )
    except MlflowException:
        pytest.fail(
            f"{run_info} names {info['model_uri']}, which {store} does not hold: the store was "
            "replaced since the last `make repro` (re-log it with `dvc repro -f track`)",
            pytrace=False,
        )
    if urlparse(logged.artifact_location).scheme not in ("", "file"):
        from mlflow.artifacts import download_artifacts

        for key, value in server.RETRIES.items():
            monkeypatch.setenv(key, os.environ.get(key, value))
        local = download_artifacts(
            artifact_uri=logged.artifact_location, tracking_uri=store, dst_path=str(tmp_path)
        )
    else:
        location = logged.artifact_location.removeprefix("file://")
        local = str(location if Path(location).is_absolute() else ROOT / location)
    assert_same_predictions(local, params, features)


def test_the_track_stage_logs_a_model_that_loads_from_its_uri(
    params: Params, features, train, test_split, tmp_path: Path, monkeypatch
) -> None:
    """The round trip through the track stage's own logging code, into a store of the test's."""
    import joblib
    import mlflow

    from tabular_mlops.stages.track import log_run

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    model = joblib.load(ROOT / params.paths.model)
    info = log_run(
        params, model, train, test_split, {PRIMARY[params.data.task]: 1.0}, raw_md5="0" * 32
    )
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=info["model_uri"], tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    assert_same_predictions(local, params, features)
