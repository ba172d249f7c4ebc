"""The MLflow tracking server of the stand-in: PostgreSQL behind it, artifacts proxied to the
object store, and MLflow's basic-auth app in front, so clients need a password but no S3 key."""

from __future__ import annotations

import sys

from tabular_mlops.team.processes import Started, http_ok, spawn, wait_until
from tabular_mlops.team.state import ARTIFACT_BUCKET, MLFLOW_USER, Team

WORKERS = 1
#: Without a cache the server hashes the password (PBKDF2) on every request, and logging a model
#: makes one request per metric: seconds become minutes. A changed password takes this long.
AUTH_CACHE_SECONDS = 300
AUTH_CONFIG = """[mlflow]
default_permission = READ
database_uri = {database}
admin_username = {user}
admin_password = {password}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = {cache_seconds}
"""


def start(team: Team, env: dict[str, str]) -> Started:
    port = team.services["mlflow"].port
    config = team.folder / "basic_auth.ini"
    config.write_text(
        AUTH_CONFIG.format(
            database=team.database_uri("mlflow_auth"),
            user=MLFLOW_USER,
            password=team.mlflow_password,
            cache_seconds=AUTH_CACHE_SECONDS,
        ),
        encoding="utf-8",
    )
    config.chmod(0o600)
    log = team.logs / "mlflow.log"
    server_env = env | {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": team.server_secret,
        "AWS_ACCESS_KEY_ID": team.s3_key_id,
        "AWS_SECRET_ACCESS_KEY": team.s3_secret,
        "MLFLOW_S3_ENDPOINT_URL": team.s3_endpoint(),
        "AWS_ENDPOINT_URL": team.s3_endpoint(),
    }
    process = spawn(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            team.database_uri("mlflow"),
            "--artifacts-destination",
            f"s3://{ARTIFACT_BUCKET}/artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ],
        log,
        server_env,
        cwd=team.folder,
    )
    wait_until(lambda: healthy(team), "the MLflow server", process, log, 180)
    return process


def healthy(team: Team) -> bool:
    return http_ok(f"{team.mlflow_uri()}/health")
