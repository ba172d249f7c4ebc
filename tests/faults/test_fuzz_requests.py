"""Property-based fuzz of the request checker and of the app (Hypothesis, derandomized, no example
database, so CI sees the same examples every run): whatever JSON, text or bytes a client sends,
the only failure is an `InputError` with a 4xx status and one line that orjson can encode, and
the app answers below 500. The features are the configured model's inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabular_mlops.core.params import Params, load_params
from tabular_mlops.serving.app import create_app
from tabular_mlops.serving.inputs import (
    Feature,
    InputError,
    check_records,
    parse_csv,
    parse_json,
)
from tabular_mlops.serving.model import contract_nullable, load_model
from tests.serve.asgi import call

ROOT = Path(__file__).resolve().parents[2]
PARAMS: Params = load_params(ROOT / "params.yaml")
DATA = PARAMS.data
IGNORED = frozenset([DATA.id_column] if DATA.id_column is not None else [])
NULLABLE = contract_nullable(DATA)
FEATURES = tuple(
    Feature(
        name=name,
        numeric=name in DATA.numeric,
        nullable=name in NULLABLE,
        categories=None
        if name in DATA.numeric or DATA.columns[name].values is None
        else frozenset(str(v) for v in DATA.columns[name].values),
    )
    for name in DATA.features
)
FUZZ = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Any code point, lone surrogates and line separators included.
TEXT = st.text(st.characters(exclude_categories=()), max_size=20)
NAMES = st.sampled_from([f.name for f in FEATURES]) | TEXT
NUMBERS = (
    st.integers()
    | st.sampled_from([2**53 + 1, 2**64, -(2**63) - 1, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)


def near_valid(feature: Feature) -> st.SearchStrategy[Any]:
    """Mostly what the feature accepts, sometimes anything."""
    good: st.SearchStrategy[Any] = (
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)
        if feature.numeric
        else (st.sampled_from(sorted(feature.categories)) if feature.categories else TEXT)
    )
    return good | (st.none() if feature.nullable else good) | VALUES


RECORDS = st.fixed_dictionaries(
    {f.name: near_valid(f) for f in FEATURES},
    optional={name: VALUES for name in ["\ud800", "a\nb", *IGNORED]},
)
PAYLOADS = st.one_of(VALUES, RECORDS, st.lists(RECORDS | VALUES, max_size=4))


def assert_clean(message: str) -> None:
    orjson.dumps(message)
    assert len(message.splitlines()) == 1, message


def check(payload: Any, batch: bool) -> None:
    """check_records accepts or refuses with a 4xx one-liner; its warnings are clean too."""
    records = payload if batch and isinstance(payload, list) else [payload]
    try:
        _, warnings = check_records(records, FEATURES, IGNORED, batch=batch)
    except InputError as err:
        assert 400 <= err.status < 500
        assert_clean(err.message)
        return
    for warning in warnings:
        assert_clean(warning)


@FUZZ
@given(payload=PAYLOADS, batch=st.booleans())
def test_check_records_accepts_or_refuses_in_one_4xx_line(payload: Any, batch: bool) -> None:
    check(payload, batch)


BODIES = st.one_of(
    st.binary(max_size=300),
    TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
    PAYLOADS.map(lambda value: json.dumps(value).encode()),
    PAYLOADS.map(
        lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
)


@FUZZ
@given(body=BODIES, batch=st.booleans())
def test_parse_json_then_check_only_refuses_in_one_4xx_line(body: bytes, batch: bool) -> None:
    try:
        payload = parse_json(body)
    except InputError as err:
        assert 400 <= err.status < 500
        assert_clean(err.message)
        return
    check(payload, batch)


CSV_CELLS = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    """A header of (mostly) the features, rows of any cells; sometimes bytes that are no text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    names = draw(st.lists(NAMES, max_size=8))
    header = draw(st.sampled_from([[f.name for f in FEATURES], names]))
    cells = st.lists(CSV_CELLS, min_size=len(header), max_size=len(header) + 1)
    rows = draw(st.lists(cells, max_size=4))
    quoted = [",".join(json.dumps(c, ensure_ascii=False) for c in row) for row in [header, *rows]]
    return "\n".join(quoted).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=csv_bodies(), max_rows=st.sampled_from([None, 1, 3]))
def test_parse_csv_then_check_only_refuses_in_one_4xx_line(body: bytes, max_rows: Any) -> None:
    try:
        records = parse_csv(body, FEATURES, max_rows)
    except InputError as err:
        assert 400 <= err.status < 500
        assert_clean(err.message)
        return
    check(records, True)


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "text/csv",
        "application/json; charset=utf-8",
        "application/notjson+json",
        "text/csv; charset=latin-1",
        "application/json;;",
        'application/json; charset="utf-8',
        "\x7f/\xff",
        "",
    ]
)


@pytest.fixture(scope="module")
def app() -> Any:
    """The app on the model `make repro` trained (paths.model), as `--model-path` serves it."""
    path = ROOT / PARAMS.paths.model
    if not path.exists():
        pytest.fail(f"{path} missing: run `make repro` first (`make test` does)")
    model = load_model(PARAMS, model_uri=None, model_path=str(path))
    return create_app(model, ignored=IGNORED, max_body_bytes=100_000, max_batch_rows=3)


@pytest.mark.pipeline
@FUZZ
@given(
    path=st.sampled_from(["/predict", "/predict/batch"]),
    body=BODIES | csv_bodies(),
    content_type=CONTENT_TYPES,
)
def test_the_app_answers_any_body_below_500(app, path: str, body: bytes, content_type) -> None:
    headers = {"content-type": content_type} if content_type is not None else {}
    answer = call(app, "POST", path, body, headers)
    assert answer.raised is None, answer.raised
    assert answer.status is not None and answer.status < 500, answer.body
