"""The loopback team servers (`make team-up`) for tests: started once, always stopped.

The servers are started by the same command a user runs, with their state in the test's own
folder (TEAM_DIR), so nothing touches a team the developer may have running. Modules that only
use the servers share one team per test session (`shared_team`): the first xdist worker that asks
starts it, and the last module that uses it stops it. Each module gets its own DVC remote folder
in the shared bucket and registers models of its own name, so what one pushes or logs is not
what another finds. A test that kills or stops a server has a team of its own (`running_team`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tabular_mlops.team.state import read_env_file
from tests.trained import shared_base

ROOT = Path(__file__).resolve().parents[1]
CLIENT_PREFIXES = ("MLFLOW_", "AWS_", "DVC_REMOTE", "TEAM_")
MLFLOW_CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
SHARED = "shared-team"


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


@contextmanager
def client_credentials(team: RunningTeam) -> Iterator[RunningTeam]:
    """The team's MLflow credentials in this process's environment, where MLflow reads them."""
    with pytest.MonkeyPatch.context() as patch:
        for key in MLFLOW_CREDENTIALS:
            patch.setenv(key, team.env[key])
        yield team


@dataclass(frozen=True)
class Lease:
    """The session's shared team, in the folder every worker sees; `done` lists the modules that
    finished with it, `users` the modules of this session that ask for it."""

    base: Path
    users: frozenset[str]

    @property
    def folder(self) -> Path:
        return self.base / SHARED / "team"

    def acquire(self) -> RunningTeam:
        with FileLock(self.base / f"{SHARED}.lock"):
            if not (self.base / f"{SHARED}.ready").exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                try:
                    team_command("up", self.folder)
                except BaseException:
                    team_command("down", self.folder)
                    raise
                (self.base / f"{SHARED}.ready").touch()
        return RunningTeam(self.folder, read_env_file(self.folder.parent / "team.env"))

    def release(self, module: str) -> None:
        """`module` is done with the team: the last of the users stops it."""
        with FileLock(self.base / f"{SHARED}.lock"):
            done = self.base / f"{SHARED}.done"
            with done.open("a", encoding="utf-8") as listed:
                listed.write(f"{module}\n")
            if self.users <= set(done.read_text(encoding="utf-8").split()):
                self._stop()

    def join(self) -> None:
        """This worker may use the team: counted, so the last worker to leave stops it."""
        self._count_workers(+1)

    def leave(self) -> None:
        """This worker's session ended (finished, failed, interrupted): the last one out stops
        the team, whether or not every user module got to release it."""
        self._count_workers(-1)

    def _count_workers(self, change: int) -> None:
        with FileLock(self.base / f"{SHARED}.lock"):
            workers = self.base / f"{SHARED}.workers"
            count = int(workers.read_text(encoding="utf-8")) if workers.exists() else 0
            workers.write_text(str(count + change), encoding="utf-8")
            if count + change == 0:
                self._stop()

    def _stop(self) -> None:
        ready = self.base / f"{SHARED}.ready"
        if ready.exists():
            ready.unlink()
            team_command("down", self.folder)


@pytest.fixture(scope="session")
def shared_team(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lease]:
    """The session's team, for modules that only use it (through `team`). Should the sessions
    end before every user module released it (interrupted, -x, a module's tests all skipped), the
    last worker to end stops it here."""
    users = {
        item.nodeid.split("::")[0]
        for item in request.session.items
        if "shared_team" in item.fixturenames
    }
    lease = Lease(shared_base(tmp_path_factory), frozenset(users))
    lease.join()
    try:
        yield lease
    finally:
        lease.leave()


@pytest.fixture(scope="module")
def team(shared_team: Lease, request: pytest.FixtureRequest) -> Iterator[RunningTeam]:
    """The shared team as this module sees it: its own DVC remote folder, the MLflow
    credentials in the environment."""
    module = request.node.nodeid
    try:
        running = shared_team.acquire()
        remote = f"{running.env['DVC_REMOTE_URL']}-{uuid.uuid4().hex[:8]}"
        own = replace(running, env=running.env | {"DVC_REMOTE_URL": remote})
        with client_credentials(own):
            yield own
    finally:
        shared_team.release(module)
