"""Per task, what the target drafts: labels and class balance (classification) or the target's
range (regression), and gate floors and baseline margins that only ask to beat a baseline.

Why the numbers are what they are: see the package docstring (`tabular_mlops.init`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.init.columns import draft_column
from tabular_mlops.init.target import choose_positive, native

#: The share of rows prepare holds out; a label needs enough rows for one of them to land there.
TEST_SHARE = 0.2
MIN_ROWS_PER_LABEL = math.ceil(1 / TEST_SHARE)

#: Per task, the gated metrics and how much worse than the champion each may be: (absolute,
#: relative). Scores in [0, 1] move by a fixed amount; losses and errors by a share of their value.
GATED: dict[str, tuple[tuple[str, float, float], ...]] = {
    "binary": (
        ("roc_auc", 0.01, 0.0),
        ("pr_auc", 0.02, 0.0),
        ("f1", 0.02, 0.0),
        ("recall", 0.03, 0.0),
        ("log_loss", 0.0, 0.03),
        ("brier", 0.0, 0.03),
    ),
    "multiclass": (
        ("accuracy", 0.02, 0.0),
        ("f1_macro", 0.02, 0.0),
        ("roc_auc_ovr", 0.01, 0.0),
        ("log_loss", 0.0, 0.03),
    ),
    "regression": (("rmse", 0.0, 0.03), ("mae", 0.0, 0.03), ("r2", 0.02, 0.0)),
}


@dataclass(frozen=True)
class TargetDraft:
    """What params.yaml says about the target, and the line the summary prints about it."""

    labels: tuple[Any, ...] | None = None
    positive_label: Any = None
    positive_reason: str = ""
    positive_share: float | None = None
    target_range: tuple[float, float] | None = None
    class_shares: dict[Any, tuple[float, float]] = field(default_factory=dict)
    gate_floors: dict[str, float | None] = field(default_factory=dict)
    baseline_margin: dict[str, float] = field(default_factory=dict)
    summary: str = ""


def draft_target(
    values: pd.Series, task: str, *, source: str, target: str, positive: str | None = None
) -> TargetDraft:
    """The target's part of the draft for `task`, or one line saying why it cannot be learnt."""
    if positive is not None and task != "binary":
        raise PipelineError(f"{source}: POSITIVE= applies to a binary target (task is {task})")
    counts = values.value_counts()
    if task == "regression":
        return _regression(values, source, target)
    if pd.api.types.is_float_dtype(values.dropna()) and not (values.dropna() % 1 == 0).all():
        example = values.dropna()[values.dropna() % 1 != 0].iloc[0]
        raise PipelineError(
            f"{source}: target {target!r} holds fractions (e.g. {example!r}): class labels are "
            "text or whole numbers (TASK=regression to predict the number)"
        )
    if task == "binary":
        if len(counts) != 2:
            raise PipelineError(
                f"{source}: TASK=binary but target {target!r} has {len(counts)} distinct values "
                "(TASK=multiclass, or leave TASK unset)"
            )
        return _binary(values, counts, source, positive)
    if len(counts) < 3:
        raise PipelineError(
            f"{source}: TASK=multiclass but target {target!r} has {len(counts)} distinct values: "
            "two labels are a binary task (leave TASK unset)"
        )
    return _multiclass(values, counts, source, target)


def share_bounds(share: float) -> tuple[float, float]:
    """Three standard errors of a 50-row batch's share (at least 0.05) either way, never below a
    quarter of the observed share, so a batch without the class still fails."""
    width = max(0.05, 3 * math.sqrt(share * (1 - share) / 50))
    low = max(math.floor((share - width) * 100), math.floor(share * 25)) / 100
    high = min(1.0, math.ceil((share + width) * 100) / 100)
    return low, high


def _binary(values: pd.Series, counts: pd.Series, source: str, positive: str | None) -> TargetDraft:
    try:
        label, reason = choose_positive(counts, positive)
    except PipelineError as err:
        raise PipelineError(f"{source}: {err}") from None
    negative = next(native(v) for v in counts.index if native(v) != label)
    is_positive = values.map(lambda v: native(v) == label if pd.notna(v) else False)
    share = float(is_positive.sum() / values.notna().sum())
    roc_margin = 0.1
    pr_margin = max(0.01, math.floor(share * 50) / 100)
    return TargetDraft(
        labels=(negative, label),
        positive_label=label,
        positive_reason=reason,
        positive_share=share,
        class_shares={label: share_bounds(share)},
        gate_floors={
            "roc_auc": round(0.5 + roc_margin, 2),
            "pr_auc": min(0.99, math.floor((share + pr_margin) * 100) / 100),
            "f1": None,
            "recall": None,
            "log_loss": None,
            "brier": None,
        },
        baseline_margin={"roc_auc": roc_margin, "pr_auc": pr_margin},
        summary=f"positive label: {label!r} ({reason}; POSITIVE= to change)",
    )


