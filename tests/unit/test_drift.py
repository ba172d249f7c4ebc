"""The pure cores of new data and drift on small frames: drift statistics, the simulator,
ingest's plan and the retraining decision."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.batches import batch_tags, untrained
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.ct.decide import decide, parse_bool
from tabular_mlops.ct.drift import read_prediction_log
from tabular_mlops.ct.drift_report import histogram, render_markdown, svg_bars
from tabular_mlops.ct.drift_stats import (
    category_counts,
    compare_categorical,
    compare_numeric,
    detect,
    psi,
)
from tabular_mlops.ct.ingest import Candidate, batch_text, plan_ingest
from tabular_mlops.ct.simulate import Shift, parse_covariate, parse_share, simulate

from ..support import first, load_params_at_root, prediction_record

DATA = load_params_at_root().data
#: A numeric feature with more than two values (not a 0/1 flag): shifts are visible in it.
CONTINUOUS = first(
    name
    for name, spec in DATA.columns.items()
    if spec.kind in ("number", "integer")
    and (spec.range is None or spec.range[1] - spec.range[0] > 1)
)
CATEGORY = first(DATA.categorical)
ID = [DATA.id_column] if DATA.id_column is not None else []
LINKED = first(load_params_at_root().simulate.linked)


@pytest.fixture
def raw(sample_frame) -> pd.DataFrame:
    return sample_frame


# --- drift statistics -------------------------------------------------------------------------


def test_psi_is_zero_for_identical_histograms_and_grows_with_the_shift() -> None:
    counts = np.array([10, 20, 30, 40])
    assert psi(counts, counts) == pytest.approx(0.0)
    small = psi(counts, np.array([12, 20, 30, 38]))
    large = psi(counts, np.array([40, 30, 20, 10]))
    assert 0 < small < large


def test_numeric_comparison_uses_ks_and_sees_a_location_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 2000)
    same = compare_numeric("x", "feature", reference, rng.normal(0, 1, 500), 10)
    moved = compare_numeric("x", "feature", reference, rng.normal(0.5, 1, 500), 10)
    assert same.test == moved.test == "ks"
    assert same.p_value > 0.01 and moved.p_value < 1e-6
    assert moved.psi > same.psi


def test_missing_numbers_are_left_out_of_ks_but_counted_by_psi() -> None:
    reference = np.array([1.0, 2.0, 3.0, 4.0] * 50)
    current = np.array([1.0, 2.0, np.nan, np.nan] * 50)
    result = compare_numeric("x", "feature", reference, current, 4)
    assert result.current_rows == 100
    assert result.psi > 1


def test_categorical_comparison_uses_chi_squared_and_counts_unseen_categories() -> None:
    reference = pd.Series(["a"] * 300 + ["b"] * 300)
    current = pd.Series(["a"] * 100 + ["b"] * 100 + ["new"] * 100)
    result = compare_categorical("c", "feature", reference, current)
    assert result.test == "chi2"
    assert result.p_value < 1e-6 and result.psi > 0.5


def test_missing_categories_are_counted_as_their_own_value() -> None:
    labels, ref, cur = category_counts(pd.Series(["a", None, "a"]), pd.Series([None, None, 1.0]))
    assert labels == ["1.0", "<missing>", "a"]
    assert ref.tolist() == [0, 1, 2] and cur.tolist() == [1, 2, 0]


def test_detect_on_a_random_split_raises_no_alarm(raw, params) -> None:
    shuffled = raw.sample(frac=1.0, random_state=0)
    half = len(shuffled) // 2
    result = detect(shuffled.iloc[:half], shuffled.iloc[half:], params.data, params.drift)
    assert not result.drift
    names = {c.column for c in result.columns}
    assert names == {*params.data.numeric, *params.data.categorical, params.data.target}
    assert all(c.p_adjusted >= c.p_value for c in result.columns)


@pytest.mark.parametrize("column", CONTINUOUS)
def test_detect_names_the_shifted_feature_and_the_prior_shift(raw, params, column) -> None:
    data = params.data
    shifted = raw.copy()
    values = pd.to_numeric(shifted[column], errors="coerce")
    shifted[column] = values + 2 * values.std()
    if data.task == "regression":
        target = pd.to_numeric(shifted[data.target], errors="coerce")
        shifted[data.target] = target + 2 * target.std()
    else:
        shifted[data.target] = data.classes[-1]
        shifted.loc[: len(shifted) // 4, data.target] = data.classes[0]
    result = detect(raw, shifted, data, params.drift)
    assert result.drift
    assert column in result.drifted_features
    assert not set(data.categorical) & set(result.drifted_features)
    assert result.summary()["prior_shift"]["drifted"]


@pytest.mark.parametrize("column", CONTINUOUS)
def test_a_significant_but_tiny_change_is_not_an_alarm(params, column) -> None:
    rng = np.random.default_rng(1)
    rows = 50_000
    frame = pd.DataFrame({c: rng.integers(0, 2, rows) for c in params.data.numeric})
    for name in params.data.categorical:
        frame[name] = "x"
    frame[column] = rng.normal(30, 10, rows)
    nudged = frame.copy()
    nudged[column] = rng.normal(30.6, 10, rows)
    result = detect(frame, nudged, params.data, params.drift)
    moved = next(c for c in result.columns if c.column == column)
    assert moved.p_adjusted < params.drift.alpha
    assert moved.psi < params.drift.psi_threshold
    assert not result.drift


def scores_like(data, rng: np.random.Generator, rows: int, high: bool) -> np.ndarray:
    """Scores shaped as the task's model gives them, low or high (the first class likelier)."""
    a, b = (5, 2) if high else (2, 5)
    if data.task == "multiclass":
        return rng.dirichlet([a * 2, *([b] * (len(data.classes) - 1))], rows)
    return rng.beta(a, b, rows) * (100 if data.task == "regression" else 1)


