"""The dataset-level draft: task, labels, id column, row bounds, slices and gates.

Pure: a DataFrame and the user's overrides in, a `Draft` of plain values out. `render` turns it
into params.yaml; `cli` reads, writes and prints. Why the heuristics are what they are: see the
package docstring (`tabular_mlops.init`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.init.columns import ColumnDraft, draft_column
from tabular_mlops.init.slices import choose_bands, choose_slices
from tabular_mlops.init.target import (
    check_target,
    choose_positive,
    infer_task,
    native,
    shown_columns,
)

#: Tasks params.py accepts today; the others are drafted, then refused with one line.
SUPPORTED_TASKS = ("binary",)
_ID_NAME_CASED = re.compile(r"[a-z0-9]Id$|[a-z0-9_\s.-]ID$|^ID$")


@dataclass(frozen=True)
class Draft:
    """Everything `make init` infers, in the form params.yaml holds it."""

    csv_name: str
    rows: int
    task: str
    target: str
    labels: tuple[Any, ...] | None
    positive_label: Any
    positive_reason: str
    positive_share: float | None
    id_column: str | None
    id_reason: str
    target_values: int
    columns: tuple[ColumnDraft, ...]
    min_rows: int
    max_rows: int
    class_shares: dict[Any, tuple[float, float]]
    slice_columns: tuple[str, ...]
    bands: dict[str, tuple[float, ...]]
    name: str
    ingest_min_rows: int
    slice_min_rows: int
    gate_floors: dict[str, float | None] = field(default_factory=dict)
    baseline_margin: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def looks_like_id(name: str) -> bool:
    """`id`, `customer_id`, `id_customer`, `PassengerId`, `CustomerID`, `index`, `Unnamed: 0`."""
    if _ID_NAME_CASED.search(name):
        return True
    lowered = name.lower()
    return bool(re.search(r"^(id|key|index|rownames|unnamed: ?0)$|^id[_\s.-]|[_\s.-]id$", lowered))


def find_id(
    frame: pd.DataFrame, target: str, explicit: str | None, source: str
) -> tuple[str | None, str]:
    """The id column: `explicit` (checked), else the first id-named unique complete column."""
    if explicit is not None and explicit.lower() == "none" and explicit not in frame.columns:
        return None, "ID=none"
    if explicit is not None:
        if explicit not in frame.columns:
            raise PipelineError(
                f"{source}: ID column {explicit!r} is not a column ({shown_columns(frame)})"
            )
        if explicit == target:
            raise PipelineError(f"{source}: ID column {explicit!r} is the target")
        values = frame[explicit]
        if values.isna().any():
            raise PipelineError(
                f"{source}: ID column {explicit!r} has {int(values.isna().sum())} empty cells"
            )
        repeated = values[values.duplicated()]
        if len(repeated):
            raise PipelineError(
                f"{source}: ID column {explicit!r} is not unique ({len(repeated)} repeated values, "
                f"e.g. {native(repeated.iloc[0])!r})"
            )
        return explicit, "ID="
    for name in frame.columns:
        if name != target and looks_like_id(str(name)):
            values = frame[name]
            if values.notna().all() and values.is_unique:
                return str(name), "named like an id, unique and never empty"
    return None, "no column is both named like an id and unique; ID=column sets one"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "project"


def draft(
    frame: pd.DataFrame,
    target: str,
    *,
    source: str,
    csv_name: str,
    name: str,
    id_column: str | None = None,
    task: str | None = None,
    positive: str | None = None,
) -> Draft:
    """Draft the whole dataset configuration from the user's frame and overrides."""
    values = check_target(frame, target, source)
    task = infer_task(values, task)
    present = values.dropna()
    fractions = pd.api.types.is_float_dtype(present) and not (present == present.round()).all()
    if task != "regression" and fractions:
        raise PipelineError(
            f"{source}: target {target!r} holds fractions (e.g. {present.iloc[0]!r}): "
            "class labels are text or whole numbers"
        )
    chosen_id, id_reason = find_id(frame, target, id_column, source)
    rows = len(frame)
    columns = tuple(
        draft_column(str(col), frame[col])
        for col in frame.columns
        if col not in (target, chosen_id)
    )
    columns = tuple(_ignore_id_like(c) for c in columns)
    if all(c.kind == "ignored" for c in columns):
        why = "; ".join(f"{c.name}: {c.reason}" for c in columns[:3]) or "no other columns"
        raise PipelineError(f"{source}: no column can be a feature ({why})")
    notes = []
    if values.isna().any():
        notes.append(f"{int(values.isna().sum())} rows have no target: the contract rejects them")
    labels = positive_label = positive_reason = share = None
    class_shares: dict[Any, tuple[float, float]] = {}
    is_positive = None
    counts = values.value_counts()
    if task == "binary" and len(counts) != 2:
        raise PipelineError(_unsupported(source, target, len(counts), task))
    if task == "binary":
        try:
            positive_label, positive_reason = choose_positive(counts, positive)
        except PipelineError as err:
            raise PipelineError(f"{source}: {err}") from None
        negative = next(native(v) for v in counts.index if native(v) != positive_label)
        labels = (negative, positive_label)
        is_positive = values.map(lambda v: native(v) == positive_label if pd.notna(v) else False)
        share = float(is_positive.sum() / values.notna().sum())
        width = max(0.05, 3 * math.sqrt(share * (1 - share) / 50))
        low = max(math.floor((share - width) * 100), math.floor(share * 25)) / 100
        high = min(1.0, math.ceil((share + width) * 100) / 100)
        class_shares = {positive_label: (low, high)}
    min_rows = min(rows, max(50, rows // 10))
    test_rows = max(1, int(rows * 0.2))
    gate_floors, margins = _binary_gates(share) if task == "binary" else ({}, {})
    return Draft(
        csv_name=csv_name,
        rows=rows,
        task=task,
        target=target,
        labels=labels,
        positive_label=positive_label,
        positive_reason=positive_reason or "",
        positive_share=share,
        id_column=chosen_id,
        id_reason=id_reason,
        target_values=len(counts),
        columns=columns,
        min_rows=min_rows,
        max_rows=_round_up_2sig(max(100 * rows, 1000)),
        class_shares=class_shares,
        slice_columns=choose_slices(frame, columns),
        bands=choose_bands(frame, columns, is_positive),
        name=slugify(name),
        ingest_min_rows=min(50, min_rows),
        slice_min_rows=max(10, min(50, test_rows // 4)),
        gate_floors=gate_floors,
        baseline_margin=margins,
        notes=tuple(notes),
    )


def _unsupported(source: str, target: str, distinct: int, task: str) -> str:
    said = f"target {target!r} has {distinct} distinct values"
    if task != "binary" and distinct == 2:
        said = f"TASK={task} for target {target!r}"
    return (
        f"{source}: {said}; only binary targets are supported in this release "
        "(multiclass and regression are coming)"
    )


def check_supported(draft_: Draft, source: str) -> None:
    """Refuse, in one line, a task params.py cannot hold yet."""
    if draft_.task not in SUPPORTED_TASKS:
        raise PipelineError(_unsupported(source, draft_.target, draft_.target_values, draft_.task))


def _binary_gates(share: float) -> tuple[dict[str, float | None], dict[str, float]]:
    """Floors that only ask the model to beat a prior-predicting baseline by a margin.

    The baseline scores roc_auc 0.5 and pr_auc equal to the positive share; the pr_auc margin is
    half the positive share (at least 0.01), so the bar scales with how rare the class is.
    """
    roc_margin = 0.1
    pr_margin = max(0.01, math.floor(share * 50) / 100)
    floors: dict[str, float | None] = {
        "roc_auc": round(0.5 + roc_margin, 2),
        "pr_auc": min(0.99, math.floor((share + pr_margin) * 100) / 100),
        "f1": None,
        "recall": None,
        "log_loss": None,
        "brier": None,
    }
    return floors, {"roc_auc": roc_margin, "pr_auc": pr_margin}


def _ignore_id_like(column: ColumnDraft) -> ColumnDraft:
    if column.kind in ("ignored", "category") or not looks_like_id(column.name):
        return column
    return ColumnDraft(
        column.name,
        "ignored",
        reason="named like an id (but not the id column): numbers that name things are not "
        "quantities; set kind: category if it groups rows",
    )


def _round_up_2sig(value: int) -> int:
    step = 10 ** max(0, len(str(value)) - 2)
    return -(-value // step) * step
