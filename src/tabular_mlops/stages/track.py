"""Stage `track`: record the pipeline run in MLflow as one run, after evaluate has succeeded.

One run holds the params, the metrics (overall and per slice), the model (with signature and input
example), the datasets with their digests, and the git state. The model becomes a new version of
the registered model with the alias `challenger`; only `make promote` moves `champion`. The run
and the version are tagged `model.md5` with the model file's md5 (the one dvc.lock records), and
the file itself is logged byte for byte as `reviewed-model/model.pkl`: MLflow's model is a
re-serialisation, so this copy is what delivery ships (cd/). Logging
happens only once every earlier stage has passed, so a failed pipeline never leaves a half-filled
run; if logging itself fails the run (and its model version) is deleted, and if the process is
killed the next `track` or `promote` marks the run FAILED and removes its models (ct/runs.py).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from tabular_mlops.core.batches import batch_tags, read_manifest
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.features import feature_frame, feature_kinds
from tabular_mlops.core.io import read_json, read_model, read_parquet, write_json
from tabular_mlops.core.lineage import (
    MD5_TAG,
    REVIEWED_ARTIFACT,
    file_md5,
    git_tags,
    pip_requirements,
    split_dataset,
    tracking_uri,
)
from tabular_mlops.core.params import Params, flatten, load_params
from tabular_mlops.core.task import Task, is_classification, model_scores
from tabular_mlops.ct import registry
from tabular_mlops.ct.runs import discard, owner_tags
from tabular_mlops.ct.store_lock import store_lock

INPUT_EXAMPLE_ROWS = 5
CHALLENGER = "challenger"
#: Characters MLflow refuses in a metric name.
REFUSED_IN_NAMES = re.compile(r"[^\w.\-/: ]")


def numeric_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten nested metrics JSON to MLflow's flat names, e.g. `baseline.roc_auc`.

    A label or slice value becomes part of a name (`per_class.<=50K.recall`): characters MLflow
    refuses in a metric name are replaced by `_`."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = prefix + REFUSED_IN_NAMES.sub("_", str(key))
        if isinstance(value, dict):
            flat.update(numeric_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def input_example(split: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The first rows of a prepared split's features: logged with the model as its example."""
    features = feature_frame(split, params.data.target, params.data.id_column)
    return features.iloc[:INPUT_EXAMPLE_ROWS]


def model_signature(model: Any, split: pd.DataFrame, params: Params) -> Any:
    """Inputs typed from a prepared split (`input_schema`), outputs as the task scores them."""
    from mlflow.models import infer_signature

    example = input_example(split, params)
    signature = infer_signature(example, model_scores(model, example, params.data.task))
    signature.inputs = input_schema(split, params)
    return signature


def input_schema(train: pd.DataFrame, params: Params) -> Any:
    """Numbers as doubles and categories as strings, from the prepared split's types: inferred
    from a few example rows, a category empty in all of them would have no type."""
    from mlflow.types import ColSpec, Schema

    numeric, categorical = feature_kinds(train, params.data.target, params.data.id_column)
    return Schema(
        [ColSpec("double", name) for name in numeric]
        + [ColSpec("string", name) for name in categorical]
    )


def predict_function(task: Task) -> str:
    """What MLflow's pyfunc (and `mlflow models serve`) calls: class probabilities, or values."""
    return "predict_proba" if is_classification(task) else "predict"


def model_metadata(params: Params) -> dict[str, Any]:
    """Logged with the model, so the service can refuse a model of another task or labels."""
    data = params.data
    labels = list(data.class_names) if is_classification(data.task) else None
    return {"task": data.task, "labels": labels}


def log_run(
    params: Params,
    model: Any,
    train: pd.DataFrame,
    test: pd.DataFrame,
    metrics: dict[str, Any],
    raw_md5: str,
    slices: dict[str, Any] | None = None,
    *,
    batches: list[dict[str, Any]] | None = None,
    model_file: str | Path | None = None,
    split_files: tuple[str | Path, str | Path] | None = None,
) -> dict[str, str]:
    """Log and register one pipeline run's model; return the ids a later stage or user needs.

    `model_file` is the file `model` was read from (logged as it is); without it the model is
    written with joblib and that file is logged. `split_files` are the files `train` and `test`
    were read from: each one's md5 is its dataset's digest (else MLflow digests the frame).
    Holds the store's lock throughout (ct/store_lock.py): a fresh store is created once, and
    runs left RUNNING by a killed `track` are repaired first (ct/runs.py)."""
    import mlflow

    signature = model_signature(model, train, params)
    datasets = split_datasets(params, (train, test), split_files or (None, None))
    uri = tracking_uri()
    with store_lock(uri, "track", params.track.registered_model):
        client = registry.connect()
        repaired = registry.repair(client, params.track.experiment, params.track.registered_model)
        if repaired:
            print(f"track: {repaired}")
        try:
            mlflow.set_experiment(params.track.experiment)
            run = mlflow.start_run(tags=owner_tags())
        except Exception as err:
            raise registry.registry_error(err) from None
        try:
            with tempfile.TemporaryDirectory(prefix="track-") as staging:
                exact = _exact_file(model, model_file, Path(staging))
                return _log(
                    client,
                    run,
                    params,
                    model,
                    datasets,
                    metrics,
                    raw_md5,
                    slices,
                    batches or [],
                    signature,
                    exact,
                )
        except BaseException as err:
            _discard(client, run, params.track.registered_model)
            if isinstance(err, Exception) and not isinstance(err, PipelineError):
                raise registry.registry_error(err) from None
            raise


