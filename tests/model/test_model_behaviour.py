"""The model `make repro` produced (or --model-path / --model-uri): quality and behaviour.

Thresholds come from params.yaml's `gates`, the same ones `make promote` applies. Behavioural
rules come from its `behaviour` section, one test per rule; each is first checked against the
training data, so a fork whose data disagree with a rule learns that instead of blaming the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.gates import MetricGate, gates_from_params
from tabular_mlops.core.params import Params
from tabular_mlops.stages.evaluate import overall, slices
from tests.model.conftest import configured
from tests.support import typical_row

CONFIG = configured()
BEHAVIOUR = CONFIG.behaviour
#: A forest is not monotone: a few rows may go against a category order the data hold, by more
#: than the invariance tolerance, but no more than this share of them.
AGAINST_ORDER_SHARE = 0.05
SEED = 20261125


@pytest.fixture(scope="module")
def metrics(proba, train, test_split, params: Params) -> dict[str, Any]:
    return overall(proba, train, test_split, params.data, params.evaluate)


def scored(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(frame)[:, 1]


def rate(frame: pd.DataFrame, rows: Any, target: str) -> tuple[float, int]:
    """Share of positive rows (the prepared target is 0/1) and how many rows it rests on."""
    values = frame.loc[rows, target]
    return float(values.mean()), int(values.size)


def noise(a: tuple[float, int], b: tuple[float, int]) -> float:
    """Two standard errors of the difference between two rates: what chance alone gives."""
    return 2 * math.sqrt(sum(p * (1 - p) / max(n, 1) for p, n in (a, b)))


def spec_of(params: Params, column: str, section: str, *kinds: str) -> Any:
    """The column's spec, or a failure naming the behaviour entry that does not fit the data."""
    spec = params.data.columns.get(column)
    assert spec is not None and spec.kind != "ignored", (
        f"behaviour.{section} names {column!r}, which is not a feature in data.columns"
    )
    assert not kinds or spec.kind in kinds, (
        f"behaviour.{section}: {column!r} is a {spec.kind} column, not one of {kinds}"
    )
    return spec


def is_binary(values: pd.Series) -> bool:
    return values.dropna().nunique() == 2


def test_predictions_are_one_probability_per_row(model, features) -> None:
    out = model.predict_proba(features)
    assert out.shape == (len(features), 2)
    assert np.isfinite(out).all()
    assert ((out >= 0) & (out <= 1)).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
    single = model.predict_proba(features.iloc[[0]])
    np.testing.assert_allclose(single, out[[0]], atol=1e-9)


def test_every_metric_meets_its_floor(metrics, params: Params) -> None:
    gates = gates_from_params(params.gates)
    below = {
        name: (metrics[name], gate.floor)
        for name, gate in gates.metrics.items()
        if not gate.meets_floor(metrics[name])
    }
    assert not below, f"below the floors in params.yaml gates.metrics (value, floor): {below}"


def test_model_beats_the_baseline_by_the_margin(metrics, params: Params) -> None:
    gates = gates_from_params(params.gates)
    short = {}
    for name, margin in gates.baseline_margin.items():
        lead = -gates.metrics[name].worse_by(metrics["baseline"][name], metrics[name])
        if lead < margin:
            short[name] = (round(lead, 4), margin)
    assert not short, f"not ahead of the DummyClassifier by the margin (lead, margin): {short}"


def test_every_large_slice_meets_its_floor(proba, test_split, params: Params) -> None:
    gates = gates_from_params(params.gates)
    y_true = test_split[params.data.target].to_numpy()
    below = []
    for column, values in slices(
        test_split, y_true, proba, params.evaluate, params.data.task
    ).items():
        for value, row in values.items():
            if row["rows"] < gates.slice_min_rows:
                continue
            for name, floor in gates.slice_floors.items():
                gate = MetricGate(gates.metrics[name].direction, floor)
                if row[name] is None or not gate.meets_floor(row[name]):
                    below.append(f"{column}={value}: {name} {row[name]} (floor {floor})")
    assert not below, f"slices below gates.slices.floors: {below}"


