"""Per-column drafting: the kind of each column and the bounds its data contract starts from.

Pure: a pandas Series in, a `ColumnDraft` (plain values) out. The rules and why they are what
they are are in the package docstring (`tabular_mlops.init`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Text columns with more distinct values than this are not drafted as categories.
CATEGORY_MAX_VALUES = 50
#: A text column whose distinct values are at least this share of its rows names rows, not groups.
NEARLY_UNIQUE_SHARE = 0.9
#: Median text length (characters) or word count from which a column counts as free text.
FREE_TEXT_CHARS = 40
FREE_TEXT_WORDS = 5
#: A numeric column needs this many distinct values before a band for its median means much.
MEDIAN_MIN_VALUES = 10
#: Missing-share headroom is sized for a batch of this many rows (ingest's smallest batch).
BATCH_ROWS = 50

_DATE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}.*)?\s*$"
)


@dataclass(frozen=True)
class ColumnDraft:
    """One column's entry under `data.columns`, plus why it was drafted that way."""

    name: str
    kind: str
    range: tuple[float, float] | None = None
    warn: tuple[float, float] | None = None
    median: tuple[float, float] | None = None
    values: tuple[Any, ...] | None = None
    missing: float = 0.0
    reason: str = ""
    note: str = ""

    def spec(self) -> dict[str, Any]:
        """The mapping params.yaml holds for this column (keys at their defaults left out)."""
        spec: dict[str, Any] = {"kind": self.kind}
        for key in ("range", "warn", "median", "values"):
            if getattr(self, key) is not None:
                spec[key] = list(getattr(self, key))
        if self.missing:
            spec["missing"] = self.missing
        return spec


def missing_allowance(share: float, batch_rows: int = BATCH_ROWS) -> float:
    """The observed share of empty cells plus three standard errors of that share in a batch
    of `batch_rows` rows, rounded up to 0.01; 0 when nothing is missing."""
    if share <= 0:
        return 0.0
    headroom = 3 * math.sqrt(share * (1 - share) / batch_rows)
    return min(1.0, _ceil_to(share + headroom, 0.01))


def is_bool_like(values: pd.Series) -> bool:
    """True for a bool column, or an object column of True/False with empty cells."""
    if pd.api.types.is_bool_dtype(values):
        return True
    present = values.dropna()
    return values.dtype == object and len(present) > 0 and present.map(type).eq(bool).all()


def is_zero_one(values: pd.Series) -> bool:
    present = values.dropna()
    return pd.api.types.is_numeric_dtype(present) and set(present.unique()) <= {0, 1}


def draft_column(name: str, values: pd.Series) -> ColumnDraft:
    """Draft one feature column's kind and contract bounds from its values."""
    rows = len(values)
    present = values.dropna()
    missing = missing_allowance((rows - len(present)) / rows if rows else 0.0)
    if present.empty:
        return ColumnDraft(name, "ignored", reason="every cell is empty")
    if present.nunique() == 1:
        only = present.iloc[0]
        return ColumnDraft(name, "ignored", reason=f"a single value ({only!r}) in every row")
    if is_bool_like(values):
        return ColumnDraft(name, "category", values=(False, True), missing=missing)
    if pd.api.types.is_numeric_dtype(values):
        # Whole numbers written as "181.0" read as floats: the contract holds a complete integer
        # column to an integer dtype, so only one the CSV reads as integers (or with gaps) is.
        whole_only = pd.api.types.is_integer_dtype(values) or missing > 0
        return _numeric(name, present.astype(float), missing, whole_only)
    return _text(name, present.astype(str), missing)


def _numeric(name: str, present: pd.Series, missing: float, whole_only: bool = True) -> ColumnDraft:
    if not np.isfinite(present).all():
        return ColumnDraft(name, "ignored", reason="holds infinite values")
    integer = whole_only and bool((present == present.round()).all())
    kind = "integer" if integer else "number"
    low, high = float(present.min()), float(present.max())
    if integer and low == 0 and high == 1:
        return ColumnDraft(name, kind, range=(0, 1), missing=missing)
    span = high - low
    step = 10 ** math.floor(math.log10(span) - 1)
    fine = 1 if integer else 10 ** math.floor(math.log10(span) - 3)
    wide_low, wide_high = low - span, high + span
    if low >= 0:
        wide_low = max(0.0, wide_low)
    median = None
    q25, q50, q75 = (float(q) for q in present.quantile([0.25, 0.5, 0.75]))
    if present.nunique() >= MEDIAN_MIN_VALUES and q75 > q25:
        half = (q75 - q25) / 2
        median = (_floor_to(max(low, q50 - half), fine), _ceil_to(min(high, q50 + half), fine))
    note = ""
    if integer and present.is_unique and (present.sort_values().diff().dropna() == 1).all():
        note = "consecutive unique whole numbers: a row number? (ID= it, or set kind: ignored)"
    return ColumnDraft(
        name,
        kind,
        range=(_floor_to(wide_low, max(step, fine)), _ceil_to(wide_high, max(step, fine))),
        warn=(_floor_to(low, fine), _ceil_to(high, fine)),
        median=median,
        missing=missing,
        note=note,
    )


def _text(name: str, present: pd.Series, missing: float) -> ColumnDraft:
    distinct = present.nunique()
    numeric = pd.to_numeric(present, errors="coerce")
    note = ""
    if numeric.notna().mean() >= 0.9:
        odd = sorted(present[numeric.isna()].unique())[:3]
        shown = ", ".join(repr(v) for v in odd)
        note = f"mostly numbers, but also {shown}: clean those cells or read them as empty"
    if _DATE.match(present.iloc[0]) and present.str.match(_DATE).mean() >= 0.9:
        return ColumnDraft(name, "ignored", reason="looks like dates or times", note=note)
    lengths = present.str.len()
    words = present.str.split().str.len()
    if lengths.median() >= FREE_TEXT_CHARS or words.median() >= FREE_TEXT_WORDS:
        return ColumnDraft(name, "ignored", reason="looks like free text", note=note)
    if distinct > 2 and distinct >= NEARLY_UNIQUE_SHARE * len(present):
        return ColumnDraft(
            name, "ignored", reason=f"nearly unique per row ({distinct} values)", note=note
        )
    if distinct > CATEGORY_MAX_VALUES:
        return ColumnDraft(
            name,
            "ignored",
            reason=f"{distinct} distinct values (more than {CATEGORY_MAX_VALUES}): group them "
            "into fewer categories first",
            note=note,
        )
    return ColumnDraft(
        name, "category", values=tuple(sorted(present.unique())), missing=missing, note=note
    )


def _floor_to(value: float, step: float) -> float:
    return _tidy(math.floor(round(value / step, 9)) * step, step)


def _ceil_to(value: float, step: float) -> float:
    return _tidy(math.ceil(round(value / step, 9)) * step, step)


def _tidy(value: float, step: float) -> float:
    """Drop the float noise of `k * step`, and give whole numbers as ints."""
    value = round(value, max(0, -math.floor(math.log10(step))) + 1)
    return int(value) if float(value).is_integer() else value
