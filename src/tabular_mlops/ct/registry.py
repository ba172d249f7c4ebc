"""The promotion's view of the MLflow registry: the aliases it reads, the versions they name,
their models, and the tags and alias it writes. Only these functions touch MLflow, so a registry
that is unreachable or inconsistent fails as one line before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError, first_line
from tabular_mlops.core.io import read_json
from tabular_mlops.core.lineage import tracking_uri
from tabular_mlops.ct import server
from tabular_mlops.ct.store_lock import sqlite_path

CHAMPION = "champion"
CHALLENGER = "challenger"
#: Registered-model tag naming the version `champion` was last moved to. MLflow drops an alias
#: with its version, so this is how a deleted champion is told apart from "never had one".
CHAMPION_TAG = "promotion.champion_version"


def connect() -> Any:
    """A client on the store the track stage registered the challenger in; a tracking server is
    checked first (answers, accepts the credentials), so a bad one fails before any write."""
    import mlflow

    uri = tracking_uri()
    server.client_defaults()
    try:
        mlflow.set_tracking_uri(uri)
        client = mlflow.MlflowClient(uri)
    except Exception as err:  # a URI scheme MLflow has no store for
        raise registry_error(err) from None
    if server.is_server(uri):
        server.check(client, uri)
    return client


def registry_error(err: BaseException) -> PipelineError:
    """Any MLflow failure as one line naming the store, so a wrong URI is obvious."""
    return PipelineError(f"registry {tracking_uri()}: {first_line(err)[:300]}")


def registered(client: Any, name: str) -> Any | None:
    """The registered model (aliases and tags included), or None when it does not exist."""
    try:
        return client.get_registered_model(name)
    except Exception as err:
        if getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise registry_error(err) from None


def alias_version(model: Any | None, alias: str) -> str | None:
    """The version `alias` names on a registered model (None: no model, or no such alias)."""
    aliases = dict(model.aliases) if model is not None else {}
    return str(aliases[alias]) if alias in aliases else None


def find_version(client: Any, name: str, version: str) -> Any | None:
    """The model version, or None when it does not exist (never registered, or deleted)."""
    try:
        return client.get_model_version(name, str(version))
    except Exception as err:
        if getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise registry_error(err) from None


def _version(client: Any, name: str, version: str) -> Any:
    try:
        return client.get_model_version(name, version)
    except Exception as err:
        raise registry_error(err) from None


def resolve(
    client: Any, name: str, allow_bootstrap: bool, pinned: str | None = None
) -> tuple[Any, Any | None]:
    """The challenger's and the champion's model versions (champion None: bootstrap).

    `pinned` is the version this checkout's pipeline registered: on a shared registry the
    alias `challenger` names whichever clone tracked last, not necessarily this commit's model."""
    model = registered(client, name)
    aliases = dict(model.aliases) if model is not None else {}
    if pinned is None and CHALLENGER not in aliases:
        raise PipelineError(
            f"registry: {name} has no alias '{CHALLENGER}' (nothing registered yet, or its "
            "version was deleted): run `make repro`"
        )
    challenger = _version(client, name, pinned or str(aliases[CHALLENGER]))
    if CHAMPION in aliases:
        return challenger, _version(client, name, str(aliases[CHAMPION]))
    last = (model.tags or {}).get(CHAMPION_TAG)
    if last is not None and not allow_bootstrap:
        versions = {str(v.version) for v in _search(client, name)}
        what = "was deleted" if last not in versions else "lost the alias"
        raise PipelineError(
            f"registry: {name} alias '{CHAMPION}' is gone (version {last} {what}); "
            "set the alias to a version by hand, or run with --allow-bootstrap"
        )
    return challenger, None


def pinned(run_info: Path, name: str) -> str | None:
    """The version the track stage wrote to `run_info`, when it registered `name` in this store;
    else None, and the alias decides (a run_info from another store names no version here)."""
    if not run_info.is_file():
        return None
    info = read_json(run_info)
    if info.get("registered_model") != name or "model_version" not in info:
        return None
    if _store(str(info.get("tracking_uri", ""))) != _store(tracking_uri()):
        print(
            f"promote: {run_info} names a model in {info.get('tracking_uri')}, not in this "
            f"store: gating the alias '{CHALLENGER}'"
        )
        return None
    return str(info["model_version"])


