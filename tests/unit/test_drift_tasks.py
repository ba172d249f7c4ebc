"""Drift and the simulator per task, on tiny synthetic frames: prior shift on a multiclass
target's classes and on a regression target's values, prediction drift on each task's scores,
the prediction log per task, and the simulator's target options (and their one-line refusals)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.dataset import ColumnSpec, DataParams
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import DriftParams, SimulateParams
from tabular_mlops.ct.drift import read_prediction_log
from tabular_mlops.ct.drift_report import render_markdown
from tabular_mlops.ct.drift_stats import detect
from tabular_mlops.ct.simulate import Shift, build_shift, simulate

from ..support import prediction_record

LABELS = ("low", "mid", "high")
ROWS = 1200
DRIFT = DriftParams(
    current="batches",
    reference="raw",
    prediction_log=None,
    alpha=0.05,
    psi_threshold=0.03,
    psi_bins=10,
    discrete_max_values=2,
)
SIMULATE = SimulateParams(linked={})


def data_for(task: str) -> DataParams:
    columns = {
        "x": ColumnSpec(kind="number"),
        "c": ColumnSpec(kind="category", values=("a", "b")),
    }
    if task == "regression":
        return DataParams(task="regression", target="y", id_column="id", columns=columns)
    if task == "binary":
        return DataParams(
            task="binary",
            target="y",
            id_column="id",
            columns=columns,
            labels=("no", "yes"),
            positive_label="yes",
        )
    return DataParams(task="multiclass", target="y", id_column="id", columns=columns, labels=LABELS)


def frame_for(task: str, seed: int = 0, rows: int = ROWS) -> pd.DataFrame:
    """Rows whose target follows x, so re-weighting the target moves x too."""
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, rows)
    if task == "regression":
        target: object = np.round(2 * x + rng.normal(0, 5, rows), 2)
    elif task == "binary":
        target = np.where(x + rng.normal(0, 5, rows) > 55, "yes", "no")
    else:
        target = np.array(LABELS)[np.digitize(x + rng.normal(0, 5, rows), [45, 55])]
    return pd.DataFrame(
        {"id": np.arange(rows), "y": target, "x": x, "c": rng.choice(["a", "b"], rows)}
    )


def column(result, name: str):
    return next(c for c in result.columns if c.column == name)


# --- prior shift ----------------------------------------------------------------------------


def test_multiclass_prior_shift_is_chi_squared_on_every_label() -> None:
    data = data_for("multiclass")
    reference, current = frame_for("multiclass", 0), frame_for("multiclass", 1)
    calm = detect(reference, current, data, DRIFT)
    assert column(calm, "y").test == "chi2" and not column(calm, "y").drifted
    current["y"] = np.where(np.arange(ROWS) % 2 == 0, "high", current["y"])
    shifted = detect(reference, current, data, DRIFT)
    prior = shifted.summary()["prior_shift"]
    assert prior["test"] == "chi2" and prior["drifted"]
    assert "3 classes" in shifted.summary()["prior_test"]


def test_an_unlisted_label_counts_as_a_class_of_its_own() -> None:
    data = data_for("multiclass")
    reference, current = frame_for("multiclass", 0), frame_for("multiclass", 1)
    current.loc[: ROWS // 5, "y"] = "unheard-of"
    assert detect(reference, current, data, DRIFT).summary()["prior_shift"]["drifted"]


def test_regression_prior_shift_is_ks_on_the_target_values() -> None:
    data = data_for("regression")
    reference, current = frame_for("regression", 0), frame_for("regression", 1)
    calm = detect(reference, current, data, DRIFT)
    assert column(calm, "y").test == "ks" and not calm.drift
    current["y"] = current["y"] * 1.15
    prior = detect(reference, current, data, DRIFT).summary()["prior_shift"]
    assert prior["test"] == "ks" and prior["drifted"] and prior["psi"] > DRIFT.psi_threshold


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_report_names_the_target_and_prediction_tests(task) -> None:
    data = data_for(task)
    result = detect(frame_for(task, 0), frame_for(task, 1), data, DRIFT)
    markdown = render_markdown(result, {"current": "c", "reference": "r"})
    expected = {"binary": "two classes", "multiclass": "3 classes", "regression": "its values"}
    assert f"prior shift: {'KS' if task == 'regression' else 'chi-squared'}" in markdown
    assert expected[task] in markdown and "prediction shift: KS" in markdown


# --- prediction drift -----------------------------------------------------------------------


def test_multiclass_prediction_drift_tests_each_class_probability() -> None:
    data = data_for("multiclass")
    rng = np.random.default_rng(4)
    reference = rng.dirichlet([4, 4, 4], 600)
    same = detect(
        frame_for("multiclass", 0),
        frame_for("multiclass", 1),
        data,
        DRIFT,
        reference,
        rng.dirichlet([4, 4, 4], 500),
    )
    assert not same.drift
    assert [c.column for c in same.of_kind("prediction")] == [f"prediction:{n}" for n in LABELS]
    moved = detect(
        frame_for("multiclass", 0),
        frame_for("multiclass", 1),
        data,
        DRIFT,
        reference,
        rng.dirichlet([4, 4, 10], 500),
    )
    summary = moved.summary()
    assert summary["prediction_drift"]["column"] == "prediction:high"
    assert summary["prediction_drift"]["drifted"]
    assert len(summary["prediction_drift_by_class"]) == 3


def test_multiclass_scores_of_the_wrong_shape_are_one_line() -> None:
    data = data_for("multiclass")
    rng = np.random.default_rng(5)
    with pytest.raises(PipelineError, match=r"current scores have shape \(50, 2\).*3: low"):
        detect(
            frame_for("multiclass", 0),
            frame_for("multiclass", 1),
            data,
            DRIFT,
            rng.dirichlet([1, 1, 1], 50),
            rng.dirichlet([1, 1], 50),
        )


def test_regression_prediction_drift_is_ks_on_the_predicted_value() -> None:
    data = data_for("regression")
    rng = np.random.default_rng(6)
    result = detect(
        frame_for("regression", 0),
        frame_for("regression", 1),
        data,
        DRIFT,
        rng.normal(100, 20, 600),
        rng.normal(115, 20, 500),
    )
    prediction = result.summary()["prediction_drift"]
    assert prediction["column"] == "prediction" and prediction["test"] == "ks"
    assert prediction["drifted"] and result.summary()["prediction_drift_by_class"] is None


# --- the prediction log ---------------------------------------------------------------------


def write_log(path, lines) -> None:
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def test_a_multiclass_log_is_read_in_class_order_whatever_the_key_order(tmp_path) -> None:
    data, log = data_for("multiclass"), tmp_path / "p.jsonl"
    first = prediction_record(data, {"x": 1.0, "c": "a"}, [0.2, 0.3, 0.5])
    reordered = {"high": 0.1, "low": 0.7, "mid": 0.2}
    write_log(log, [first, {"inputs": {"x": 2.0, "c": "b"}, "probabilities": reordered}])
    frame, scores = read_prediction_log(log, data)
    assert first["label"] == "high" and list(frame["x"]) == [1.0, 2.0]
    assert scores.tolist() == [[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]]


def test_a_regression_log_reads_the_predicted_values(tmp_path) -> None:
    data, log = data_for("regression"), tmp_path / "p.jsonl"
    write_log(log, [prediction_record(data, {"x": 1.0, "c": "a"}, v) for v in (10.5, 12.0)])
    assert read_prediction_log(log, data)[1].tolist() == [10.5, 12.0]


@pytest.mark.parametrize(
    ("task", "line", "message"),
    [
        ("multiclass", {"inputs": {"x": 1, "c": "a"}, "probability": 0.3}, "'probabilities'"),
        (
            "multiclass",
            {"inputs": {"x": 1, "c": "a"}, "probabilities": {"low": 0.5, "mid": 0.5}},
            "has no class 'high'",
        ),
        ("regression", {"inputs": {"x": 1, "c": "a"}, "prediction": "big"}, "not a number"),
        ("binary", {"inputs": {"x": 1, "c": "a"}, "prediction": 3.0}, "'probability'"),
    ],
)
def test_a_log_line_of_another_task_is_one_line(tmp_path, task, line, message) -> None:
    log = tmp_path / "p.jsonl"
    write_log(log, [line])
    with pytest.raises(PipelineError, match=rf"p\.jsonl: line 1: not a {task} .*{message}"):
        read_prediction_log(log, data_for(task))


# --- the simulator --------------------------------------------------------------------------


def options(**given) -> argparse.Namespace:
    base = {"share": [], "covariate": [], "target_share": None, "target_shift": None}
    return argparse.Namespace(**{**base, **given})


def test_a_multiclass_label_share_is_met_and_rows_stay_real() -> None:
    data, source = data_for("multiclass"), frame_for("multiclass")
    shift = build_shift(options(share=["y=mid:0.7"]), data)
    batch = simulate(source, data, SIMULATE, 4000, seed=1, shift=shift)
    assert (batch["y"] == "mid").mean() == pytest.approx(0.7, abs=0.03)
    assert batch["x"].isin(source["x"]).all()


def test_two_shares_are_met_together() -> None:
    data, source = data_for("multiclass"), frame_for("multiclass")
    shift = build_shift(options(share=["y=low:0.5", "c=b:0.8"]), data)
    batch = simulate(source, data, SIMULATE, 4000, seed=1, shift=shift)
    assert (batch["y"] == "low").mean() == pytest.approx(0.5, abs=0.03)
    assert (batch["c"] == "b").mean() == pytest.approx(0.8, abs=0.03)


def test_a_regression_target_shift_moves_the_mean_with_real_rows() -> None:
    data, source = data_for("regression"), frame_for("regression")
    shift = build_shift(options(target_shift="+15%"), data)
    assert shift == Shift(target_mean=0.15)
    batch = simulate(source, data, SIMULATE, 6000, seed=2, shift=shift)
    assert batch["y"].mean() == pytest.approx(source["y"].mean() * 1.15, rel=0.02)
    assert batch["y"].isin(source["y"]).all()
    assert batch["x"].mean() > source["x"].mean() + 2, "the features move with the target"


def test_a_regression_target_can_also_be_scaled_as_a_covariate() -> None:
    data, source = data_for("regression"), frame_for("regression")
    shift = build_shift(options(covariate=["y=+10%"]), data)
    plain = simulate(source, data, SIMULATE, 100, seed=3)
    scaled = simulate(source, data, SIMULATE, 100, seed=3, shift=shift)
    assert (scaled["y"] - plain["y"] * 1.1).abs().max() <= 0.01
    pd.testing.assert_series_equal(scaled["x"], plain["x"])


@pytest.mark.parametrize(
    ("task", "given", "message"),
    [
        ("regression", {"target_share": 0.4}, "'y' is a regression target: use --target-shift"),
        ("multiclass", {"target_share": 0.4}, "multiclass target: use --share 'y=LABEL:SHARE'"),
        ("binary", {"target_shift": "+15%"}, "binary target: use --target-share"),
        ("multiclass", {"covariate": ["y=+5%"]}, "labels are not numbers to scale"),
        ("multiclass", {"share": ["y=huge:0.3"]}, "not one of the labels \\(low, mid, high\\)"),
        ("regression", {"share": ["y=12.5:0.3"]}, "values are not labels"),
        ("regression", {"target_shift": "lots"}, "--target-shift 'lots': expected"),
    ],
)
def test_a_target_option_that_does_not_fit_the_task_is_one_line(task, given, message) -> None:
    with pytest.raises(PipelineError, match=message) as caught:
        build_shift(options(**given), data_for(task))
    assert "\n" not in str(caught.value)


def test_a_target_mean_beyond_the_data_is_refused() -> None:
    data, source = data_for("regression"), frame_for("regression")
    with pytest.raises(PipelineError, match="cannot move the mean of 'y' from"):
        simulate(source, data, SIMULATE, 10, seed=0, shift=Shift(target_mean=5.0))