def test_prediction_drift_is_tested_on_scores_and_missing_target_is_noted(raw, params) -> None:
    features = raw.drop(columns=[params.data.target])
    rng = np.random.default_rng(2)
    reference = scores_like(params.data, rng, 400, high=False)
    current = scores_like(params.data, rng, 300, high=True)
    result = detect(raw, features, params.data, params.drift, reference, current)
    prediction = result.summary()["prediction_drift"]
    assert prediction["test"] == "ks" and prediction["drifted"]
    assert result.summary()["prior_shift"] is None
    assert any("prior shift not checked" in note for note in result.notes)


def test_a_window_without_a_feature_column_fails_with_one_line(raw, params) -> None:
    column = params.data.features[0]
    with pytest.raises(PipelineError, match=rf"current window: column.*{column}"):
        detect(raw, raw.drop(columns=[column]), params.data, params.drift)


def test_reports_name_every_column_and_draw_bars(raw, params) -> None:
    result = detect(raw, raw, params.data, params.drift)
    markdown = render_markdown(result, {"current": "c", "reference": "r"})
    assert "No drift" in markdown
    assert all(f"`{column}`" in markdown for column in params.data.numeric)
    values = pd.Series(np.arange(200, dtype=float))
    labels, ref, cur = histogram(values, values + 10, numeric=True)
    assert len(labels) == len(ref) == len(cur) and sum(ref) == pytest.approx(1)
    svg = svg_bars("a column", labels, ref, cur)
    assert svg.startswith("<svg") and svg.count("<rect") == 2 * len(labels)


def test_prediction_log_is_read_as_a_window(tmp_path, raw, params) -> None:
    features = [*params.data.numeric, *params.data.categorical]
    log = tmp_path / "predictions.jsonl"
    expected = scores_like(params.data, np.random.default_rng(3), 20, high=False)
    head = {"time": "2026-11-23T10:00:00Z", "model_version": "3"}
    lines = [
        json.dumps(
            {
                "request_id": str(i),
                **head,
                **prediction_record(
                    params.data, {k: (None if pd.isna(v) else v) for k, v in row.items()}, score
                ),
            }
        )
        for i, (row, score) in enumerate(
            zip(raw[features].head(20).to_dict("records"), expected, strict=True)
        )
    ]
    log.write_text("\n".join(lines) + "\n")
    frame, scores = read_prediction_log(log, params.data)
    assert len(frame) == 20 and scores == pytest.approx(expected)
    log.write_text(lines[0] + "\nnot json\n")
    with pytest.raises(PipelineError, match=r"predictions\.jsonl: line 2"):
        read_prediction_log(log, params.data)


