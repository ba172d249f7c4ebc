"""Stage `evaluate`: score the model and a trivial baseline on the held-out split.

Writes metrics JSON that DVC tracks as metrics (overall, and per slice of rows in a separate
file) and plot data that `dvc plots show/diff` render (`evaluate_plots`). The metrics are the
task's (`core.task.METRICS`), for the model and, under `baseline`, for sklearn's Dummy estimator
of the task: the training split's class shares (classification) or its mean (regression).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.features import feature_frame
from tabular_mlops.core.io import read_model, read_parquet, write_json
from tabular_mlops.core.metrics import per_class, score
from tabular_mlops.core.params import DataParams, EvaluateParams, load_params
from tabular_mlops.core.task import PRIMARY, Task, model_scores, predicted_codes
from tabular_mlops.stages.evaluate_plots import (
    ALL_PLOTS,
    calibration,
    feature_importance,
    task_plots,
)

__all__ = [
    "band_labels",
    "baseline_model",
    "calibration",
    "evaluate_all",
    "feature_importance",
    "overall",
    "slices",
]


def slice_score(
    task: Task, y_true: np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, Any]:
    return {"rows": len(y_true), **score(task, y_true, scores, threshold)}


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
    test: pd.DataFrame,
    y_true: np.ndarray,
    scores: np.ndarray,
    params: EvaluateParams,
    task: Task,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The task's metrics per value of each slice column and per band of each banded numeric
    column; a metric a slice cannot support (one class, one row) is None."""
    groups = {column: test[column].map(_label) for column in params.slice_columns}
    groups |= {column: band_labels(test[column], edges) for column, edges in params.bands.items()}
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for column, labels in groups.items():
        keys = labels.to_numpy()
        result[column] = {
            value: slice_score(task, y_true[keys == value], scores[keys == value], params.cutoff)
            for value in sorted(set(keys))
        }
    return result


def baseline_model(train: pd.DataFrame, data: DataParams) -> Any:
    """sklearn's Dummy estimator of the task, fitted on the training split: what a model must
    beat to have learnt anything from the features."""
    x, y = train.drop(columns=[data.target]), train[data.target]
    if data.task == "regression":
        return DummyRegressor(strategy="mean").fit(x, y)
    return DummyClassifier(strategy="prior").fit(x, y)


def _check_classes(scores: np.ndarray, data: DataParams, who: str) -> None:
    """Multiclass scores must have one column per label, or every metric reads the wrong one."""
    if data.task == "multiclass" and scores.shape[1] != len(data.classes):
        raise PipelineError(
            f"{who} scores {scores.shape[1]} classes but data.labels lists {len(data.classes)}: "
            "every label must occur in the training split"
        )


def overall(
    scores: np.ndarray,
    train: pd.DataFrame,
    test: pd.DataFrame,
    data: DataParams,
    params: EvaluateParams,
) -> dict[str, Any]:
    """The model's metrics on the whole test split, with the baseline's under `baseline`, and
    what the task adds: binary the confusion counts, multiclass `per_class` precision, recall
    and support, regression the test target's mean and spread."""
    task, threshold = data.task, params.cutoff
    x_test, y_test = test.drop(columns=[data.target]), test[data.target].to_numpy()
    baseline_scores = model_scores(baseline_model(train, data), x_test, task)
    _check_classes(scores, data, "the model")
    _check_classes(baseline_scores, data, "the baseline")
    metrics: dict[str, Any] = {
        **score(task, y_test, scores, threshold),
        "baseline": score(task, y_test, baseline_scores, threshold),
        "test_rows": len(test),
    }
    if task == "binary":
        predicted = predicted_codes(scores, task, threshold)
        counts = {
            key: int(((y_test == actual) & (predicted == guess)).sum())
            for key, actual, guess in (("tn", 0, 0), ("fp", 0, 1), ("fn", 1, 0), ("tp", 1, 1))
        }
        metrics |= {"test_positive_rate": round(float(y_test.mean()), 6), "confusion": counts}
    elif task == "multiclass":
        metrics["per_class"] = per_class(y_test, scores, data.class_names)
    else:
        metrics |= {
            "test_target_mean": round(float(y_test.mean()), 6),
            "test_target_std": round(float(y_test.std(ddof=1)) if len(y_test) > 1 else 0.0, 6),
        }
    return metrics


def evaluate_all(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, data: DataParams, params: EvaluateParams
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What the stage writes: overall metrics, slice metrics, and the rows of every plot file
    dvc.yaml defines (empty for another task's plots)."""
    task = data.task
    y_test = test[data.target].to_numpy()
    scores = model_scores(model, test.drop(columns=[data.target]), task)
    metrics = overall(scores, train, test, data, params)
    plots = task_plots(task, y_test, scores, data.class_names, params)
    features = feature_frame(test, data.target, data.id_column)
    plots["feature_importance"] = feature_importance(model, features, y_test, params, task)
    written = {name: plots.get(name, []) for name in ALL_PLOTS}
    return metrics, {"slices": slices(test, y_test, scores, params, task)}, written


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
    primary = PRIMARY[params.data.task]
    print(f"evaluate: {primary}={metrics[primary]} (baseline {metrics['baseline'][primary]})")


if __name__ == "__main__":
    main()