def sorted_labels(labels: list[Any]) -> tuple[Any, ...]:
    """Numbers in numeric order, anything else in text order: stable as rows are added, so a
    label keeps its class code from one data release to the next."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        return tuple(sorted(labels))
    return tuple(sorted(labels, key=str))


def _multiclass(values: pd.Series, counts: pd.Series, source: str, target: str) -> TargetDraft:
    by_label = {native(v): int(n) for v, n in counts.items()}
    rare = sorted((n, str(label), label) for label, n in by_label.items())[0]
    if rare[0] < MIN_ROWS_PER_LABEL:
        raise PipelineError(
            f"{source}: target {target!r}: label {rare[2]!r} has {rare[0]} row(s); each label "
            f"needs at least {MIN_ROWS_PER_LABEL} so the {TEST_SHARE:.0%} test split holds one "
            "(drop those rows or merge the label into another)"
        )
    labels = sorted_labels(list(by_label))
    total = sum(by_label.values())
    shares = {label: by_label[label] / total for label in labels}
    majority = max(shares.values())
    # A model that always answers the majority label: f1 2p/(1+p) on that label, 0 elsewhere.
    f1_majority = 2 * majority / (1 + majority) / len(labels)
    f1_margin, auc_margin = 0.05, 0.1
    return TargetDraft(
        labels=labels,
        class_shares={label: share_bounds(share) for label, share in shares.items()},
        gate_floors={
            "accuracy": None,
            "f1_macro": min(0.99, math.floor((f1_majority + f1_margin) * 100) / 100),
            "roc_auc_ovr": round(0.5 + auc_margin, 2),
            "log_loss": None,
        },
        baseline_margin={"f1_macro": f1_margin, "roc_auc_ovr": auc_margin},
        summary=(
            f"labels: {len(labels)} (majority {majority:.1%} of rows, rarest "
            f"{rare[0]} rows; classes in sorted order)"
        ),
    )


def _regression(values: pd.Series, source: str, target: str) -> TargetDraft:
    present = values.dropna()
    numbers = _as_numbers(present, source, target)
    if numbers.nunique() < 2:
        raise PipelineError(f"{source}: target {target!r} has a single value; nothing to predict")
    column = draft_column(target, numbers)
    std = float(numbers.std(ddof=0))
    mad = float((numbers - numbers.mean()).abs().mean())
    # The DummyRegressor predicts the mean: rmse ~ std, mae ~ mad, r2 ~ 0. Ask for 5% less error.
    share = 0.05
    rmse_margin = _round_sig(std * share, math.floor)
    mae_margin = _round_sig(mad * share, math.floor)
    return TargetDraft(
        target_range=column.range,
        gate_floors={
            "rmse": _round_sig(std - rmse_margin, math.ceil),
            "mae": _round_sig(mad - mae_margin, math.ceil),
            "r2": 0.1,
        },
        baseline_margin={"rmse": rmse_margin, "mae": mae_margin, "r2": 0.1},
        summary=(
            f"target: numbers from {_shown(numbers.min())} to {_shown(numbers.max())} "
            f"(mean {numbers.mean():.4g}, std {std:.4g}); target_range {list(column.range or ())}"
        ),
    )


def _as_numbers(present: pd.Series, source: str, target: str) -> pd.Series:
    """The target as floats, or one line naming values that are not numbers."""
    if pd.api.types.is_bool_dtype(present) or present.map(type).eq(bool).any():
        raise PipelineError(
            f"{source}: TASK=regression but target {target!r} holds true/false, not numbers"
        )
    numbers = pd.to_numeric(present.astype("string").str.strip(), errors="coerce")
    bad = present[numbers.isna()]
    if len(bad):
        shown = ", ".join(repr(v) for v in sorted(set(bad.astype(str)))[:3])
        raise PipelineError(
            f"{source}: TASK=regression but target {target!r} holds {len(bad)} values that are "
            f"not numbers (e.g. {shown})"
        )
    return numbers.astype("float64")


def _round_sig(value: float, rounding: Any, digits: int = 3) -> float:
    """`value` to `digits` significant digits, rounded with `rounding` (math.floor or math.ceil)."""
    if value == 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(abs(value))) - digits + 1)
    rounded = rounding(round(value / scale, 9)) * scale
    return float(round(rounded, max(0, -math.floor(math.log10(scale)))))


def _shown(value: float) -> str:
    return f"{value:.6g}"