@pytest.mark.parametrize("column", [CONFIG.data.id_column] if CONFIG.data.id_column else [])
def test_the_id_does_not_change_predictions(model, features, proba, column) -> None:
    """Ids are arbitrary: shuffling them among the rows must not move any score."""
    changed = features.copy()
    changed[column] = np.random.default_rng(SEED).permutation(changed[column].to_numpy())
    assert not changed[column].equals(features[column])
    np.testing.assert_allclose(scored(model, changed), proba, atol=1e-9)


def invariant_groups(train: pd.DataFrame, column: str, kind: str) -> list[Any]:
    """Row masks the data check compares: each category, each of two values, or the halves."""
    values = train[column]
    if kind == "category" or is_binary(values):
        return [values == value for value in values.dropna().unique()]
    median = values.median()
    return [values < median, values >= median]


def changed_only(features: pd.DataFrame, column: str, spec: Any) -> list[pd.DataFrame]:
    """Copies of the rows with only `column` changed: each category rotated to every other
    allowed value, a two-valued column's values swapped, other numbers shuffled among rows."""
    values = features[column]
    if spec.kind == "category":
        allowed = [str(value) for value in spec.values]
        out = []
        for step in range(1, len(allowed)):
            rotate = {value: allowed[(i + step) % len(allowed)] for i, value in enumerate(allowed)}
            out.append(features.assign(**{column: values.map(lambda v, r=rotate: r.get(v, v))}))
        return out
    if is_binary(values):
        low, high = sorted(values.dropna().unique())
        return [features.assign(**{column: values.map({low: high, high: low})})]
    shuffled = np.random.default_rng(SEED).permutation(values.to_numpy())
    return [features.assign(**{column: shuffled})]


@pytest.mark.parametrize("column", BEHAVIOUR.invariant)
def test_an_invariant_column_barely_moves_predictions(
    model, features, proba, train, params: Params, column
) -> None:
    """behaviour.invariant: the target rate barely differs across the column's values, so the
    model must not lean on it (fairness, or a column known to carry no signal)."""
    spec = spec_of(params, column, "invariant")
    tolerance = params.behaviour.invariant_tolerance
    target = params.data.target
    rates = [rate(train, rows, target) for rows in invariant_groups(train, column, spec.kind)]
    high, low = max(rates), min(rates)
    assert high[0] - low[0] - noise(high, low) <= tolerance, (
        f"the data disagree: the target rate across {column} ranges from {low[0]:.3f} "
        f"({low[1]} rows) to {high[0]:.3f} ({high[1]} rows), beyond the tolerance {tolerance}"
    )
    for frame in changed_only(features, column, spec):
        change = np.abs(scored(model, frame) - proba).mean()
        assert change < tolerance, (
            f"changing only {column} moves the score by {change:.4f} on average "
            f"(behaviour.invariant_tolerance {tolerance})"
        )


@pytest.mark.parametrize(
    ("column", "direction"), list(BEHAVIOUR.monotonic.items()), ids=list(BEHAVIOUR.monotonic)
)
def test_raising_a_monotonic_column_moves_the_mean_score_its_way(
    model, features, proba, train, params: Params, column, direction
) -> None:
    """behaviour.monotonic: rows with high values of the column have a lower (decreasing) or
    higher (increasing) target rate than rows with low values; raising it must move the mean
    score the same way."""
    spec_of(params, column, "monotonic", "number", "integer")
    target = params.data.target
    low_q, high_q = train[column].quantile([0.25, 0.75])
    assert high_q > low_q, f"the data disagree: {column}'s quartiles coincide ({low_q})"
    low = rate(train, train[column] <= low_q, target)
    high = rate(train, train[column] >= high_q, target)
    agree = high[0] < low[0] if direction == "decreasing" else high[0] > low[0]
    assert agree, (
        f"the data disagree: the target rate is {low[0]:.3f} where {column} <= {low_q} and "
        f"{high[0]:.3f} where {column} >= {high_q}, not {direction}"
    )
    raised = features.assign(
        **{column: (features[column] + (high_q - low_q)).clip(upper=train[column].max())}
    )
    before, after = proba.mean(), scored(model, raised).mean()
    moved = after < before if direction == "decreasing" else after > before
    assert moved, (
        f"raising {column} by its interquartile range {high_q - low_q} moves the mean score "
        f"from {before:.4f} to {after:.4f}, not {direction}"
    )


