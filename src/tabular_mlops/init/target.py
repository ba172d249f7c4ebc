"""The target: which task it poses, its labels and which one is positive, and one-line errors
for a target that cannot be learnt. Why: see the package docstring (`tabular_mlops.init`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tabular_mlops.core.errors import PipelineError

TASKS = ("binary", "multiclass", "regression")
#: A numeric target with more distinct values than this (or any fractions) is a regression.
MULTICLASS_MAX_VALUES = 20


def infer_task(target: pd.Series, task: str | None = None) -> str:
    """Two distinct values: binary; a few whole numbers or any text: multiclass; else regression."""
    if task:
        if task not in TASKS:
            raise PipelineError(f"TASK={task!r}: expected one of {', '.join(TASKS)}")
        return task
    present = target.dropna()
    distinct = present.nunique()
    if distinct == 2:
        return "binary"
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if numeric and (distinct > MULTICLASS_MAX_VALUES or not (present == present.round()).all()):
        return "regression"
    return "multiclass"


def native(value: Any) -> Any:
    """A label or value as params.yaml holds it: numpy scalars to int/bool/str, 1.0 to 1."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if not value.is_integer():
            raise PipelineError(f"label {value!r} is a fraction: a label is text or a whole number")
        return int(value)
    return value


#: Target value pairs whose positive member everyone reads the same way: (negative, positive).
CONVENTIONAL_PAIRS = (
    ("0", "1"),
    ("false", "true"),
    ("no", "yes"),
    ("n", "y"),
    ("f", "t"),
    ("negative", "positive"),
)


def choose_positive(counts: pd.Series, positive: str | None) -> tuple[Any, str]:
    """`positive` when it names a label (matched as text); else the positive value of a
    conventional pair (1 of 0/1, true, yes); else the minority class."""
    labels = [native(v) for v in counts.index]
    if positive is not None:
        for label in labels:
            if str(label) == positive or (
                isinstance(label, bool) and str(label).lower() == positive.lower()
            ):
                return label, "POSITIVE="
        shown = ", ".join(repr(label) for label in sorted(labels, key=str))
        raise PipelineError(f"POSITIVE={positive!r} is not a target value (values: {shown})")
    by_text = {str(label).strip().lower(): label for label in labels}
    for negative, positive_text in CONVENTIONAL_PAIRS:
        if set(by_text) == {negative, positive_text}:
            return by_text[positive_text], "the conventional positive value of its pair"
    ordered = sorted(zip(labels, counts.to_list(), strict=True), key=lambda lc: (lc[1], str(lc[0])))
    label, count = ordered[0]
    if count == ordered[1][1]:
        return ordered[1][0], "the classes are balanced: the last label in sort order"
    return label, f"minority class, {count / counts.sum():.1%} of rows"


def shown_columns(frame: pd.DataFrame, limit: int = 12) -> str:
    names = [str(n) for n in frame.columns]
    more = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return "columns: " + ", ".join(names[:limit]) + more


def check_target(frame: pd.DataFrame, target: str, source: str) -> pd.Series:
    if not target:
        raise PipelineError("TARGET=column is required (make init CSV=path TARGET=column)")
    if target not in frame.columns:
        hint = " (one column only: is the file comma-separated?)" if frame.shape[1] == 1 else ""
        near = [str(c) for c in frame.columns if str(c).lower() == target.lower()]
        hint = f" (did you mean {near[0]!r}?)" if near else hint
        raise PipelineError(f"{source}: no column {target!r}{hint} ({shown_columns(frame)})")
    values = frame[target]
    distinct = values.dropna().unique()
    if len(distinct) < 2:
        what = f"a single value ({native(distinct[0])!r})" if len(distinct) else "no values"
        raise PipelineError(f"{source}: target {target!r} has {what}; there is nothing to learn")
    return values