# --- simulator ------------------------------------------------------------------------------


def test_simulated_batch_is_reproducible_with_fresh_ids(raw, params) -> None:
    one = simulate(raw, params.data, params.simulate, 300, seed=5)
    again = simulate(raw, params.data, params.simulate, 300, seed=5)
    pd.testing.assert_frame_equal(one, again)
    assert list(one.columns) == list(raw.columns)
    for id_column in ID:
        ids = one[id_column]
        assert ids.is_unique and not ids.isin(raw[id_column]).any()


@pytest.mark.parametrize("column", CATEGORY)
def test_shares_are_met_and_rows_stay_real(raw, params, column) -> None:
    data = params.data
    value = raw[column].dropna().astype(str).value_counts().index[-1]
    shares = [(column, value, 0.8)]
    if data.task != "regression":
        label = str(data.classes[-1])
        shares.append((data.target, label, 0.5))
    features = [c for c in raw.columns if c != data.id_column]
    real = pd.util.hash_pandas_object(raw[features], index=False)
    for name, wanted, share in shares:  # one at a time: in real data not every pair can be met
        shift = Shift(shares=((name, wanted, share),))
        batch = simulate(raw, data, params.simulate, 4000, seed=1, shift=shift)
        assert (batch[name].astype(str) == wanted).mean() == pytest.approx(share, abs=0.03)
        assert pd.util.hash_pandas_object(batch[features], index=False).isin(real).all()


@pytest.mark.parametrize("column", CONTINUOUS)
def test_covariate_shift_scales_the_column_alone(raw, params, column) -> None:
    settings = dataclasses.replace(params.simulate, linked={})
    plain = simulate(raw, params.data, settings, 200, seed=3)
    moved = simulate(raw, params.data, settings, 200, seed=3, shift=Shift(covariate={column: 0.5}))
    base = pd.to_numeric(plain[column], errors="coerce")
    changed = pd.to_numeric(moved[column], errors="coerce")
    assert (changed - base * 1.5).abs().max() <= 0.5 + 1e-9
    others = [c for c in raw.columns if c not in (column, *ID)]
    pd.testing.assert_frame_equal(moved[others], plain[others])


@pytest.mark.parametrize("column", LINKED)
def test_covariate_shift_scales_the_linked_columns_too(raw, params, column) -> None:
    shift = Shift(covariate={column: 0.15})
    plain = simulate(raw, params.data, params.simulate, 200, seed=3)
    moved = simulate(raw, params.data, params.simulate, 200, seed=3, shift=shift)
    for name in (column, *params.simulate.linked[column]):
        ratio = (moved[name] / plain[name]).replace([np.inf, -np.inf], np.nan).dropna()
        assert ratio.to_numpy() == pytest.approx(1.15, abs=0.01)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("price=+15%", ("price", 0.15)), ("age=-0.1", ("age", -0.1))],
)
def test_covariate_option_parses(text, expected) -> None:
    assert parse_covariate(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["price", "x=lots", "=5%"])
def test_bad_covariate_option_is_one_line(text) -> None:
    with pytest.raises(PipelineError, match="--covariate"):
        parse_covariate(text)


def test_share_option_parses_and_rejects_bad_shares() -> None:
    assert parse_share("plan=Two year:0.4") == ("plan", "Two year", 0.4)
    with pytest.raises(PipelineError, match="--share"):
        parse_share("plan=Two year:1.5")


@pytest.mark.parametrize("column", CATEGORY)
def test_shifting_a_category_column_numerically_is_refused(raw, params, column) -> None:
    with pytest.raises(PipelineError, match=f"'{column}': not a numeric column"):
        simulate(raw, params.data, params.simulate, 10, 0, Shift(covariate={column: 0.1}))


