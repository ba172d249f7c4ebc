"""Where MLflow lives and what a run is tagged with. Imports no MLflow, so it stays cheap."""

from __future__ import annotations

import hashlib
import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
#: Run and model-version tag of the track stage: the model file's md5, as dvc.lock records it.
MD5_TAG = "model.md5"
#: Run artifact of the track stage: the model file's exact bytes (MLflow's model re-serialises).
REVIEWED_ARTIFACT = "reviewed-model/model.pkl"

#: Packages the logged model needs at load time; versions come from the environment that
#: `uv sync --locked` built, i.e. from uv.lock, so MLflow does not spend ~4 s inferring them.
MODEL_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle", "joblib")


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else MLflow's own default: mlflow.db beside dvc.yaml."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def pip_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in MODEL_PACKAGES]


def file_md5(path: str | Path) -> str:
    """The same digest DVC records in dvc.lock, so a run can be matched to a data version."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_tags() -> dict[str, str]:
    """Commit, branch and dirty state; 'unknown' outside a git checkout (e.g. an sdist)."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    branch = _git("rev-parse", "--abbrev-ref", "HEAD") or "unknown"
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = "unknown" if status is None else str(bool(status)).lower()
    return {
        "git.commit": commit,
        "git.branch": branch,
        "git.dirty": dirty,
        "mlflow.source.git.commit": commit,
        "mlflow.source.git.branch": branch,
    }


def split_dataset(
    frame: Any, path: str | Path, name: str, target: str, read_from: str | Path | None = None
) -> Any:
    """A prepared split as an MLflow dataset, in time that does not grow with its rows' values.

    MLflow would infer the schema by visiting every value of every text column in Python, and
    digest the split by applying `type` to every cell: both grow with the rows (`make bench`).
    The schema is MLflow's own inference on each column's distinct values, which gives the
    same types and the same `required` (whether any value is missing); the digest is the md5
    of the file `frame` was `read_from` (the one dvc.lock records), else MLflow's own."""
    import mlflow
    from mlflow.types import Schema
    from mlflow.types.utils import _infer_schema

    dataset = mlflow.data.from_pandas(
        frame,
        source=str(Path(path).resolve()),
        targets=target,
        name=name,
        digest=None if read_from is None else file_md5(read_from),
    )
    columns = [_infer_schema(frame[column].drop_duplicates()).inputs[0] for column in frame]
    dataset.schema = Schema(columns)  # a cached_property: assigning it is what it caches
    return dataset
