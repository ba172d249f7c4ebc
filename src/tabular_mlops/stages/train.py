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
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabular_mlops.core.errors import exits_cleanly
from tabular_mlops.core.features import feature_kinds
from tabular_mlops.core.io import atomic_path, read_parquet
from tabular_mlops.core.params import DataParams, TrainParams, load_params


def build_estimator(params: TrainParams) -> object:
    if params.model == "random_forest":
        return RandomForestClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            class_weight=params.class_weight,
            random_state=params.seed,
            n_jobs=-1,
        )
    if params.model == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            learning_rate=params.learning_rate,
            class_weight=params.class_weight,
            random_state=params.seed,
        )
    return LogisticRegression(
        C=params.C, class_weight=params.class_weight, max_iter=2000, random_state=params.seed
    )


def build_pipeline(
    numeric: Sequence[str], categorical: Sequence[str], params: TrainParams
) -> Pipeline:
    """Impute and encode by column type, then classify. Unknown categories encode as all-zero."""
    numeric_steps = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
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
    return Pipeline([("features", features), ("classifier", build_estimator(params))])


def fit(train: pd.DataFrame, data: DataParams, params: TrainParams) -> Pipeline:
    """Fit on the feature columns only; the id and anything else are dropped by the pipeline."""
    model = build_pipeline(*feature_kinds(train, data.target, data.id_column), params)
    model.fit(train.drop(columns=[data.target]), train[data.target])
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
