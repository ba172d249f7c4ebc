"""The same ML work as the pipeline in one plain script: no DVC, MLflow or validation.

The denominator of the overhead ratio in benchmarks/pipeline.py: read the CSV params.yaml names,
fit the same sklearn Pipeline with the same model and hyper-parameters on the columns its `data`
section describes, and score it on the same stratified split. It reads params.yaml as plain YAML
on purpose, so none of the project's code is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def estimator(task: str, train: dict) -> object:
    """The family and settings `train.model` names, as the task's classifier or regressor."""
    family, seed = train["model"], train["seed"]
    settings = dict(train[family])
    classify = task != "regression"
    weights = {"class_weight": settings.pop("class_weight", None)} if classify else {}
    settings.pop("class_weight", None)
    if family == "random_forest":
        forest = RandomForestClassifier if classify else RandomForestRegressor
        return forest(**settings, **weights, random_state=seed, n_jobs=-1)
    if family == "hist_gradient_boosting":
        boosting = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return boosting(**settings, **weights, random_state=seed)
    if classify:
        return LogisticRegression(
            C=1.0 / settings["alpha"], max_iter=2000, random_state=seed, **weights
        )
    return Ridge(alpha=settings["alpha"])


def target(values: pd.Series, data: dict) -> pd.Series:
    """Class codes in the order the pipeline uses (binary: the positive label is 1), or numbers."""
    if data["task"] == "regression":
        return pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    labels = [str(label) for label in data["labels"]]
    if data["task"] == "binary":
        positive = str(data["positive_label"])
        labels = [label for label in labels if label != positive] + [positive]
    return text.map({label: code for code, label in enumerate(labels)}).astype(int)


def main(params_path: str = "params.yaml") -> float:
    params = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    data, train = params["data"], params["train"]
    kinds = {name: spec["kind"] for name, spec in data["columns"].items()}
    numeric = [name for name, kind in kinds.items() if kind in ("number", "integer")]
    categorical = [name for name, kind in kinds.items() if kind == "category"]
    frame = pd.read_csv(params["paths"]["raw"])
    for name in numeric:
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    for name in categorical:
        frame[name] = frame[name].astype("string").str.strip().astype(object)
    y = target(frame[data["target"]], data)
    x = frame[numeric + categorical]
    x_train, x_test, y_train, y_test = train_test_split(
        x,
        y,
        test_size=params["prepare"]["test_size"],
        random_state=params["prepare"]["seed"],
        stratify=None if data["task"] == "regression" else y,
    )
    features = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ]
    )
    model = Pipeline([("features", features), ("classifier", estimator(data["task"], train))])
    model.fit(x_train, y_train)
    quality = model.score(x_test, y_test)
    print(f"bare: score={quality:.6f} (accuracy, or r2 for regression)")
    return quality


if __name__ == "__main__":
    main(*sys.argv[1:])
