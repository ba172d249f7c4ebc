"""The real service, started as a process on loopback, answering good and bad requests."""

from __future__ import annotations

import csv
import io
import json
import math
import socket
import time

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.task import model_scores
from tabular_mlops.serving.smoke import request
from tests.serve.conftest import (
    CATEGORY,
    DATA,
    IDS,
    MAX_BODY,
    NAME,
    NULLABLE,
    NUMBER,
    REQUIRED,
    run_serve,
    unseen_value,
    unused_name,
)
from tests.serve.register_model import GIT_COMMIT, RAW_MD5

pytestmark = pytest.mark.pipeline
JSON = "application/json"
TASK = DATA.task
#: The fields a one-record answer (and a prediction-log line) carries for the task.
ANSWER = {"binary": {"probability"}, "multiclass": {"label", "probabilities"}}.get(
    TASK, {"prediction"}
)


def scores(answer: dict, *, batch: bool) -> np.ndarray:
    """The task's scores (`core.task.model_scores`) in a /predict or /predict/batch answer."""
    if TASK == "multiclass":
        given = answer["probabilities"]
        rows = given if batch else [given]
        values = np.array([list(row.values()) for row in rows])
        return values if batch else values[0]
    single, many = {"binary": ("probability", "probabilities")}.get(
        TASK, ("prediction", "predictions")
    )
    return np.asarray(answer[many if batch else single])


def expected(pipeline, rows) -> np.ndarray:
    return model_scores(pipeline, rows, TASK)


def same(got, want) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def post(service, path: str, payload, **kwargs):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return request(service.port, "POST", path, body, **kwargs)


def test_health_and_version_name_the_champion_and_its_lineage(service, params) -> None:
    status, health = request(service.port, "GET", "/health")
    assert (status, health["status"]) == (200, "ready")
    status, version = request(service.port, "GET", "/version")
    assert status == 200
    assert (version["model_name"], version["model_version"], version["alias"]) == (
        NAME,
        "1",
        "champion",
    )
    assert version["run_id"]
    assert (version["git_commit"], version["data_digest"]) == (GIT_COMMIT, RAW_MD5)
    assert version["datasets"]["test"]
    assert version["compiled"] is True, "every family of every task compiles"
    assert version["task"] == TASK
    assert [f["name"] for f in version["features"]] == list(DATA.features)
    assert [f["name"] for f in version["features"] if f["nullable"]] == NULLABLE


def test_batch_predictions_equal_the_pipeline_model_on_the_test_split(
    service, records, pipeline, test_split, features
) -> None:
    status, answer = post(service, "/predict/batch", records)
    assert status == 200, answer
    same(scores(answer, batch=True), expected(pipeline, test_split[features]))


