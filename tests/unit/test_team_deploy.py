"""deploy/team, the compose setup of a team's real servers, agrees with what the project runs:
no Docker engine runs here, so what can be checked without one is checked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEAM = ROOT / "deploy" / "team"


def locked_version(package: str) -> str:
    text = (ROOT / "uv.lock").read_text(encoding="utf-8")
    match = re.search(rf'\nname = "{package}"\nversion = "([^"]+)"', text)
    assert match, package
    return match.group(1)


def test_the_server_image_runs_the_mlflow_version_the_clients_use() -> None:
    dockerfile = (TEAM / "mlflow.Dockerfile").read_text(encoding="utf-8")
    [image] = re.findall(r"^FROM ghcr\.io/mlflow/mlflow:v(\S+)$", dockerfile, flags=re.MULTILINE)
    assert image == locked_version("mlflow")


def test_every_variable_compose_reads_is_in_the_example_env_file() -> None:
    compose = (TEAM / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", compose))
    example = (TEAM / "env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert used == listed


def test_the_server_has_what_the_stand_in_has_auth_proxied_artifacts_postgres() -> None:
    script = (TEAM / "mlflow-server.sh").read_text(encoding="utf-8")
    subprocess.run(["sh", "-n", str(TEAM / "mlflow-server.sh")], check=True)
    for flag in ("--app-name basic-auth", "--artifacts-destination s3://", "postgresql+psycopg://"):
        assert flag in script
    services = yaml.safe_load((TEAM / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert {"postgres", "objects", "buckets", "mlflow"} <= set(services)
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
