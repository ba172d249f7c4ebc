"""The dataset-level draft: task, labels, id column, row bounds, slices and gates.

Pure: a DataFrame and the user's overrides in, a `Draft` of plain values out. `render` turns it
into params.yaml; `cli` reads, writes and prints. Why the heuristics are what they are: see the
package docstring (`tabular_mlops.init`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.init.columns import ColumnDraft, draft_column
from tabular_mlops.init.slices import choose_bands, choose_slices
from tabular_mlops.init.target import check_target, infer_task, native, shown_columns
from tabular_mlops.init.tasks import draft_target

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
    target_range: tuple[float, float] | None
    target_summary: str
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
    drafted_target = draft_target(values, task, source=source, target=target, positive=positive)
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
    min_rows = min(rows, max(50, rows // 10))
    test_rows = max(1, int(rows * 0.2))
    return Draft(
        csv_name=csv_name,
        rows=rows,
        task=task,
        target=target,
        labels=drafted_target.labels,
        positive_label=drafted_target.positive_label,
        positive_reason=drafted_target.positive_reason,
        positive_share=drafted_target.positive_share,
        target_range=drafted_target.target_range,
        target_summary=drafted_target.summary,
        id_column=chosen_id,
        id_reason=id_reason,
        target_values=int(values.nunique()),
        columns=columns,
        min_rows=min_rows,
        max_rows=_round_up_2sig(max(100 * rows, 1000)),
        class_shares=drafted_target.class_shares,
        slice_columns=choose_slices(frame, columns),
        bands=choose_bands(frame, columns, values, task),
        name=slugify(name),
        ingest_min_rows=min(50, min_rows),
        slice_min_rows=max(10, min(50, test_rows // 4)),
        gate_floors=drafted_target.gate_floors,
        baseline_margin=drafted_target.baseline_margin,
        notes=tuple(notes),
    )


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
