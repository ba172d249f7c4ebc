"""`make doctor` and the DVC remote wrapper against a real loopback team (`make team-up`).

The servers are the session's shared team (tests/team_servers.py), with a DVC remote folder of
this module's own; nothing here stops or changes them. The doctor runs in copies of the project's
settings (params.yaml, the workflows) with a DVC project of their own, so a developer's
.dvc/config.local or mlflow.db cannot change what it reports. The scenarios run side by side.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.warm_client import SOCKET_ENV, python_of
from tests.team_servers import RunningTeam

ROOT = Path(__file__).resolve().parents[2]
CLIENT_PREFIXES = ("MLFLOW_", "AWS_", "DVC_REMOTE", "TEAM_", "DOCTOR_")
STATUSES = {"OK", "not set", "FAIL", "skipped"}
PARTS = ("MLflow tracking", "model registry", "DVC remote")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_PREFIXES)}
    return env | {"PYTHONPATH": str(ROOT / "src")}


def without(env: dict[str, str], *prefixes: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(prefixes)}


def new_project(folder: Path) -> Path:
    """The project's settings and a DVC project with one tracked file, nothing else (made with
    DVC's API: how it is made is not what these tests check)."""
    from dvc.repo import Repo

    folder.mkdir()
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    shutil.copytree(ROOT / ".github/workflows", folder / ".github/workflows")
    (folder / "probe.txt").write_text("tracked by DVC\n", encoding="utf-8")
    with Repo.init(folder, no_scm=True) as repo:
        repo.add(str(folder / "probe.txt"))
    return folder


def command(
    module: str, args: list[str], cwd: Path, env: dict[str, str], warm: dict[str, str]
) -> Any:
    """`python -m module` in `cwd`, started by the session's warm server (tests/e2e/warm.py):
    what is checked is what the command reports, not its imports."""
    full = clean_env() | env | {SOCKET_ENV: warm[SOCKET_ENV]}
    full["PATH"] = warm["PATH"] + full["PATH"]
    return subprocess.run(
        [python_of(full), "-m", module, *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
    )


@dataclass(frozen=True)
class Report:
    """What `make doctor` said: its exit code, each part's line, its summary."""

    code: int
    parts: dict[str, str]
    summary: str
    stderr: str


def doctor(project: Path, env: dict[str, str], warm: dict[str, str]) -> Report:
    done = command("tabular_mlops.team.doctor", [], project, {"DOCTOR_TIMEOUT": "60"} | env, warm)
    lines = done.stdout.splitlines()
    parts = {line[9:25].strip(): line for line in lines if line[:8].strip() in STATUSES}
    return Report(done.returncode, parts, lines[-1] if lines else "", done.stderr)


@dataclass(frozen=True)
class Team:
    folder: Path
    env: dict[str, str]
    project: Path
    warm: dict[str, str]


@pytest.fixture(scope="module")
def servers(
    team: RunningTeam, tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]
) -> Team:
    project = new_project(tmp_path_factory.mktemp("doctor") / "project")
    return Team(team.folder, team.env, project, warm_python)


