"""From a commit to production and back, executed with act against a registry and a DVC remote
that outlive each run: a retraining pull request (opened with a GitHub App's token) whose report
check runs, its merge, two deploys that ship the exact bytes dvc.lock records through staging to
production, and a rollback that restores the previous champion's bytes. A model that does not
match dvc.lock never reaches the gate."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import yaml

from tabular_mlops.core.params import Params
from tests.workflows.act_run import ActRun, assert_collects
from tests.workflows.conftest import REPOSITORY, Fork, Results, set_param
from tests.workflows.test_retrain import REPOSITORY_EVENT, tolerate_any_change

PUSH = {"ref": "refs/heads/main", "repository": {"full_name": REPOSITORY, "default_branch": "main"}}
IMAGE = f"ghcr.io/{REPOSITORY.lower()}"
TAKE = "Take the reviewed model (pulled, or rebuilt and its md5 checked against dvc.lock)"
HISTORY_TAG = re.compile(r"^champion\.history\.\d{6}$")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def locked_model_md5(fork: Fork, params: Params) -> str:
    stages = yaml.safe_load((fork.path / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    [out] = [out for out in stages["train"]["outs"] if out["path"] == params.paths.model]
    return str(out["md5"])


def registry_state(registry: Path, name: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The registered model's aliases and its production history, oldest event first."""
    from mlflow import MlflowClient

    model = MlflowClient(tracking_uri=f"sqlite:///{registry}").get_registered_model(name)
    events = [
        json.loads(value) for key, value in sorted(model.tags.items()) if HISTORY_TAG.match(key)
    ]
    return {alias: str(version) for alias, version in model.aliases.items()}, events


def shared_registry(folder: Path, params: Params) -> Path:
    """A SQLite registry whose artifacts outlive each run, as a tracking server's do: its
    experiment is created with an artifact location outside every run's working copy (a store
    created by a run keeps artifacts in that run's folder, which act removes afterwards)."""
    from mlflow import MlflowClient

    folder.mkdir()
    database = folder / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    client.create_experiment(params.track.experiment, artifact_location=str(folder / "artifacts"))
    return database


def retag_calls(run: ActRun) -> list[list[str]]:
    return [line["extra"]["args"] for line in run.recorded("docker")]


