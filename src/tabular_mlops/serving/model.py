"""The served model: where it comes from, what produced it, and which path scores a request.

The model is the pipeline `train` fitted, loaded from the registry alias (default) or a file, and
checked against the configured task (a regressor for regression, a classifier with the configured
number of classes otherwise). It scores through the compiled fast path (serving/compiled.py) when
that reproduces the pipeline at load time, otherwise through the pipeline itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.cd import manifest
from tabular_mlops.cd.links import history_link
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.io import read_model
from tabular_mlops.core.lineage import MD5_TAG, tracking_uri
from tabular_mlops.core.params import DataParams, Params
from tabular_mlops.core.task import Task, is_classification, model_scores
from tabular_mlops.ct import server
from tabular_mlops.serving.compiled import (
    CompiledPipeline,
    Unsupported,
    compile_checked,
    known_categories,
)
from tabular_mlops.serving.inputs import Feature

DEFAULT_ALIAS = "champion"
NUMERIC_TYPES = {"double", "float", "long", "integer"}


@dataclass
class ServedModel:
    """Everything the service needs: how to score, what to accept, and what to report."""

    pipeline: Any
    features: tuple[Feature, ...]
    info: dict[str, Any]
    task: Task = "binary"
    #: Class names in model-code order (classification), as the answers name them.
    labels: tuple[str, ...] = ()
    compiled: CompiledPipeline | None = None
    #: The task's scores (`core.task.model_scores`) for checked columns.
    predict: Callable[[dict[str, list[Any]]], np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.predict = self._compiled if self.compiled is not None else self._pipeline

    def _pipeline(self, columns: dict[str, list[Any]]) -> np.ndarray:
        return model_scores(self.pipeline, pd.DataFrame(columns), self.task)

    def _compiled(self, columns: dict[str, list[Any]]) -> np.ndarray:
        try:
            return self.compiled.predict(columns)  # type: ignore[union-attr]
        except Unsupported:
            return self._pipeline(columns)

    @property
    def version(self) -> str:
        return str(self.info["model_version"])


def build_features(
    numeric: list[str], categorical: list[str], pipeline: Any, nullable: set[str]
) -> tuple[Feature, ...]:
    categories = known_categories(pipeline)
    return tuple(
        Feature(
            name=name,
            numeric=name in numeric,
            nullable=name in nullable,
            categories=None if name in numeric else categories.get(name),
        )
        for name in [*numeric, *categorical]
    )


def contract_nullable(data: DataParams) -> set[str]:
    """Columns the data contract allows to be missing: the model imputes them, as in training."""
    return {name for name, spec in data.columns.items() if spec.missing > 0}


def one_thread(pipeline: Any) -> Any:
    """One thread per prediction: on 2 cores, joblib's threads only add latency to a server."""
    for _, step in getattr(pipeline, "steps", []):
        if hasattr(step, "n_jobs"):
            step.n_jobs = 1
    return pipeline


def check_task(pipeline: Any, data: DataParams, source: object) -> None:
    """The model answers the configured task: a regressor, or a classifier of as many classes
    as `data` lists; one line naming the model otherwise."""
    classifier = hasattr(pipeline, "predict_proba")
    if not is_classification(data.task):
        if classifier:
            raise PipelineError(f"{source}: a classifier, but params.yaml data.task is regression")
        return
    if not classifier:
        raise PipelineError(
            f"{source}: a regressor (no predict_proba), but params.yaml data.task is {data.task}"
        )
    count = len(getattr(pipeline, "classes_", ()))
    if count != len(data.classes):
        raise PipelineError(
            f"{source}: a classifier of {count} classes, but params.yaml data.task is "
            f"{data.task} with {len(data.classes)} labels"
        )


def check_logged(metadata: dict[str, Any], data: DataParams, uri: str) -> None:
    """The task and labels `track` logged with the model (when it did) are the configured ones."""
    task, labels = metadata.get("task"), metadata.get("labels")
    if task is not None and task != data.task:
        raise PipelineError(
            f"{uri}: logged for a {task} task, but params.yaml data.task is {data.task}"
        )
    if labels is not None and tuple(labels) != data.class_names:
        raise PipelineError(
            f"{uri}: logged with labels {list(labels)}, but params.yaml data lists "
            f"{list(data.class_names)}"
        )


