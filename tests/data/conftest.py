"""Fixtures for the data-contract tests: a sample of the configured data under a contract sized
for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from tabular_mlops.core.params import Params
from tabular_mlops.core.validation import ContractResult, read_extract, validate_csv


@pytest.fixture(scope="session")
def sample_params(params: Params) -> Params:
    """The repository's contract, with the row-count floor lowered to the sample's size."""
    return replace(params, validate=replace(params.validate, min_rows=50))


@pytest.fixture(scope="session")
def good_sample(sample_csv: Path) -> pd.DataFrame:
    """The sample as the stage reads it; tests mutate copies."""
    return read_extract(sample_csv)


@pytest.fixture
def check_frame(tmp_path: Path, sample_params: Params) -> Callable[..., ContractResult]:
    """Write a frame to a CSV and validate that file, as the stage would."""

    def check(frame: pd.DataFrame, params: Params | None = None) -> ContractResult:
        path = tmp_path / "extract.csv"
        frame.to_csv(path, index=False)
        return validate_csv(path, params or sample_params)

    return check
