"""One registered champion in a scratch MLflow store and one real service on a free loopback port,
shared by the whole folder (starting MLflow and the service costs seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
import pytest

from tabular_mlops.core.params import load_params
from tabular_mlops.serving.smoke import free_port, start_service, stop, wait_ready
from tests.e2e.warm_client import SOCKET_ENV, python_of
from tests.support import first, typical_row
from tests.trained import built_once

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MAX_BODY = 2_000_000
#: params.yaml at collection time: which columns the request cases use comes from it.
CONFIG = load_params(ROOT / "params.yaml")
DATA = CONFIG.data
NAME = CONFIG.track.registered_model
NULLABLE = [name for name in DATA.features if DATA.columns[name].missing > 0]
REQUIRED = [name for name in DATA.features if DATA.columns[name].missing == 0]
NUMBER = first(name for name in DATA.numeric if name in REQUIRED)
CATEGORY = first(DATA.categorical)
IDS = [DATA.id_column] if DATA.id_column is not None else []


def unused_name(near: str) -> str:
    """A field name close to `near` that is no column of the dataset (a client's typo)."""
    taken = {*DATA.all_columns}
    return next(
        name for name in (near[:-1], f"{near}_", f"{near}__x") if name and name not in taken
    )


def unseen_value(column: str) -> str:
    """A category value the contract does not list for `column`."""
    allowed = {str(value) for value in DATA.columns[column].values or ()}
    return next(f"unseen-{i}" for i in range(len(allowed) + 1) if f"unseen-{i}" not in allowed)


@dataclass(frozen=True)
class Service:
    port: int
    log: Path
    env: dict[str, str]
    #: The service's stdout and stderr.
    out: Path


@pytest.fixture(scope="session")
def model_path(params) -> Path:
    path = ROOT / params.paths.model
    if not path.exists():
        pytest.fail(f"{path} missing: run `make repro` first (`make test` does)")
    return path


@pytest.fixture(scope="session")
def test_split(params) -> pd.DataFrame:
    return pd.read_parquet(ROOT / params.paths.test)


@pytest.fixture(scope="session")
def features(params) -> list[str]:
    return [*params.data.numeric, *params.data.categorical]


@pytest.fixture(scope="session")
def records(test_split, features) -> list[dict]:
    return json.loads(test_split[features].to_json(orient="records"))


@pytest.fixture(scope="session")
def record(test_split, params) -> dict:
    """A plausible request: each feature's median or most common value, nothing missing."""
    return json.loads(json.dumps(typical_row(test_split, params.data)))


@pytest.fixture(scope="session")
def pipeline(model_path):
    return joblib.load(model_path)


@pytest.fixture(scope="session")
def store_env(tmp_path_factory, model_path, params) -> dict[str, str]:
    """MLFLOW_TRACKING_URI of a scratch store whose `<track.registered_model>@champion` is the
    model: registered once per session for every worker (tests/trained.py); tests only read it."""

    def register(work: Path) -> None:
        work.mkdir(parents=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "register_model.py"),
                f"sqlite:///{work / 'mlflow.db'}",
                str(work / "artifacts"),
                str(model_path),
                str(ROOT / params.paths.test),
                params.track.registered_model,
                str(ROOT / "params.yaml"),
            ],
            check=True,
            capture_output=True,
        )

    work = built_once(tmp_path_factory, "serve-registry", register)
    store = f"sqlite:///{work / 'mlflow.db'}"
    return {"MLFLOW_TRACKING_URI": store, "MODEL_URI": "", "MODEL_PATH": "", "PREDICTION_LOG": ""}


@pytest.fixture(scope="session")
def service(tmp_path_factory, store_env) -> Iterator[Service]:
    """The service on the champion, predictions logged, a small body limit."""
    work = tmp_path_factory.mktemp("service")
    port = free_port()
    log = work / "predictions.jsonl"
    process = start_service(
        [
            "--params",
            str(ROOT / "params.yaml"),
            "--prediction-log",
            str(log),
            "--max-body-bytes",
            str(MAX_BODY),
        ],
        port=port,
        env=store_env,
        log=work / "service.out",
    )
    try:
        wait_ready(port, process, timeout=120)
        yield Service(port=port, log=log, env=store_env, out=work / "service.out")
    finally:
        stop(process)
    assert process.returncode in (0, -15), (work / "service.out").read_text()


def run_serve(
    args: list[str], env: dict[str, str], warm: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The service run to completion (for the cases where it must refuse to start), started
    warm (tests/e2e/warm.py): the session's `service` is the one started cold."""
    return subprocess.run(
        [python_of(warm), "-m", "tabular_mlops.serving.app", "--port", str(free_port()), *args],
        env={**os.environ, **env, SOCKET_ENV: warm[SOCKET_ENV]},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
