"""Team servers that fail: wrong credentials, a server that is down or killed while `track`
logs, and two promotes at once. Each failure is one line naming the server, and the registry
keeps its state: no run left RUNNING once the server is back, no alias moved."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from tests.team.conftest import Clone, new_clone
from tests.team_servers import RunningTeam


@pytest.fixture(scope="module")
def clone(team: RunningTeam, tmp_path_factory: pytest.TempPathFactory) -> Clone:
    """A clone whose model is registered on the team server and is its champion."""
    made = new_clone(tmp_path_factory.mktemp("c") / "repo", team, f"faults-{uuid.uuid4().hex[:8]}")
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
        sys.executable, "-m", "tabular_mlops.serving.app", "--port", "0", check=False
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
        [sys.executable, "-m", "tabular_mlops.stages.track"],
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
    team: RunningTeam, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = new_clone(tmp_path_factory.mktemp("r") / "repo", team, f"race-{uuid.uuid4().hex[:8]}")
    first.make("repro")
    second = dataclasses.replace(first, path=tmp_path_factory.mktemp("r2") / "repo")
    shutil.copytree(first.path, second.path)
    second.env = second.env | {"PYTHONPATH": str(second.path / "src")}

    racing = [
        subprocess.Popen(
            ["make", "--no-print-directory", "promote", *clone.make_args()],
            cwd=clone.path,
            env=clone.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone in (first, second)
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
    model = team.client().get_registered_model(first.params.track.registered_model)
    assert dict(model.aliases)["champion"] == first.run_info()["model_version"]
