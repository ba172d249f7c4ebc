"""Helpers shared by the benchmark scripts: fresh clones and wall-clock timing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"


def clone(dest_parent: Path, name: str = "clone") -> Path:
    """A fresh clone of the committed HEAD, as a user would get it."""
    dest = dest_parent / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    return dest


def link_environment(repo: Path) -> dict[str, str]:
    """Reuse this checkout's installed environment in `repo` ("environment already installed").

    The clone's own src is put first on PYTHONPATH so it runs its own code, not ours.
    """
    (repo / ".venv").symlink_to(VENV)
    return clean_env(repo) | {"PYTHONPATH": str(repo / "src")}


def clean_env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{repo / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return elapsed


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-"))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
