"""The model `make repro` produced (or --model-path / --model-uri): quality and behaviour.

Thresholds come from params.yaml's `gates`, the same ones `make promote` applies. Behavioural
rules come from its `behaviour` section, one test per rule; each is first checked against the
training data, so a fork whose data disagree with a rule learns that instead of blaming the model.

Every task is scored as core.task.model_scores scores it. A rule compares "outcomes": the
positive class's rate (binary), each class's share (multiclass, where a change counts by the
class it moves most), or the target in units of its training standard deviation (regression),
so one `invariant_tolerance` reads the same way for every task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.gates import MetricGate, gates_from_params
from tabular_mlops.core.params import Params
from tabular_mlops.core.task import is_classification, model_scores, predicted_codes
from tabular_mlops.stages.evaluate import overall, slices
from tests.model.conftest import configured
from tests.support import assert_task_scores, typical_row

CONFIG = configured()
BEHAVIOUR = CONFIG.behaviour
TASK = CONFIG.data.task
#: A forest is not monotone: a few rows may go against a category order the data hold, by more
#: than the invariance tolerance, but no more than this share of them.
AGAINST_ORDER_SHARE = 0.05
SEED = 20261125


@pytest.fixture(scope="module")
def metrics(scores, train, test_split, params: Params) -> dict[str, Any]:
    return overall(scores, train, test_split, params.data, params.evaluate)


@pytest.fixture(scope="module")
def scale(train, params: Params) -> float:
    """What a regression's changes are measured in: the training target's standard deviation
    (1 for classification, whose scores are probabilities already)."""
    if is_classification(params.data.task):
        return 1.0
    return float(train[params.data.target].std()) or 1.0


def scored(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return model_scores(model, frame, TASK)


def moved(before: np.ndarray, after: np.ndarray, scale: float) -> float:
    """The mean absolute change of the scores; for multiclass, of the class it moves most."""
    change = np.abs(np.asarray(after) - np.asarray(before)) / scale
    return float(change.mean(axis=0).max()) if change.ndim == 2 else float(change.mean())


Outcome = tuple[np.ndarray, np.ndarray, int]


def outcome(frame: pd.DataFrame, rows: Any, target: str, scale: float) -> Outcome:
    """The outcome of some rows (see the module docstring): its means, their variances per row,
    and how many rows it rests on. The prepared target is a class code or the value."""
    values = frame.loc[rows, target].to_numpy()
    if TASK == "regression":
        y = values / scale
        return np.array([y.mean()]), np.array([y.var(ddof=1) if len(y) > 1 else 0.0]), len(y)
    codes = range(1, 2) if TASK == "binary" else range(len(CONFIG.data.classes))
    shares = np.array([(values == code).mean() if len(values) else 0.0 for code in codes])
    return shares, shares * (1 - shares), len(values)


def noise(a: Outcome, b: Outcome) -> np.ndarray:
    """Two standard errors of the difference between two outcomes: what chance alone gives."""
    return 2 * np.sqrt(a[1] / max(a[2], 1) + b[1] / max(b[2], 1))


def outcome_name(k: int) -> str:
    if TASK == "binary":
        return f"the rate of {CONFIG.data.positive_label!r}"
    if TASK == "multiclass":
        return f"the share of {CONFIG.data.class_names[k]!r}"
    return "the mean target (in training standard deviations)"


def _mean(outcome_: Outcome) -> float:
    """A binary or regression outcome as one number: the rate, or the mean target."""
    return float(outcome_[0][0])


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


def test_predictions_have_the_tasks_shape(model, features, scores, params: Params) -> None:
    """A probability per class summing to 1 per row (classification), a finite value per row
    (regression); one row alone scores as it does among others."""
    data = params.data
    assert_task_scores(scores, len(features), data.task, len(data.classes))
    if is_classification(data.task):
        out = model.predict_proba(features)
        assert out.shape == (len(features), len(data.classes))
        assert ((out >= 0) & (out <= 1)).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
    single = scored(model, features.iloc[[0]])
    np.testing.assert_allclose(single, scores[:1], atol=1e-9)


def test_every_metric_meets_its_floor(metrics, params: Params) -> None:
    gates = gates_from_params(params.gates)
    below = {
        name: (metrics.get(name), gate.floor)
        for name, gate in gates.metrics.items()
        if gate.floor is not None
        and (metrics.get(name) is None or not gate.meets_floor(metrics[name]))
    }
    assert not below, f"below the floors in params.yaml gates.metrics (value, floor): {below}"


def test_model_beats_the_baseline_by_the_margin(metrics, params: Params) -> None:
    gates = gates_from_params(params.gates)
    short = {}
    for name, margin in gates.baseline_margin.items():
        lead = -gates.metrics[name].worse_by(metrics["baseline"][name], metrics[name])
        if lead < margin:
            short[name] = (round(lead, 4), margin)
    assert not short, f"not ahead of the Dummy baseline by the margin (lead, margin): {short}"


def test_every_large_slice_meets_its_floor(scores, test_split, params: Params) -> None:
    gates = gates_from_params(params.gates)
    y_true = test_split[params.data.target].to_numpy()
    below = []
    for column, values in slices(
        test_split, y_true, scores, params.evaluate, params.data.task
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
def test_the_id_does_not_change_predictions(model, features, scores, column) -> None:
    """Ids are arbitrary: shuffling them among the rows must not move any score."""
    changed = features.copy()
    changed[column] = np.random.default_rng(SEED).permutation(changed[column].to_numpy())
    assert not changed[column].equals(features[column])
    np.testing.assert_allclose(scored(model, changed), scores, atol=1e-9)


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
    model, features, scores, train, scale, params: Params, column
) -> None:
    """behaviour.invariant: the outcome barely differs across the column's values, so the model
    must not lean on it (fairness, or a column known to carry no signal)."""
    spec = spec_of(params, column, "invariant")
    tolerance = params.behaviour.invariant_tolerance
    target = params.data.target
    groups = [
        outcome(train, rows, target, scale) for rows in invariant_groups(train, column, spec.kind)
    ]
    for k in range(len(groups[0][0])):
        high = max(groups, key=lambda g, k=k: g[0][k])
        low = min(groups, key=lambda g, k=k: g[0][k])
        assert high[0][k] - low[0][k] - noise(high, low)[k] <= tolerance, (
            f"the data disagree: {outcome_name(k)} across {column} ranges from {low[0][k]:.3f} "
            f"({low[2]} rows) to {high[0][k]:.3f} ({high[2]} rows), beyond the tolerance "
            f"{tolerance}"
        )
    for frame in changed_only(features, column, spec):
        change = moved(scores, scored(model, frame), scale)
        assert change < tolerance, (
            f"changing only {column} moves the score by {change:.4f} on average "
            f"(behaviour.invariant_tolerance {tolerance})"
        )


@pytest.mark.parametrize(
    ("column", "direction"), list(BEHAVIOUR.monotonic.items()), ids=list(BEHAVIOUR.monotonic)
)
def test_raising_a_monotonic_column_moves_the_mean_score_its_way(
    model, features, scores, train, scale, params: Params, column, direction
) -> None:
    """behaviour.monotonic: rows with high values of the column have a lower (decreasing) or
    higher (increasing) target rate, or mean target, than rows with low values; raising it must
    move the mean score (or prediction) the same way."""
    spec_of(params, column, "monotonic", "number", "integer")
    target = params.data.target
    low_q, high_q = train[column].quantile([0.25, 0.75])
    assert high_q > low_q, f"the data disagree: {column}'s quartiles coincide ({low_q})"
    low = _mean(outcome(train, train[column] <= low_q, target, scale))
    high = _mean(outcome(train, train[column] >= high_q, target, scale))
    agree = high < low if direction == "decreasing" else high > low
    assert agree, (
        f"the data disagree: the outcome is {low:.3f} where {column} <= {low_q} and "
        f"{high:.3f} where {column} >= {high_q}, not {direction}"
    )
    raised = features.assign(
        **{column: (features[column] + (high_q - low_q)).clip(upper=train[column].max())}
    )
    before, after = scores.mean(), scored(model, raised).mean()
    moved = after < before if direction == "decreasing" else after > before
    assert moved, (
        f"raising {column} by its interquartile range {high_q - low_q} moves the mean score "
        f"from {before:.4f} to {after:.4f}, not {direction}"
    )


@pytest.mark.parametrize(
    ("column", "order"), list(BEHAVIOUR.category_order.items()), ids=list(BEHAVIOUR.category_order)
)
def test_categories_score_in_the_declared_order(
    model, features, train, scale, params: Params, column, order
) -> None:
    """behaviour.category_order: the target rate (or mean target) falls along the declared
    categories, so the mean score of every row set to each category, in that order, must not
    rise."""
    order = [str(value) for value in order]
    spec = spec_of(params, column, "category_order", "category")
    allowed = [str(value) for value in spec.values]
    assert set(order) <= set(allowed), f"{column}: {order} are not all of its values {allowed}"
    target = params.data.target
    rates = {value: outcome(train, train[column] == value, target, scale) for value in order}
    absent = [value for value, (_, _, rows) in rates.items() if rows == 0]
    assert not absent, f"the data disagree: {column} = {absent} never occur in training"
    observed = [_mean(rates[value]) for value in order]
    assert observed == sorted(observed, reverse=True), (
        f"the data disagree: outcome by {column}: {dict(zip(order, observed, strict=True))}"
    )
    risk = {value: scored(model, features.assign(**{column: value})) for value in order}
    means = [risk[value].mean() for value in order]
    assert means == sorted(means, reverse=True), dict(zip(order, means, strict=True))
    tolerance = params.behaviour.invariant_tolerance
    against = ((risk[order[-1]] - risk[order[0]]) / scale > tolerance).mean()
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


def case_id(index: int, case: Any) -> str:
    if case.expect_between is not None:
        low, high = case.expect_between
        return f"{index}-between-{low}-{high}"
    return f"{index}-expect-{case.expect}"


@pytest.mark.parametrize(
    "case", BEHAVIOUR.cases, ids=[case_id(i, case) for i, case in enumerate(BEHAVIOUR.cases)]
)
def test_a_declared_case_gets_its_answer(model, train, params: Params, case) -> None:
    """behaviour.cases: rows whose label (or range of values) is beyond doubt (minimum
    functionality tests)."""
    data = params.data
    score = scored(model, case_row(case, train, params))[0]
    if data.task == "regression":
        low, high = case.expect_between
        assert low <= score <= high, f"{case.row} predicts {score:.4g}, not in [{low}, {high}]"
        return
    names = data.class_names
    assert str(case.expect) in names, f"{case.expect!r} is not one of data.labels"
    code = int(predicted_codes(np.asarray([score]), data.task, params.evaluate.cutoff)[0])
    shown = (
        f"{score:.3f} (threshold {params.evaluate.cutoff})"
        if data.task == "binary"
        else {name: round(float(p), 3) for name, p in zip(names, score, strict=True)}
    )
    assert names[code] == str(case.expect), (
        f"{case.row} scores {shown}: {names[code]!r}, expected {case.expect!r}"
    )


@pytest.mark.parametrize("column", CONFIG.data.categorical)
def test_an_unseen_category_still_scores(model, features, params: Params, column) -> None:
    """Serving may send a category training never saw: it is ignored, not an error."""
    allowed = {str(value) for value in params.data.columns[column].values or ()}
    unseen = next(f"unseen-{i}" for i in range(len(allowed) + 1) if f"unseen-{i}" not in allowed)
    out = scored(model, features.assign(**{column: unseen}))
    assert_task_scores(out, len(features), params.data.task, len(params.data.classes))
