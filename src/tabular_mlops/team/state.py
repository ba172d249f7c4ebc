"""Where the stand-in team keeps its state, and the `.team.env` it hands to shells and CI.

Everything lives under `.team/` in the project (git-ignored; `TEAM_DIR` moves it), except the
database's files when running as root: PostgreSQL runs as a dedicated user, who must be able to
reach them, so they go under /var/tmp instead of a possibly private project folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.io import atomic_path

ENV_FILE = ".team.env"
STATE_FILE = "state.json"
DVC_BUCKET = "team-dvc"
ARTIFACT_BUCKET = "team-mlflow"
REGION = "us-east-1"
MLFLOW_USER = "team"
DATABASE_USER = "mlflow"


def team_dir() -> Path:
    return Path(os.environ.get("TEAM_DIR") or ".team").resolve()


def database_home(folder: Path) -> Path:
    if os.geteuid() != 0:
        return folder / "postgres"
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return Path("/var/tmp/tabular-mlops-team") / digest


@dataclass
class Service:
    """One server of the team: where it listens and which process it is."""

    port: int
    pid: int | None = None
    started: float | None = None


@dataclass
class Team:
    """The stand-in's settings and processes, kept in `.team/state.json`."""

    folder: Path
    database_home: Path
    database_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    mlflow_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    server_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    s3_key_id: str = ""
    s3_secret: str = ""
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    def database_uri(self, database: str) -> str:
        port = self.services["postgres"].port
        return f"postgresql://{DATABASE_USER}:{self.database_password}@127.0.0.1:{port}/{database}"

    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.services['s3'].port}"

    def mlflow_uri(self) -> str:
        return f"http://127.0.0.1:{self.services['mlflow'].port}"

    def client_env(self) -> dict[str, str]:
        """What a shell, a clone or a workflow needs to use the team's stores."""
        return {
            "MLFLOW_TRACKING_URI": self.mlflow_uri(),
            "MLFLOW_TRACKING_USERNAME": MLFLOW_USER,
            "MLFLOW_TRACKING_PASSWORD": self.mlflow_password,
            "DVC_REMOTE_URL": f"s3://{DVC_BUCKET}/dvc",
            "AWS_ENDPOINT_URL": self.s3_endpoint(),
            "AWS_ACCESS_KEY_ID": self.s3_key_id,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret,
            "AWS_DEFAULT_REGION": REGION,
        }

    def save(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = asdict(self)
        payload["folder"], payload["database_home"] = str(self.folder), str(self.database_home)
        _write_private(self.folder / STATE_FILE, json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Team | None:
        path = folder / STATE_FILE
        try:
            payload: dict[str, Any] = json.loads(path.read_text())
            services = {name: Service(**value) for name, value in payload.pop("services").items()}
            return cls(
                folder=Path(payload.pop("folder")),
                database_home=Path(payload.pop("database_home")),
                services=services,
                **payload,
            )
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise PipelineError(
                f"{path}: not a state team-up wrote ({err.__class__.__name__}); stop its servers "
                f"by hand, then remove {folder}"
            ) from None


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """`export` lines, so `source .team.env` is all a shell needs."""
    header = (
        "# Written by `make team-up`: the loopback team's stores. Load with: source .team.env\n"
        "# Holds credentials: never commit it (.gitignore lists it).\n"
    )
    body = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())
    _write_private(path, header + body)


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            values[key] = value
    return values


def _write_private(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    path.chmod(0o600)
