"""The real service, started as a process on loopback, answering good and bad requests."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.serving.smoke import request
from tests.serve.conftest import MAX_BODY, NAME, run_serve
from tests.serve.register_model import GIT_COMMIT, RAW_MD5

pytestmark = pytest.mark.pipeline


def post(service, path: str, payload, **kwargs):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return request(service.port, "POST", path, body, **kwargs)


def test_health_and_version_name_the_champion_and_its_lineage(service) -> None:
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
    assert version["compiled"] is True
    nullable = [f["name"] for f in version["features"] if f["nullable"]]
    assert nullable == ["total_charges"]


def test_batch_predictions_equal_the_pipeline_model_on_the_test_split(
    service, records, pipeline, test_split, features
) -> None:
    status, answer = post(service, "/predict/batch", records)
    assert status == 200, answer
    expected = pipeline.predict_proba(test_split[features])[:, 1]
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=0, atol=1e-12)


def test_single_predictions_equal_the_pipeline_model(
    service, records, pipeline, test_split, features
) -> None:
    rows = list(range(0, len(records), max(1, len(records) // 40)))
    served = []
    for row in rows:
        status, answer = post(service, "/predict", records[row])
        assert status == 200, answer
        assert answer["warnings"] == []
        served.append(answer["probability"])
    expected = pipeline.predict_proba(test_split[features].iloc[rows])[:, 1]
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-12)


def test_csv_batch_equals_json_batch(service, test_split, features, records) -> None:
    buffer = io.StringIO()
    test_split[features].head(50).to_csv(buffer, index=False)
    status, from_csv = post(service, "/predict/batch", buffer.getvalue(), content_type="text/csv")
    assert status == 200, from_csv
    _, from_json = post(service, "/predict/batch", records[:50])
    np.testing.assert_allclose(from_csv["probabilities"], from_json["probabilities"], atol=1e-12)


def test_missing_total_charges_is_imputed_by_the_model(service, records, pipeline) -> None:
    record = {**records[0], "total_charges": None}
    status, answer = post(service, "/predict", record)
    assert status == 200, answer
    expected = pipeline.predict_proba(pd.DataFrame([{**record, "total_charges": math.nan}]))
    assert answer["probability"] == pytest.approx(expected[0, 1], abs=1e-12)


def test_unknown_category_is_scored_as_the_model_does_with_a_warning(
    service, records, pipeline
) -> None:
    record = {**records[0], "contract": "Three year"}
    status, answer = post(service, "/predict", record)
    assert status == 200, answer
    assert "contract" in answer["warnings"][0] and "Three year" in answer["warnings"][0]
    expected = pipeline.predict_proba(pd.DataFrame([record]))[0, 1]
    assert answer["probability"] == pytest.approx(expected, abs=1e-12)


def test_the_id_column_may_be_sent_and_is_ignored(service, records) -> None:
    _, plain = post(service, "/predict", records[0])
    status, with_id = post(service, "/predict", {"customer_id": 7, **records[0]})
    assert status == 200
    assert with_id["probability"] == plain["probability"]


def _bad_cases(record: dict) -> list[tuple[str, str, object, str, int, str]]:
    """(case, path, body, content type, expected status, text the message must contain)."""
    without = {k: v for k, v in record.items() if k != "tenure"}
    raw = json.dumps(record)
    return [
        ("missing field", "/predict", without, "application/json", 422, "'tenure'"),
        (
            "string for a number",
            "/predict",
            {**record, "tenure": "12"},
            "application/json",
            422,
            "'tenure'",
        ),
        (
            "boolean for a number",
            "/predict",
            {**record, "partner": True},
            "application/json",
            422,
            "'partner'",
        ),
        (
            "number for a category",
            "/predict",
            {**record, "contract": 2},
            "application/json",
            422,
            "'contract'",
        ),
        ("unknown field", "/predict", {**record, "tenur": 3}, "application/json", 422, "'tenur'"),
        (
            "null where not allowed",
            "/predict",
            {**record, "tenure": None},
            "application/json",
            422,
            "'tenure'",
        ),
        (
            "NaN",
            "/predict",
            raw.replace('"tenure": ' + json.dumps(record["tenure"]), '"tenure": NaN'),
            "application/json",
            422,
            "'tenure'",
        ),
        (
            "Infinity",
            "/predict",
            raw.replace(
                '"monthly_charges": ' + json.dumps(record["monthly_charges"]),
                '"monthly_charges": Infinity',
            ),
            "application/json",
            422,
            "'monthly_charges'",
        ),
        (
            "huge number",
            "/predict",
            {**record, "tenure": 10**400},
            "application/json",
            422,
            "'tenure'",
        ),
        ("empty batch", "/predict/batch", [], "application/json", 422, "empty batch"),
        (
            "bad record in batch",
            "/predict/batch",
            [record, without],
            "application/json",
            422,
            "record 1: missing field 'tenure'",
        ),
        (
            "record not an object",
            "/predict/batch",
            [record, 3],
            "application/json",
            422,
            "record 1",
        ),
        ("malformed JSON", "/predict", raw[:-5], "application/json", 400, "malformed JSON"),
        ("empty body", "/predict", "", "application/json", 400, "empty body"),
        (
            "deeply nested JSON",
            "/predict",
            "[" * 100_000,
            "application/json",
            400,
            "malformed JSON",
        ),
        ("not UTF-8", "/predict", b"\xff\xfe{}", "application/json", 400, "malformed JSON"),
        (
            "list to the single endpoint",
            "/predict",
            [record],
            "application/json",
            422,
            "/predict/batch",
        ),
        (
            "object to the batch endpoint",
            "/predict/batch",
            record,
            "application/json",
            422,
            "/predict",
        ),
        ("wrong content type", "/predict", raw, "text/plain", 415, "Content-Type"),
        (
            "CSV cell not a number",
            "/predict/batch",
            ",".join(record)
            + "\n"
            + ",".join("x" if k == "tenure" else str(v) for k, v in record.items())
            + "\n",
            "text/csv",
            422,
            "'tenure'",
        ),
        (
            "oversized body",
            "/predict/batch",
            [record] * (MAX_BODY // len(raw) + 10),
            "application/json",
            413,
            "limit",
        ),
    ]


CASES = [case[0] for case in _bad_cases({"tenure": 1, "monthly_charges": 2})]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_4xx_naming_the_problem(service, records, case) -> None:
    _, path, body, content_type, expected, needle = next(
        c for c in _bad_cases(records[0]) if c[0] == case
    )
    status, answer = post(service, path, body, content_type=content_type)
    assert status == expected, answer
    assert needle in answer["error"]
    assert answer["request_id"]


def test_the_service_survives_bad_input(service, records) -> None:
    for case in _bad_cases(records[0]):
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
    assert set(line) == {"request_id", "time", "model_version", "inputs", "probability"}
    assert line["model_version"] == "1"
    assert line["inputs"] == records[1]
    assert 0.0 <= line["probability"] <= 1.0
    assert line["time"].endswith("Z")


def test_refuses_to_start_when_the_alias_does_not_resolve(store_env) -> None:
    done = run_serve(["--model-uri", f"models:/{NAME}@nosuch"], store_env)
    assert done.returncode == 2
    assert done.stderr.startswith("error: models:/churn-classifier@nosuch")
    assert len(done.stderr.strip().splitlines()) == 1


def test_refuses_to_start_when_the_model_file_does_not_exist(store_env, tmp_path) -> None:
    missing = tmp_path / "nope.pkl"
    done = run_serve(["--model-path", str(missing)], store_env)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {missing}: model file not found (run `make repro`)"