def test_single_predictions_equal_the_pipeline_model(
    service, records, pipeline, test_split, features
) -> None:
    rows = list(range(0, len(records), max(1, len(records) // 40)))
    served = []
    for row in rows:
        status, answer = post(service, "/predict", records[row])
        assert status == 200, answer
        assert answer["warnings"] == []
        assert set(answer) >= ANSWER
        served.append(scores(answer, batch=False))
    same(served, expected(pipeline, test_split[features].iloc[rows]))


def test_csv_batch_equals_json_batch(service, test_split, features, records) -> None:
    buffer = io.StringIO()
    test_split[features].head(50).to_csv(buffer, index=False)
    status, from_csv = post(service, "/predict/batch", buffer.getvalue(), content_type="text/csv")
    assert status == 200, from_csv
    _, from_json = post(service, "/predict/batch", records[:50])
    same(scores(from_csv, batch=True), scores(from_json, batch=True))


@pytest.mark.parametrize("column", NULLABLE)
def test_a_missing_value_where_allowed_is_imputed_by_the_model(
    service, record, pipeline, params, column
) -> None:
    """Columns the contract lets be empty may be sent as null; the model imputes them."""
    sent = {**record, column: None}
    status, answer = post(service, "/predict", sent)
    assert status == 200, answer
    empty = math.nan if column in params.data.numeric else None
    want = expected(pipeline, pd.DataFrame([{**record, column: empty}]))
    same(scores(answer, batch=False), want[0])


@pytest.mark.parametrize("column", CATEGORY)
def test_unknown_category_is_scored_as_the_model_does_with_a_warning(
    service, record, pipeline, column
) -> None:
    value = unseen_value(column)
    sent = {**record, column: value}
    status, answer = post(service, "/predict", sent)
    assert status == 200, answer
    assert column in answer["warnings"][0] and value in answer["warnings"][0]
    same(scores(answer, batch=False), expected(pipeline, pd.DataFrame([sent]))[0])


@pytest.mark.parametrize("column", IDS)
def test_the_id_column_may_be_sent_and_is_ignored(service, record, test_split, column) -> None:
    _, plain = post(service, "/predict", record)
    some_id = json.loads(test_split[[column]].head(1).to_json(orient="records"))[0][column]
    status, with_id = post(service, "/predict", {column: some_id, **record})
    assert status == 200, with_id
    same(scores(with_id, batch=False), scores(plain, batch=False))


def csv_body(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


Case = tuple[str, str, object, str, int, str]


def _bad_cases(record: dict) -> list[Case]:
    """(case, path, body, content type, expected status, text the message must contain); cases
    needing a kind of column the dataset lacks are left out."""
    field = next(iter(record))
    without = {k: v for k, v in record.items() if k != field}
    raw = json.dumps(record)
    typo = unused_name(field)
    cases: list[Case] = [
        ("missing field", "/predict", without, JSON, 422, f"'{field}'"),
        ("unknown field", "/predict", {**record, typo: 3}, JSON, 422, f"'{typo}'"),
        ("empty batch", "/predict/batch", [], JSON, 422, "empty batch"),
        (
            "bad record in batch",
            "/predict/batch",
            [record, without],
            JSON,
            422,
            f"record 1: missing field '{field}'",
        ),
        ("record not an object", "/predict/batch", [record, 3], JSON, 422, "record 1"),
        ("malformed JSON", "/predict", raw[:-5], JSON, 400, "malformed JSON"),
        ("empty body", "/predict", "", JSON, 400, "empty body"),
        ("deeply nested JSON", "/predict", "[" * 100_000, JSON, 400, "malformed JSON"),
        ("not UTF-8", "/predict", b"\xff\xfe{}", JSON, 400, "malformed JSON"),
        ("list to the single endpoint", "/predict", [record], JSON, 422, "/predict/batch"),
        ("object to the batch endpoint", "/predict/batch", record, JSON, 422, "/predict"),
        ("wrong content type", "/predict", raw, "text/plain", 415, "Content-Type"),
        (
            "content type ending in json",
            "/predict",
            raw,
            "application/notjson+json",
            415,
            "send application/json",
        ),
        (
            "lone surrogate as a field name",
            "/predict",
            {**record, "\ud800": 1},
            JSON,
            422,
            "\\ud800",
        ),
        (
            "oversized body",
            "/predict/batch",
            [record] * (MAX_BODY // len(raw) + 10),
            JSON,
            413,
            "limit",
        ),
    ]
    for name in REQUIRED[:1]:
        cases.append(
            ("null where not allowed", "/predict", {**record, name: None}, JSON, 422, f"'{name}'")
        )
    for name in NUMBER:
        token = json.dumps({name: record[name]})[1:-1]
        cases += [
            ("string for a number", "/predict", {**record, name: "12"}, JSON, 422, f"'{name}'"),
            ("boolean for a number", "/predict", {**record, name: True}, JSON, 422, f"'{name}'"),
            ("NaN", "/predict", raw.replace(token, f'"{name}": NaN'), JSON, 422, f"'{name}'"),
            (
                "Infinity",
                "/predict",
                raw.replace(token, f'"{name}": Infinity'),
                JSON,
                422,
                f"'{name}'",
            ),
            ("huge number", "/predict", {**record, name: 10**400}, JSON, 422, f"'{name}'"),
            (
                "CSV cell not a number",
                "/predict/batch",
                csv_body([{**record, name: "x"}]),
                "text/csv",
                422,
                f"'{name}'",
            ),
        ]
    for name in CATEGORY:
        cases.append(
            ("number for a category", "/predict", {**record, name: 2}, JSON, 422, f"'{name}'")
        )
    return cases


def placeholder() -> dict:
    """A record of the configured features, only to list the cases at collection time."""
    return {name: 1.0 if name in DATA.numeric else "x" for name in DATA.features}


CASES = [case[0] for case in _bad_cases(placeholder())]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_4xx_naming_the_problem(service, record, case) -> None:
    _, path, body, content_type, expected, needle = next(
        c for c in _bad_cases(record) if c[0] == case
    )
    status, answer = post(service, path, body, content_type=content_type)
    assert status == expected, answer
    assert needle in answer["error"]
    assert answer["request_id"]


def test_the_service_survives_bad_input(service, records, record) -> None:
    for case in _bad_cases(record):
        post(service, case[1], case[2], content_type=case[3])
    assert request(service.port, "GET", "/health")[0] == 200
    assert post(service, "/predict", records[0])[0] == 200


def test_prediction_log_has_one_line_per_scored_record(service, records) -> None:
    post(service, "/predict", records[1], headers={"X-Request-ID": "smoke-42"})
    post(service, "/predict/batch", records[:3], headers={"X-Request-ID": "batch-7"})
    lines = [json.loads(line) for line in service.log.read_text().splitlines()]
    single = [line for line in lines if line["request_id"] == "smoke-42"]
    batch = [line for line in lines if line["request_id"] == "batch-7"]
    assert len(single) == 1 and len(batch) == 3
    line = single[0]
    assert set(line) == {"request_id", "time", "model_version", "inputs", *ANSWER}
    assert line["model_version"] == "1"
    assert line["inputs"] == records[1]
    _, answer = post(service, "/predict", records[1])
    assert {key: line[key] for key in ANSWER} == {key: answer[key] for key in ANSWER}
    assert line["time"].endswith("Z")


def test_refuses_to_start_when_the_alias_does_not_resolve(store_env, warm_python) -> None:
    done = run_serve(["--model-uri", f"models:/{NAME}@nosuch"], store_env, warm_python)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: models:/{NAME}@nosuch")
    assert len(done.stderr.strip().splitlines()) == 1


def test_refuses_to_start_when_the_model_file_does_not_exist(
    store_env, tmp_path, warm_python
) -> None:
    missing = tmp_path / "nope.pkl"
    done = run_serve(["--model-path", str(missing)], store_env, warm_python)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {missing}: model file not found (run `make repro`)"


@pytest.mark.parametrize("column", CATEGORY)
def test_a_lone_surrogate_as_a_category_is_scored_and_logged_escaped(
    service, record, column
) -> None:
    status, answer = post(
        service, "/predict", {**record, column: "\ud800"}, headers={"X-Request-ID": "surrogate-1"}
    )
    assert status == 200, answer
    lines = [json.loads(line) for line in service.log.read_bytes().splitlines()]
    logged = [line for line in lines if line["request_id"] == "surrogate-1"]
    assert [line["inputs"][column] for line in logged] == ["\\ud800"]


def test_a_client_hanging_up_mid_body_is_one_log_line_not_a_traceback(service, records) -> None:
    body = json.dumps(records[:20]).encode()
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            b"POST /predict/batch HTTP/1.1\r\nHost: x\r\nX-Request-ID: hang-up-1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
    assert request(service.port, "GET", "/health")[0] == 200
    message = f"/predict/batch request hang-up-1: client disconnected after {len(body) // 2} bytes"
    deadline = time.monotonic() + 30
    while message not in service.out.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.05)
    output = service.out.read_text(errors="replace")
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if "hang-up-1" in line] == [
        f"WARNING:  {message} of the body"
    ]
