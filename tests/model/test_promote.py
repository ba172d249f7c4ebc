"""`make promote` against a real MLflow SQLite registry in a temporary folder.

The challengers are the pipeline's model and a deliberately worse one (a one-tree, depth-one
forest), registered through the track stage's own `log_run`, so the registration is tested too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import yaml

from tabular_mlops.core.gates import gates_from_params
from tabular_mlops.core.params import Params, RandomForestParams, TrainParams, load_params
from tabular_mlops.core.task import PRIMARY
from tabular_mlops.ct import promote
from tabular_mlops.stages import track
from tabular_mlops.stages.train import fit
from tests.empty_store import empty_store
from tests.model.conftest import configured

ROOT = Path(__file__).resolve().parents[2]
CONFIG = configured()
NAME = f"{CONFIG.track.registered_model}-under-test"
#: A slice the track stage logs as `slices.<column>.<value>.<metric>`: a configured slice column.
SLICE = ((CONFIG.evaluate.slice_columns or CONFIG.data.features)[0], "a value")
METRIC = PRIMARY[CONFIG.data.task]


@dataclasses.dataclass
class Registry:
    path: Path
    params_file: Path
    params: Params
    uri: str

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.uri)

    def aliases(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.client().get_registered_model(NAME).aliases.items()}

    def promotion(self) -> dict[str, Any]:
        return json.loads(Path(self.params.paths.promotion).read_text(encoding="utf-8"))


def write_params(dest: Path, edit: Any = None) -> Path:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    for key in ("raw", "train", "test", "model"):
        raw["paths"][key] = str(ROOT / raw["paths"][key])
    for key in ("promotion", "promotion_report"):
        raw["paths"][key] = str(dest / raw["paths"][key])
    raw["track"]["registered_model"] = NAME
    if edit is not None:
        edit(raw)
    path = dest / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def splits(params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    for path in (params.paths.train, params.paths.test, params.paths.model):
        if not (ROOT / path).is_file():
            pytest.fail(f"{ROOT / path}: not found (run `make repro` first)", pytrace=False)
    return pd.read_parquet(ROOT / params.paths.train), pd.read_parquet(ROOT / params.paths.test)


@pytest.fixture(scope="module")
def good_model(params: Params) -> Any:
    return joblib.load(ROOT / params.paths.model)


@pytest.fixture(scope="module")
def tiny_model(params: Params, splits) -> Any:
    """A model that learnt nothing, on any data: a stump fitted to shuffled labels. (A plain
    stump can rival a forest on data with one dominant feature.)"""
    stump = RandomForestParams(n_estimators=1, max_depth=1, min_samples_leaf=1)
    tiny = TrainParams("random_forest", params.train.seed, random_forest=stump)
    shuffled = splits[0].copy()
    target = params.data.target
    shuffled[target] = shuffled[target].sample(frac=1.0, random_state=0).to_numpy()
    return fit(shuffled, params.data, tiny)


def new_registry(factory: pytest.TempPathFactory, path: Path) -> Iterator[Registry]:
    uri = empty_store(factory, path)
    params_file = write_params(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(path)  # MLflow's default artifact root, ./mlruns, lands in the tmp folder
        yield Registry(path, params_file, load_params(params_file), uri)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from new_registry(tmp_path_factory, tmp_path_factory.mktemp("registry"))


def register(registry: Registry, model: Any, splits) -> str:
    """What the track stage does for one pipeline run; returns the new version."""
    train, test = splits
    slices = {SLICE[0]: {SLICE[1]: {"rows": 3, METRIC: 0.7}}}
    info = track.log_run(registry.params, model, train, test, {METRIC: 0.0}, "md5", slices)
    return info["model_version"]


def run_promote(registry: Registry, *args: str, params_file: Path | None = None) -> int:
    try:
        promote.main(["--params", str(params_file or registry.params_file), *args])
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def test_bootstrap_reject_promote_journey(registry, splits, good_model, tiny_model, capsys):
    first = register(registry, good_model, splits)
    assert registry.aliases() == {"challenger": first}
    run = registry.client().get_run(registry.client().get_model_version(NAME, first).run_id)
    assert run.data.metrics[f"slices.{SLICE[0]}.{SLICE[1]}.{METRIC}"] == 0.7
    assert run_promote(registry) == 0
    assert registry.aliases() == {"challenger": first, "champion": first}
    decision = registry.promotion()
    assert decision["decision"] == "bootstrapped"
    assert decision["champion"] is None
    assert decision["checks"] and all(check["passed"] for check in decision["checks"])
    tags = registry.client().get_model_version(NAME, first).tags
    assert tags["promotion.decision"] == "bootstrapped"

    worse = register(registry, tiny_model, splits)
    assert run_promote(registry) == 0
    assert registry.aliases() == {"challenger": worse, "champion": first}
    decision = registry.promotion()
    assert decision["decision"] == "rejected"
    assert f"version {first} stays champion" in decision["reason"]
    failed = {check["name"]: check for check in decision["checks"] if not check["passed"]}
    assert failed, decision
    gates = gates_from_params(registry.params.gates).metrics
    tags = registry.client().get_model_version(NAME, worse).tags
    assert tags["promotion.decision"] == "rejected"
    markdown = Path(registry.params.paths.promotion_report).read_text(encoding="utf-8")
    assert "rejected" in markdown
    for name, check in failed.items():
        assert f"| {name} |" in markdown
        assert tags[promote.tag_key(f"promotion.failed.{name}")]
        metric, _, kind = name.partition(" ")
        if kind == "floor" and metric in gates:
            assert not gates[metric].meets_floor(check["candidate"]), check
        elif kind == "vs champion" and metric in gates:
            assert gates[metric].worse_by(check["champion"], check["candidate"]) > 0, check
    assert run_promote(registry, "--fail-on-reject") == promote.EXIT_REJECTED
    assert "promote: rejected" in capsys.readouterr().out

    better = register(registry, good_model, splits)
    assert run_promote(registry) == 0
    assert registry.aliases() == {"challenger": better, "champion": better}
    decision = registry.promotion()
    assert decision["decision"] == "promoted"
    assert decision["champion"]["version"] == first

    assert run_promote(registry) == 0
    assert registry.promotion()["decision"] == "unchanged"
    assert registry.aliases()["champion"] == better


def failing(registry: Registry, capsys, *args: str, params_file: Path | None = None) -> str:
    """Run promote expecting bad input: exit 2, one line on stderr, champion unchanged."""
    before = registry.aliases().get("champion")
    capsys.readouterr()
    assert run_promote(registry, *args, params_file=params_file) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert registry.aliases().get("champion") == before
    return err


def test_a_floor_for_an_unknown_metric_names_the_key(registry, capsys, tmp_path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()

    def edit(raw: dict[str, Any]) -> None:
        raw["gates"]["metrics"]["no_such_metric"] = {
            "direction": "higher",
            "floor": 0.8,
            "abs_tolerance": 0.0,
            "rel_tolerance": 0.0,
        }

    err = failing(registry, capsys, params_file=write_params(bad, edit))
    assert "gates.metrics.no_such_metric" in err and METRIC in err


def test_an_unreachable_registry_fails_fast(registry, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    before = registry.aliases()
    assert run_promote(registry) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: registry http://127.0.0.1:9:") and len(err.splitlines()) == 1
    assert registry.aliases() == before


def model_file(registry: Registry, version: str) -> Path:
    import mlflow

    source = registry.client().get_model_version(NAME, version).source
    local = mlflow.artifacts.download_artifacts(source, tracking_uri=registry.uri)
    # Downloading a local artifact gives a copy; the store's own file is what promote loads.
    model_id = source.removeprefix("models:/")
    (stored,) = registry.path.glob(f"mlruns/*/models/{model_id}/artifacts/model.pkl")
    assert Path(local, "model.pkl").is_file()
    return stored


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_damaged_challenger_model_file(registry, splits, tiny_model, capsys, damage) -> None:
    version = register(registry, tiny_model, splits)
    stored = model_file(registry, version)
    if damage == "missing":
        stored.unlink()
    else:
        stored.write_bytes(b"not a pickle")
    err = failing(registry, capsys)
    assert f"models:/{NAME}/{version} (challenger): cannot load model" in err


def test_a_challenger_alias_whose_version_was_deleted(registry, splits, tiny_model, capsys):
    version = register(registry, tiny_model, splits)
    registry.client().delete_model_version(NAME, version)
    err = failing(registry, capsys)
    assert "no alias 'challenger'" in err


def test_a_champion_alias_whose_version_was_deleted(
    tmp_path, tmp_path_factory, splits, good_model, tiny_model, capsys
) -> None:
    for registry in new_registry(tmp_path_factory, tmp_path / "own"):
        first = register(registry, good_model, splits)
        assert run_promote(registry) == 0
        register(registry, tiny_model, splits)
        registry.client().delete_model_version(NAME, first)
        err = failing(registry, capsys)
        assert f"alias 'champion' is gone (version {first} was deleted)" in err
        assert "champion" not in registry.aliases()
