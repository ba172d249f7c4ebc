"""PostgreSQL for the stand-in team: Debian's server binaries, run as a dedicated user.

initdb and pg_ctl refuse to run as root, so under root the cluster belongs to `TEAM_PG_USER`
(default `postgres`, created as a system user when missing); as anyone else it is theirs. It
listens on 127.0.0.1 only and asks every client for the password in `.team/state.json`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.team.processes import Started, identify
from tabular_mlops.team.state import DATABASE_USER, Team

DATABASES = ("mlflow", "mlflow_auth")
INSTALL_HINT = "install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql)"


def binary(name: str) -> Path:
    """A server tool from PATH or Debian's versioned folder (the newest version)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise PipelineError(f"team-up: PostgreSQL's `{name}` not found: {INSTALL_HINT}")
    return Path(candidates[-1])


def owner() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run it as the current user."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("TEAM_PG_USER") or "postgres"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        done = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise PipelineError(
                f"TEAM_PG_USER={name!r}: cannot create that user ({reason})"
            ) from None
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def _run(argv: list[str], user: tuple[int, int] | None, what: str) -> None:
    kwargs: dict[str, object] = {}
    if user is not None:
        kwargs = {"user": user[0], "group": user[1], "extra_groups": []}
    done = subprocess.run(argv, capture_output=True, text=True, cwd="/", **kwargs)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise PipelineError(
            f"team-up: {what} failed: {message[-1] if message else done.returncode}"
        )


def data_dir(team: Team) -> Path:
    return team.database_home / "data"


def initialise(team: Team) -> None:
    """A new cluster whose superuser is the MLflow server's database user, password-protected."""
    user = owner()
    home = team.database_home
    home.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    home.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        os.chown(home, *user)
    with tempfile.NamedTemporaryFile("w", dir=home, delete=False) as handle:
        handle.write(team.database_password + "\n")
        password_file = Path(handle.name)
    try:
        if user is not None:
            os.chown(password_file, *user)
        _run(
            [
                str(binary("initdb")),
                "--pgdata",
                str(data_dir(team)),
                "--username",
                DATABASE_USER,
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-instructions",
            ],
            user,
            "initdb",
        )
    finally:
        password_file.unlink(missing_ok=True)


def start(team: Team) -> Started:
    """pg_ctl start, waiting until the server accepts connections."""
    if not (data_dir(team) / "PG_VERSION").exists():
        initialise(team)
    port = team.services["postgres"].port
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {team.database_home}"
    _run(
        [
            str(binary("pg_ctl")),
            "start",
            "--pgdata",
            str(data_dir(team)),
            "--wait",
            "--timeout",
            "60",
            "--log",
            str(team.database_home / "postgres.log"),
            "-o",
            options,
        ],
        owner(),
        "pg_ctl start",
    )
    return identify(postmaster_pid(team))


def postmaster_pid(team: Team) -> int:
    return int((data_dir(team) / "postmaster.pid").read_text().split()[0])


def stop(team: Team) -> None:
    _run(
        [str(binary("pg_ctl")), "stop", "--pgdata", str(data_dir(team)), "-m", "fast", "--wait"],
        owner(),
        "pg_ctl stop",
    )


def create_databases(team: Team) -> None:
    """The tracking store's and the auth app's databases, when missing."""
    import psycopg

    with (
        psycopg.connect(
            team.database_uri("postgres"), connect_timeout=10, autocommit=True
        ) as connection,
        connection.cursor() as cursor,
    ):
        for name in DATABASES:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
