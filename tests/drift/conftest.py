"""One private copy of the session's trained fork (tests/trained.py), shared by this folder's
journey: batches arrive, are checked for drift, and retrain the model through `make`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Workspace, warmed
from tests.e2e.warm_client import venv_of
from tests.in_process import run_main
from tests.trained import private_copy

ENV_DIR = Path(sys.executable).parents[1]
# This checkout's uv, so `make` in the copy does not install its own into the copy's .tools/.
UV = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


@pytest.fixture(scope="module")
def project(
    trained_template: Workspace,
    tmp_path_factory: pytest.TempPathFactory,
    warm_python: dict[str, str],
) -> Workspace:
    return warmed(
        private_copy(trained_template, tmp_path_factory.mktemp("ct") / "repo"), warm_python
    )


def make(
    workspace: Workspace, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`make` in the copy, with this environment (as CI's VENV does; its warm shape if the copy
    is `warmed`); output kept, not checked."""
    return subprocess.run(
        ["make", "--no-print-directory", *args, f"VENV={venv_of(workspace.env)}", f"UV={UV}"],
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
    """A command's `main(argv)` in the copy, for the steps about what a command decides (each
    command still runs once through `make` in a test here): tests/in_process.py."""
    return run_main(
        main, argv, cwd=workspace.path, capsys=capsys, env=env, tracking_uri=workspace.tracking_uri
    )
