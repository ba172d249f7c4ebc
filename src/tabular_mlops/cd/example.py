"""One feature record to send a service in a smoke test, wherever the checkout can find one.

In order: the test split (a checkout that ran the pipeline), `example.json` beside the served
model file (a bundle, e.g. inside the image), or the input example logged with the registry's
model (a job that has neither, such as a rollback).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tabular_mlops.cd.manifest import EXAMPLE
from tabular_mlops.core.errors import PipelineError, first_line
from tabular_mlops.core.lineage import tracking_uri


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """JSON's own types: numpy numbers and NaN (null) as JSON writes them."""
    return json.loads(pd.Series(record, dtype=object).to_json())


def from_split(frame: pd.DataFrame, features: Sequence[str]) -> dict[str, Any]:
    """The first row's features of a prepared split."""
    missing = [name for name in features if name not in frame.columns]
    if frame.empty or missing:
        raise PipelineError(f"no example row: the split has no rows or lacks {missing}")
    return json.loads(frame.iloc[:1][list(features)].to_json(orient="records"))[0]


def from_payload(payload: Any, features: Sequence[str] = ()) -> dict[str, Any]:
    """The first record of an MLflow input example (pandas split orient, `dataframe_split`,
    `dataframe_records` or a list of records), cut to `features` when they are given."""
    if isinstance(payload, dict):
        payload = payload.get("dataframe_split", payload.get("dataframe_records", payload))
    if isinstance(payload, dict) and "columns" in payload and "data" in payload:
        rows = [dict(zip(payload["columns"], row, strict=True)) for row in payload["data"]]
    elif isinstance(payload, list):
        rows = payload
    else:
        rows = [payload]
    if not rows or not isinstance(rows[0], dict):
        raise PipelineError("no example record: the input example holds no row of named fields")
    record = rows[0]
    if features:
        record = {name: record[name] for name in features if name in record}
    return _plain(record)


def from_file(path: Path, features: Sequence[str] = ()) -> dict[str, Any]:
    try:
        return from_payload(json.loads(path.read_text(encoding="utf-8")), features)
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path}: not a JSON example record ({first_line(err)})") from None
    except PipelineError as err:
        raise PipelineError(f"{path}: {err}") from None


def from_registry(uri: str, features: Sequence[str] = ()) -> dict[str, Any]:
    """The input example the track stage logged with the model `uri` names (`models:/<name>/<n>`
    or `models:/<name>@<alias>`)."""
    import mlflow

    from tabular_mlops.ct import server

    server.client_defaults()
    mlflow.set_tracking_uri(tracking_uri())
    try:
        info = mlflow.models.get_model_info(uri)
        logged = (info.saved_input_example_info or {}).get("artifact_path")
        if not logged:
            raise PipelineError(f"{uri}: the model was logged without an input example")
        with tempfile.TemporaryDirectory(prefix="example-") as folder:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{uri}/{logged}", dst_path=folder
            )
            return from_file(Path(path), features)
    except PipelineError:
        raise
    except Exception as err:
        raise PipelineError(f"{uri}: cannot read its input example ({first_line(err)})") from None


def beside(model: Path) -> Path:
    """Where a bundle keeps its example: `example.json` in the model file's folder."""
    return model.parent / EXAMPLE