@pytest.fixture(scope="module")
def seen(servers: Team, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The scenarios, side by side."""
    env, project, warm = servers.env, servers.project, servers.warm
    pusher = new_project(tmp_path_factory.mktemp("doctor-push") / "project")

    def pushes() -> list[Any]:
        dvc_env = without(env, "MLFLOW_")
        module = "tabular_mlops.team.remote"
        wrong_key = dvc_env | {"AWS_SECRET_ACCESS_KEY": "wrong"}
        wrong = command(module, ["push"], pusher, wrong_key, warm)
        return [wrong, command(module, ["push"], pusher, dvc_env, warm)]

    wrong = {"MLFLOW_TRACKING_PASSWORD": "wrong", "AWS_SECRET_ACCESS_KEY": "wrong"}
    scenarios: dict[str, Callable[[], Any]] = {
        "unset": lambda: doctor(project, {}, warm),
        "healthy": lambda: doctor(project, env, warm),
        "wrong credentials": lambda: doctor(project, env | wrong, warm),
        "push": pushes,
    }
    with ThreadPoolExecutor(len(scenarios)) as pool:
        futures = {name: pool.submit(call) for name, call in scenarios.items()}
        return {name: future.result() for name, future in futures.items()}


def probes_left(env: dict[str, str]) -> list[str]:
    """Registered models and objects named like the doctor's write probes."""
    import boto3
    from mlflow import MlflowClient

    names = [m.name for m in MlflowClient(env["MLFLOW_TRACKING_URI"]).search_registered_models()]
    bucket = env["DVC_REMOTE_URL"].removeprefix("s3://").split("/", 1)[0]
    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [name for name in [*names, *keys] if "doctor" in name]


def test_every_part_is_green_with_the_team_variables(servers, seen, monkeypatch) -> None:
    report, env = seen["healthy"], servers.env
    assert (report.code, report.stderr) == (0, ""), report
    assert all(report.parts[part].startswith("OK ") for part in PARTS), report.parts
    assert env["MLFLOW_TRACKING_URI"] in report.parts["MLflow tracking"]
    assert env["DVC_REMOTE_URL"] in report.parts["DVC remote"]
    assert report.summary.startswith("doctor: 3 OK, 0 not set, 0 FAIL")
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(key, env[key])
    assert probes_left(env) == []
    assert not (servers.project / ".dvc/config.local").exists()


def test_nothing_set_is_fine(seen) -> None:
    report = seen["unset"]
    assert report.code == 0, report
    assert all(report.parts[part].startswith("not set ") for part in PARTS), report.parts
    assert report.summary.startswith("doctor: 0 OK, 3 not set, 0 FAIL")


def test_a_wrong_mlflow_password_fails_naming_the_variables(servers, seen) -> None:
    report = seen["wrong credentials"]
    assert report.code == 1, report
    line = report.parts["MLflow tracking"]
    assert line.startswith("FAIL ") and servers.env["MLFLOW_TRACKING_URI"] in line
    assert "refused the credentials" in line and "MLFLOW_TRACKING_PASSWORD" in line
    assert report.parts["model registry"].startswith("skipped ")


def test_a_wrong_s3_secret_fails_naming_the_variables(servers, seen) -> None:
    report = seen["wrong credentials"]
    line = report.parts["DVC remote"]
    assert line.startswith("FAIL ") and servers.env["DVC_REMOTE_URL"] in line
    assert "refused the credentials" in line and "AWS_SECRET_ACCESS_KEY" in line
    assert report.summary.startswith("doctor: 0 OK, 0 not set, 2 FAIL, 1 skipped")


def test_dvc_push_with_a_wrong_key_is_one_line_and_exit_2(servers, seen) -> None:
    wrong, right = seen["push"]
    url = servers.env["DVC_REMOTE_URL"]
    assert wrong.returncode == 2
    assert len(wrong.stderr.splitlines()) == 1, wrong.stderr
    assert wrong.stderr.startswith(f"error: dvc-push: DVC remote {url} refused the credentials")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in wrong.stderr
    assert right.returncode == 0, right.stderr
    assert right.stdout.strip().endswith(f"1 file pushed ({url})")


def test_an_mlflow_server_that_does_not_answer_fails_and_the_rest_is_still_checked(
    servers,
) -> None:
    """The tracking URI names a port bound but not listening, as a stopped server leaves it (the
    shared team keeps running; tests/team/test_failures.py kills a server of its own)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{closed.getsockname()[1]}"
        report = doctor(servers.project, servers.env | {"MLFLOW_TRACKING_URI": uri}, servers.warm)
    assert report.code == 1, report
    line = report.parts["MLflow tracking"]
    assert line.startswith("FAIL ") and uri in line
    assert "does not answer" in line and "MLFLOW_TRACKING_URI" in line
    assert report.parts["model registry"].startswith("skipped ")
    assert report.parts["DVC remote"].startswith("OK ")
