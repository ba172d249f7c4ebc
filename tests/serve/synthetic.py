"""Tiny synthetic data and models for every task and family, whatever task params.yaml names:
the serving code for a task the configured data is not (multiclass, regression) is still tested.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.params import (
    HistGradientBoostingParams,
    LinearParams,
    RandomForestParams,
    TrainParams,
)
from tabular_mlops.core.task import TASKS, Task
from tabular_mlops.serving.inputs import Feature
from tabular_mlops.serving.model import build_features
from tabular_mlops.stages.train import build_pipeline

NUMERIC = ["num_a", "num_b", "num_gappy"]
CATEGORICAL = ["cat_a", "cat_gappy"]
NULLABLE = {"num_gappy", "cat_gappy"}
LABELS: dict[Task, tuple[str, ...] | None] = {
    "binary": ("no", "yes"),
    "multiclass": ("low", "mid", "high", "top"),
    "regression": None,
}
FAMILIES = ("random_forest", "hist_gradient_boosting", "linear")
CASES = [(task, family) for task in TASKS for family in FAMILIES]


def frame(task: Task, rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features with missing numbers and categories, and a target that depends on them."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "num_a": rng.normal(50, 20, rows),
            "num_b": rng.integers(0, 100, rows).astype(float),
            "num_gappy": np.where(rng.random(rows) < 0.15, np.nan, rng.normal(0, 1, rows)),
            "cat_a": rng.choice(["red", "green", "blue"], rows),
            "cat_gappy": np.where(rng.random(rows) < 0.1, None, rng.choice(["x", "y"], rows)),
        }
    )
    signal = (
        (x["num_a"] - 50) / 20
        + (x["cat_a"] == "red") * 1.5
        + x["num_gappy"].fillna(0)
        + rng.normal(0, 0.5, rows)
    ).to_numpy()
    if task == "regression":
        return x, 1000.0 * signal + 250_000.0
    bins = [0.0] if task == "binary" else [-1.0, 0.0, 1.0]
    return x, np.digitize(signal, bins)


def train_params(family: str) -> TrainParams:
    return TrainParams(
        model=family,
        seed=0,
        random_forest=RandomForestParams(n_estimators=25, max_depth=8, min_samples_leaf=2),
        hist_gradient_boosting=HistGradientBoostingParams(
            max_iter=40, max_depth=None, min_samples_leaf=5, learning_rate=0.1
        ),
        linear=LinearParams(alpha=1.0),
    )


def fitted(task: Task, family: str) -> tuple[Any, pd.DataFrame, tuple[Feature, ...]]:
    """A fitted pipeline of the family for the task, its training features, and the served
    features (`serving.model.build_features`)."""
    x, y = frame(task)
    pipeline = build_pipeline(NUMERIC, CATEGORICAL, train_params(family), task).fit(x, y)
    for _, step in pipeline.steps:
        if hasattr(step, "n_jobs"):
            step.n_jobs = 1
    return pipeline, x, build_features(NUMERIC, CATEGORICAL, pipeline, NULLABLE)


def columns(x: pd.DataFrame) -> dict[str, list[Any]]:
    """Rows as the service's input checks hand them over: lists, None for a missing category."""
    return {
        name: [None if isinstance(v, float) and v != v else v for v in x[name].tolist()]
        if name in CATEGORICAL
        else x[name].tolist()
        for name in x.columns
    }


def served_model(task: Task, family: str = "random_forest") -> tuple[Any, Any, pd.DataFrame]:
    """A fitted synthetic model of `task` as the service holds it (fast path compiled and
    checked), with its pipeline and the frame it was fitted on."""
    from tabular_mlops.serving.compiled import compile_checked
    from tabular_mlops.serving.model import ServedModel

    pipeline, x, features = fitted(task, family)
    model = ServedModel(
        pipeline=pipeline,
        features=features,
        info={"model_version": "7"},
        task=task,
        labels=LABELS[task] or (),
        compiled=compile_checked(pipeline, features, task),
    )
    return model, pipeline, x
