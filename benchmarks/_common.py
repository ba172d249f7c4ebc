"""Helpers shared by the benchmark scripts: fresh clones, wall-clock timing, resampled data."""

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

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"


def clone(dest_parent: Path, name: str = "clone", ref: str | None = None) -> Path:
    """A fresh clone of the committed HEAD (or `ref`), as a user would get it."""
    dest = dest_parent / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    if ref is not None:
        subprocess.run(["git", "checkout", "-q", ref], cwd=dest, check=True)
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


def resample(frame: pd.DataFrame, scale: int, id_column: str | None, seed: int = 0) -> pd.DataFrame:
    """`scale` times the rows, drawn with replacement; fresh ids keep the contract's uniqueness
    rule passing, as a real extract's would."""
    if scale == 1:
        return frame
    rows = np.random.default_rng(seed).integers(0, len(frame), len(frame) * scale)
    out = frame.iloc[rows].reset_index(drop=True)
    if id_column is not None:
        out[id_column] = np.arange(1, len(out) + 1)
    return out
