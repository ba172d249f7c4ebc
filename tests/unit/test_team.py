"""The stand-in team's bookkeeping: its env file, its state, and stopping only its own processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.team import cli, postgres
from tabular_mlops.team.processes import Started, identify, stop
from tabular_mlops.team.state import Service, Team, read_env_file, write_env_file


def test_the_env_file_is_private_and_sourced_back_to_the_same_values(tmp_path: Path) -> None:
    values = {"A": "plain", "B": "with space and 'quote' and $dollar", "C": "x=y/z+="}
    path = tmp_path / ".team.env"

    write_env_file(path, values)
    sourced = subprocess.run(
        ["bash", "-c", f'source {path} && printf \'%s\\n\' "$A" "$B" "$C"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()

    assert read_env_file(path) == values
    assert sourced == list(values.values())
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_state_survives_a_save_and_load(tmp_path: Path) -> None:
    team = Team(tmp_path / "team", tmp_path / "db", services={"s3": Service(1234, 5, 6.0)})
    team.save()

    loaded = Team.load(tmp_path / "team")

    assert loaded == team
    assert (tmp_path / "team" / "state.json").stat().st_mode & 0o777 == 0o600


def sleep(**options: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **options)


@pytest.fixture
def sleeper() -> Iterator[Started]:
    """A server-like process: the leader of a session of its own, with a child in it."""
    process = sleep(start_new_session=True)
    yield identify(process.pid)
    process.kill()
    process.wait()


def test_stopping_a_process_that_leads_no_session_spares_its_session() -> None:
    neighbour, target = sleep(), sleep()
    try:
        assert stop(identify(target.pid), grace=5)
        target.wait(timeout=5)
        assert neighbour.poll() is None
    finally:
        for process in (neighbour, target):
            process.kill()
            process.wait()


def test_a_reused_pid_is_not_stopped(sleeper: Started) -> None:
    someone_else = Started(sleeper.pid, sleeper.started - 3600)

    assert not someone_else.alive()
    assert stop(someone_else) is False
    assert sleeper.alive()


def test_a_started_process_is_stopped_with_its_session(sleeper: Started) -> None:
    assert stop(sleeper, grace=5)
    deadline = time.monotonic() + 5
    while sleeper.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sleeper.alive()


def test_down_without_a_team_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_DIR", str(tmp_path / "none"))

    [line] = cli.down(tmp_path / ".team.env")

    assert "nothing to stop" in line


def test_down_keeps_an_env_file_that_names_another_team(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_DIR", str(tmp_path / "team"))
    team = Team(
        tmp_path / "team", tmp_path / "db", services={"mlflow": Service(1), "s3": Service(2)}
    )
    team.save()
    env_file = tmp_path / ".team.env"
    write_env_file(env_file, {"MLFLOW_TRACKING_URI": "https://mlflow.example.com"})

    cli.down(env_file)

    assert env_file.exists()
    assert not (tmp_path / "team").exists()


@pytest.mark.parametrize("text", ["{not json", '{"services": 3}', "[]"])
def test_a_damaged_state_file_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "state.json").write_text(text)
    monkeypatch.setenv("TEAM_DIR", str(tmp_path / "team"))

    with pytest.raises(PipelineError, match=r"state\.json: not a state team-up wrote"):
        cli.status()


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-5"])
def test_a_bad_port_variable_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TEAM_DIR", str(tmp_path / "team"))
    monkeypatch.setenv("TEAM_MLFLOW_PORT", value)

    with pytest.raises(PipelineError, match=rf"TEAM_MLFLOW_PORT='{value}': not a port number"):
        cli.up(tmp_path / ".team.env")

    assert not (tmp_path / ".team.env").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the database user is chosen only under root")
def test_a_database_user_that_cannot_be_created_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEAM_PG_USER", "not a valid name!")

    with pytest.raises(PipelineError, match=r"TEAM_PG_USER='not a valid name!': cannot create"):
        postgres.owner()
