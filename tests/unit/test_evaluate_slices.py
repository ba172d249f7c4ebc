"""Slice metrics, numeric bands, calibration and permutation importance on tiny frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from tabular_mlops.core.params import EvaluateParams
from tabular_mlops.stages.evaluate import band_labels, calibration, feature_importance, slices
from tabular_mlops.stages.evaluate_plots import sample_rows

PARAMS = EvaluateParams(
    threshold=0.5,
    slice_columns=("plan", "flag"),
    bands={"months": (0.0, 12.0, 24.0)},
    calibration_bins=4,
    importance_repeats=2,
    seed=0,
)


def test_bands_include_the_lower_edge_and_an_open_top() -> None:
    labels = band_labels(pd.Series([0.0, 11.9, 12.0, 30.0, -1.0]), (0.0, 12.0, 24.0))
    assert list(labels) == ["0-12", "0-12", "12-24", "24 or more", "below 0"]


def test_slices_score_each_value_and_leave_one_class_aucs_null() -> None:
    frame = pd.DataFrame(
        {
            "plan": ["M", "M", "M", "M", "Y", "Y"],
            "flag": [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
            "months": [1.0, 2.0, 13.0, 40.0, 50.0, 60.0],
        }
    )
    y_true = np.array([1, 0, 1, 0, 0, 0])
    proba = np.array([0.9, 0.2, 0.6, 0.4, 0.1, 0.3])
    result = slices(frame, y_true, proba, PARAMS, "binary")
    assert set(result) == {"plan", "flag", "months"}
    assert set(result["flag"]) == {"0", "1"}  # flags read as 0/1, not 0.0/1.0
    assert result["plan"]["M"]["rows"] == 4
    assert result["plan"]["M"]["roc_auc"] == 1.0
    assert result["plan"]["Y"]["roc_auc"] is None  # only negatives
    assert result["plan"]["Y"]["accuracy"] == 1.0
    assert set(result["months"]) == {"0-12", "12-24", "24 or more"}


def test_calibration_has_one_point_per_bin() -> None:
    rng = np.random.default_rng(0)
    proba = rng.uniform(size=400)
    y_true = (rng.uniform(size=400) < proba).astype(int)
    rows = calibration(y_true, proba, 4)
    assert len(rows) == 4
    assert all(abs(row["mean_predicted"] - row["fraction_positive"]) < 0.15 for row in rows)


def test_permutation_importance_ranks_the_informative_column_first() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300)})
    y_true = (frame["signal"] > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(frame, y_true)
    rows = feature_importance(model, frame, y_true, PARAMS, "binary")
    assert [row["feature"] for row in rows] == ["signal", "noise"]
    assert rows[0]["importance"] > 0.3 > abs(rows[1]["importance"])


def test_permutation_importance_equals_sklearns_on_mixed_columns() -> None:
    """Batching the shuffled copies must not change a number: same permutations as sklearn."""
    from sklearn.compose import ColumnTransformer
    from sklearn.inspection import permutation_importance
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "months": rng.normal(size=200),
            "plan": pd.Categorical(rng.choice(["M", "Y", "T"], size=200)),
            "noise": rng.normal(size=200),
        }
    )
    y_true = ((frame["months"] + (frame["plan"] == "M") * 1.5) > 0.5).astype(int).to_numpy()
    encode = ColumnTransformer([("cat", OneHotEncoder(), ["plan"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(frame, y_true)
    params = dataclasses.replace(PARAMS, importance_repeats=3, seed=7)
    expected = permutation_importance(
        model, frame, y_true, scoring="roc_auc", n_repeats=3, random_state=7
    )
    rows = {
        row["feature"]: row for row in feature_importance(model, frame, y_true, params, "binary")
    }
    for name, mean, std in zip(
        frame.columns, expected.importances_mean, expected.importances_std, strict=True
    ):
        assert rows[name]["importance"] == round(float(mean), 6)
        assert rows[name]["std"] == round(float(std), 6)
    assert rows["months"]["importance"] > rows["noise"]["importance"]


def test_the_importance_sample_keeps_each_class_share_and_every_class() -> None:
    y_true = np.array([0] * 900 + [1] * 97 + [2] * 3)
    kept = sample_rows(y_true, 100, seed=3, stratify=True)
    assert list(kept) == sorted(set(kept))
    assert np.bincount(y_true[kept]).tolist() == [90, 10, 1]
    assert list(kept) == list(sample_rows(y_true, 100, seed=3, stratify=True))
    assert list(kept) != list(sample_rows(y_true, 100, seed=4, stratify=True))
    assert len(sample_rows(np.linspace(0, 1, 1000), 100, seed=3, stratify=False)) == 100


def test_permutation_importance_of_a_long_split_is_that_of_its_bounded_sample() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    y_true = (frame["signal"] + rng.normal(scale=0.5, size=600) > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(frame, y_true)
    bounded = dataclasses.replace(PARAMS, importance_rows=200)
    kept = sample_rows(y_true, 200, PARAMS.seed, stratify=True)
    whole = dataclasses.replace(PARAMS, importance_rows=None)
    sample = frame.iloc[kept].reset_index(drop=True)
    expected = feature_importance(model, sample, y_true[kept], whole, "binary")
    assert feature_importance(model, frame, y_true, bounded, "binary") == expected
    assert feature_importance(model, frame, y_true, whole, "binary") != expected
    roomy = dataclasses.replace(PARAMS, importance_rows=600)
    assert feature_importance(model, frame, y_true, roomy, "binary") == feature_importance(
        model, frame, y_true, whole, "binary"
    )
