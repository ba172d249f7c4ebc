"""One private copy of the session's trained fork (tests/trained.py), shared by this folder's
journey: batches arrive, are checked for drift, and retrain the model through `make`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Workspace
from tests.trained import private_copy

ENV_DIR = Path(sys.executable).parents[1]
# This checkout's uv, so `make` in the copy does not install its own into the copy's .tools/.
UV = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


@pytest.fixture(scope="module")
def project(trained_template: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return private_copy(trained_template, tmp_path_factory.mktemp("ct") / "repo")


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


def in_process(
    workspace: Workspace,
    main: Callable[[list[str]], None],
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """A command's `main(argv)` in this process, in the copy, without the runner's GITHUB_,
    MLFLOW_ and DVC_ variables (as `make` has it): for the steps about what a command decides,
    each command still run once through `make` by a test here. Exit code and output kept."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [key for key in os.environ if key.startswith(("GITHUB_", "MLFLOW_", "DVC_"))]:
            patch.delenv(key)
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        patch.chdir(workspace.path)
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)
