"""The store lock's scope, when a run's process counts as dead, and the one-line repair."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from tabular_mlops.core.lineage import pip_requirements
from tabular_mlops.ct import registry, runs
from tabular_mlops.ct.store_lock import lock_path, store_lock
from tests.empty_store import empty_store


def test_a_sqlite_store_is_locked_beside_its_file_and_a_shared_one_in_its_registry(
    tmp_path,
) -> None:
    assert lock_path(f"sqlite:///{tmp_path}/mlflow.db") == tmp_path / "mlflow.db.lock"
    assert lock_path("sqlite:///mlflow.db") == Path("mlflow.db.lock")
    assert lock_path("http://tracking.example:5000") is None


def test_a_missing_sqlite_store_is_created_whole_under_the_lock(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with store_lock(uri, "test", "m") as lock:
        assert lock == str(tmp_path / "mlflow.db.lock")
        assert (tmp_path / "mlflow.db").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db", "mlflow.db.lock"]


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_run_is_dead_when_its_process_is_gone_or_is_another_with_its_pid() -> None:
    mine = runs.owner_tags()
    now_ms = int(time.time() * 1000)
    assert not runs.is_dead(mine, now_ms)
    assert runs.is_dead({**mine, runs.PID_TAG: str(dead_pid())}, now_ms)
    reused = float(mine[runs.STARTED_TAG]) - 3600
    assert runs.is_dead({**mine, runs.STARTED_TAG: f"{reused:.2f}"}, now_ms)


def test_a_run_from_another_host_is_dead_only_after_a_day() -> None:
    other = {runs.HOST_TAG: f"not-{socket.gethostname()}", runs.PID_TAG: str(os.getpid())}
    now = time.time()
    assert not runs.is_dead(other, int(now * 1000) - 3_600_000, now)
    day = runs.FOREIGN_AFTER_HOURS * 3_600_000
    assert runs.is_dead(other, int(now * 1000) - day - 1, now)
    assert runs.is_dead({}, int(now * 1000) - day - 1, now)


@pytest.fixture
def client(tmp_path, tmp_path_factory, monkeypatch):
    import mlflow

    uri = empty_store(tmp_path_factory, tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(uri)


def log_model(model: DummyClassifier) -> None:
    """Logged and registered as `m` with track's pinned requirements: without them MLflow infers
    them in a child process that imports the model's libraries again (seconds per model)."""
    import mlflow

    mlflow.sklearn.log_model(
        model, name="model", registered_model_name="m", pip_requirements=pip_requirements()
    )


def test_a_dead_run_is_failed_and_its_model_and_version_removed_in_one_line(client) -> None:
    import mlflow

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = DummyClassifier().fit(frame, [0, 1, 0, 1])
    mlflow.set_experiment("exp")
    tags = {**runs.owner_tags(), runs.PID_TAG: str(dead_pid())}
    with mlflow.start_run(tags=tags) as run:
        log_model(model)
    client.set_terminated(run.info.run_id, "RUNNING")
    with mlflow.start_run(tags=runs.owner_tags()) as alive:
        line = registry.repair(client, "exp", "m")
    assert line is not None and len(line.splitlines()) == 1
    assert run.info.run_id in line and "version 1 of m" in line and alive.info.run_id not in line
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    assert client.search_model_versions("name = 'm'") == []
    experiment = client.get_experiment_by_name("exp").experiment_id
    assert list(client.search_logged_models([experiment])) == []
    assert registry.repair(client, "exp", "m") is None


def test_a_promotion_tag_behind_the_champion_alias_is_brought_in_line(client) -> None:
    import mlflow

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = DummyClassifier().fit(frame, [0, 1, 0, 1])
    mlflow.set_experiment("exp")
    for _ in range(2):
        with mlflow.start_run():
            log_model(model)
    client.set_registered_model_tag("m", registry.CHAMPION_TAG, "1")
    client.set_registered_model_alias("m", registry.CHAMPION, "2")
    line = registry.repair(client, "exp", "m")
    assert line is not None and registry.CHAMPION_TAG in line and "was 1" in line
    assert client.get_registered_model("m").tags[registry.CHAMPION_TAG] == "2"
    assert registry.repair(client, "exp", "m") is None


def test_a_store_uri_mlflow_cannot_open_is_one_line(monkeypatch) -> None:
    from tabular_mlops.core.errors import PipelineError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://store")
    with pytest.raises(PipelineError, match=r"^registry nosuchscheme://store: ") as raised:
        registry.connect()
    assert len(str(raised.value).splitlines()) == 1
