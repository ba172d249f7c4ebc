"""The model under test: the one `make repro` produced, or any MLflow model URI.

    pytest tests/model                                          # params.paths.model
    pytest tests/model --model-path models/model.pkl
    pytest tests/model --model-uri models:/<track.registered_model>@challenger

The options are registered here, so pass them when running `tests/model` (pytest only knows a
folder's options once it has loaded the folder's conftest). A missing model fails every test
with one line saying how to produce it; it is never skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from tabular_mlops.core.params import Params, load_params
from tabular_mlops.core.task import model_scores

ROOT = Path(__file__).resolve().parents[2]


def configured() -> Params:
    """params.yaml read at collection time: the parametrize lists of the rules come from it."""
    return load_params(ROOT / "params.yaml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("model", "the model tests/model runs against")
    group.addoption("--model-path", default=None, help="pickled model (default: paths.model)")
    group.addoption(
        "--model-uri",
        default=None,
        help="MLflow model URI, e.g. models:/<name>@challenger (wins over --model-path)",
    )


def load_model_file(path: Path) -> Any:
    """Load a pickled model, or fail (not skip) the test with one line naming the file."""
    if not path.is_file():
        pytest.fail(f"{path}: model file not found (run `make repro` first)", pytrace=False)
    try:
        return joblib.load(path)
    except Exception as err:
        pytest.fail(f"{path}: cannot load model ({err.__class__.__name__})", pytrace=False)


def load_model_uri(uri: str) -> Any:
    import mlflow

    try:
        return mlflow.sklearn.load_model(uri)
    except Exception as err:
        first = (str(err).strip().splitlines() or [err.__class__.__name__])[0]
        pytest.fail(f"{uri}: cannot load model ({first})", pytrace=False)


def _option(config: pytest.Config, name: str) -> str | None:
    return config.getoption(name, default=None)


def _read_split(path: Path) -> pd.DataFrame:
    if not path.is_file():
        pytest.fail(f"{path}: split not found (run `make repro` first)", pytrace=False)
    return pd.read_parquet(path)


@pytest.fixture(scope="session")
def model(request: pytest.FixtureRequest, params: Params) -> Any:
    uri = _option(request.config, "--model-uri")
    if uri:
        return load_model_uri(uri)
    path = Path(_option(request.config, "--model-path") or ROOT / params.paths.model)
    return load_model_file(path)


@pytest.fixture(scope="session")
def train(params: Params) -> pd.DataFrame:
    return _read_split(ROOT / params.paths.train)


@pytest.fixture(scope="session")
def test_split(params: Params) -> pd.DataFrame:
    return _read_split(ROOT / params.paths.test)


@pytest.fixture(scope="session")
def features(test_split: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The held-out rows as serving sends them: every column but the target (the id included)."""
    return test_split.drop(columns=[params.data.target])


@pytest.fixture(scope="session")
def scores(model: Any, features: pd.DataFrame, params: Params) -> Any:
    """What the task scores the held-out rows by (core.task.model_scores): the positive class's
    probability, a probability per class, or the predicted value."""
    return model_scores(model, features, params.data.task)