def _exact_file(model: Any, model_file: str | Path | None, staging: Path) -> Path:
    """The bytes to log and hash, copied first: a file rewritten meanwhile cannot make the
    tag and the artifact disagree."""
    exact = staging / Path(REVIEWED_ARTIFACT).name
    if model_file is None:
        import joblib

        joblib.dump(model, exact)
    else:
        shutil.copyfile(model_file, exact)
    return exact


def split_datasets(
    params: Params,
    splits: tuple[pd.DataFrame, pd.DataFrame],
    files: tuple[str | Path | None, str | Path | None],
) -> list[Any]:
    """The train and test splits as MLflow datasets (core.lineage.split_dataset)."""
    with warnings.catch_warnings():
        # The dataset schema of id and 0/1 target columns is informational only, and a
        # relative path is a local file: MLflow warns about both, needlessly.
        warnings.simplefilter("ignore", UserWarning)
        return [
            split_dataset(frame, getattr(params.paths, name), name, params.data.target, file)
            for name, frame, file in zip(("train", "test"), splits, files, strict=True)
        ]


def _discard(client: Any, run: Any, name: str) -> None:
    """A run whose logging failed is removed with what it registered; the error that failed it
    is what the user sees, so a second failure here stays quiet."""
    import mlflow

    with contextlib.suppress(Exception):
        discard(client, run.info.run_id, run.info.experiment_id, name)
    with contextlib.suppress(Exception):
        if mlflow.active_run() is not None:
            mlflow.end_run(status="FAILED")
    with contextlib.suppress(Exception):
        client.delete_run(run.info.run_id)


def _log(
    client: Any,
    run: Any,
    params: Params,
    model: Any,
    datasets: list[Any],
    metrics: dict[str, Any],
    raw_md5: str,
    slices: dict[str, Any] | None,
    batches: list[dict[str, Any]],
    signature: Any,
    exact: Path,
) -> dict[str, str]:
    """The run's contents, then its end, then the alias: `challenger` only ever names the model
    of a FINISHED run, tagged with its md5."""
    import mlflow

    md5 = file_md5(exact)
    tags = {**git_tags(), "data.raw.md5": raw_md5, "pipeline": "dvc repro", MD5_TAG: md5}
    mlflow.set_tags(tags)
    mlflow.log_artifact(str(exact), artifact_path=str(Path(REVIEWED_ARTIFACT).parent))
    mlflow.set_tags(batch_tags(batches))  # provenance: the batches in the raw data
    mlflow.log_dict({"batches": batches}, "data/batches.json")
    mlflow.log_params(flatten(params))
    for dataset, context in zip(datasets, ("training", "evaluation"), strict=True):
        mlflow.log_input(dataset, context=context)
    logged = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=signature,
        input_example=input_example(datasets[0].df, params),
        pip_requirements=pip_requirements(),
        pyfunc_predict_fn=predict_function(params.data.task),
        metadata=model_metadata(params),
        # cloudpickle: skops costs ~1.5 s a run for a forest, and the model only ever comes
        # from this project's own registry (the DVC copy is a joblib pickle too).
        serialization_format="cloudpickle",
        registered_model_name=params.track.registered_model,
    )
    # After the model, tagged with it: logged first, MLflow would link each metric to the model
    # with one request per metric (hundreds, with slices).
    mlflow.log_metrics(numeric_metrics(metrics), model_id=logged.model_id)
    if slices:
        mlflow.log_metrics(numeric_metrics(slices, "slices."), model_id=logged.model_id)
    version = str(logged.registered_model_version)
    client.set_model_version_tag(params.track.registered_model, version, MD5_TAG, md5)
    mlflow.end_run()
    client.set_registered_model_alias(params.track.registered_model, CHALLENGER, version)
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "model_uri": logged.model_uri,
        "tracking_uri": tracking_uri(),
        "registered_model": params.track.registered_model,
        "model_version": version,
        "registry_uri": f"models:/{params.track.registered_model}/{version}",
        "model_md5": md5,
    }


def track(params: Params) -> dict[str, str]:
    """Log the pipeline's files as one run (what `dvc repro` runs, and `make register`)."""
    return log_run(
        params,
        read_model(params.paths.model),
        read_parquet(params.paths.train),
        read_parquet(params.paths.test),
        read_json(params.paths.metrics),
        file_md5(params.paths.raw),
        read_json(params.paths.slices).get("slices", {}),
        batches=read_manifest(params.paths.batches),
        model_file=params.paths.model,
        split_files=(params.paths.train, params.paths.test),
    )


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    info = track(params)
    write_json(params.paths.run_info, info)
    print(
        f"track: MLflow run {info['run_id']} in {info['tracking_uri']}; "
        f"{info['registered_model']} version {info['model_version']} is the {CHALLENGER}"
    )


if __name__ == "__main__":
    main()
