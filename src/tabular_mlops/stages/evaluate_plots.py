"""The plot data `evaluate` writes for `dvc plots show/diff` and the pull-request report.

Each task writes the files of its own plots (`PLOTS[task]`). dvc.yaml's top-level `plots:` defines
every task's plots by title, and DVC warns ("failed to load some plots") about a definition whose
file is missing, so the files of other tasks' plots are written too, as empty lists: DVC and the
report draw nothing for them, and no warning hides a real problem.

Every file stays small enough to diff in git: curves are thinned to `CURVE_POINTS`, regression
scatters to `SCATTER_POINTS` test rows, calibration to its bins. Only a confusion matrix keeps one
row per test row, the shape DVC's confusion template counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    precision_recall_curve,
    r2_score,
    roc_auc_score,
    roc_curve,
)

from tabular_mlops.core.params import EvaluateParams
from tabular_mlops.core.task import (
    DIRECTIONS,
    PRIMARY,
    Task,
    is_classification,
    model_scores,
    predicted_codes,
)

CURVE_POINTS = 200
SCATTER_POINTS = 200
#: Rows scored per model call when permutation importance batches its shuffled copies.
IMPORTANCE_BATCH_ROWS = 200_000

#: The plot files (under `paths.plots`, `.json`) each task fills.
PLOTS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc", "precision_recall", "confusion", "calibration", "feature_importance"),
    "multiclass": ("confusion", "calibration", "feature_importance"),
    "regression": ("predicted_actual", "residuals", "feature_importance"),
}
#: Every plot file dvc.yaml defines: what evaluate writes, whatever the task.
ALL_PLOTS: tuple[str, ...] = tuple(dict.fromkeys(n for names in PLOTS.values() for n in names))

#: The unrounded `PRIMARY[task]` metric, which permutation importance measures the drop of.
_PRIMARY_SCORE: dict[Task, Callable[[np.ndarray, np.ndarray], float]] = {
    "binary": lambda y, s: float(roc_auc_score(y, s)),
    "multiclass": lambda y, s: float(accuracy_score(y, s.argmax(axis=1))),
    "regression": lambda y, s: float(r2_score(y, s)),
}


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    return [{k: round(float(v), 6) for k, v in row.items()} for row in rows]


def _thin(frame: pd.DataFrame, points: int = CURVE_POINTS) -> list[dict[str, float]]:
    """Keep curves small enough to diff in git and render fast, with both ends kept."""
    if len(frame) > points:
        frame = frame.iloc[np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))]
    return _rounded(frame.to_dict("records"))


def confusion_rows(
    y_true: np.ndarray, predicted: np.ndarray, names: tuple[str, ...]
) -> list[dict[str, str]]:
    """One row per test row, named by label: what DVC's confusion template counts."""
    return [
        {"actual": names[int(a)], "predicted": names[int(p)]}
        for a, p in zip(y_true, predicted, strict=True)
    ]


def curves(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, names: tuple[str, str] = ("0", "1")
) -> dict[str, Any]:
    """Binary: ROC and precision-recall curves, and the confusion rows named by `names`."""
    fpr, tpr, _ = roc_curve(y_true, proba)
    precision, recall, _ = precision_recall_curve(y_true, proba)
    return {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "precision_recall": _thin(pd.DataFrame({"recall": recall, "precision": precision})),
        "confusion": confusion_rows(y_true, predicted_codes(proba, "binary", threshold), names),
    }


