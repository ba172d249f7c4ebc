"""One trained copy of the project per test session, shared by every xdist worker.

Many tests need a fork that has trained once and committed its results, and only a few watch that
first training happen. The template is built once under a file lock in the session's shared temp
folder: the checkout's files (as `copy_project` takes them), its DVC cache (so after `make repro`
the run-cache restores every stage and only `track` really runs; without it, a full `dvc repro`),
`dvc repro`, and the results committed, as a fork that followed the README has them.

Tests never touch the template: `private_copy` gives each its own folder. The copy's MLflow store
is its own too: SQLite stores name artifact folders by absolute path, so the copy's locations are
moved from the template's folder to the copy's, and a later `track` in the copy writes beside it.
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from tests.e2e.conftest import ROOT, Workspace, copy_project, fork_env, warmed
from tests.e2e.warm import shared_server
from tests.e2e.warm_client import SOCKET_ENV

NAME = "trained-template"
#: The columns of MLflow's SQL store that hold an artifact folder's absolute path.
LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
)


def shared_base(factory: pytest.TempPathFactory) -> Path:
    """The session's temp folder every worker sees (a worker's own basetemp is below it)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build(path: Path, warm: dict[str, str]) -> Workspace:
    path.mkdir(parents=True)
    copy_project(path)
    cache = ROOT / ".dvc" / "cache"
    if cache.is_dir():
        shutil.copytree(cache, path / ".dvc" / "cache", dirs_exist_ok=True)
    workspace = warmed(Workspace(path, fork_env(path)), warm)
    workspace.git("init", "-q", "-b", "main")
    workspace.commit("Use this template")
    workspace.dvc("repro")
    workspace.commit("First training")
    return workspace


def built_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """`make(path)` run by the first worker that asks, once per session; the path all read."""
    base = shared_base(factory)
    path, ready = base / name, base / f"{name}.ready"
    with FileLock(base / f"{name}.lock"):
        if not ready.exists():
            shutil.rmtree(path, ignore_errors=True)  # a build that failed halfway
            make(path)
            ready.touch()
    return path


@pytest.fixture(scope="session")
def trained_template(
    tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]
) -> Workspace:
    """The shared trained fork: read it, or `private_copy` it; never change it."""
    path = built_once(tmp_path_factory, NAME, functools.partial(build, warm=warm_python))
    return Workspace(path, fork_env(path))


def relocate_store(store: Path, old: Path, new: Path) -> None:
    """Point the artifact locations of a copied MLflow store at the copy's own folder."""
    if not store.is_file():
        return
    with sqlite3.connect(store) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
        for table, column in LOCATIONS:
            if table in tables:
                db.execute(
                    f"update {table} set {column} = replace({column}, ?, ?)",
                    (f"{old}/", f"{new}/"),
                )
    db.close()


def private_copy(source: Workspace, dest: Path) -> Workspace:
    """A copy of `source` at `dest`: git history, files, DVC cache, and a registry of its own."""
    shutil.copytree(source.path, dest, symlinks=True)
    relocate_store(dest / "mlflow.db", source.path, dest)
    return Workspace(dest, fork_env(dest))


@pytest.fixture(scope="session")
def warm_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What a fork's environment needs for its stages to start warm (tests/e2e/warm.py): one
    server for the session, in the temp folder every xdist worker sees."""
    base = shared_base(tmp_path_factory)
    env = {k: v for k, v in fork_env(base).items() if k != "PYTHONPATH"}
    with shared_server(base, env) as folder:
        yield {"PATH": f"{folder / 'venv' / 'bin'}{os.pathsep}", SOCKET_ENV: str(folder / "socket")}
