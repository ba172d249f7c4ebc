"""Slice metrics, tenure bands, calibration and permutation importance on tiny frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from churn.evaluate import band_labels, calibration, feature_importance, slices
from churn.params import EvaluateParams

PARAMS = EvaluateParams(
    threshold=0.5,
    slice_columns=("contract", "senior_citizen"),
    bands={"tenure": (0.0, 12.0, 24.0)},
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
            "contract": ["M", "M", "M", "M", "Y", "Y"],
            "senior_citizen": [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
            "tenure": [1.0, 2.0, 13.0, 40.0, 50.0, 60.0],
        }
    )
    y_true = np.array([1, 0, 1, 0, 0, 0])
    proba = np.array([0.9, 0.2, 0.6, 0.4, 0.1, 0.3])
    result = slices(frame, y_true, proba, PARAMS)
    assert set(result) == {"contract", "senior_citizen", "tenure"}
    assert set(result["senior_citizen"]) == {"0", "1"}  # flags read as 0/1, not 0.0/1.0
    assert result["contract"]["M"]["rows"] == 4
    assert result["contract"]["M"]["roc_auc"] == 1.0
    assert result["contract"]["Y"]["roc_auc"] is None  # only retained customers
    assert result["contract"]["Y"]["accuracy"] == 1.0
    assert set(result["tenure"]) == {"0-12", "12-24", "24 or more"}


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
    rows = feature_importance(model, frame, y_true, PARAMS)
    assert [row["feature"] for row in rows] == ["signal", "noise"]
    assert rows[0]["importance"] > 0.3 > abs(rows[1]["importance"])
