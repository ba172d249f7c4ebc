"""Register a model file as `<name>@champion` in a scratch MLflow store, the way `track` logs it.

Run as a script (in its own process, so the test session's MLflow state stays untouched):
python tests/serve/register_model.py STORE_URI ARTIFACT_DIR MODEL_PKL EXAMPLE_PARQUET NAME PARAMS
"""

from __future__ import annotations

import sys
import warnings

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient

from tabular_mlops.core.lineage import pip_requirements
from tabular_mlops.core.params import load_params
from tabular_mlops.stages.track import model_metadata, model_signature, predict_function

GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"
RAW_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def main(
    store: str, artifacts: str, model_path: str, example_path: str, name: str, params_path: str
) -> None:
    warnings.simplefilter("ignore")
    params = load_params(params_path)
    task = params.data.task
    model = joblib.load(model_path)
    frame = pd.read_parquet(example_path)
    features = [
        column
        for _, transformer, columns in model.named_steps["features"].transformers_
        if transformer != "drop"
        for column in columns
    ]
    example = frame.loc[:4, features]
    mlflow.set_tracking_uri(store)
    experiment = mlflow.create_experiment("serve-tests", artifact_location=artifacts)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.set_tags({"git.commit": GIT_COMMIT, "data.raw.md5": RAW_MD5})
        mlflow.log_input(mlflow.data.from_pandas(frame, name="test"), context="evaluation")
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=model_signature(model, frame, params),
            input_example=example,
            pyfunc_predict_fn=predict_function(task),
            metadata=model_metadata(params),
            serialization_format="cloudpickle",
            registered_model_name=name,
            pip_requirements=pip_requirements(),
        )
    MlflowClient(store).set_registered_model_alias(
        name, "champion", str(logged.registered_model_version)
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
