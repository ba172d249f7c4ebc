"""A trained project in a temporary folder, and the registry invariants every fault test asserts.

The store is read with plain sqlite3, not MLflow: each trial replaces the database file at the
same path, and a reader that caches a connection per URI would read a deleted file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tabular_mlops.core.params import Params

from . import failpoints

ROOT = Path(__file__).resolve().parents[2]
#: What `track` and `promote` read, from the pipeline `make repro` ran at the repository root.
INPUTS = ("raw", "train", "test", "model", "metrics", "slices", "batches")
REPAIRED = "repaired the registry"
DELETED_VERSION = "Deleted_Internal"
TRACK = "tabular_mlops.stages.track"
PROMOTE = "tabular_mlops.ct.promote"


def make_project(params: Params, dest: Path) -> Path:
    """params.yaml and the pipeline outputs track and promote read, at their relative paths."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "params.yaml", dest / "params.yaml")
    for key in INPUTS:
        source = ROOT / getattr(params.paths, key)
        if not source.is_file():
            pytest.fail(f"{source}: not found (run `make repro` first)", pytrace=False)
        target = dest / getattr(params.paths, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest


def env(project: Path) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}


def run(module: str, project: Path, kill_at: int | None = None) -> failpoints.Trial:
    return failpoints.run(module, [], project, kill_at=kill_at, env=env(project))


def ok(trial: failpoints.Trial) -> failpoints.Trial:
    assert trial.exitcode == 0, trial.stderr[-3000:]
    return trial


@dataclass(frozen=True)
class State:
    """What the store holds, as rows."""

    runs: dict[str, str]  # run id: status (active runs only)
    models: dict[str, tuple[str, str]]  # active logged model id: (source run, artifact folder)
    versions: dict[str, tuple[str, str, str]]  # live version: (run id, status, storage location)
    aliases: dict[str, str]
    tags: dict[str, str]

    @property
    def running(self) -> list[str]:
        return [run for run, status in self.runs.items() if status == "RUNNING"]


def state(project: Path, name: str) -> State:
    path = project / "mlflow.db"
    if not path.exists():
        return State({}, {}, {}, {}, {})
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
        if "model_versions" not in tables or "logged_models" not in tables:
            return State({}, {}, {}, {}, {})
        runs = dict(db.execute("select run_uuid, status from runs where lifecycle_stage='active'"))
        models = {
            row[0]: (row[1], row[2])
            for row in db.execute(
                "select model_id, source_run_id, artifact_location from logged_models "
                "where lifecycle_stage = 'active'"
            )
        }
        versions = {
            str(row[0]): (row[1], row[2], row[3])
            for row in db.execute(
                "select version, run_id, status, storage_location from model_versions "
                "where name = ? and current_stage != ?",
                (name, DELETED_VERSION),
            )
        }
        aliases = {
            row[0]: str(row[1])
            for row in db.execute(
                "select alias, version from registered_model_aliases where name = ?", (name,)
            )
        }
        tags = dict(
            db.execute("select key, value from registered_model_tags where name = ?", (name,))
        )
    return State(runs, models, versions, aliases, tags)


def assert_consistent(project: Path, params: Params) -> State:
    """The invariants of a registry after the command that follows a crash."""
    from tabular_mlops.ct.registry import CHALLENGER, CHAMPION, CHAMPION_TAG

    now = state(project, params.track.registered_model)
    assert not now.running, f"runs left RUNNING: {now.running}"
    finished = {run for run, status in now.runs.items() if status == "FINISHED"}
    for model, (run, _) in now.models.items():
        assert run in finished, f"logged model {model} of run {run} ({now.runs.get(run)})"
    for version, (run, status, _) in now.versions.items():
        assert run in finished, f"version {version} of run {run} ({now.runs.get(run)})"
        assert status == "READY", (version, status)
    for alias in (CHAMPION, CHALLENGER):
        if alias in now.aliases:
            assert now.aliases[alias] in now.versions, f"{alias} names a removed version"
    if CHAMPION in now.aliases:
        assert now.tags.get(CHAMPION_TAG) == now.aliases[CHAMPION], now.tags
        from tabular_mlops.cd import history

        recorded = history.events(now.tags)
        assert recorded and recorded[-1].to == now.aliases[CHAMPION], recorded
        import mlflow

        mlflow.sklearn.load_model(now.versions[now.aliases[CHAMPION]][2])
    for key in ("promotion", "run_info"):
        path = project / getattr(params.paths, key)
        if path.exists():
            assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict), path
    return now


def together(module: str, project: Path, count: int = 2) -> list[failpoints.Trial]:
    """`count` processes of the command released at once, each with its own connections."""
    return failpoints.together(module, [], project, count=count, env=env(project))


def copy_state(source: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)
    return dest


def points(total: int, at_most: int) -> Sequence[int]:
    """failpoints.kill_points thinned to `at_most`, keeping the first and last writes."""
    chosen = failpoints.kill_points(total)
    if len(chosen) <= at_most:
        return chosen
    step = (len(chosen) - 1) / (at_most - 1)
    return sorted({chosen[round(i * step)] for i in range(at_most)})


def chosen(writes: Sequence[str], spread: int, last_commits: int) -> list[int]:
    """Kill points: `spread` of them across all writes, and the last database commits (where
    the version is registered, the run ended and the aliases moved)."""
    commits = [n for n, what in enumerate(writes, 1) if what == "database commit"]
    return sorted({*points(len(writes), spread), *commits[-last_commits:]})
