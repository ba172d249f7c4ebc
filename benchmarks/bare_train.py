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
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def estimator(train: dict) -> object:
    if train["model"] == "random_forest":
        return RandomForestClassifier(
            n_estimators=train["n_estimators"],
            max_depth=train["max_depth"],
            min_samples_leaf=train["min_samples_leaf"],
            class_weight=train["class_weight"],
            random_state=train["seed"],
            n_jobs=-1,
        )
    if train["model"] == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=train["n_estimators"],
            max_depth=train["max_depth"],
            min_samples_leaf=train["min_samples_leaf"],
            learning_rate=train["learning_rate"],
            class_weight=train["class_weight"],
            random_state=train["seed"],
        )
    return LogisticRegression(
        C=train["C"], class_weight=train["class_weight"], max_iter=2000, random_state=train["seed"]
    )


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
    labels = frame[data["target"]].astype("string").str.strip()
    y = (labels == str(data["positive_label"])).astype(int)
    x = frame[numeric + categorical]
    x_train, x_test, y_train, y_test = train_test_split(
        x,
        y,
        test_size=params["prepare"]["test_size"],
        random_state=params["prepare"]["seed"],
        stratify=y,
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
    model = Pipeline([("features", features), ("classifier", estimator(train))])
    model.fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    print(f"bare: roc_auc={auc:.6f}")
    return auc


if __name__ == "__main__":
    main(*sys.argv[1:])
