"""`make team-up`, `team-down` and `team-status`: the loopback stand-in of a team's stores.

team-up is idempotent: what runs is left alone, what died is started again on its old port, so
`.team.env` stays valid. team-down stops only the processes team-up recorded (pid and start
time) and removes the stand-in's state: moto keeps objects in memory only, so a database kept
without them would name artifacts that no longer exist.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.team import objectstore, postgres, tracking
from tabular_mlops.team.processes import Started, free_port, port_answers, stop_all
from tabular_mlops.team.processes import stop as stop_process
from tabular_mlops.team.state import (
    ENV_FILE,
    Service,
    Team,
    database_home,
    team_dir,
    write_env_file,
)

SERVICES = ("postgres", "s3", "mlflow")
PORT_VARIABLES = {"postgres": "TEAM_PG_PORT", "s3": "TEAM_S3_PORT", "mlflow": "TEAM_MLFLOW_PORT"}
#: A client's variables (a sourced .team.env) must not reach the servers themselves.
CLIENT_PREFIXES = ("MLFLOW_", "AWS_", "DVC_REMOTE")


def process(service: Service) -> Started | None:
    if service.pid is None or service.started is None:
        return None
    return Started(service.pid, service.started)


def running(team: Team, name: str) -> bool:
    service = team.services.get(name)
    started = process(service) if service else None
    return started is not None and started.alive() and port_answers(service.port)


def server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_PREFIXES)}


def up(env_file: Path) -> Team:
    folder = team_dir()
    team = Team.load(folder) or Team(folder, database_home(folder))
    for name in SERVICES:
        if name not in team.services:
            team.services[name] = Service(port=_port(PORT_VARIABLES[name]))
    team.save()
    env = server_env()
    if not running(team, "postgres"):
        _record(team, "postgres", postgres.start(team))
        print(f"team-up: PostgreSQL started on 127.0.0.1:{team.services['postgres'].port}")
    postgres.create_databases(team)
    fresh_store = not running(team, "s3")
    if fresh_store:
        if team.s3_key_id:
            print("team-up: the object store had stopped: started empty (moto keeps no files)")
        _record(team, "s3", objectstore.start(team, env))
        print(f"team-up: object store started on {team.s3_endpoint()}")
    if fresh_store and running(team, "mlflow"):
        stop_process(process(team.services["mlflow"]))  # it holds the old store's key
    if not running(team, "mlflow"):
        _record(team, "mlflow", tracking.start(team, env))
        print(f"team-up: MLflow server started on {team.mlflow_uri()}")
    write_env_file(env_file, team.client_env())
    return team


def _port(variable: str) -> int:
    chosen = os.environ.get(variable, "").strip()
    if not chosen:
        return free_port()
    if not chosen.isdigit() or not 0 < int(chosen) < 65536:
        raise PipelineError(f"{variable}={chosen!r}: not a port number (1-65535)")
    return int(chosen)


def _record(team: Team, name: str, started: Started) -> None:
    service = team.services[name]
    service.pid, service.started = started.pid, started.started
    team.save()


def down(env_file: Path) -> list[str]:
    folder = team_dir()
    team = Team.load(folder)
    if team is None:
        return [f"team-down: nothing to stop ({folder / 'state.json'} does not exist)"]
    found = {name: process(team.services[name]) for name in SERVICES if name in team.services}
    alive = {name: p for name, p in found.items() if p is not None and p.alive()}
    said = [f"team-down: {name} was not running" for name in SERVICES if name not in alive]
    servers = [alive[name] for name in ("mlflow", "s3") if name in alive]
    stop_all(servers)
    if "postgres" in alive:
        try:
            postgres.stop(team)
        except PipelineError:
            stop_all([alive["postgres"]])
    said += [f"team-down: stopped {name} (pid {p.pid})" for name, p in alive.items()]
    _remove_env_file(env_file, team)
    shutil.rmtree(team.database_home, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    return said


def _remove_env_file(env_file: Path, team: Team) -> None:
    """Only a .team.env that names this stand-in: never a file pointing at a real team's stores."""
    try:
        if f"MLFLOW_TRACKING_URI={team.mlflow_uri()}" in env_file.read_text(encoding="utf-8"):
            env_file.unlink()
    except FileNotFoundError:
        pass


def status() -> list[str]:
    folder = team_dir()
    team = Team.load(folder)
    if team is None:
        return ["team-status: not started (run `make team-up`)"]
    where = {
        "postgres": lambda: f"127.0.0.1:{team.services['postgres'].port}",
        "s3": team.s3_endpoint,
        "mlflow": team.mlflow_uri,
    }
    lines = []
    for name in SERVICES:
        state = "running" if running(team, name) else "stopped"
        pid = team.services[name].pid
        lines.append(f"team-status: {name:<8} {state:<7} {where[name]()}  pid {pid}")
    return lines


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--env-file", default=ENV_FILE, type=Path)
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.env_file)
        print("\n".join(status()))
        print(f"team-up: wrote {args.env_file}; load it with: source {args.env_file}")
    elif args.command == "down":
        print("\n".join(down(args.env_file)))
    else:
        print("\n".join(status()))
