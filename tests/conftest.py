"""Fixtures shared by every test folder: the project root, its params, a small committed sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabular_mlops.core.params import Params, load_params

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture
def sample_csv() -> Path:
    """~200 rows of the shipped data, both classes, with blank total_charges rows."""
    return FIXTURES / "churn_sample.csv"


@pytest.fixture
def sample_frame(sample_csv: Path) -> pd.DataFrame:
    return pd.read_csv(sample_csv)