@pytest.mark.parametrize(
    ("column", "order"), list(BEHAVIOUR.category_order.items()), ids=list(BEHAVIOUR.category_order)
)
def test_categories_score_in_the_declared_order(
    model, features, train, params: Params, column, order
) -> None:
    """behaviour.category_order: the target rate falls along the declared categories, so the
    mean score of every row set to each category, in that order, must not rise."""
    order = [str(value) for value in order]
    spec = spec_of(params, column, "category_order", "category")
    allowed = [str(value) for value in spec.values]
    assert set(order) <= set(allowed), f"{column}: {order} are not all of its values {allowed}"
    target = params.data.target
    rates = {value: rate(train, train[column] == value, target) for value in order}
    absent = [value for value, (_, rows) in rates.items() if rows == 0]
    assert not absent, f"the data disagree: {column} = {absent} never occur in training"
    observed = [rates[value][0] for value in order]
    assert observed == sorted(observed, reverse=True), (
        f"the data disagree: target rate by {column}: {dict(zip(order, observed, strict=True))}"
    )
    risk = {value: scored(model, features.assign(**{column: value})) for value in order}
    means = [risk[value].mean() for value in order]
    assert means == sorted(means, reverse=True), dict(zip(order, means, strict=True))
    tolerance = params.behaviour.invariant_tolerance
    against = (risk[order[-1]] - risk[order[0]] > tolerance).mean()
    assert against <= AGAINST_ORDER_SHARE, (
        f"{against:.1%} of rows score higher at {column}={order[-1]} than at {order[0]} by more "
        f"than {tolerance}"
    )


def case_row(case: Any, train: pd.DataFrame, params: Params) -> pd.DataFrame:
    """A case's row: its listed values (typed as prepare types them) over a typical row."""
    data = params.data
    unknown = sorted(set(case.row) - set(data.features))
    assert not unknown, f"behaviour.cases names columns that are not features: {unknown}"
    row = typical_row(train, data)
    for name, value in case.row.items():
        row[name] = float(value) if name in data.numeric else str(value)
    return pd.DataFrame([row])


@pytest.mark.parametrize(
    "case",
    BEHAVIOUR.cases,
    ids=[f"{i}-expect-{case.expect}" for i, case in enumerate(BEHAVIOUR.cases)],
)
def test_a_declared_case_gets_its_label(model, train, params: Params, case) -> None:
    """behaviour.cases: rows whose label is beyond doubt (minimum functionality tests)."""
    assert case.expect in params.data.labels, f"{case.expect!r} is not one of data.labels"
    score = scored(model, case_row(case, train, params))[0]
    threshold = params.evaluate.threshold
    predicted = params.data.positive_label if score >= threshold else params.data.negative_label
    assert predicted == case.expect, (
        f"{case.row} scores {score:.3f} (threshold {threshold}): {predicted!r}, "
        f"expected {case.expect!r}"
    )


@pytest.mark.parametrize("column", CONFIG.data.categorical)
def test_an_unseen_category_still_scores(model, features, params: Params, column) -> None:
    """Serving may send a category training never saw: it is ignored, not an error."""
    allowed = {str(value) for value in params.data.columns[column].values or ()}
    unseen = next(f"unseen-{i}" for i in range(len(allowed) + 1) if f"unseen-{i}" not in allowed)
    out = model.predict_proba(features.assign(**{column: unseen}))
    assert out.shape == (len(features), 2)
    assert np.isfinite(out).all() and ((out >= 0) & (out <= 1)).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