# --- ingest ---------------------------------------------------------------------------------


def candidate(name: str, frame: pd.DataFrame, problems: tuple[str, ...] = ()) -> Candidate:
    return Candidate(name, f"md5-{name}", frame.astype(str), problems)


def plan(raw: pd.DataFrame, candidates: list[Candidate], manifest=None):
    id_column = DATA.id_column
    return plan_ingest(
        list(raw.columns),
        raw[id_column] if id_column is not None else pd.Series([], dtype=str),
        len(raw),
        1000,
        manifest or [],
        candidates,
        id_column,
        "2026-11-23T10:00:00+00:00",
    )


def fresh(raw: pd.DataFrame, params, rows: int, seed: int, *taken: pd.DataFrame) -> pd.DataFrame:
    """A simulated batch whose ids clash with neither the raw data nor `taken` batches."""
    ids = None
    if DATA.id_column is not None:
        ids = pd.concat([frame[DATA.id_column] for frame in (raw, *taken)], ignore_index=True)
    return simulate(raw, params.data, params.simulate, rows, seed=seed, taken_ids=ids)


def test_good_batches_are_appended_in_name_order_with_their_offsets(raw, params) -> None:
    first_batch = fresh(raw, params, 30, 1)
    second = fresh(raw, params, 20, 2, first_batch)
    result = plan(raw, [candidate("b.csv", second), candidate("a.csv", first_batch)])
    assert [e["name"] for e in result.entries] == ["a.csv", "b.csv"]
    assert [e["first_row"] for e in result.entries] == [len(raw), len(raw) + 30]
    first_text = batch_text(first_batch.astype(str), list(raw.columns))
    assert result.entries[1]["offset"] == 1000 + len(first_text.encode())
    assert result.text.count("\n") == 50 and not result.rejected


def test_columns_in_another_order_are_written_in_the_raw_order(raw, params) -> None:
    batch = simulate(raw, params.data, params.simulate, 5, seed=1)
    shuffled = batch[list(reversed(batch.columns))].astype(str)
    line = batch_text(shuffled, list(raw.columns)).splitlines()[0]
    assert line == batch_text(batch.astype(str), list(raw.columns)).splitlines()[0]


def test_contract_failures_and_other_columns_are_rejected(raw, params) -> None:
    good = fresh(raw, params, 10, 1)
    extra = fresh(raw, params, 10, 2, good).assign(extra_column=1)
    column = params.data.features[0]
    result = plan(
        raw,
        [
            candidate("broken.csv", good, (f"{column}: values in range",)),
            candidate("extra.csv", extra),
        ],
    )
    assert not result.entries and result.text == ""
    reasons = {r.candidate.name: " ".join(r.reasons) for r in result.rejected}
    assert column in reasons["broken.csv"]
    assert "unexpected ['extra_column']" in reasons["extra.csv"]


@pytest.mark.parametrize("id_column", ID)
def test_reused_ids_are_rejected(raw, params, id_column) -> None:
    result = plan(raw, [candidate("reused.csv", raw.head(10))])
    assert not result.entries
    [rejection] = result.rejected
    assert f"{id_column}: 10 id(s) already in the data" in " ".join(rejection.reasons)


@pytest.mark.parametrize("id_column", ID)
def test_ids_shared_by_two_new_batches_reject_the_second(raw, params, id_column) -> None:
    batch = fresh(raw, params, 10, 1)
    result = plan(raw, [candidate("a.csv", batch), candidate("b.csv", batch.copy())])
    assert [e["name"] for e in result.entries] == ["a.csv"]
    assert [r.candidate.name for r in result.rejected] == ["b.csv"]


def test_a_batch_already_in_the_manifest_is_skipped(raw, params) -> None:
    batch = simulate(raw, params.data, params.simulate, 10, seed=1)
    manifest = [{"name": "a.csv", "md5": "md5-a.csv", "rows": 10}]
    result = plan(raw, [candidate("a.csv", batch)], manifest)
    assert result.skipped == ("a.csv",) and not result.entries and not result.rejected