def test_from_a_retraining_pull_request_to_production_and_back(
    fork_with_results: Fork, results: Results, params: Params, tmp_path: Path
) -> None:
    fork, name = fork_with_results, params.track.registered_model
    registry = shared_registry(tmp_path / "registry", params)
    remote = shutil.copytree(results.dvc_remote, tmp_path / "dvc-remote")
    stores = {"MLFLOW_TRACKING_URI": f"sqlite:///{registry}", "DVC_REMOTE_URL": str(remote)}
    tolerate_any_change(fork.path / "params.yaml")
    fork.commit_all("Let the regression gates pass any change")
    first_md5 = locked_model_md5(fork, params)

    first = fork.act("push", "deploy.yml", PUSH, variables=stores)
    assert first.returncode == 0, first.failure_summary()
    assert "Running stage 'train'" not in first.output, "the model was pulled, not retrained"
    assert_collects(first, "Model tests", fork.path, "tests/model")
    package = first.artifact("serving-bundle")
    assert md5(package / "model.pkl") == first_md5
    assert json.loads((package / "manifest.json").read_text())["version"] == "1"
    [pushed] = first.recorded("docker/build-push-action")
    assert pushed["inputs"]["push"] == "true"
    assert pushed["extra"]["package"]["model.pkl"] == first_md5
    sha = fork.git("rev-parse", "HEAD")
    assert set(pushed["inputs"]["tags"].split()) == {f"{IMAGE}:model-1", f"{IMAGE}:sha-{sha}"}
    [attested] = first.recorded("actions/attest-build-provenance")
    assert attested["inputs"]["subject-digest"] == pushed["extra"]["digest"]
    assert attested["inputs"]["subject-name"] == IMAGE
    assert retag_calls(first) == [
        ["buildx", "imagetools", "create", "--tag", f"{IMAGE}:production", f"{IMAGE}:model-1"]
    ]
    aliases, history = registry_state(registry, name)
    assert aliases == {"challenger": "1", "staging": "1", "champion": "1"}
    assert [(event["from"], event["to"]) for event in history] == [(None, "1")]

    fork.make("simulate", "ROWS=600", "SEED=11", "BATCH=data/incoming/batch-new.csv")
    fork.commit_all("A new batch of rows arrives")
    retrain = fork.act(
        "repository_dispatch",
        "retrain.yml",
        {"action": "new-data", "client_payload": {}, "repository": REPOSITORY_EVENT},
        variables=stores | {"RETRAIN_APP_ID": "4242"},
        secrets={"RETRAIN_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"},
    )
    assert retrain.returncode == 0, retrain.failure_summary()
    assert_collects(retrain, "Model tests", fork.path, "tests/model")
    [request] = retrain.recorded("peter-evans/create-pull-request")
    assert request["inputs"]["token"] == "app-token-of-4242"
    assert "No checks ran" not in request["extra"]["body"]
    fork.git("checkout", "-qb", "retrain/scheduled")
    fork.git("apply", "--binary", str(retrain.artifact("retrain-proposal") / "retrain.patch"))
    fork.commit_all("Retrain: the proposal")

    event = {
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"ref": "retrain/scheduled"},
            "base": {"ref": "main"},
        },
        "repository": REPOSITORY_EVENT,
    }
    check = fork.act("pull_request", "pr-report.yml", event)
    assert check.returncode == 0, check.failure_summary()
    assert (check.artifact("pr-report") / "pr-report.md").read_text().startswith("<!--")

    fork.git("checkout", "-q", "main")
    fork.git(
        "merge", "-q", "--no-ff", "-m", "Merge the retraining pull request", "retrain/scheduled"
    )
    second_md5 = locked_model_md5(fork, params)
    assert second_md5 != first_md5
    second = fork.act("push", "deploy.yml", PUSH, variables=stores | {"PUBLISH_IMAGE": "false"})
    assert second.returncode == 0, second.failure_summary()
    assert "Running stage 'train'" not in second.output
    assert_collects(second, "Model tests", fork.path, "tests/model")
    assert md5(second.artifact("serving-bundle") / "model.pkl") == second_md5
    assert not second.recorded("docker/login-action") and not retag_calls(second)
    assert not second.recorded("actions/attest-build-provenance")
    with tarfile.open(second.artifact("serving-image-") / "model-serving.tar") as image:
        shipped = image.extractfile("app/model/model.pkl")
        assert shipped is not None
        assert hashlib.md5(shipped.read(), usedforsecurity=False).hexdigest() == second_md5
    aliases, history = registry_state(registry, name)
    assert aliases["champion"] == aliases["staging"] == "2"
    assert [(event["from"], event["to"]) for event in history] == [(None, "1"), ("1", "2")]

    back = fork.act(
        "workflow_dispatch",
        "rollback.yml",
        {"inputs": {"reason": "version 2 misbehaves in production", "to": ""}},
        variables=stores,
    )
    assert back.returncode == 0, back.failure_summary()
    assert back.step_succeeded("Roll back (package, smoke-test, then move champion)")
    assert "smoke: the service answered" in back.output
    assert md5(back.artifact("rollback-") / "dist" / "serving" / "model.pkl") == first_md5
    assert retag_calls(back) == [
        ["buildx", "imagetools", "create", "--tag", f"{IMAGE}:production", f"{IMAGE}:model-1"]
    ]
    aliases, history = registry_state(registry, name)
    assert aliases["champion"] == "1"
    last = history[-1]
    assert (last["from"], last["to"], last["kind"]) == ("2", "1", "rollback")
    assert last["reason"] == "version 2 misbehaves in production"


def test_deploy_stops_on_a_model_that_does_not_match_dvc_lock(
    fork_with_results: Fork, params: Params, tmp_path: Path
) -> None:
    """A changed seed without a dvc.lock change: the rebuilt model is not the reviewed one."""
    fork = fork_with_results
    expected = locked_model_md5(fork, params)
    set_param(fork.path / "params.yaml", "train", "seed", params.train.seed + 1)
    fork.commit_all("A new seed, committed without running the pipeline")
    registry = tmp_path / "mlflow.db"
    run = fork.act(
        "push", "deploy.yml", PUSH, variables={"MLFLOW_TRACKING_URI": f"sqlite:///{registry}"}
    )
    assert run.returncode != 0
    assert run.step_failed(TAKE)
    [line] = [line for line in run.output.splitlines() if expected in line and "differs" in line]
    assert len(set(re.findall(r"\b[0-9a-f]{32}\b", line))) == 2, line
    assert not run.step_succeeded("Model tests")
    assert not run.recorded("docker/build-push-action")
