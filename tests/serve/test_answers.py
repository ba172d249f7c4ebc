"""The service's answers and prediction-log lines for every task (synthetic models, the ASGI app
called in-process), and the one-line refusal of a model that does not fit the configured task."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.task import model_scores
from tabular_mlops.serving.app import PredictionLog, create_app
from tabular_mlops.serving.model import check_logged, check_task
from tabular_mlops.serving.smoke import answer_problem
from tests.serve.conftest import ROOT, run_serve
from tests.serve.synthetic import LABELS, fitted, served_model


def call(app: Any, path: str, payload: Any) -> tuple[int, Any]:
    """One POST through the ASGI app, without a server."""
    body = json.dumps(payload).encode()

    async def run() -> tuple[int, Any]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        incoming = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, json.loads(raw)

    return asyncio.run(run())


def served(task: str, tmp_path: Path) -> tuple[Any, Any, list[dict[str, Any]], Path]:
    model, pipeline, x = served_model(task)
    log = tmp_path / "predictions.jsonl"
    app = create_app(model, prediction_log=PredictionLog(log))
    records = json.loads(x.head(5).to_json(orient="records"))
    return app, pipeline, records, log


def test_multiclass_answers_name_every_label_and_the_top_one(tmp_path, params) -> None:
    app, pipeline, records, log = served("multiclass", tmp_path)
    labels = list(LABELS["multiclass"])
    status, one = call(app, "/predict", records[0])
    assert status == 200, one
    assert set(one) == {"request_id", "model_version", "label", "probabilities", "warnings"}
    assert list(one["probabilities"]) == labels
    expected = model_scores(pipeline, pipeline_input(records), "multiclass")
    np.testing.assert_allclose(list(one["probabilities"].values()), expected[0], atol=1e-12)
    assert one["label"] == labels[int(expected[0].argmax())]
    stub = replace_task(params, "multiclass", LABELS["multiclass"])
    assert answer_problem(one, stub) is None
    status, many = call(app, "/predict/batch", records)
    assert status == 200, many
    assert many["labels"] == [labels[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose(
        [list(p.values()) for p in many["probabilities"]], expected, atol=1e-12
    )
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 6
    assert set(lines[0]) == {
        "request_id",
        "time",
        "model_version",
        "inputs",
        "label",
        "probabilities",
    }
    assert (lines[0]["label"], lines[0]["probabilities"]) == (one["label"], one["probabilities"])


def test_regression_answers_the_predicted_value(tmp_path, params) -> None:
    app, pipeline, records, log = served("regression", tmp_path)
    expected = model_scores(pipeline, pipeline_input(records), "regression")
    status, one = call(app, "/predict", records[0])
    assert status == 200, one
    assert set(one) == {"request_id", "model_version", "prediction", "warnings"}
    assert one["prediction"] == pytest.approx(expected[0], rel=1e-12)
    assert answer_problem(one, replace_task(params, "regression", None)) is None
    status, many = call(app, "/predict/batch", records)
    assert status == 200, many
    assert set(many) == {"request_id", "model_version", "predictions", "warnings"}
    np.testing.assert_allclose(many["predictions"], expected, rtol=1e-12)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert set(lines[0]) == {"request_id", "time", "model_version", "inputs", "prediction"}
    assert [line["prediction"] for line in lines[1:]] == pytest.approx(expected.tolist())


def test_binary_answers_keep_their_shape(tmp_path) -> None:
    app, pipeline, records, log = served("binary", tmp_path)
    status, one = call(app, "/predict", records[0])
    assert status == 200, one
    assert set(one) == {"request_id", "model_version", "probability", "warnings"}
    status, many = call(app, "/predict/batch", records)
    assert status == 200, many
    assert set(many) == {"request_id", "model_version", "probabilities", "warnings"}
    expected = model_scores(pipeline, pipeline_input(records), "binary")
    np.testing.assert_allclose(many["probabilities"], expected, atol=1e-12)
    assert set(json.loads(log.read_text().splitlines()[0])) == {
        "request_id",
        "time",
        "model_version",
        "inputs",
        "probability",
    }


def pipeline_input(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(records)


def replace_task(params: Any, task: str, labels: tuple[str, ...] | None) -> Any:
    """The configured data section, turned into a `task` one with these labels."""
    positive = labels[-1] if task == "binary" and labels else None
    return replace(
        params.data, task=task, labels=labels, positive_label=positive, target_range=None
    )


MISMATCHES = [
    ("regression", "binary", "a regressor (no predict_proba), but params.yaml data.task is binary"),
    ("binary", "regression", "a classifier, but params.yaml data.task is regression"),
    (
        "multiclass",
        "binary",
        "a classifier of 4 classes, but params.yaml data.task is binary with 2 labels",
    ),
    (
        "binary",
        "multiclass",
        "a classifier of 2 classes, but params.yaml data.task is multiclass with 4 labels",
    ),
]


@pytest.mark.parametrize(("model_task", "configured", "message"), MISMATCHES)
def test_a_model_of_another_task_is_refused_in_one_line(
    params, model_task, configured, message
) -> None:
    pipeline, _, _ = fitted(model_task, "linear")
    with pytest.raises(PipelineError) as raised:
        check_task(pipeline, replace_task(params, configured, LABELS[configured]), "m.pkl")
    assert str(raised.value) == f"m.pkl: {message}"


def test_serving_a_model_of_another_task_exits_2_with_one_line(
    params, tmp_path, warm_python
) -> None:
    """The configured params.yaml, a model file of another task (regression unless it is)."""
    other = "binary" if params.data.task == "regression" else "regression"
    pipeline, _, _ = fitted(other, "linear")
    path = tmp_path / "other.pkl"
    joblib.dump(pipeline, path)
    args = ["--params", str(ROOT / "params.yaml"), "--model-path", str(path)]
    done = run_serve(args, {}, warm_python)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: a ")
    assert f"data.task is {params.data.task}" in lines[0]


def test_a_registered_model_logged_for_another_task_or_labels_is_refused(params) -> None:
    data = params.data
    check_logged({"task": data.task, "labels": list(data.class_names) or None}, data, "m")
    check_logged({}, data, "m")
    other = "regression" if data.task != "regression" else "binary"
    with pytest.raises(PipelineError, match=f"^m: logged for a {other} task, but params.yaml"):
        check_logged({"task": other}, data, "m")
    with pytest.raises(PipelineError, match=r"^m: logged with labels \['x', 'y'\], but"):
        check_logged({"task": data.task, "labels": ["x", "y"]}, data, "m")
