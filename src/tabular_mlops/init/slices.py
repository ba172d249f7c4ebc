"""Which columns evaluate breaks metrics down by: slices of categories, bands of a number.

Slices are only useful when each group has enough test rows to judge, hence small categories
with the largest smallest group first; a band is most telling on the numeric column that ranks
the positive class best.
"""

from __future__ import annotations

import math

import pandas as pd

from tabular_mlops.init.columns import ColumnDraft, is_zero_one

SLICE_MAX_VALUES = 10
MAX_SLICES = 3


def choose_slices(frame: pd.DataFrame, columns: tuple[ColumnDraft, ...]) -> tuple[str, ...]:
    """Up to three categories or 0/1 columns of 2 to 10 values, largest smallest group first."""
    scored = []
    for order, column in enumerate(columns):
        values = frame[column.name]
        zero_one = column.kind == "integer" and column.range == (0, 1) and is_zero_one(values)
        if column.kind != "category" and not zero_one:
            continue
        counts = values.value_counts()
        if 2 <= len(counts) <= SLICE_MAX_VALUES:
            scored.append((-counts.min(), order, column.name))
    return tuple(name for _, _, name in sorted(scored)[:MAX_SLICES])


def choose_bands(
    frame: pd.DataFrame, columns: tuple[ColumnDraft, ...], positive: pd.Series | None
) -> dict[str, tuple[float, ...]]:
    """Quartile edges of the numeric column that ranks the positive class best; {} if none."""
    best: tuple[float, str] | None = None
    for column in columns:
        if column.median is None or positive is None:
            continue
        values = frame[column.name]
        strength = abs(values.rank().corr(positive.astype(float).rank()))
        if not math.isnan(strength) and (best is None or strength > best[0]):
            best = (strength, column.name)
    if best is None:
        return {}
    name = best[1]
    column = next(c for c in columns if c.name == name)
    quartiles = frame[name].quantile([0.25, 0.5, 0.75]).to_list()
    edges = sorted({column.warn[0], *(_round_like(q, column) for q in quartiles)})  # type: ignore[index]
    return {name: tuple(edges)} if len(edges) >= 2 else {}


def _round_like(value: float, column: ColumnDraft) -> float:
    digits = max(0, 2 - math.floor(math.log10(abs(value)))) if value else 0
    rounded = round(value, digits if column.kind == "number" else 0)
    return int(rounded) if float(rounded).is_integer() else rounded
