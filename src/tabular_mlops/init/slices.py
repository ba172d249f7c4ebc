"""Which columns evaluate breaks metrics down by: slices of categories, bands of a number.

Slices are only useful when each group has enough test rows to judge, hence small categories
with the largest smallest group first; a band is most telling on the numeric column that ranks
the target best.
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
    frame: pd.DataFrame, columns: tuple[ColumnDraft, ...], target: pd.Series, task: str
) -> dict[str, tuple[float, ...]]:
    """Quartile edges of the numeric column that tells the target apart best; {} if none."""
    best: tuple[float, str] | None = None
    for column in columns:
        if column.median is None:
            continue
        strength = association(frame[column.name], target, task)
        if not math.isnan(strength) and (best is None or strength > best[0]):
            best = (strength, column.name)
    if best is None:
        return {}
    name = best[1]
    column = next(c for c in columns if c.name == name)
    quartiles = frame[name].quantile([0.25, 0.5, 0.75]).to_list()
    edges = sorted({column.warn[0], *(_round_like(q, column) for q in quartiles)})  # type: ignore[index]
    return {name: tuple(edges)} if len(edges) >= 2 else {}


def association(values: pd.Series, target: pd.Series, task: str) -> float:
    """How well a numeric column's ranks tell the target apart, in [0, 1].

    Regression: |Spearman correlation|. Classification: the correlation ratio (eta) of the
    column's ranks across labels, which for two labels is |Spearman| with the positive class.
    """
    both = pd.DataFrame({"x": values, "y": target}).dropna()
    if len(both) < 3:
        return math.nan
    ranks = both["x"].rank()
    if task == "regression":
        numbers = pd.to_numeric(both["y"], errors="coerce")
        return abs(ranks.corr(numbers.rank()))
    total = float(((ranks - ranks.mean()) ** 2).sum())
    if total == 0:
        return math.nan
    groups = ranks.groupby(both["y"].astype(str))
    between = float((groups.count() * (groups.mean() - ranks.mean()) ** 2).sum())
    return math.sqrt(between / total)


def _round_like(value: float, column: ColumnDraft) -> float:
    digits = max(0, 2 - math.floor(math.log10(abs(value)))) if value else 0
    rounded = round(value, digits if column.kind == "number" else 0)
    return int(rounded) if float(rounded).is_integer() else rounded
