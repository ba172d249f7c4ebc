"""`make reviewed-model` on copies of a trained fork: the model dvc.lock records on HEAD is rebuilt
(or pulled from a DVC remote) and checked byte for byte; a model the committed lock does not
record stops deploy with one line naming both hashes, and the checkout is left as it was."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tabular_mlops.cd.reviewed import REPORT, locked_md5
from tabular_mlops.core.lineage import file_md5
from tests.cd.conftest import Workspace, clone, git_status, make, outputs, params_of
from tests.e2e.conftest import fork_env, warmed

pytestmark = pytest.mark.pipeline
TRAIN_RAN = "Running stage 'train'"


@pytest.fixture
def fork(project: Workspace, tmp_path: Path, warm_python: dict[str, str]) -> Workspace:
    """A copy of the module's project whose stages start warm, as the project's do."""
    return warmed(clone(project, tmp_path / "fork"), warm_python)


def recorded(workspace: Workspace) -> str:
    """The md5 the committed dvc.lock records for the model."""
    params = params_of(workspace)
    lock = workspace.git("show", "HEAD:dvc.lock")
    return locked_md5(lock, params.paths.model).md5


def report(workspace: Workspace) -> dict:
    return json.loads((workspace.path / REPORT).read_text(encoding="utf-8"))


def test_a_rebuilt_model_is_the_one_dvc_lock_records(fork: Workspace, tmp_path: Path) -> None:
    params = params_of(fork)
    want = recorded(fork)
    model = fork.path / params.paths.model
    model.unlink()
    # Not in the cache, nor in the run-cache: only training can bring it back.
    (fork.path / ".dvc" / "cache" / "files" / "md5" / want[:2] / want[2:]).unlink()
    shutil.rmtree(fork.path / ".dvc" / "cache" / "runs")
    github_output = tmp_path / "output"
    done = make(fork, "reviewed-model", env={"GITHUB_OUTPUT": str(github_output)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert TRAIN_RAN in done.stdout
    assert file_md5(model) == want
    assert report(fork) | {"commit": None} == {
        "path": params.paths.model,
        "md5": want,
        "expected": want,
        "source": "rebuilt",
        "commit": None,
    }
    assert report(fork)["commit"] == fork.git("rev-parse", "HEAD")
    assert outputs(github_output) == {"md5": want, "source": "rebuilt"}


def changed_seed(workspace: Workspace) -> None:
    """train.seed moved on and committed, dvc.lock untouched: a model nobody reviewed. (The
    linear family ignores its seed, so its strength moves too.)"""
    path = workspace.path / "params.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["train"]["seed"] += 1
    if raw["train"]["model"] == "linear":
        raw["train"]["linear"]["alpha"] *= 2
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    workspace.commit("Change the seed without running the pipeline")


def test_a_changed_seed_without_a_lock_change_stops_in_one_line_naming_both_hashes(
    fork: Workspace,
) -> None:
    params = params_of(fork)
    model = fork.path / params.paths.model
    lock_before, model_before = (fork.path / "dvc.lock").read_bytes(), model.read_bytes()
    beside_before = sorted(p.name for p in model.parent.iterdir())
    want = recorded(fork)
    changed_seed(fork)
    done = make(fork, "reviewed-model")
    assert done.returncode == 2, done.stdout + done.stderr
    assert TRAIN_RAN in done.stdout
    lines = [line for line in done.stderr.splitlines() if line and not line.startswith("make")]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    found = re.search(r"rebuilt md5 ([0-9a-f]{32}) differs from ([0-9a-f]{32})", lines[-1])
    assert found is not None, lines[-1]
    assert found.group(2) == want
    assert found.group(1) != want
    assert params.paths.model in lines[-1]
    assert "nothing deployed" in lines[-1]
    # Nothing lost: the lock and the reviewed model are as they were, nothing was registered,
    # no report claims a reviewed model, and no temporary file is left.
    assert (fork.path / "dvc.lock").read_bytes() == lock_before
    assert model.read_bytes() == model_before
    assert not (fork.path / REPORT).exists()
    assert not (fork.path / "mlflow.db").exists()
    assert sorted(p.name for p in model.parent.iterdir()) == beside_before
    assert git_status(fork) == ""
    # The hash it named is what these params train to.
    fork.dvc("repro", "--force", "--single-item", found_stage(fork))
    assert file_md5(model) == found.group(1)


def found_stage(workspace: Workspace) -> str:
    params = params_of(workspace)
    return locked_md5((workspace.path / "dvc.lock").read_text(), params.paths.model).stage


def test_with_a_dvc_remote_the_model_is_pulled_not_retrained(
    project: Workspace, tmp_path: Path, warm_python: dict[str, str]
) -> None:
    remote = tmp_path / "remote"
    pushed = make(project, "dvc-push", env={"DVC_REMOTE_URL": str(remote)})
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    path = tmp_path / "clone"
    project.run("git", "clone", "-q", str(project.path), str(path))
    fresh = warmed(Workspace(path, fork_env(path)), warm_python)
    done = make(fresh, "reviewed-model", env={"DVC_REMOTE_URL": str(remote)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert TRAIN_RAN not in done.stdout
    assert report(fresh)["source"] == "pulled"
    assert report(fresh)["md5"] == recorded(fresh)