def test_batch_tags_name_the_batches() -> None:
    assert batch_tags([]) == {"data.batches": "none", "data.batches.count": "0"}
    tags = batch_tags([{"name": "a.csv"}, {"name": "b.csv"}])
    assert tags == {"data.batches": "a.csv,b.csv", "data.batches.count": "2"}


def test_batches_appended_since_the_last_training_are_found_by_offset() -> None:
    first = {"name": "a.csv", "offset": 100}
    second = {"name": "b.csv", "offset": 300}
    assert untrained([first, second], None, "x") == [first, second]
    assert untrained([first, second], {"md5": "x", "size": 300}, "x") == []
    assert untrained([first, second], {"md5": "old", "size": 300}, "x") == [second]
    assert untrained([first], {"md5": "old", "size": 300}, "x") is None


# --- decide ---------------------------------------------------------------------------------

TRAINED = {"md5": "old", "size": 500}
BATCH = {"name": "batch-1.csv", "rows": 40, "offset": 500, "md5": "m"}
OLD_BATCH = {"name": "batch-0.csv", "rows": 40, "offset": 100, "md5": "n"}


def test_nothing_new_means_no_retraining_and_says_so() -> None:
    decision = decide(False, "old", TRAINED, [OLD_BATCH], [], None)
    assert not decision.retrain
    assert "nothing new" in decision.reason


def test_new_batches_since_the_last_training_are_named() -> None:
    decision = decide(False, "new", TRAINED, [OLD_BATCH, BATCH], [], None)
    assert decision.retrain
    assert "batch-1.csv (40 rows)" in decision.reason and "batch-0" not in decision.reason


def test_pending_files_never_trained_and_force_each_retrain() -> None:
    assert decide(False, "old", TRAINED, [], ["x.csv"], None).retrain
    assert "no training recorded" in decide(False, "old", None, [], [], None).reason
    forced = decide(True, "old", TRAINED, [], [], None)
    assert forced.retrain and "forced" in forced.reason


def test_drift_counts_only_against_the_model_still_in_use() -> None:
    report = {"drift": True, "drifted_features": ["price"], "trained_raw_md5": "old"}
    current = decide(False, "old", TRAINED, [], [], report)
    assert current.retrain and "price" in current.reason
    assert "no new data" in current.reason
    with_data = decide(False, "new", TRAINED, [BATCH], [], report)
    assert "batch-1.csv" in with_data.reason and "no new data" not in with_data.reason
    stale = decide(False, "old", TRAINED, [], [], {**report, "trained_raw_md5": "older"})
    assert not stale.retrain


@pytest.mark.parametrize(("text", "value"), [("true", True), ("FALSE", False), ("", False)])
def test_force_flag_parses(text, value) -> None:
    assert parse_bool(text) is value


def test_force_flag_rejects_other_words() -> None:
    with pytest.raises(PipelineError, match="FORCE='maybe'"):
        parse_bool("maybe")


def test_params_for_a_batch_lower_only_the_row_minimum(params) -> None:
    batch_params = dataclasses.replace(
        params, validate=dataclasses.replace(params.validate, min_rows=params.ingest.min_rows)
    )
    assert batch_params.validate.min_rows == params.ingest.min_rows
    assert batch_params.data == params.data


BINARY = [DATA] if DATA.task == "binary" else []


@pytest.mark.parametrize("data", BINARY)
@pytest.mark.parametrize("share", [0.0, 1.5])
def test_a_target_share_outside_0_and_1_is_one_line(share, data) -> None:
    import argparse

    from tabular_mlops.ct.simulate import build_shift

    args = argparse.Namespace(share=[], covariate=[], target_share=share)
    with pytest.raises(
        PipelineError, match=rf"--target-share must be between 0 and 1, got {share}"
    ):
        build_shift(args, data)


@pytest.mark.parametrize("data", BINARY)
def test_a_target_share_shifts_the_positive_label(data) -> None:
    import argparse

    from tabular_mlops.ct.simulate import build_shift

    args = argparse.Namespace(share=[], covariate=[], target_share=0.4)
    shift = build_shift(args, data)
    assert shift.shares == ((data.target, str(data.positive_label), 0.4),)
