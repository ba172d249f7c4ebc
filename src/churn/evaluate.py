"""Stage `evaluate`: score the model and a trivial baseline on the held-out split.

Writes metrics JSON that DVC tracks as metrics and plot data that `dvc plots show/diff` render.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
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

from churn.errors import PipelineError, exits_cleanly
from churn.io import read_parquet, write_json
from churn.params import DataParams, EvaluateParams, load_params

CURVE_POINTS = 200


def score(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Threshold-free and thresholded metrics for the positive class probabilities."""
    predicted = (proba >= threshold).astype(int)
    metrics = {
        "roc_auc": roc_auc_score(y_true, proba),
        "pr_auc": average_precision_score(y_true, proba),
        "f1": f1_score(y_true, predicted, zero_division=0),
        "precision": precision_score(y_true, predicted, zero_division=0),
        "recall": recall_score(y_true, predicted, zero_division=0),
        "accuracy": accuracy_score(y_true, predicted),
        "log_loss": log_loss(y_true, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "brier": brier_score_loss(y_true, proba),
    }
    return {name: round(float(value), 6) for name, value in metrics.items()}


def _thin(frame: pd.DataFrame, points: int = CURVE_POINTS) -> list[dict[str, float]]:
    """Keep curves small enough to diff in git and render fast, with both ends kept."""
    if len(frame) > points:
        frame = frame.iloc[np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))]
    return [{k: round(float(v), 6) for k, v in row.items()} for row in frame.to_dict("records")]


def curves(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, Any]:
    fpr, tpr, _ = roc_curve(y_true, proba)
    precision, recall, _ = precision_recall_curve(y_true, proba)
    predicted = (proba >= threshold).astype(int)
    labels = {0: "retained", 1: "churned"}
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
    return metrics, curves(y_test, proba, params.threshold)


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    model_path = Path(params.paths.model)
    if not model_path.is_file():
        raise PipelineError(f"{model_path}: model file not found (run `make repro`)")
    try:
        model = joblib.load(model_path)
    except Exception as err:  # unpickling a damaged file raises many unrelated types
        raise PipelineError(f"{model_path}: cannot load model ({err.__class__.__name__})") from None
    metrics, plots = evaluate(
        model,
        read_parquet(params.paths.train),
        read_parquet(params.paths.test),
        params.data,
        params.evaluate,
    )
    write_json(params.paths.metrics, metrics)
    for name, rows in plots.items():
        write_json(Path(params.paths.plots) / f"{name}.json", rows)
    print(f"evaluate: roc_auc={metrics['roc_auc']} (baseline {metrics['baseline']['roc_auc']})")


if __name__ == "__main__":
    main()
