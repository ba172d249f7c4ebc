"""`make doctor`'s MLflow parts: does the tracking store answer, take the credentials and let
this user write, and what does the registry hold for params.yaml's model.

Writes are probed with things deleted at once: a registered model `<model>.doctor-<random>`, and
a tag set and removed on the experiment and the registered model (what `make repro` and
`make promote` need to change). A server must answer /health within the first-answer deadline.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from tabular_mlops.core.errors import PipelineError, first_line
from tabular_mlops.core.lineage import DEFAULT_TRACKING_URI
from tabular_mlops.core.params import TrackParams, load_params
from tabular_mlops.ct import server
from tabular_mlops.ct.registry import CHALLENGER, CHAMPION, CHAMPION_TAG
from tabular_mlops.ct.registry_lock import COMMAND_TAG, lock_name
from tabular_mlops.ct.runs import HOST_TAG, PID_TAG
from tabular_mlops.ct.store_lock import sqlite_path
from tabular_mlops.team.failures import bounded
from tabular_mlops.team.report import FAIL, NOT_SET, OK, SKIPPED, Line

TRACKING, REGISTRY = "MLflow tracking", "model registry"
#: A store that answered is working, however slowly (a server's first requests warm it up).
PART_SECONDS = 120.0
PROBE_TAG = "tabular_mlops.doctor_probe"


def _code(err: BaseException) -> str:
    return str(getattr(err, "error_code", ""))


def _mlflow_problem(uri: str, err: BaseException) -> str:
    return server.refusal(uri, err).removeprefix("registry ")


def _answers(uri: str, first: float) -> None:
    """A server that is down or silent fails here, within `first` seconds."""
    try:
        down = bounded(first, lambda: server.answers(uri), f"{uri}/health")
    except TimeoutError as err:
        down = str(err).removeprefix(f"{uri}/health ")
    if down is not None:
        raise PipelineError(
            f"{uri}: the tracking server {down}: start it (the stand-in: `make team-up`) "
            "or fix MLFLOW_TRACKING_URI"
        )


def _probe_tracking(client: Any, uri: str, track: TrackParams, first: float) -> str:
    """What the store let this client do; raises PipelineError with the first thing it did not."""
    did = []
    if server.is_server(uri):
        _answers(uri, first)
        did.append("answers")
    probe = f"{track.registered_model}.doctor-{secrets.token_hex(4)}"
    try:
        client.create_registered_model(probe, description="make doctor's write probe")
    except Exception as err:
        raise PipelineError(_mlflow_problem(uri, err)) from None
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user and server.is_server(uri):
        did.append(f"accepts user {user}")
    try:
        client.delete_registered_model(probe)
        did.append("can write (created and deleted a registered model)")
    except Exception as err:
        did.append(f"created {probe} but cannot delete it ({first_line(err)[:200]}): delete it")
    experiment = client.get_experiment_by_name(track.experiment)
    if experiment is not None:
        try:
            client.set_experiment_tag(experiment.experiment_id, PROBE_TAG, "1")
            client.delete_experiment_tag(experiment.experiment_id, PROBE_TAG)
        except Exception as err:
            raise PipelineError(
                f"cannot log to experiment {track.experiment}: {_mlflow_problem(uri, err)}"
            ) from None
        did.append(f"may log to experiment {track.experiment}")
    return ", ".join(did)


def tracking(env: Mapping[str, str], track: TrackParams, first: float) -> tuple[Line, Any]:
    """The tracking store's line, and a client on it for the registry (None: do not ask it)."""
    import mlflow

    uri = env.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        local = sqlite_path(DEFAULT_TRACKING_URI)
        client = mlflow.MlflowClient(DEFAULT_TRACKING_URI) if local and local.exists() else None
        return Line(
            NOT_SET,
            TRACKING,
            f"MLFLOW_TRACKING_URI is unset: runs and the registry stay in {DEFAULT_TRACKING_URI} "
            "on this machine (CI runs start empty); set it to the team's MLflow server to share",
        ), client
    database = sqlite_path(uri)
    if database is not None and not database.exists():
        text = f"{uri}: a store on this machine, created by the first run (not shared)"
        return Line(OK, TRACKING, text), None
    server.client_defaults()
    try:
        client = mlflow.MlflowClient(uri)
        said = bounded(
            PART_SECONDS, lambda: _probe_tracking(client, uri, track, first), f"MLflow at {uri}"
        )
    except TimeoutError as err:
        text = f"{uri}: {err}: check that the server runs and MLFLOW_TRACKING_URI"
        return Line(FAIL, TRACKING, text), None
    except PipelineError as err:
        return Line(FAIL, TRACKING, str(err)), None
    except Exception as err:
        return Line(FAIL, TRACKING, _mlflow_problem(uri, err)), None
    return Line(OK, TRACKING, f"{uri}: {said}"), client


