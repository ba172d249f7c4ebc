"""Stage `evaluate`: score the model and a trivial baseline on the held-out split.

Writes metrics JSON that DVC tracks as metrics (overall, and per slice of rows in a separate
file) and plot data that `dvc plots show/diff` render: ROC, precision-recall, confusion,
calibration and permutation feature importance.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from tabular_mlops.core.errors import exits_cleanly
from tabular_mlops.core.features import feature_frame
from tabular_mlops.core.io import read_model, read_parquet, write_json
from tabular_mlops.core.params import DataParams, EvaluateParams, load_params

CURVE_POINTS = 200
#: Rows scored per `predict_proba` call when permutation importance batches its shuffled copies.
IMPORTANCE_BATCH_ROWS = 200_000
#: What `score` returns, for each model, the baseline, and each slice; gates may name any of these.
METRIC_NAMES = ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier")


def score(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Threshold-free and thresholded metrics for the positive class probabilities.

    ROC AUC and PR AUC are null when `y_true` holds one class only (possible in a small slice).
    """
    predicted = (proba >= threshold).astype(int)
    both = len(np.unique(y_true)) == 2
    metrics = {
        "roc_auc": roc_auc_score(y_true, proba) if both else None,
        "pr_auc": average_precision_score(y_true, proba) if both else None,
        "f1": f1_score(y_true, predicted, zero_division=0),
        "precision": precision_score(y_true, predicted, zero_division=0),
        "recall": recall_score(y_true, predicted, zero_division=0),
        "accuracy": accuracy_score(y_true, predicted),
        "log_loss": log_loss(y_true, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "brier": brier_score_loss(y_true, proba, pos_label=1),
    }
    return {name: None if v is None else round(float(v), 6) for name, v in metrics.items()}


def slice_score(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, Any]:
    return {"rows": len(y_true), **score(y_true, proba, threshold)}


def _label(value: Any) -> str:
    """`1.0` reads as `1`: 0/1 flags are stored as floats once a column has missing values."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def band_labels(values: pd.Series, edges: tuple[float, ...]) -> pd.Series:
    """`[0, 12, 24]` gives bands `0-12`, `12-24`, `24 or more` (lower edge included)."""

    def fmt(edge: float) -> str:
        return str(int(edge)) if float(edge).is_integer() else str(edge)

    labels = [f"{fmt(lo)}-{fmt(hi)}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"{fmt(edges[-1])} or more")
    bands = pd.cut(values, [*edges, np.inf], right=False, labels=labels)
    return bands.astype(str).where(bands.notna(), f"below {fmt(edges[0])}")


def slices(
    test: pd.DataFrame, y_true: np.ndarray, proba: np.ndarray, params: EvaluateParams
) -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics per value of each slice column and per band of each banded numeric column."""
    groups = {column: test[column].map(_label) for column in params.slice_columns}
    groups |= {column: band_labels(test[column], edges) for column, edges in params.bands.items()}
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for column, labels in groups.items():
        keys = labels.to_numpy()
        result[column] = {
            value: slice_score(y_true[keys == value], proba[keys == value], params.threshold)
            for value in sorted(set(keys))
        }
    return result


def calibration(y_true: np.ndarray, proba: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Reliability curve: observed positive rate against mean predicted probability, per bin."""
    observed, predicted = calibration_curve(y_true, proba, n_bins=bins, strategy="quantile")
    return [
        {"mean_predicted": round(float(p), 6), "fraction_positive": round(float(o), 6)}
        for p, o in zip(predicted, observed, strict=True)
    ]


def feature_importance(
    model: Any, x: pd.DataFrame, y_true: np.ndarray, params: EvaluateParams
) -> list[dict[str, Any]]:
    """Permutation importance of each input column on the held-out split (drop in ROC AUC).

    Shuffling the original columns, not the one-hot encoded ones, gives one number per column a
    user recognises, and works for every model type `train` can build. The permutations are
    sklearn's `permutation_importance` ones (same seeding, same repeated shuffles, so the same
    numbers), but the shuffled copies are scored together in a few `predict_proba` calls: on the
    shipped data one call instead of 39, each of which paid the forest's fixed cost (~8x faster).
    """
    rows, repeats = len(x), params.importance_repeats
    reference = roc_auc_score(y_true, model.predict_proba(x)[:, 1])
    seed = np.random.RandomState(params.seed).randint(np.iinfo(np.int32).max + 1)
    copies = [
        (column, shuffled)
        for column in x.columns
        for shuffled in _shuffled_copies(x, column, repeats, seed)
    ]
    per_call = max(1, IMPORTANCE_BATCH_ROWS // max(rows, 1))
    drops: dict[str, list[float]] = {column: [] for column in x.columns}
    for start in range(0, len(copies), per_call):
        batch = copies[start : start + per_call]
        proba = model.predict_proba(pd.concat([frame for _, frame in batch], ignore_index=True))
        for index, (column, _) in enumerate(batch):
            block = proba[index * rows : (index + 1) * rows, 1]
            drops[column].append(reference - roc_auc_score(y_true, block))
    result = [
        {
            "feature": column,
            "importance": round(float(np.mean(drops[column])), 6),
            "std": round(float(np.std(drops[column])), 6),
        }
        for column in x.columns
    ]
    return sorted(result, key=lambda row: -row["importance"])


def _shuffled_copies(x: pd.DataFrame, column: str, repeats: int, seed: int) -> list[pd.DataFrame]:
    """`repeats` copies of `x` with `column` shuffled as sklearn does: each shuffle composes with
    the previous one, from a generator seeded afresh for every column."""
    rng = np.random.RandomState(seed)
    order = np.arange(len(x))
    positions = np.arange(len(x))
    copies = []
    for _ in range(repeats):
        rng.shuffle(order)
        positions = positions[order]
        shuffled = x.copy()
        shuffled[column] = x[column].iloc[positions].set_axis(x.index)
        copies.append(shuffled)
    return copies


def _thin(frame: pd.DataFrame, points: int = CURVE_POINTS) -> list[dict[str, float]]:
    """Keep curves small enough to diff in git and render fast, with both ends kept."""
    if len(frame) > points:
        frame = frame.iloc[np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))]
    return [{k: round(float(v), 6) for k, v in row.items()} for row in frame.to_dict("records")]


def curves(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, names: tuple[str, str] = ("0", "1")
) -> dict[str, Any]:
    """ROC and precision-recall curves, and the confusion rows named by `names` (0, then 1)."""
    fpr, tpr, _ = roc_curve(y_true, proba)
    precision, recall, _ = precision_recall_curve(y_true, proba)
    predicted = (proba >= threshold).astype(int)
    labels = dict(enumerate(names))
    return {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "precision_recall": _thin(pd.DataFrame({"recall": recall, "precision": precision})),
        "confusion": [
            {"actual": labels[int(a)], "predicted": labels[int(p)]}
            for a, p in zip(y_true, predicted, strict=True)
        ],
    }


def evaluate(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, data: DataParams, params: EvaluateParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics for the model and a prior-predicting baseline, plus curve data for the model."""
    x_test, y_test = test.drop(columns=[data.target]), test[data.target].to_numpy()
    proba = model.predict_proba(x_test)[:, 1]
    names = (str(data.negative_label), str(data.positive_label))
    return overall(proba, train, test, data, params), curves(y_test, proba, params.threshold, names)


def overall(
    proba: np.ndarray,
    train: pd.DataFrame,
    test: pd.DataFrame,
    data: DataParams,
    params: EvaluateParams,
) -> dict[str, Any]:
    """The model's metrics on the whole test split, with the baseline's under `baseline`."""
    x_test, y_test = test.drop(columns=[data.target]), test[data.target].to_numpy()
    baseline = DummyClassifier(strategy="prior").fit(
        train.drop(columns=[data.target]), train[data.target]
    )
    baseline_proba = baseline.predict_proba(x_test)[:, 1]
    matrix = confusion_matrix(y_test, (proba >= params.threshold).astype(int), labels=[0, 1])
    metrics = {
        **score(y_test, proba, params.threshold),
        "baseline": score(y_test, baseline_proba, params.threshold),
        "test_rows": len(test),
        "test_positive_rate": round(float(y_test.mean()), 6),
        "confusion": {
            "tn": int(matrix[0, 0]),
            "fp": int(matrix[0, 1]),
            "fn": int(matrix[1, 0]),
            "tp": int(matrix[1, 1]),
        },
    }
    return metrics


def evaluate_all(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, data: DataParams, params: EvaluateParams
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What the stage writes: overall metrics, slice metrics, and every plot's rows."""
    metrics, plots = evaluate(model, train, test, data, params)
    y_test = test[data.target].to_numpy()
    proba = model.predict_proba(test.drop(columns=[data.target]))[:, 1]
    features = feature_frame(test, data.target, data.id_column)
    plots["calibration"] = calibration(y_test, proba, params.calibration_bins)
    plots["feature_importance"] = feature_importance(model, features, y_test, params)
    return metrics, {"slices": slices(test, y_test, proba, params)}, plots


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    model_path = Path(params.paths.model)
    model = read_model(model_path)
    metrics, slice_metrics, plots = evaluate_all(
        model,
        read_parquet(params.paths.train),
        read_parquet(params.paths.test),
        params.data,
        params.evaluate,
    )
    write_json(params.paths.metrics, metrics)
    write_json(params.paths.slices, slice_metrics)
    for name, rows in plots.items():
        write_json(Path(params.paths.plots) / f"{name}.json", rows)
    print(f"evaluate: roc_auc={metrics['roc_auc']} (baseline {metrics['baseline']['roc_auc']})")


if __name__ == "__main__":
    main()
