"""Imported once by the kill trials' forkserver (failpoints.py), never by a test: what every
`track`, `promote` and `ingest` would otherwise redo in each trial's child, done before the fork.

The SQL store's modules and its ORM mappers (~1.5 CPU-s a command), GitPython (MLflow's git
tags), and MLflow's map of installed packages (read from every distribution's metadata when a
model is logged). None of it depends on the trial's folder or store, and none of it starts a
thread, so the forkserver stays safe to fork. Last, what the forkserver holds is frozen out
of the garbage collector, so a trial's collections walk only its own objects, not the inherited
heap (copying every page they touch).
"""

from __future__ import annotations

import gc

import git  # noqa: F401
import mlflow.store.db.utils
import mlflow.store.model_registry.sqlalchemy_store
import mlflow.store.tracking.sqlalchemy_store
import mlflow.tracking.fluent  # noqa: F401

from tests.e2e.warm import prepare_mlflow

prepare_mlflow()
gc.freeze()