def _store(uri: str) -> str:
    database = sqlite_path(uri)
    return f"sqlite:///{database.resolve()}" if database is not None else uri.rstrip("/")


def _search(client: Any, name: str) -> list[Any]:
    try:
        return list(client.search_model_versions(f"name = '{name}'"))
    except Exception as err:
        raise registry_error(err) from None


def load(name: str, version: Any, alias: str) -> Any:
    """The version's sklearn model; a model that does not load is bad input, not a crash."""
    import mlflow

    uri = f"models:/{name}/{version.version}"
    try:
        return mlflow.sklearn.load_model(uri)
    except Exception as err:  # missing artifacts, corrupt pickle, unreachable artifact store
        raise PipelineError(
            f"{uri} ({alias}): cannot load model "
            f"({err.__class__.__name__}: {first_line(err)[:300]})"
        ) from None


def repair(client: Any, experiment: str, name: str) -> str | None:
    """Undo what a killed command left half done, as one line: dead RUNNING runs failed and
    their models removed (ct/runs.py); a champion the history does not record gets an
    `unrecorded` event; the promotion tag brought back in line with `champion` (`move_alias`
    moves the alias, then records the event, then the tag)."""
    from tabular_mlops.ct import runs

    try:
        done = [
            runs.repair(client, experiment, name, keep=CHAMPION),
            _history(client, name),
            _champion_tag(client, name),
        ]
    except PipelineError:
        raise
    except Exception as err:
        raise registry_error(err) from None
    repaired = "; ".join(line for line in done if line)
    return f"repaired the registry: {repaired}" if repaired else None


def _history(client: Any, name: str) -> str | None:
    from tabular_mlops.cd import history

    model = registered(client, name)
    champion = alias_version(model, CHAMPION)
    if champion is None:
        return None
    past = history.events(model.tags)
    if past and past[-1].to == champion:
        return None
    added = history.unrecorded(past, champion)
    client.set_registered_model_tag(name, history.tag_key(added.seq), history.encode(added))
    return f"champion history event {added.seq} records version {champion} as champion (unrecorded)"


def _champion_tag(client: Any, name: str) -> str | None:
    model = registered(client, name)
    if model is None or CHAMPION not in model.aliases:
        return None
    champion = str(model.aliases[CHAMPION])
    last = (model.tags or {}).get(CHAMPION_TAG)
    if last == champion:
        return None
    client.set_registered_model_tag(name, CHAMPION_TAG, champion)
    return f"tag {CHAMPION_TAG} set to {champion}, the champion's version (was {last or 'unset'})"


def write_decision(
    client: Any,
    name: str,
    version: str,
    tags: Mapping[str, str],
    alias: str | None,
    kind: str = "promoted",
) -> Any | None:
    """Tag the challenger's version with the decision; when it wins, move `alias` to it
    (`move_alias`). Returns the champion history event, when `alias` is champion."""
    try:
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    except Exception as err:
        raise registry_error(err) from None
    if alias is None:
        return None
    return move_alias(client, name, alias, version, kind, str(tags.get("promotion.reason", "")))


def move_alias(
    client: Any, name: str, alias: str, version: str, kind: str, reason: str
) -> Any | None:
    """Point `alias` at `version`. For `champion`: the alias, then its history event (kind,
    reason), then the tag that remembers it; a kill between them is finished by `repair`.
    Returns the event (None for another alias). The caller holds the store lock."""
    from tabular_mlops.cd import history

    try:
        if alias != CHAMPION:
            client.set_registered_model_alias(name, alias, version)
            return None
        model = registered(client, name)
        was = alias_version(model, CHAMPION)
        past = history.events(model.tags if model is not None else None)
        client.set_registered_model_alias(name, CHAMPION, version)
        seq = past[-1].seq + 1 if past else 1
        added = history.event(seq, kind, was, str(version), reason)
        client.set_registered_model_tag(name, history.tag_key(seq), history.encode(added))
        client.set_registered_model_tag(name, CHAMPION_TAG, str(version))
    except PipelineError:
        raise
    except Exception as err:
        raise registry_error(err) from None
    return added
