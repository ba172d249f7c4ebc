"""A fork's copy of this repository in a temporary folder, driven with the real DVC and MLflow;
the forks of this folder start their stages and dvc calls warm (warm.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tabular_mlops.core.params import load_params

from .warm_client import SOCKET_ENV, venv_of

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: params.yaml `paths` the pipeline writes: a local run's results, which a fresh fork lacks.
OUTPUTS = (
    "validation",
    "data_docs",
    "train",
    "test",
    "model",
    "metrics",
    "slices",
    "plots",
    "run_info",
    "drift",
    "decision",
    "promotion",
    "promotion_report",
)


@dataclass
class Workspace:
    path: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args), cwd=self.path, env=self.env, capture_output=True, text=True, timeout=600
        )
        if check and done.returncode != 0:
            output = f"{done.stdout}\n{done.stderr}"
            raise AssertionError(f"{args} failed ({done.returncode}):\n{output}")
        return done

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(str(venv_of(self.env) / "bin" / "dvc"), *args, check=check)

    def git(self, *args: str) -> str:
        return self.run("git", *args).stdout.strip()

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-qm", message)

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.path / 'mlflow.db'}"


def copy_project(dest: Path) -> None:
    """Copy what a clone of this checkout would hold: tracked files and new unignored ones, but
    not the outputs a local `make repro` left (a fork starts without results)."""

    def listed(*flags: str) -> list[str]:
        out = subprocess.run(
            ["git", "ls-files", "-z", *flags], cwd=ROOT, check=True, capture_output=True
        ).stdout.decode()
        return [name for name in out.split("\0") if name]

    params = load_params(ROOT / "params.yaml")
    outputs = [getattr(params.paths, key).rstrip("/") for key in OUTPUTS]

    def generated(name: str) -> bool:
        return name == "dvc.lock" or any(name == o or name.startswith(f"{o}/") for o in outputs)

    untracked = [n for n in listed("--others", "--exclude-standard") if not generated(n)]
    tracked = [n for n in listed("--cached") if n != "dvc.lock"]
    for name in sorted({*tracked, *untracked}):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def fork_env(path: Path) -> dict[str, str]:
    # MAKEFLAGS would carry an outer `make test VAR=...` into every make the fork runs.
    drop = ("MLFLOW_", "DVC_", "GIT_", "MAKE", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(path / "src")
    env.update(
        GIT_AUTHOR_NAME="fork",
        GIT_AUTHOR_EMAIL="fork@example.com",
        GIT_COMMITTER_NAME="fork",
        GIT_COMMITTER_EMAIL="fork@example.com",
    )
    return env


def new_fork(path: Path) -> Workspace:
    """The template's files in a new git repository at `path`, committed, nothing run yet."""
    path.mkdir()
    copy_project(path)
    workspace = Workspace(path, fork_env(path))
    workspace.git("init", "-q", "-b", "main")
    workspace.commit("Use this template")
    return workspace


def warmed(workspace: Workspace, warm: dict[str, str]) -> Workspace:
    """`workspace` with its stages started by the warm server."""
    workspace.env["PATH"] = warm["PATH"] + workspace.env["PATH"]
    workspace.env[SOCKET_ENV] = warm[SOCKET_ENV]
    return workspace


@pytest.fixture(scope="module")
def fork(tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]) -> Workspace:
    """A fresh fork: the template's files in a new git repository, nothing run yet."""
    return warmed(new_fork(tmp_path_factory.mktemp("fork") / "repo"), warm_python)
