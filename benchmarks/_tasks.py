"""A model of every task and family for `benchmarks/serve.py`, on synthetic data shaped like a
typical fork's (numbers with missing values, categories, 5,000 rows) and sized by the configured
hyper-parameters, served by this project's app in a process of its own.

Run as `python benchmarks/_tasks.py TASK FAMILY PORT PARAMS`: fits, compiles, then serves on
loopback until terminated; /version says whether the compiled path is in use.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.params import (
    HistGradientBoostingParams,
    LinearParams,
    RandomForestParams,
    TrainParams,
    load_params,
)
from tabular_mlops.core.task import TASKS, Task

FAMILIES = ("random_forest", "hist_gradient_boosting", "linear")
NUMERIC = [f"number_{i}" for i in range(12)]
CATEGORICAL = [f"category_{i}" for i in range(4)]
NULLABLE = {"number_0", "number_1", "category_0"}
LABELS = {"binary": ("no", "yes"), "multiclass": ("a", "b", "c", "d"), "regression": ()}
#: A family's settings when params.yaml has no block for it: the template's own.
DEFAULTS = {
    "random_forest": RandomForestParams(
        n_estimators=300, max_depth=10, min_samples_leaf=5, class_weight="balanced"
    ),
    "hist_gradient_boosting": HistGradientBoostingParams(
        max_iter=300,
        max_depth=None,
        min_samples_leaf=20,
        learning_rate=0.05,
        class_weight="balanced",
    ),
    "linear": LinearParams(alpha=1.0, class_weight="balanced"),
}


def synthetic(task: Task, rows: int = 5000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and a target that depends on most of them, non-linearly."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {name: rng.normal(0, 1, rows) * 10 ** (i % 4) for i, name in enumerate(NUMERIC)}
    )
    for i, name in enumerate(CATEGORICAL):
        x[name] = rng.choice([f"level_{j}" for j in range(3 + 2 * i)], rows)
    signal = sum(np.tanh(x[name] / 10 ** (i % 4)) for i, name in enumerate(NUMERIC[:8]))
    signal = signal + (x["category_0"] == "level_1") + (x["category_2"] == "level_3") * 0.5
    signal = signal.to_numpy() + rng.normal(0, 0.7, rows)
    for name in NULLABLE:
        gaps = rng.random(rows) < 0.08
        x[name] = x[name].astype(object).where(~gaps, None)
    for name in NUMERIC:
        x[name] = x[name].astype(float)
    if task == "regression":
        return x, 25_000.0 * signal + 200_000.0
    edges = [0.0] if task == "binary" else list(np.quantile(signal, [0.25, 0.5, 0.75]))
    return x, np.digitize(signal, edges)


def train_params(configured: TrainParams, family: str) -> TrainParams:
    blocks = {name: getattr(configured, name) or DEFAULTS[name] for name in FAMILIES}
    return replace(configured, model=family, **blocks)


def served_model(task: Task, family: str, configured: TrainParams) -> Any:
    """The fitted pipeline, wrapped as the service wraps a loaded one."""
    from tabular_mlops.serving.compiled import compile_checked
    from tabular_mlops.serving.model import ServedModel, build_features, one_thread
    from tabular_mlops.stages.train import build_pipeline

    x, y = synthetic(task)
    pipeline = build_pipeline(NUMERIC, CATEGORICAL, train_params(configured, family), task)
    pipeline = one_thread(pipeline.fit(x, y))
    features = build_features(NUMERIC, CATEGORICAL, pipeline, NULLABLE)
    compiled = compile_checked(pipeline, features, task)
    info = {"model_version": f"{task}-{family}", "task": task, "compiled": compiled is not None}
    return ServedModel(
        pipeline=pipeline,
        features=features,
        info=info,
        task=task,
        labels=LABELS[task],
        compiled=compiled,
    )


def records(task: Task, rows: int = 500) -> list[dict[str, Any]]:
    """Requests the model never saw, as JSON records (a missing value as null)."""
    x, _ = synthetic(task, rows=rows, seed=1)
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in x.to_dict(orient="records")
    ]


def main(task: str, family: str, port: str, params: str) -> None:
    import uvicorn

    from tabular_mlops.serving.app import create_app
    from tabular_mlops.serving.smoke import HOST

    if task not in TASKS or family not in FAMILIES:
        sys.exit(f"usage: {sys.argv[0]} TASK FAMILY PORT PARAMS")
    model = served_model(task, family, load_params(params).train)  # type: ignore[arg-type]
    uvicorn.run(
        create_app(model),
        host=HOST,
        port=int(port),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
