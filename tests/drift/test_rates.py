"""A cheap, seeded version of `make bench-drift` on the configured data: 40 random splits must
raise at most 2 alarms (5%), and each kind of shift the simulator injects (chosen from the data:
see tests/support.documented_shifts) in a 1,000-row batch must be caught in at least 19 of 20
trials with the shifted column named. (The benchmark runs 200 of each with prediction drift
included; its rates are in docs/drift.md, "Measured".)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.io import read_csv
from tabular_mlops.core.params import load_params
from tabular_mlops.ct.drift_stats import detect
from tabular_mlops.ct.simulate import simulate
from tests.conftest import ROOT
from tests.support import documented_shifts

SPLITS = 40
TRIALS = 20

PARAMS = load_params(ROOT / "params.yaml")
SHIFTS = documented_shifts(
    read_csv(ROOT / PARAMS.paths.raw), PARAMS.data, PARAMS.drift.discrete_max_values
)


@pytest.fixture(scope="module")
def shipped(root, params) -> pd.DataFrame:
    return read_csv(root / params.paths.raw)


def halves(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(rows)
    return order[: rows // 2], order[rows // 2 :]


def test_random_splits_of_the_shipped_data_rarely_alarm(shipped, params) -> None:
    rng = np.random.default_rng(8)
    alarms = 0
    for _ in range(SPLITS):
        reference, current = halves(rng, len(shipped))
        result = detect(shipped.iloc[reference], shipped.iloc[current], params.data, params.drift)
        alarms += result.drift
    assert alarms <= SPLITS * 0.05


@pytest.mark.parametrize(("shift", "column"), list(SHIFTS.values()), ids=list(SHIFTS))
def test_each_documented_shift_is_caught_and_named(shipped, params, shift, column) -> None:
    rng = np.random.default_rng(9)
    taken = shipped[params.data.id_column] if params.data.id_column is not None else None
    caught = 0
    for trial in range(TRIALS):
        reference, current = halves(rng, len(shipped))
        batch = simulate(
            shipped.iloc[current], params.data, params.simulate, 1000, trial, shift, taken
        )
        result = detect(shipped.iloc[reference], batch, params.data, params.drift)
        caught += any(c.column == column and c.drifted for c in result.columns)
    assert caught >= TRIALS * required_rate(len(shipped) // 2)


def required_rate(reference_rows: int) -> float:
    """95% of the documented shifts are caught with a reference of 1,000 rows or more; with a
    few hundred the tests have less power (a 15-point shift is not always significant), so 75%."""
    return 0.95 if reference_rows >= 1000 else 0.75
