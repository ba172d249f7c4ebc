"""A command's `main(argv)` in the test process, where its `python -m` would run it.

For tests about what a command decides: its imports are paid once per worker, not per call. The
process boundary, the Makefile wiring and kills are tested where each command also runs as a
real process. MLflow keeps state per process (the tracking URI `mlflow.set_tracking_uri` sets,
one database engine per URI text), so the URI is put back after the call, and a test that passes
`tracking_uri` should pass an absolute one: a relative `sqlite:///mlflow.db` would reach the
engine of whichever folder used that text first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

#: Variables of the runner or the developer's shell that `make` in a fresh checkout lacks.
RUNNER_PREFIXES = ("GITHUB_", "MLFLOW_", "DVC_")


def run_main(
    main: Callable[[list[str]], Any],
    argv: Sequence[str],
    *,
    cwd: Path,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str] | None = None,
    tracking_uri: str | None = None,
    drop: tuple[str, ...] = RUNNER_PREFIXES,
) -> subprocess.CompletedProcess[str]:
    """`main(argv)` in `cwd` with `env` and without the variables starting with `drop`: its exit
    code (SystemExit's, 0 when it returns) and what it printed, as a process's would be."""
    from mlflow.tracking._tracking_service import utils

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "_tracking_uri", utils._tracking_uri)
        for key in [key for key in os.environ if key.startswith(drop)]:
            patch.delenv(key)
        if tracking_uri:
            patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        patch.chdir(cwd)
        capsys.readouterr()
        code, message = 0, ""
        try:
            main(list(argv))
        except SystemExit as done:
            if isinstance(done.code, int) or done.code is None:
                code = done.code or 0
            else:
                code, message = 1, f"{done.code}\n"
        said = capsys.readouterr()
    return subprocess.CompletedProcess(["main", *argv], code, said.out, said.err + message)