def _registry_state(client: Any, name: str, write: bool) -> tuple[str, str]:
    try:
        model = client.get_registered_model(name)
    except Exception as err:
        if _code(err) == "RESOURCE_DOES_NOT_EXIST":
            return OK, f"{name}: not registered yet (the first `make repro` registers it)"
        raise
    aliases = {key: str(value) for key, value in dict(model.aliases or {}).items()}
    last = dict(model.tags or {}).get(CHAMPION_TAG)
    if CHAMPION not in aliases and last is not None:
        return FAIL, (
            f"{name}: alias '{CHAMPION}' is gone (it named version {last}): set it to a version "
            "by hand, or run `make promote` with --allow-bootstrap"
        )
    if CHAMPION in aliases:
        said = [f"{name}: {CHAMPION} is version {aliases[CHAMPION]}"]
    else:
        said = [f"{name}: no {CHAMPION} yet (the first `make promote` makes one)"]
    if CHALLENGER in aliases:
        said.append(f"{CHALLENGER} is version {aliases[CHALLENGER]}")
    if write:
        try:
            client.set_registered_model_tag(name, PROBE_TAG, "1")
            client.delete_registered_model_tag(name, PROBE_TAG)
        except Exception as err:
            return FAIL, f"{name}: `make promote` could not move its alias ({first_line(err)})"
        said.append("aliases can be moved")
    said += _lock_holder(client, name)
    return OK, ", ".join(said)


def _lock_holder(client: Any, name: str) -> list[str]:
    try:
        lock = client.get_registered_model(lock_name(name))
    except Exception:
        return []
    tags = dict(lock.tags or {})
    who = f"{tags.get(COMMAND_TAG, 'a command')} pid {tags.get(PID_TAG, '?')}"
    return [f"{lock_name(name)} is held by {who} on {tags.get(HOST_TAG, '?')}"]


def registry(client: Any, uri: str, track: TrackParams, write: bool) -> Line:
    """The registered model of params.yaml: there? a champion? may promote move its alias?"""
    name = track.registered_model
    try:
        status, text = bounded(
            PART_SECONDS, lambda: _registry_state(client, name, write), f"the registry at {uri}"
        )
    except TimeoutError as err:
        return Line(FAIL, REGISTRY, f"{uri}: {err}")
    except Exception as err:
        return Line(FAIL, REGISTRY, _mlflow_problem(uri, err))
    where = "" if write else f" (in {uri})"
    return Line(status, REGISTRY, text + where)


def mlflow_lines(env: Mapping[str, str], first: float) -> list[Line]:
    """The tracking store's line, then the registry's (asked only when the store answered)."""
    try:
        track = load_params().track
    except PipelineError as err:
        return [Line(FAIL, TRACKING, str(err)), Line(SKIPPED, REGISTRY, "no params.yaml")]
    line, client = tracking(env, track, first)
    uri = env.get("MLFLOW_TRACKING_URI", "").strip() or DEFAULT_TRACKING_URI
    if client is not None:
        return [line, registry(client, uri, track, write=line.status == OK)]
    if line.status == FAIL:
        return [line, Line(SKIPPED, REGISTRY, "the tracking store failed")]
    return [line, Line(NOT_SET, REGISTRY, f"no store at {uri} yet: nothing registered")]
