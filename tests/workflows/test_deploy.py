"""The deploy workflow (CD), executed with act against a registry that outlives each run: the
first model bootstraps as champion; a worse one is stopped before promotion and the champion
stays. (Promote's own rejection of a challenger worse than the champion is in tests/model.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tabular_mlops.core.params import Params
from tests.workflows.conftest import REPOSITORY, Fork

PUSH = {"ref": "refs/heads/main", "repository": {"full_name": REPOSITORY, "default_branch": "main"}}


def champion_version(registry: Path, name: str) -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=f"sqlite:///{registry}")
    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        return None


#: Per model family, settings under which it cannot learn on any data: a leaf larger than the
#: data, or a penalty that holds every weight at zero.
CANNOT_LEARN = {
    "random_forest": {"n_estimators": 1, "min_samples_leaf": 10**9},
    "hist_gradient_boosting": {"max_iter": 1, "min_samples_leaf": 10**9},
    "linear": {"alpha": 1e9},
}


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return tmp_path / "registry" / "mlflow.db"


def test_deploy_promotes_only_through_the_gate(
    fork_with_results: Fork, registry: Path, params: Params
) -> None:
    name = params.track.registered_model
    registry.parent.mkdir()
    variables = {"MLFLOW_TRACKING_URI": f"sqlite:///{registry}"}
    first = fork_with_results.act("push", "deploy.yml", PUSH, variables=variables)
    assert first.returncode == 0, first.failure_summary()
    for step in (
        "Promote the challenger through the gate",
        "Smoke-test the service with the champion",
    ):
        assert first.step_succeeded(step), step
    decision = json.loads((first.artifact("promotion-") / "promotion.json").read_text())
    assert decision["decision"] == "bootstrapped"
    assert champion_version(registry, name) == "1"
    [build] = first.recorded("docker/build-push-action")
    assert build["inputs"]["file"] == "Dockerfile"
    assert build["inputs"]["push"] == "false"
    assert (first.artifact("serving-image-") / "model-serving.tar").is_file()

    settings = fork_with_results.path / "params.yaml"
    raw = yaml.safe_load(settings.read_text(encoding="utf-8"))
    raw["train"][params.train.model].update(CANNOT_LEARN[params.train.model])
    settings.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    fork_with_results.commit_all("A model that cannot learn: a leaf larger than the data")
    second = fork_with_results.act("push", "deploy.yml", PUSH, variables=variables)
    assert second.returncode != 0
    assert second.step_failed("Model tests")
    assert not second.step_succeeded("Promote the challenger through the gate")
    assert not second.step_succeeded("Smoke-test the service with the champion")
    assert champion_version(registry, name) == "1"
    assert not second.recorded("docker/build-push-action")