def load_file(path: str | Path, params: Params) -> ServedModel:
    """A joblib file (`models/model.pkl`): features from params, version = the file's md5, or
    the registry version a bundle's manifest beside it names (cd/manifest.py), after checking
    the file is the one the manifest lists."""
    path = Path(path)
    digest = manifest.md5_of(path) if path.is_file() else ""
    bundled = manifest.checked(path, digest) if digest else None
    pipeline = read_model(path)
    check_task(pipeline, params.data, path)
    features = build_features(
        list(params.data.numeric),
        list(params.data.categorical),
        pipeline,
        contract_nullable(params.data),
    )
    name = params.track.registered_model
    info = {
        "model_name": name,
        "model_version": f"file-{digest[:12]}",
        "alias": None,
        "model_uri": None,
        "source": str(path),
        "run_id": None,
        "git_commit": None,
        "data_digest": None,
        "datasets": {},
        "model_md5": digest,
        "history": history_link(tracking_uri(), name),
    }
    if bundled is not None:
        info |= {
            "model_name": bundled["registered_model"],
            "model_version": str(bundled["version"]),
            "run_id": bundled["run_id"],
            "git_commit": bundled["git_commit"],
            "history": bundled["history"],
        }
    return _served(one_thread(pipeline), features, info, params.data)


def load_registered(uri: str, data: DataParams) -> ServedModel:
    """A model URI, usually `models:/<name>@<alias>`: the alias is resolved to a version once."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    store = tracking_uri()
    server.client_defaults()
    mlflow.set_tracking_uri(store)
    client = MlflowClient(tracking_uri=store)
    if server.is_server(store):
        try:
            server.check(client, store)
        except PipelineError as err:
            raise PipelineError(f"{uri}: {err}") from None
    name = alias = version = run_id = None
    load_uri = uri
    try:
        if by_alias := re.fullmatch(r"models:/([^/@]+)@([^/@]+)", uri):
            name, alias = by_alias.groups()
            found = client.get_model_version_by_alias(name, alias)
        elif by_version := re.fullmatch(r"models:/([^/@]+)/(\d+)", uri):
            found = client.get_model_version(*by_version.groups())
        else:
            found = None
        if found is not None:
            name, version, run_id = found.name, str(found.version), found.run_id
            load_uri = f"models:/{name}/{version}"
        model_info = mlflow.models.get_model_info(load_uri)
        run_id = run_id or model_info.run_id
        pipeline = mlflow.sklearn.load_model(load_uri)
        run = client.get_run(run_id) if run_id else None
    except MlflowException as err:
        reason = str(err.message).strip().splitlines()[0]
        raise PipelineError(
            f"{uri}: {reason} (store {store}; run `make promote`, or serve a file with "
            "--model-path models/model.pkl)"
        ) from None
    except OSError as err:
        raise PipelineError(f"{uri}: cannot load model ({err})") from None
    check_task(pipeline, data, uri)
    check_logged(model_info.metadata or {}, data, uri)
    signature = model_info.signature
    if signature is None:
        raise PipelineError(f"{uri}: the model was logged without a signature")
    numeric, categorical = [], []
    for column in signature.inputs.inputs:
        kind = getattr(column.type, "name", str(column.type))
        if kind in NUMERIC_TYPES:
            numeric.append(column.name)
        elif kind == "string":
            categorical.append(column.name)
        else:
            raise PipelineError(f"{uri}: signature column '{column.name}' has type {kind}")
    tags = run.data.tags if run is not None else {}
    datasets = {}
    if run is not None:
        datasets = {item.dataset.name: item.dataset.digest for item in run.inputs.dataset_inputs}
    info = {
        "model_name": name,
        "model_version": version or model_info.model_id or load_uri,
        "alias": alias,
        "model_uri": uri,
        "source": load_uri,
        "run_id": run_id,
        "git_commit": tags.get("git.commit"),
        "data_digest": tags.get("data.raw.md5"),
        "datasets": datasets,
        "model_md5": (found.tags or {}).get(MD5_TAG) if found is not None else None,
        "history": history_link(store, name or ""),
    }
    features = build_features(numeric, categorical, pipeline, contract_nullable(data))
    return _served(one_thread(pipeline), features, info, data)


def _served(
    pipeline: Any, features: tuple[Feature, ...], info: dict[str, Any], data: DataParams
) -> ServedModel:
    compiled = compile_checked(pipeline, features, data.task)
    info = {
        **info,
        "task": data.task,
        "compiled": compiled is not None,
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    labels = data.class_names if is_classification(data.task) else ()
    return ServedModel(
        pipeline=pipeline,
        features=features,
        info=info,
        task=data.task,
        labels=tuple(labels),
        compiled=compiled,
    )


def load_model(params: Params, *, model_uri: str | None, model_path: str | None) -> ServedModel:
    """A local file when one is named, else the registry (default: the `champion` alias)."""
    if model_path:
        return load_file(model_path, params)
    uri = model_uri or f"models:/{params.track.registered_model}@{DEFAULT_ALIAS}"
    return load_registered(uri, params.data)
