"""Stage `train`: fit one sklearn Pipeline whose preprocessing lives inside the model.

What is saved, tested, logged to MLflow and served is this one object, so a serving bug cannot
come from preprocessing written twice.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabular_mlops.core.errors import exits_cleanly
from tabular_mlops.core.features import feature_kinds
from tabular_mlops.core.io import atomic_path, read_parquet
from tabular_mlops.core.params import (
    DataParams,
    HistGradientBoostingParams,
    RandomForestParams,
    TrainParams,
    load_params,
)
from tabular_mlops.core.task import Task, is_classification


def build_estimator(task: Task, params: TrainParams) -> object:
    """The family `train.model` names, as the task's classifier or regressor."""
    chosen, seed = params.chosen, params.seed
    classify = is_classification(task)
    weights = {"class_weight": chosen.class_weight} if classify else {}
    if isinstance(chosen, RandomForestParams):
        forest = RandomForestClassifier if classify else RandomForestRegressor
        return forest(
            n_estimators=chosen.n_estimators,
            max_depth=chosen.max_depth,
            min_samples_leaf=chosen.min_samples_leaf,
            random_state=seed,
            n_jobs=-1,
            **weights,
        )
    if isinstance(chosen, HistGradientBoostingParams):
        boosting = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return boosting(
            max_iter=chosen.max_iter,
            max_depth=chosen.max_depth,
            min_samples_leaf=chosen.min_samples_leaf,
            learning_rate=chosen.learning_rate,
            random_state=seed,
            **weights,
        )
    if classify:
        return LogisticRegression(C=1.0 / chosen.alpha, max_iter=2000, random_state=seed, **weights)
    return Ridge(alpha=chosen.alpha)


def build_pipeline(
    numeric: Sequence[str], categorical: Sequence[str], params: TrainParams, task: Task = "binary"
) -> Pipeline:
    """Impute and encode by column type, then the estimator. Unknown categories encode as zeros.

    The last step is named `classifier` for every task: MLflow models and the serving fast path
    find the estimator by that name."""
    numeric_steps = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    # pd.NA masks every null (None, NaN, NA); with NaN, a None would be a category of its own.
    category_imputer = SimpleImputer(
        missing_values=pd.NA, strategy="constant", fill_value="missing"
    )
    categorical_steps = Pipeline(
        [
            ("impute", category_imputer),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    features = ColumnTransformer(
        [
            ("numeric", numeric_steps, list(numeric)),
            ("categorical", categorical_steps, list(categorical)),
        ],
        remainder="drop",
    )
    return Pipeline([("features", features), ("classifier", build_estimator(task, params))])


def fit(train: pd.DataFrame, data: DataParams, params: TrainParams) -> Pipeline:
    """Fit on the feature columns only; the id and anything else are dropped by the pipeline."""
    numeric, categorical = feature_kinds(train, data.target, data.id_column)
    model = build_pipeline(numeric, categorical, params, data.task)
    model.fit(train.drop(columns=[data.target]), train[data.target])
    return portable(model)


def portable(model: Pipeline) -> Pipeline:
    """Forget the machine the model was fitted on, so the same data, params and seed give the
    same file on any runner and dvc.lock's md5 can prove a model was reproduced: the boosting
    binner keeps the OpenMP thread count it was fitted with (its trees do not depend on it),
    and None uses the machine's own count wherever the model is loaded."""
    binner = getattr(model.steps[-1][1], "_bin_mapper", None)
    if binner is not None:
        binner.n_threads = None
    return model


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    model = fit(read_parquet(params.paths.train), params.data, params.train)
    with atomic_path(params.paths.model) as tmp:
        joblib.dump(model, tmp)
    print(f"train: {params.train.model} written to {params.paths.model}")


if __name__ == "__main__":
    main()
