"""Team servers that fail: wrong credentials, a server that is down or killed while `track`
logs, and two promotes at once. Each failure is one line naming the server, and the registry
keeps its state: no run left RUNNING once the server is back, no alias moved. Last, `make
team-down` stops everything, the server restarted after the kill too.

A server is killed here, so the module has a team of its own, not the session's shared one."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tabular_mlops.team.processes import port_answers, session_id
from tests.e2e.warm_client import python_of
from tests.team.conftest import Clone, new_clone
from tests.team_servers import RunningTeam, client_credentials, running_team, team_command
from tests.workflows.conftest import set_param


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTeam]:
    with running_team(tmp_path_factory.mktemp("team")) as running, client_credentials(running):
        yield running


@pytest.fixture(scope="module")
def clone(
    team: RunningTeam, tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]
) -> Clone:
    """A clone whose model is registered on the team server and is its champion."""
    name = f"faults-{uuid.uuid4().hex[:8]}"
    made = new_clone(tmp_path_factory.mktemp("c") / "repo", team, name, warm_python)
    made.commit("Use this template")
    made.make("repro")
    made.make("promote")
    return made


def registry(team: RunningTeam, name: str) -> dict[str, Any]:
    client = team.client()
    model = client.get_registered_model(name)
    [experiment] = [e for e in client.search_experiments() if e.name == name]
    runs = client.search_runs([experiment.experiment_id], run_view_type=3)
    return {
        "aliases": dict(model.aliases),
        "versions": sorted(v.version for v in client.search_model_versions(f"name = '{name}'")),
        "runs": sorted((r.info.run_id, r.info.status) for r in runs),
    }


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line and not line.startswith("make")]


def with_env(clone: Clone, **env: str) -> Clone:
    return dataclasses.replace(clone, env=clone.env | env)


def kill_mlflow(team: RunningTeam) -> None:
    os.killpg(team.pid("mlflow"), signal.SIGKILL)


def test_a_wrong_password_is_one_line_for_promote_and_serve_and_changes_nothing(
    clone: Clone, team: RunningTeam
) -> None:
    name = clone.params.track.registered_model
    before = registry(team, name)

    wrong = with_env(clone, MLFLOW_TRACKING_PASSWORD="wrong")

    promoted = wrong.make("promote", check=False)
    served = wrong.run(
        python_of(wrong.env), "-m", "tabular_mlops.serving.app", "--port", "0", check=False
    )

    for done in (promoted, served):
        assert done.returncode == 2
        [line] = error_lines(done)
        assert (
            f"registry {team.env['MLFLOW_TRACKING_URI']}: the server refused the credentials"
            in line
        )
    assert registry(team, name) == before


def test_a_server_killed_while_track_logs_and_down_for_promote_leaves_nothing_half_written(
    clone: Clone, team: RunningTeam
) -> None:
    name = clone.params.track.registered_model
    before = registry(team, name)
    client = team.client()
    [experiment] = [e for e in client.search_experiments() if e.name == name]
    track = subprocess.Popen(
        [python_of(clone.env), "-m", "tabular_mlops.stages.track"],
        cwd=clone.path,
        env=clone.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'"):
            assert track.poll() is None and time.monotonic() < deadline, track.communicate()
            time.sleep(0.05)
        kill_mlflow(team)
        _, stderr = track.communicate(timeout=120)
        while_down = clone.make("promote", check=False)
    finally:
        team.up()

    assert track.returncode == 2
    [line] = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert team.env["MLFLOW_TRACKING_URI"] in line
    assert while_down.returncode == 2
    [line] = error_lines(while_down)
    assert (
        f"registry {team.env['MLFLOW_TRACKING_URI']}: the tracking server does not answer" in line
    )
    after_kill = registry(team, name)
    assert after_kill["aliases"] == before["aliases"]
    [(killed_run, status)] = set(after_kill["runs"]) - set(before["runs"])
    assert status == "RUNNING"

    repaired = clone.make("promote").stdout

    assert "is gone" in repaired  # the lock the killed track held
    assert "repaired the registry" in repaired
    after = registry(team, name)
    assert after["aliases"] == before["aliases"]
    assert after["versions"] == before["versions"]
    assert (killed_run, "FAILED") in after["runs"]


def test_two_promotes_at_once_make_one_decision(
    clone: Clone, team: RunningTeam, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two clones of one fork, on a registered model with a challenger and no champion yet: each
    would bootstrap it alone. (The model is a copy of the clone's version: training or tracking
    again would only add time.)"""
    race = f"race-{uuid.uuid4().hex[:8]}"
    client = team.client()
    source = clone.run_info()
    copied = client.copy_model_version(
        f"models:/{source['registered_model']}/{source['model_version']}", race
    )
    client.set_registered_model_alias(race, "challenger", copied.version)
    clones = []
    for index in range(2):
        path = tmp_path_factory.mktemp(f"race{index}") / "repo"
        shutil.copytree(clone.path, path)
        set_param(path / "params.yaml", "track", "registered_model", race)
        clones.append(with_env(dataclasses.replace(clone, path=path), PYTHONPATH=str(path / "src")))

    racing = [
        subprocess.Popen(
            ["make", "--no-print-directory", "promote", *racer.make_args()],
            cwd=racer.path,
            env=racer.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for racer in clones
    ]
    outputs = [process.communicate(timeout=300)[0] for process in racing]

    assert [process.returncode for process in racing] == [0, 0]
    decisions = sorted(
        line.split(":")[1].strip()
        for out in outputs
        for line in out.splitlines()
        if line.startswith("promote: ")
        and ":" in line[9:]
        and line.split(":")[1].strip() in {"bootstrapped", "promoted", "unchanged"}
    )
    assert decisions == ["bootstrapped", "unchanged"], outputs
    assert dict(client.get_registered_model(race).aliases)["champion"] == copied.version


def test_team_down_leaves_nothing_running(team: RunningTeam) -> None:
    """Last in this module: it stops the module's servers, MLflow's restarted one included (the
    fixture's own `down` then finds nothing to stop)."""
    state = json.loads((team.folder / "state.json").read_text(encoding="utf-8"))
    pids = [team.pid(name) for name in state["services"]]
    sessions = {os.getsid(pid) for pid in pids}
    ports = [service["port"] for service in state["services"].values()]

    said = team_command("down", team.folder)

    assert said.count("team-down: stopped") == 3
    left = [p.pid for p in psutil.process_iter() if p.pid in pids or session_id(p.pid) in sessions]
    assert not [pid for pid in left if _running(pid)]
    assert not any(port_answers(port) for port in ports)
    assert not team.folder.exists()
    assert not Path(state["database_home"]).exists()


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
