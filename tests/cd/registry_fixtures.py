"""A real SQLite MLflow registry holding real versions of the pipeline's model, for release,
rollback and history. Built once per test session (registering is the slow part) with
tests/model/test_promote.py's helpers; each test gets a copy of the store's database, so it may
move aliases freely (the copies share the template's read-only model artifacts).

Import the fixtures into a test module: `from tests.cd.registry_fixtures import store, ...`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from tabular_mlops.cd import history
from tabular_mlops.core.lineage import MD5_TAG, file_md5
from tabular_mlops.core.params import Params, load_params
from tests.model.test_promote import NAME, Registry, new_registry, register, run_promote
from tests.trained import built_once

ROOT = Path(__file__).resolve().parents[2]
#: Versions registered in the template: the same model each time, so each one passes the gate.
VERSIONS = 3


@dataclasses.dataclass
class Store(Registry):
    """A registry copy, with what the commands under test read and write."""

    model_md5: str = ""

    def model(self) -> Any:
        return self.client().get_registered_model(NAME)

    def events(self) -> list[dict[str, Any]]:
        return [event.as_dict() for event in history.events(self.model().tags)]

    def state(self) -> tuple[dict[str, str], dict[str, str]]:
        """Aliases and registered-model tags: all a failed command must leave as they were."""
        model = self.model()
        return {k: str(v) for k, v in model.aliases.items()}, dict(model.tags)

    def version_tags(self, version: str) -> dict[str, str]:
        return dict(self.client().get_model_version(NAME, version).tags)

    def pin(self, version: str) -> None:
        """Make `version` the challenger promote gates, as the track stage's run_info does."""
        info = {"tracking_uri": self.uri, "registered_model": NAME, "model_version": version}
        path = Path(self.params.paths.run_info)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(info), encoding="utf-8")

    def promote(self, version: str, *args: str) -> int:
        self.pin(version)
        return run_promote(self, *args)

    def report(self, name: str) -> dict[str, Any]:
        path = Path(self.params.paths.promotion).with_name(name)
        return json.loads(path.read_text(encoding="utf-8"))


def run_main(main: Any, *args: str) -> int:
    """A command's main() in this process; its exit code."""
    try:
        main(list(args))
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@pytest.fixture(scope="module")
def model_file(params: Params) -> Path:
    path = ROOT / params.paths.model
    for needed in (path, ROOT / params.paths.train, ROOT / params.paths.test):
        if not needed.is_file():
            pytest.fail(f"{needed}: not found (run `make repro` first)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def template(params: Params, model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """VERSIONS versions of the pipeline's model, each tagged `model.md5` with its file's md5
    (what the track stage records); no alias but `challenger`. Built once per session for every
    module and worker (tests/trained.py): tests only read it, through `store`'s copies."""
    md5 = file_md5(model_file)

    def build(path: Path) -> None:
        train, test = (pd.read_parquet(ROOT / getattr(params.paths, k)) for k in ("train", "test"))
        model = joblib.load(model_file)
        for built in new_registry(tmp_path_factory, path):
            for _ in range(VERSIONS):
                version = register(built, model, (train, test))
                built.client().set_model_version_tag(NAME, version, MD5_TAG, md5)

    path = built_once(tmp_path_factory, "cd-registry", build)
    params_file = path / "params.yaml"
    uri = f"sqlite:///{path / 'mlflow.db'}"
    return Store(path, params_file, load_params(params_file), uri, md5)


@pytest.fixture
def store(template: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A private copy of the template's store, with its own params.yaml and reports folder."""
    shutil.copy(template.path / "mlflow.db", tmp_path / "mlflow.db")
    raw = template.params_file.read_text(encoding="utf-8")
    params_file = tmp_path / "params.yaml"
    params_file.write_text(raw.replace(str(template.path), str(tmp_path)), encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    for variable in ("GITHUB_ACTOR", "GITHUB_RUN_ID", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(variable, raising=False)
    return Store(tmp_path, params_file, load_params(params_file), uri, template.model_md5)


def make_bundle(
    store: Store, version: str, model_file: Path, folder: Path | None = None, **manifest: Any
) -> Path:
    """What `make bundle` writes: the exact model file and a manifest naming `version`."""
    folder = folder or store.path / "bundle"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_file, folder / "model.pkl")
    md5 = file_md5(folder / "model.pkl")
    written = {
        "registered_model": NAME,
        "version": version,
        "md5": md5,
        "run_id": store.client().get_model_version(NAME, version).run_id,
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "tracking_uri": store.uri,
        "task": store.params.data.task,
        "history": "make history",
        "created_at": "2026-01-01T00:00:00+00:00",
        "files": {"model.pkl": md5},
        **manifest,
    }
    (folder / "manifest.json").write_text(json.dumps(written), encoding="utf-8")
    return folder


def outputs(path: Path) -> dict[str, str]:
    """The step outputs a command appended to $GITHUB_OUTPUT."""
    if not path.is_file():
        return {}
    return dict(
        line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if line
    )
