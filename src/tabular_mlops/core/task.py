"""The learning task (`data.task`) and what follows from it everywhere: the metrics evaluate
writes (the names gates, reports and promote read), which way each is better, and what a fitted
model's scores look like.

Binary scores are the positive class's probability, one per row; multiclass scores are one
probability per class, in `data.labels` order (the target's codes 0..k-1); regression scores are
the predicted values.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")

#: Per task, the metrics `evaluate` writes for the model, the baseline and every slice.
METRICS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier"),
    "multiclass": ("accuracy", "f1_macro", "log_loss", "roc_auc_ovr"),
    "regression": ("rmse", "mae", "r2"),
}

#: Which way each metric is better; gates default to this direction.
DIRECTIONS: dict[str, Literal["higher", "lower"]] = {
    "roc_auc": "higher",
    "pr_auc": "higher",
    "f1": "higher",
    "precision": "higher",
    "recall": "higher",
    "accuracy": "higher",
    "log_loss": "lower",
    "brier": "lower",
    "f1_macro": "higher",
    "roc_auc_ovr": "higher",
    "rmse": "lower",
    "mae": "lower",
    "r2": "higher",
}

#: The metric permutation importance and one-line summaries use.
PRIMARY: dict[Task, str] = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


def is_classification(task: Task) -> bool:
    return task != "regression"


def model_scores(model: Any, x: Any, task: Task) -> np.ndarray:
    """What the task scores a fitted pipeline by: see the module docstring."""
    if task == "regression":
        return np.asarray(model.predict(x), dtype=np.float64)
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    return proba[:, 1] if task == "binary" else proba


def predicted_codes(scores: np.ndarray, task: Task, threshold: float = 0.5) -> np.ndarray:
    """The predicted class code of classification scores (0/1, or the most probable class)."""
    if task == "binary":
        return (scores >= threshold).astype(int)
    if task == "multiclass":
        return np.asarray(scores).argmax(axis=1)
    raise ValueError("a regression model predicts values, not classes")
