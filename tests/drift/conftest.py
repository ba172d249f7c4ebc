"""One private copy of the project, trained once with `dvc repro`, shared by this folder's
journey: batches arrive, are checked for drift, and retrain the model through `make`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Workspace, new_fork

ENV_DIR = Path(sys.executable).parents[1]
# This checkout's uv, so `make` in the copy does not install its own into the copy's .tools/.
UV = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    workspace = new_fork(tmp_path_factory.mktemp("ct") / "repo")
    workspace.dvc("repro")
    workspace.commit("First training")
    return workspace


def make(
    workspace: Workspace, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`make` in the copy, with this environment (as CI's VENV does); output kept, not checked."""
    return subprocess.run(
        ["make", "--no-print-directory", *args, f"VENV={ENV_DIR}", f"UV={UV}"],
        cwd=workspace.path,
        env={**workspace.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
