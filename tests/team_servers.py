"""The loopback team servers (`make team-up`) for a test module: started once, always stopped.

The servers are started by the same command a user runs, with their state in the test's own
folder (TEAM_DIR), so nothing touches a team the developer may have running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabular_mlops.team.state import read_env_file

ROOT = Path(__file__).resolve().parents[1]
CLIENT_PREFIXES = ("MLFLOW_", "AWS_", "DVC_REMOTE", "TEAM_")


@dataclass(frozen=True)
class RunningTeam:
    folder: Path
    env: dict[str, str]

    def pid(self, service: str) -> int:
        state = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        return int(state["services"][service]["pid"])

    def up(self) -> str:
        return team_command("up", self.folder)

    def client(self) -> Any:
        """A client of the team's server; the module's fixture puts the credentials in the
        environment, where MLflow reads them."""
        from mlflow import MlflowClient

        return MlflowClient(self.env["MLFLOW_TRACKING_URI"])


def team_command(command: str, folder: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_PREFIXES)}
    env |= {"TEAM_DIR": str(folder), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tabular_mlops.team",
            command,
            "--env-file",
            str(folder.parent / "team.env"),
        ],
        cwd=folder.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"team {command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def running_team(base: Path) -> Iterator[RunningTeam]:
    folder = base / "team"
    try:
        team_command("up", folder)
        yield RunningTeam(folder, read_env_file(base / "team.env"))
    finally:
        team_command("down", folder)
