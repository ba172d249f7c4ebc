"""An empty MLflow SQLite store, made once per session and copied for each test that needs a new
one: creating a store runs MLflow's schema migrations (~3 CPU-s), opening a copy takes ~0.1 s."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from tests.trained import built_once, relocate_store

NAME = "empty-mlflow-store"
STORE = "mlflow.db"


def _create(path: Path) -> None:
    from mlflow import MlflowClient

    path.mkdir(parents=True)
    with contextlib.chdir(path):  # the default experiment's artifacts: ./mlruns, moved on copy
        MlflowClient(f"sqlite:///{path / STORE}").search_experiments()


def empty_store(factory: pytest.TempPathFactory, folder: Path) -> str:
    """A new store at `folder`/mlflow.db, as MLflow would create it there; its tracking URI."""
    template = built_once(factory, NAME, _create)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template / STORE, folder / STORE)
    relocate_store(folder / STORE, template, folder)
    return f"sqlite:///{folder / STORE}"
