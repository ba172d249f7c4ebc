"""Fixtures shared by every test folder: the project root, its params, a sample of its data.

The sample is drawn from the raw file params.yaml names, so a fork's own data is what its tests
see. A test parametrized over config entries that the dataset does not have (no category column,
no id) is not generated, rather than reported as skipped: see pytest_collection_modifyitems.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabular_mlops.core.params import Params, load_params

from .support import write_sample
from .trained import trained_template  # noqa: F401  (the shared trained fork, tests/trained.py)

ROOT = Path(__file__).resolve().parents[1]
EMPTY_PARAMETER_SET = "got empty parameter set"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests whose config-derived parameter list is empty: nothing to check here."""
    empty = [
        item
        for item in items
        if any(
            str(mark.kwargs.get("reason", "")).startswith(EMPTY_PARAMETER_SET)
            for mark in item.iter_markers("skip")
        )
    ]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def sample_csv(params: Params, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred rows of the configured raw data, every label and missing value kept."""
    return write_sample(params, ROOT, tmp_path_factory.mktemp("sample") / "sample.csv")


@pytest.fixture
def sample_frame(sample_csv: Path) -> pd.DataFrame:
    return pd.read_csv(sample_csv)
