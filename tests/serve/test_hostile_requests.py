"""What a hostile client can send the app (in-process, a synthetic model of the configured task):
lone surrogates, cut-off bodies, look-alike content types, oversized batches, and big batches
while /health is asked. Never a 500, never an exception out of the app."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tabular_mlops.serving.app import PredictionLog, create_app
from tabular_mlops.serving.model import ServedModel
from tests.serve.asgi import acall, call, post_json
from tests.serve.synthetic import CATEGORICAL, served_model

SURROGATE = "\ud800"
ESCAPED = "'\\ud800'"


@pytest.fixture(scope="module")
def model(params) -> tuple[ServedModel, list[dict[str, Any]]]:
    task = params.data.task
    served, _, x = served_model(task)
    return served, json.loads(x.to_json(orient="records"))


def app_of(model, tmp_path: Path, **options: Any) -> tuple[Any, Path]:
    log = tmp_path / "predictions.jsonl"
    return create_app(model[0], prediction_log=PredictionLog(log), **options), log


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_bytes().splitlines()]


def full(record: dict[str, Any]) -> dict[str, Any]:
    """A record with no null, so that every feature accepts it."""
    return {
        k: (v if v is not None else ("x" if k in CATEGORICAL else 0.0)) for k, v in record.items()
    }


def test_a_lone_surrogate_as_a_field_name_gets_422_naming_it_escaped(model, tmp_path) -> None:
    app, _ = app_of(model, tmp_path)
    record = full(model[1][0])
    for path, payload, where in (
        ("/predict", {**record, SURROGATE: 1}, ""),
        ("/predict/batch", [record, {SURROGATE + "x\n": 1, **record}], "record 1: "),
    ):
        answer = post_json(app, path, payload)
        assert answer.status == 422, answer.body
        assert answer.body["error"].startswith(f"{where}unknown field '\\ud800")
        assert answer.raised is None


def test_a_lone_surrogate_as_a_category_is_scored_and_logged_escaped(model, tmp_path) -> None:
    app, log = app_of(model, tmp_path)
    name = CATEGORICAL[0]
    record = {**full(model[1][0]), name: SURROGATE}
    one = post_json(app, "/predict", record)
    assert one.status == 200, one.body
    assert ESCAPED in one.body["warnings"][0]
    many = post_json(app, "/predict/batch", [record, record])
    assert many.status == 200, many.body
    lines = log_lines(log)
    assert len(lines) == 3
    assert {line["inputs"][name] for line in lines} == {"\\ud800"}


def test_the_prediction_log_writes_what_orjson_refuses_escaped(tmp_path) -> None:
    log = PredictionLog(tmp_path / "p.jsonl")
    log.write(SURROGATE, "1", {SURROGATE: [SURROGATE, 2**70]}, [{"p": 0.5}, {"p": 0.25}])
    log.close()
    lines = log_lines(tmp_path / "p.jsonl")
    assert [line["inputs"]["\\ud800"] for line in lines] == ["\\ud800", str(2**70)]
    assert lines[0]["request_id"] == "\\ud800"


def test_a_csv_header_of_control_characters_is_named_on_one_line(model, tmp_path) -> None:
    app, _ = app_of(model, tmp_path)
    record = full(model[1][0])
    frame = pd.DataFrame([{**record, "a\u2028b\x00": 1}])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    answer = call(
        app, "POST", "/predict/batch", buffer.getvalue().encode(), {"content-type": "text/csv"}
    )
    assert answer.status == 422, answer.body
    assert answer.body["error"] == "record 0: unknown field 'a\\u2028b\\x00'"


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [
        ("/predict", "application/notjson+json", 415),
        ("/predict", "text/json-ish", 415),
        ("/predict", "application/json-seq", 415),
        ("/predict", "text/csv", 415),
        ("/predict", "application/json, text/csv", 415),
        ("/predict", "application/json; charset=latin-1", 415),
        ("/predict", 'application/json; charset="utf-16"', 415),
        ("/predict", "application/json;", 200),
        ("/predict", "Application/JSON; Charset=UTF-8", 200),
        ("/predict", 'application/json; charset="utf-8"; q=1', 200),
        ("/predict", None, 200),
        ("/predict/batch", "text/csv; charset=utf-8", 200),
        ("/predict/batch", "text/csv; header=present", 200),
        ("/predict/batch", "text/csvx", 415),
        ("/predict/batch", "application/x-json", 415),
        ("/predict/batch", "text/csv; charset=iso-8859-1", 415),
        ("/predict/batch", None, 200),
    ],
)
def test_content_type_is_parsed_not_searched(model, tmp_path, path, content_type, status) -> None:
    app, _ = app_of(model, tmp_path)
    record = full(model[1][0])
    if content_type and content_type.startswith("text/csv"):
        buffer = io.StringIO()
        pd.DataFrame([record]).to_csv(buffer, index=False)
        body = buffer.getvalue().encode()
    else:
        body = json.dumps(record if path == "/predict" else [record]).encode()
    headers = {"content-type": content_type} if content_type is not None else {}
    answer = call(app, "POST", path, body, headers)
    assert answer.status == status, answer.body
    if status == 415:
        accepted = "application/json" + (" or text/csv" if path.endswith("batch") else "")
        assert answer.body["error"].endswith(f"send {accepted}") or "UTF-8" in answer.body["error"]


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip"])
def test_a_compressed_body_is_refused_not_misread(model, tmp_path, encoding) -> None:
    app, _ = app_of(model, tmp_path)
    body = json.dumps(full(model[1][0])).encode()
    headers = {"content-type": "application/json", "content-encoding": encoding}
    answer = call(app, "POST", "/predict", body, headers)
    assert answer.status == 415, answer.body
    assert answer.body["error"].startswith("Content-Encoding")
    assert call(app, "POST", "/predict", body, {"content-encoding": "identity"}).status == 200


@pytest.mark.parametrize("sent", [0, 10, 1000])
def test_a_client_hanging_up_mid_body_raises_nothing_and_gets_no_500(
    model, tmp_path, sent, caplog
) -> None:
    app, log = app_of(model, tmp_path)
    body = json.dumps([full(r) for r in model[1]]).encode()
    answer = call(
        app,
        "POST",
        "/predict/batch",
        body,
        {"content-type": "application/json", "content-length": str(len(body))},
        hang_up_after=sent,
    )
    assert answer.raised is None
    assert answer.status is None or answer.status < 500
    assert not log.exists() or log.read_bytes() == b""
    assert [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()] == [
        f"/predict/batch request {answer_id(answer)}: client disconnected after {sent} bytes "
        "of the body"
    ]


def answer_id(answer) -> str:
    headers = dict(
        next(m for m in answer.messages if m["type"] == "http.response.start")["headers"]
    )
    return headers[b"x-request-id"].decode()


def test_a_batch_past_the_row_limit_gets_413_naming_it(model, tmp_path) -> None:
    app, log = app_of(model, tmp_path, max_batch_rows=3)
    records = [full(r) for r in model[1][:4]]
    answer = post_json(app, "/predict/batch", records)
    assert answer.status == 413, answer.body
    assert answer.body["error"] == (
        "batch of 4 records exceeds the limit of 3 records (SERVE_MAX_BATCH_ROWS)"
    )
    buffer = io.StringIO()
    pd.DataFrame(records).to_csv(buffer, index=False)
    answer = call(
        app, "POST", "/predict/batch", buffer.getvalue().encode(), {"content-type": "text/csv"}
    )
    assert answer.status == 413, answer.body
    assert "limit of 3 records (SERVE_MAX_BATCH_ROWS)" in answer.body["error"]
    assert post_json(app, "/predict/batch", records[:3]).status == 200
    assert len(log_lines(log)) == 3


def test_health_answers_while_big_batches_wait_and_are_scored(model, tmp_path) -> None:
    """Four batches of megabytes (past serving.app.INLINE_BYTES), one scored at a time (the
    default): /health, asked after all four were sent, is answered before the last of them."""
    served, rows = model
    scoring = {"now": 0, "most": 0}
    lock = threading.Lock()

    def predict(columns: dict[str, list[Any]]) -> Any:
        with lock:
            scoring["now"] += 1
            scoring["most"] = max(scoring["most"], scoring["now"])
        try:
            return served.predict(columns)
        finally:
            with lock:
                scoring["now"] -= 1

    counted = replace(served)
    counted.predict = predict
    app = create_app(counted)
    records = [full(rows[i % len(rows)]) for i in range(20_000)]
    body = json.dumps(records).encode()
    assert len(body) > 1_000_000
    finished: list[str] = []

    async def ask(name: str, *args: Any) -> int | None:
        answer = await acall(app, *args)
        finished.append(name)
        return answer.status

    async def run() -> list[int | None]:
        batches = [
            asyncio.create_task(ask(f"batch {i}", "POST", "/predict/batch", body)) for i in range(4)
        ]
        await asyncio.sleep(0.01)
        health = await ask("health", "GET", "/health")
        return [health, *await asyncio.gather(*batches)]

    assert asyncio.run(run()) == [200] * 5
    assert finished.index("health") < 3, finished
    assert scoring["most"] == 1
