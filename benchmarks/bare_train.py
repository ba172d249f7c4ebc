"""The same ML work as the pipeline in one plain script: no DVC, MLflow or validation.

The denominator of the overhead ratio in benchmarks/pipeline.py: read the CSV, fit the same
sklearn Pipeline with the same hyper-parameters, and score it on the same stratified split.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main(params_path: str = "params.yaml") -> float:
    params = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    data, train = params["data"], params["train"]
    frame = pd.read_csv(params["paths"]["raw"])
    frame["total_charges"] = pd.to_numeric(frame["total_charges"], errors="coerce")
    y = (frame[data["target"]] == data["positive_label"]).astype(int)
    x = frame[data["numeric"] + data["categorical"]]
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
                data["numeric"],
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                data["categorical"],
            ),
        ]
    )
    model = Pipeline(
        [
            ("features", features),
            (
                "classifier",
                RandomForestClassifier(
                    n_estimators=train["n_estimators"],
                    max_depth=train["max_depth"],
                    min_samples_leaf=train["min_samples_leaf"],
                    class_weight=train["class_weight"],
                    random_state=train["seed"],
                    n_jobs=-1,
                ),
            ),
        ]
    )
    model.fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    print(f"bare: roc_auc={auc:.6f}")
    return auc


if __name__ == "__main__":
    main(*sys.argv[1:])
