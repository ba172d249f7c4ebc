"""Test data drawn from whatever dataset params.yaml describes, so the suite runs unchanged on a
fork's own data after `make init`. Nothing here names a column of any particular dataset."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.dataset import ColumnSpec, DataParams
from tabular_mlops.core.params import Params

SAMPLE_ROWS = 300
SEED = 20261125


def sample_rows(raw: pd.DataFrame, data: DataParams, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """A deterministic, stratified sample of the raw data: every label, every allowed-missing
    column's empty cells kept when there are any, and the raw file's column order."""
    if len(raw) <= rows:
        return raw.copy()
    rng = np.random.default_rng(SEED)
    keep: set[int] = set()
    for name, spec in data.columns.items():
        empty = np.flatnonzero(raw[name].isna().to_numpy()) if spec.missing > 0 else []
        keep.update(int(i) for i in list(empty)[:3])
    share = (rows - len(keep)) / len(raw)
    for _, group in raw.groupby(raw[data.target].astype(str), sort=True):
        take = max(2, round(len(group) * share))
        keep.update(
            int(i) for i in rng.choice(group.index, size=min(take, len(group)), replace=False)
        )
    return raw.loc[sorted(keep)].reset_index(drop=True)


def write_sample(params: Params, root: Path, out: Path, rows: int = SAMPLE_ROWS) -> Path:
    """Write `sample_rows` of the configured raw file to `out`, as a CSV the contract accepts."""
    raw = pd.read_csv(root / params.paths.raw, na_values=["", " "], encoding="utf-8-sig")
    sample_rows(raw, params.data, rows).to_csv(out, index=False)
    return out


def columns_of(data: DataParams, *kinds: str, where: Any = None) -> list[str]:
    """Column names of the given kinds (all kinds if none), optionally filtered by `where(spec)`."""
    return [
        name
        for name, spec in data.columns.items()
        if (not kinds or spec.kind in kinds) and (where is None or where(spec))
    ]


def first(names: Iterable[str]) -> list[str]:
    """At most one name: a test case per kind of column, not per column."""
    return list(names)[:1]


def typical_row(frame: pd.DataFrame, data: DataParams) -> dict[str, Any]:
    """A plausible input row: the median of each numeric feature, the mode of each category."""
    row: dict[str, Any] = {}
    for name in data.numeric:
        row[name] = float(frame[name].median())
    for name in data.categorical:
        row[name] = frame[name].mode(dropna=True).iloc[0]
    return row


def outside(spec: ColumnSpec) -> float:
    """A number beyond the critical range (above it, or below when the range is open above)."""
    assert spec.range is not None
    low, high = spec.range
    return float(high) + max(1.0, abs(float(high) - float(low)))


def load_params_at_root() -> Params:
    """params.yaml of this checkout, for parametrizing tests at collection time."""
    from tabular_mlops.core.params import load_params

    return load_params(Path(__file__).resolve().parents[1] / "params.yaml")
