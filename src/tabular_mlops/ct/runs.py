"""Runs left RUNNING by a dead `track`: found, marked FAILED, and their models removed.

Every run `track` starts is tagged with its process (host, pid, the process's start time, so a
reused pid is not mistaken for it). A RUNNING run is dead when it was started on this host and
that process is gone (or is another process with the same pid). A run from another host, or one
without these tags, cannot be checked: it counts as dead only once it has been RUNNING for
`FOREIGN_AFTER_HOURS`, far longer than any `track` takes. The repair runs under the store lock
(ct/store_lock.py), before `track` logs and before `promote` reads the aliases.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

import psutil

HOST_TAG = "tabular_mlops.host"
PID_TAG = "tabular_mlops.pid"
STARTED_TAG = "tabular_mlops.process_started"
#: A RUNNING run this process cannot check (another host, no owner tags) is dead after this long.
FOREIGN_AFTER_HOURS = 24
#: psutil's process start times are rounded to the clock tick: equal within this many seconds.
SAME_START = 1.0


def owner_tags() -> dict[str, str]:
    """Who is logging this run: set when the run is created, in the same commit."""
    started = psutil.Process().create_time()
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        STARTED_TAG: f"{started:.2f}",
    }


def is_dead(tags: Mapping[str, str], started_ms: int, now: float | None = None) -> bool:
    """Whether the process that logs a RUNNING run is gone (see the module docstring)."""
    now = time.time() if now is None else now
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return now - started_ms / 1000 > FOREIGN_AFTER_HOURS * 3600
    try:
        process = psutil.Process(int(tags[PID_TAG]))
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        started = float(tags.get(STARTED_TAG, "nan"))
        return not abs(process.create_time() - started) <= SAME_START
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def discard(
    client: Any, run_id: str, experiment_id: str, name: str, keep: str | None = None
) -> tuple[list[str], int]:
    """Remove what a failed run registered and logged; mark it FAILED last, so a repair that is
    itself killed finds the run again. Returns the removed versions and the count of models.

    A version holding the alias `keep` (champion: promote loaded and scored it) is kept."""
    models = _logged_models(client, run_id, experiment_id)
    ids = {model.model_id for model in models}
    removed = []
    for version in _versions(client, name):
        if version.run_id == run_id or getattr(version, "model_id", None) in ids:
            if keep is not None and keep in (version.aliases or []):
                ids.discard(getattr(version, "model_id", None))
                continue
            client.delete_model_version(name, version.version)
            removed.append(str(version.version))
    for model in models:
        if model.model_id in ids:
            client.delete_logged_model(model.model_id)
            _delete_artifacts(model.artifact_location)
    client.set_terminated(run_id, "FAILED")
    return sorted(removed, key=int), len(ids)


def _logged_models(client: Any, run_id: str, experiment_id: str) -> list[Any]:
    found = client.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    return list(found)


def _versions(client: Any, name: str) -> list[Any]:
    try:
        return list(client.search_model_versions(f"name = '{name}'"))
    except Exception as err:
        if getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return []
        raise


def _delete_artifacts(location: str | None) -> None:
    """The model's files too (what `mlflow gc` would do later): best effort, the store's record
    is already gone."""
    if not location:
        return
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    with contextlib.suppress(Exception):
        get_artifact_repository(location).delete_artifacts()


def repair(client: Any, experiment: str, name: str, keep: str | None = None) -> str | None:
    """Fail every dead RUNNING run of `experiment` and remove its models and versions of `name`;
    one line saying what was repaired, or None when nothing was."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], filter_string="attributes.status = 'RUNNING'")
    dead = [run for run in runs if is_dead(run.data.tags, run.info.start_time)]
    if not dead:
        return None
    versions: list[str] = []
    models = 0
    for run in dead:
        removed, count = discard(client, run.info.run_id, found.experiment_id, name, keep)
        versions += removed
        models += count
    ids = ", ".join(run.info.run_id for run in dead)
    listed = f"version {', '.join(versions)} of {name}" if versions else "no model version"
    return (
        f"{len(dead)} run(s) left RUNNING by a dead process marked FAILED ({ids}); "
        f"removed their {models} logged model(s) and {listed}"
    )
