"""Two clones of a fork share one team: A reproduces and pushes; B pulls and reproduces without
running a stage, sees A's run, and promotes it; A's service then serves B's champion. The team is
the session's shared one (`make team-down` is tested where a team is the module's own:
test_failures.py)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.team.conftest import Clone, new_clone
from tests.team_servers import RunningTeam


@pytest.fixture(scope="module")
def clone_a(
    team: RunningTeam, tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]
) -> Clone:
    name = f"journey-{uuid.uuid4().hex[:8]}"
    a = new_clone(tmp_path_factory.mktemp("a") / "repo", team, name, warm_python)
    a.commit("Use this template")
    a.repro_output = a.make("repro").stdout  # type: ignore[attr-defined]
    a.make("dvc-push")
    a.commit("A's run")
    return a


@pytest.fixture(scope="module")
def clone_b(clone_a: Clone, team: RunningTeam, tmp_path_factory: pytest.TempPathFactory) -> Clone:
    path = tmp_path_factory.mktemp("b") / "repo"
    subprocess.run(["git", "clone", "-q", str(clone_a.path), str(path)], check=True)
    b = Clone(path, clone_a.env | {"PYTHONPATH": str(path / "src")}, clone_a.params)
    b.make("dvc-pull")
    b.repro_output = b.make("repro").stdout  # type: ignore[attr-defined]
    return b


def test_clone_a_registers_its_model_on_the_team_server(clone_a: Clone, team: RunningTeam) -> None:
    info = clone_a.run_info()
    client = team.client()

    assert "Running stage 'track'" in clone_a.repro_output  # type: ignore[attr-defined]
    assert info["tracking_uri"] == team.env["MLFLOW_TRACKING_URI"]
    assert client.get_run(info["run_id"]).info.status == "FINISHED"
    version = client.get_model_version(info["registered_model"], info["model_version"])
    assert version.run_id == info["run_id"]
    assert not (clone_a.path / "mlflow.db").exists()


def test_clone_a_pushed_its_outputs_and_run_cache_to_the_team_remote(
    clone_a: Clone, team: RunningTeam
) -> None:
    status = clone_a.dvc("status", "--cloud").stdout
    assert "up to date" in status or "Cache and remote" in status, status
    listed = clone_a.dvc("ls-url", "--recursive", team.env["DVC_REMOTE_URL"] + "/runs").stdout
    assert listed.strip(), "no run-cache entries on the remote"


def test_clone_b_reproduces_without_running_any_stage(clone_a: Clone, clone_b: Clone) -> None:
    assert "Running stage" not in clone_b.repro_output  # type: ignore[attr-defined]
    assert "Data and pipelines are up to date" in clone_b.repro_output  # type: ignore[attr-defined]
    model = clone_a.params.paths.model
    assert (clone_b.path / model).read_bytes() == (clone_a.path / model).read_bytes()
    assert clone_b.run_info() == clone_a.run_info()


def test_clone_b_sees_clone_a_run(clone_a: Clone, clone_b: Clone, team: RunningTeam) -> None:
    info = clone_b.run_info()
    runs = team.client().search_runs(
        [info["experiment_id"]], filter_string="attributes.status = 'FINISHED'"
    )
    assert [run.info.run_id for run in runs] == [clone_a.run_info()["run_id"]]


def test_b_promotes_and_a_serves_that_champion(
    clone_a: Clone, clone_b: Clone, team: RunningTeam
) -> None:
    info = clone_b.run_info()

    promoted = clone_b.make("promote").stdout
    served = clone_a.make("smoke").stdout

    assert f"version {info['model_version']}" in promoted
    assert "promote: bootstrapped" in promoted
    model = team.client().get_registered_model(info["registered_model"])
    assert dict(model.aliases)["champion"] == info["model_version"]
    assert f"{info['registered_model']} version {info['model_version']} (alias champion)" in served
    assert not Path(clone_a.path / "mlflow.db").exists()


def test_b_watches_drift_on_the_data_it_pulled(clone_b: Clone) -> None:
    batch = clone_b.path / "data" / "incoming" / "batch.csv"

    clone_b.make("simulate", "ROWS=300", "SEED=3", f"BATCH={batch}")
    clone_b.make("drift", f"CURRENT={batch}")

    report = json.loads((clone_b.path / clone_b.params.paths.drift).read_text(encoding="utf-8"))
    assert report["current"].endswith("(300 rows)")
    assert report["trained_raw_md5"] == report["raw_md5"]
