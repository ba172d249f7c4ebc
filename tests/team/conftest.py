"""Team mode against real servers: the loopback stand-in (`make team-up`) and clones of a fork.

Clone A starts from the pipeline `make repro` ran at the repository root (the same code, data and
params), so its own `make repro` runs only `track`, for a registered model of its own on the team
server: these tests are about what the team stores share, and training twice proves nothing
more (benchmarks/team_cache.py times the full first run against the second clone's).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tabular_mlops.core.params import Params, load_params
from tests import team_servers
from tests.e2e.conftest import Workspace, copy_project, fork_env, warmed
from tests.e2e.warm_client import venv_of
from tests.team_servers import RunningTeam
from tests.workflows.conftest import UV, set_param

ROOT = Path(__file__).resolve().parents[2]
#: params.yaml `paths` of the pipeline's outputs, copied from the repository root's run.
OUTPUTS = ("validation", "train", "test", "model", "metrics", "slices", "plots")
STAGES_BEFORE_TRACK = ("validate", "prepare", "train", "evaluate")
QUICK_CLIENT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
#: The session's team, shared by the modules that only use it (a module may override `team`).
shared_team = team_servers.shared_team
team = team_servers.team


@dataclass
class Clone(Workspace):
    params: Params

    def make(self, *target: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("make", "--no-print-directory", *target, *self.make_args(), check=check)

    def make_args(self) -> list[str]:
        return [f"VENV={venv_of(self.env)}", f"UV={UV}"]

    def run_info(self) -> dict[str, str]:
        import json

        return json.loads((self.path / self.params.paths.run_info).read_text(encoding="utf-8"))


def new_clone(path: Path, team: RunningTeam, model: str, warm: dict[str, str]) -> Clone:
    """A fork with the root's pipeline results and its own registered model, set up as a team
    member's clone: the team's variables in its environment, its commands started `warm`."""
    path.mkdir(parents=True)
    copy_project(path)
    params = load_params(ROOT / "params.yaml")
    for key in OUTPUTS:
        source = ROOT / getattr(params.paths, key)
        if not source.exists() or not (ROOT / "dvc.lock").is_file():
            pytest.fail(f"{source}: not found (run `make repro` first)", pytrace=False)
        target = path / getattr(params.paths, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    shutil.copy2(ROOT / "dvc.lock", path / "dvc.lock")
    set_param(path / "params.yaml", "track", "registered_model", model)
    set_param(path / "params.yaml", "track", "experiment", model)
    clone = Clone(path, fork_env(path) | team.env | QUICK_CLIENT, load_params(path / "params.yaml"))
    warmed(clone, warm)
    clone.git("init", "-q", "-b", "main")
    clone.dvc("commit", "--force", "--quiet", *STAGES_BEFORE_TRACK)
    return clone
