"""Tiny synthetic prepared splits for each task, and a model fitted on them by the train stage:
the multiclass and regression paths are tested whatever data the project is configured with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.dataset import ColumnSpec, DataParams
from tabular_mlops.core.params import EvaluateParams, RandomForestParams, TrainParams
from tabular_mlops.core.task import Task
from tabular_mlops.stages.train import fit

LABELS: dict[Task, tuple[str, ...] | None] = {
    "binary": ("no", "yes"),
    "multiclass": ("low", "mid", "high"),
    "regression": None,
}
EVALUATE = EvaluateParams(
    slice_columns=("plan",),
    bands={"signal": (-1.0, 0.0, 1.0)},
    importance_repeats=2,
    seed=0,
    calibration_bins=4,
)


def data_params(task: Task) -> DataParams:
    return DataParams(
        task=task,
        target="target",
        id_column="id",
        columns={
            "signal": ColumnSpec("number"),
            "noise": ColumnSpec("number"),
            "plan": ColumnSpec("category", values=("M", "Y")),
        },
        labels=LABELS[task],
        positive_label="yes" if task == "binary" else None,
    )


def split(task: Task, rows: int, seed: int) -> pd.DataFrame:
    """A prepared split: the target as its code (classification) or a float (regression)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    plan = rng.choice(["M", "Y"], size=rows)
    value = 2.0 * signal + (plan == "Y") * 0.5 + rng.normal(scale=0.5, size=rows)
    if task == "regression":
        target = pd.Series(10.0 + value, dtype="float64")
    elif task == "binary":
        target = pd.Series((value > 0).astype("int64"))
    else:
        target = pd.Series(np.digitize(value, [-1.0, 1.0]).astype("int64"))
    return pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(rows)],
            "signal": signal,
            "noise": rng.normal(size=rows),
            "plan": plan,
            "target": target,
        }
    )


@dataclass(frozen=True)
class Case:
    task: Task
    data: DataParams
    train: pd.DataFrame
    test: pd.DataFrame
    model: Any


def case(task: Task, trees: int = 30) -> Case:
    """Splits of 400 and 200 rows and a small forest fitted by `train.fit`."""
    data = data_params(task)
    train, test = split(task, 400, 1), split(task, 200, 2)
    settings = TrainParams(
        model="random_forest",
        seed=0,
        random_forest=RandomForestParams(n_estimators=trees, max_depth=6, min_samples_leaf=3),
    )
    return Case(task, data, train, test, fit(train, data, settings))
