"""Real temporary git + DVC repositories with a base commit and a pull-request commit.

The pipeline is not run: metrics, plots and data are written as a pipeline run would leave them,
so each case (changed params, changed data, added metric, no base metrics, shallow clone) is
built in a second and compared with DVC's real diff machinery.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tabular_mlops.core.params import Params
from tabular_mlops.reporting import pr_report
from tests.in_process import run_main
from tests.support import write_sample

ROOT = Path(__file__).resolve().parents[2]
BASE_ROWS = 100
BIN = Path(sys.executable).parent


def git(cwd: Path, *args: str) -> str:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def base_metrics(roc_auc: float = 0.84, **extra: float) -> dict[str, Any]:
    return {
        "roc_auc": roc_auc,
        "pr_auc": 0.65,
        "f1": 0.63,
        "log_loss": 0.48,
        "brier": 0.161,
        "baseline": {"roc_auc": 0.5},
        **extra,
    }


def roc(points: int = 5, lift: float = 0.0) -> list[dict[str, float]]:
    return [
        {"fpr": i / (points - 1), "tpr": min(1.0, (i / (points - 1)) ** 0.5 + lift)}
        for i in range(points)
    ]


class PullRequestRepo:
    """A repository whose `main` is the base and whose working branch `pr` is the head; `raw` is
    its data file, at the path params.yaml names."""

    def __init__(self, path: Path, raw: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.path = path
        self.raw = raw
        self.capsys = capsys

    def write(self, name: str, content: Any) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_text(json.dumps(content, indent=1), encoding="utf-8")

    def set_param(self, section: str, key: str, value: Any) -> None:
        path = self.path / "params.yaml"
        raw = yaml.safe_load(path.read_text())
        raw[section][key] = value
        path.write_text(yaml.safe_dump(raw, sort_keys=False))

    def commit(self, message: str) -> None:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-qm", message)

    def report(
        self, *args: str, env: dict[str, str] | None = None, process: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`make report`'s command in this repository, without the runner's GITHUB_ variables:
        its `main` in this process (the report's inputs are what these tests vary; dvc is
        imported once, not per report), or with `process` a real `python -m`, exit code and all."""
        argv = ["--out", "reports/pr-report.md", *args]
        run_env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
        if not process:
            return run_main(
                pr_report.main,
                argv,
                cwd=self.path,
                capsys=self.capsys,
                env=run_env,
                drop=("GITHUB_",),
            )
        keep = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        command = [sys.executable, "-m", "tabular_mlops.reporting.pr_report", *argv]
        return subprocess.run(
            command, cwd=self.path, env=keep | run_env, capture_output=True, text=True, timeout=120
        )

    @property
    def markdown(self) -> str:
        return (self.path / "reports/pr-report.md").read_text(encoding="utf-8")


def table_row(markdown: str, first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is `first_cell`."""
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{markdown}")


@pytest.fixture
def pr_repo(tmp_path: Path, params: Params, capsys: pytest.CaptureFixture[str]) -> PullRequestRepo:
    """Base commit on `main`: params, a sample of the configured data, metrics and plots; then
    branch `pr`."""
    path = tmp_path / "repo"
    path.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy2(ROOT / name, path / name)
    shutil.copytree(ROOT / ".dvc", path / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    raw = path / params.paths.raw
    raw.parent.mkdir(parents=True)
    write_sample(params, ROOT, raw, rows=BASE_ROWS)
    repo = PullRequestRepo(path, params.paths.raw, capsys)
    gated(repo)
    repo.write("metrics/metrics.json", base_metrics())
    repo.write("plots/roc.json", roc())
    repo.write(
        "reports/validation.json", {"success": True, "evaluated": 40, "passed": 40, "failed": 0}
    )
    git(path, "init", "-q", "-b", "main")
    repo.commit("base")
    git(path, "checkout", "-q", "-b", "pr")
    return repo


def gated(repo: PullRequestRepo) -> None:
    """Give params.yaml the gate rules the report applies (shared with promotion)."""
    path = repo.path / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["gates"] = {
        "metrics": {
            "roc_auc": {
                "direction": "higher",
                "floor": 0.75,
                "abs_tolerance": 0.01,
                "rel_tolerance": 0.0,
            },
            "log_loss": {
                "direction": "lower",
                "floor": 0.6,
                "abs_tolerance": 0.02,
                "rel_tolerance": 0.0,
            },
        }
    }
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