def calibration(y_true: np.ndarray, proba: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Reliability curve: observed positive rate against mean predicted probability, per bin."""
    observed, predicted = calibration_curve(
        y_true, proba, n_bins=bins, strategy="quantile", pos_label=1
    )
    return [
        {"mean_predicted": round(float(p), 6), "fraction_positive": round(float(o), 6)}
        for p, o in zip(predicted, observed, strict=True)
    ]


def top_label_calibration(
    y_true: np.ndarray, proba: np.ndarray, bins: int
) -> list[dict[str, float]]:
    """Multiclass reliability: how often the most probable label is right against its mean
    probability, per bin. One curve whatever the number of labels (one-vs-rest would need a
    curve per label, which a dvc.yaml written before the labels were known cannot declare), and
    it answers what a user of the top label asks: when it says 80 %, is it right 80 % of the time.
    Same fields as the binary curve, so one plot definition serves both."""
    right = (proba.argmax(axis=1) == y_true).astype(int)
    return calibration(right, proba.max(axis=1), bins)


def regression_rows(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Predicted against actual, and residual (actual - predicted) against predicted, for at most
    `SCATTER_POINTS` test rows at evenly spaced ranks of the actual value: a fixed sample that
    follows the target's distribution and keeps its extremes."""
    order = np.argsort(y_true, kind="stable")
    if len(order) > SCATTER_POINTS:
        order = order[np.unique(np.linspace(0, len(order) - 1, SCATTER_POINTS).round().astype(int))]
    actual, guess = y_true[order], predicted[order]
    return {
        "predicted_actual": _rounded(
            [{"actual": a, "predicted": p} for a, p in zip(actual, guess, strict=True)]
        ),
        "residuals": _rounded(
            [{"predicted": p, "residual": a - p} for a, p in zip(actual, guess, strict=True)]
        ),
    }


def task_plots(
    task: Task,
    y_true: np.ndarray,
    scores: np.ndarray,
    class_names: tuple[str, ...],
    params: EvaluateParams,
) -> dict[str, Any]:
    """Every plot but feature importance, for the task's scores (`core.task.model_scores`)."""
    if task == "binary":
        names = (class_names[0], class_names[1])
        return {
            **curves(y_true, scores, params.cutoff, names),
            "calibration": calibration(y_true, scores, params.calibration_bins),
        }
    if task == "multiclass":
        return {
            "confusion": confusion_rows(y_true, scores.argmax(axis=1), class_names),
            "calibration": top_label_calibration(y_true, scores, params.calibration_bins),
        }
    return regression_rows(y_true, scores)


def feature_importance(
    model: Any, x: pd.DataFrame, y_true: np.ndarray, params: EvaluateParams, task: Task
) -> list[dict[str, Any]]:
    """Permutation importance of each input column on the held-out split: the drop in the task's
    primary metric (`core.task.PRIMARY`) when the column is shuffled.

    Shuffling the original columns, not the one-hot encoded ones, gives one number per column a
    user recognises, and works for every model type `train` can build. The permutations are
    sklearn's `permutation_importance` ones (same seeding, same repeated shuffles, so the same
    numbers), but the shuffled copies are scored together in a few model calls: on the shipped
    data one call instead of 39, each of which paid the forest's fixed cost (~8x faster).

    A test split larger than `importance_rows` is first cut to a seeded sample of that many rows
    (stratified by class): the work is (columns x repeats) scorings of every row, and a sample of
    a few thousand rows ranks the columns as the whole split does (`make bench-evaluate` measures
    how closely, and at what cost).
    """
    if params.importance_rows is not None and len(x) > params.importance_rows:
        kept = sample_rows(y_true, params.importance_rows, params.seed, is_classification(task))
        x, y_true = x.iloc[kept].reset_index(drop=True), y_true[kept]
    rows, repeats = len(x), params.importance_repeats
    metric = _PRIMARY_SCORE[task]
    sign = 1.0 if DIRECTIONS[PRIMARY[task]] == "higher" else -1.0
    reference = metric(y_true, model_scores(model, x, task))
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
        scores = model_scores(
            model, pd.concat([frame for _, frame in batch], ignore_index=True), task
        )
        for index, (column, _) in enumerate(batch):
            block = scores[index * rows : (index + 1) * rows]
            drops[column].append(sign * (reference - metric(y_true, block)))
    result = [
        {
            "feature": column,
            "importance": round(float(np.mean(drops[column])), 6),
            "std": round(float(np.std(drops[column])), 6),
        }
        for column in x.columns
    ]
    return sorted(result, key=lambda row: -row["importance"])


def sample_rows(y_true: np.ndarray, rows: int, seed: int, stratify: bool) -> np.ndarray:
    """Sorted positions of `rows` rows drawn without replacement; with `stratify`, each class
    keeps its share (largest remainders, at least one row of every class)."""
    rng = np.random.default_rng(seed)
    if not stratify:
        return np.sort(rng.choice(len(y_true), size=rows, replace=False))
    classes, counts = np.unique(y_true, return_counts=True)
    quota = counts * rows / len(y_true)
    take = np.floor(quota).astype(int)
    extra = np.argsort(take - quota, kind="stable")[: rows - int(take.sum())]
    take[extra] += 1
    take = np.clip(take, 1, counts)
    picked = [
        rng.permutation(np.flatnonzero(y_true == label))[:size]
        for label, size in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(picked))


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
