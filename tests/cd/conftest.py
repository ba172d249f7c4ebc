"""Trained copies of the project for the delivery tests.

Each module gets a copy of the session's trained fork (tests/trained.py: its first training and
dvc.lock committed, as a merged pull request leaves it) without its registry (`project`), and
`registered` is that copy after `make register`, so a module that needs a registry version has
one, registered as deploy registers it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tabular_mlops.core.params import Params, load_params
from tests.drift.conftest import make
from tests.e2e.conftest import Workspace, warmed
from tests.trained import private_copy

__all__ = ["Workspace", "clone", "make", "outputs", "params_of", "registry_client"]


def params_of(workspace: Workspace) -> Params:
    return load_params(workspace.path / "params.yaml")


def clone(source: Workspace, dest: Path) -> Workspace:
    """A copy of `source` at `dest`: its git history, files, DVC cache and registry."""
    return private_copy(source, dest)


def registry_client(workspace: Workspace) -> Any:
    """An MLflow client on the copy's own store (mlflow.db beside its dvc.yaml)."""
    from mlflow import MlflowClient

    return MlflowClient(workspace.tracking_uri)


def outputs(path: Path) -> dict[str, str]:
    """The `key=value` step outputs a command appended to a GITHUB_OUTPUT file."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def without_registry(workspace: Workspace) -> None:
    """Drop the MLflow store the pipeline's track stage filled: a copied store would name the
    template's artifact folder."""
    (workspace.path / "mlflow.db").unlink(missing_ok=True)
    (workspace.path / "mlflow.db.lock").unlink(missing_ok=True)
    shutil.rmtree(workspace.path / "mlruns", ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow calls in the test process never reach the checkout's own mlflow.db (an MLflow
    client resolves some lookups through the default store, not its own)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture(scope="module")
def project(
    trained_template: Workspace,
    tmp_path_factory: pytest.TempPathFactory,
    warm_python: dict[str, str],
) -> Workspace:
    workspace = warmed(clone(trained_template, tmp_path_factory.mktemp("cd") / "repo"), warm_python)
    without_registry(workspace)
    return workspace


@pytest.fixture(scope="module")
def registered(project: Workspace) -> Workspace:
    """The module's copy after `make register`: its model is a version of the registry."""
    done = make(project, "register")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "registered now" in done.stdout, done.stdout
    return project


@pytest.fixture
def run_info(registered: Workspace) -> dict[str, Any]:
    params = params_of(registered)
    return json.loads((registered.path / params.paths.run_info).read_text(encoding="utf-8"))


def git_status(workspace: Workspace) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=workspace.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
