"""The task's metrics for one set of scores: what evaluate writes for the model, the baseline and
each slice, and what promote recomputes. Names are `core.task.METRICS[task]`, so gates, reports
and promote read the same names everywhere.

A metric that cannot be computed on the rows given (a slice holding one class only, or one row
for r2) is None rather than an error: gates skip unknowns, reports show them as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from tabular_mlops.core.task import Task

EPSILON = 1e-15


def score(
    task: Task, y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float | None]:
    """`scores` as `core.task.model_scores` returns them; `y_true` the prepared split's target."""
    if task == "binary":
        metrics = _binary(y_true, scores, threshold)
    elif task == "multiclass":
        metrics = _multiclass(y_true, scores)
    else:
        metrics = _regression(y_true, scores)
    return {name: None if v is None else round(float(v), 6) for name, v in metrics.items()}


def _binary(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, Any]:
    predicted = (proba >= threshold).astype(int)
    both = len(np.unique(y_true)) == 2
    return {
        "roc_auc": roc_auc_score(y_true, proba) if both else None,
        "pr_auc": average_precision_score(y_true, proba) if both else None,
        "f1": f1_score(y_true, predicted, zero_division=0),
        "precision": precision_score(y_true, predicted, zero_division=0),
        "recall": recall_score(y_true, predicted, zero_division=0),
        "accuracy": accuracy_score(y_true, predicted),
        "log_loss": log_loss(y_true, np.clip(proba, EPSILON, 1 - EPSILON), labels=[0, 1]),
        "brier": brier_score_loss(y_true, proba, pos_label=1),
    }


def _multiclass(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """roc_auc_ovr is macro-averaged one-vs-rest over the classes present in `y_true`; None when
    fewer than two are."""
    codes = np.arange(proba.shape[1])
    predicted = proba.argmax(axis=1)
    present = np.unique(y_true)
    auc = None
    if len(present) >= 2:
        onehot = (y_true[:, np.newaxis] == codes[np.newaxis, :]).astype(int)
        auc = float(np.mean([roc_auc_score(onehot[:, code], proba[:, code]) for code in present]))
    clipped = np.clip(proba, EPSILON, 1.0)
    return {
        "accuracy": accuracy_score(y_true, predicted),
        "f1_macro": f1_score(y_true, predicted, labels=present, average="macro", zero_division=0),
        "log_loss": log_loss(y_true, clipped / clipped.sum(axis=1, keepdims=True), labels=codes),
        "roc_auc_ovr": auc,
    }


def _regression(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, predicted))),
        "mae": mean_absolute_error(y_true, predicted),
        "r2": r2_score(y_true, predicted) if len(y_true) >= 2 else None,
    }


def per_class(
    y_true: np.ndarray, proba: np.ndarray, class_names: tuple[str, ...]
) -> dict[str, dict[str, float | int]]:
    """Multiclass: precision, recall and support of each class, keyed by its label."""
    codes = list(range(len(class_names)))
    predicted = proba.argmax(axis=1)
    precision = precision_score(y_true, predicted, labels=codes, average=None, zero_division=0)
    recall = recall_score(y_true, predicted, labels=codes, average=None, zero_division=0)
    return {
        name: {
            "precision": round(float(precision[code]), 6),
            "recall": round(float(recall[code]), 6),
            "support": int((y_true == code).sum()),
        }
        for code, name in enumerate(class_names)
    }
