"""Test data drawn from whatever dataset params.yaml describes, so the suite runs unchanged on a
fork's own data after `make init`. Nothing here names a column of any particular dataset."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.dataset import ColumnSpec, DataParams
from tabular_mlops.core.params import Params
from tabular_mlops.ct.simulate import Shift

SAMPLE_ROWS = 300
SEED = 20261125


def sample_rows(raw: pd.DataFrame, data: DataParams, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """A deterministic, stratified sample of the raw data: every label (or every tenth of a
    regression target's range of values), every allowed-missing column's empty cells kept when
    there are any, and the raw file's column order."""
    if len(raw) <= rows:
        return raw.copy()
    rng = np.random.default_rng(SEED)
    keep: set[int] = set()
    for name, spec in data.columns.items():
        empty = np.flatnonzero(raw[name].isna().to_numpy()) if spec.missing > 0 else []
        keep.update(int(i) for i in list(empty)[:3])
    share = (rows - len(keep)) / len(raw)
    for _, group in raw.groupby(strata(raw[data.target], data), sort=True):
        take = max(2, round(len(group) * share))
        keep.update(
            int(i) for i in rng.choice(group.index, size=min(take, len(group)), replace=False)
        )
    return raw.loc[sorted(keep)].reset_index(drop=True)


def strata(target: pd.Series, data: DataParams, bins: int = 10) -> pd.Series:
    """What a sample stratifies by: the label, or a regression target's quantile bin (so its
    extremes are sampled too)."""
    if data.task != "regression":
        return target.astype(str)
    numbers = pd.to_numeric(target, errors="coerce")
    return pd.qcut(numbers.rank(method="first"), q=bins, labels=False).astype(str)


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


TASKS = ("binary", "multiclass", "regression")


def assert_task_scores(scores: np.ndarray, rows: int, task: str, classes: int) -> None:
    """Scores of the task's shape (core.task.model_scores): a probability per row (binary), a
    probability per class summing to 1 (multiclass), or a finite value per row (regression)."""
    assert np.isfinite(scores).all()
    if task == "multiclass":
        assert scores.shape == (rows, classes)
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-9)
    else:
        assert scores.shape == (rows,)
    if task != "regression":
        assert np.all((scores >= 0) & (scores <= 1))


def synthetic_raw(task: str, rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """A small raw CSV's frame for `task`: an id, a number the target follows, a count, a
    category, and the target `y` (two labels, three labels, or a number)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, rows)
    count = rng.integers(0, 50, rows)
    noisy = x + rng.normal(0, 0.3, rows)
    if task == "binary":
        y: Any = np.where(noisy > 0, "yes", "no")
    elif task == "multiclass":
        y = np.select([noisy < -0.5, noisy < 0.5], ["low", "mid"], "high")
    else:
        y = (3 * noisy + count / 10).round(3)
    return pd.DataFrame(
        {
            "row_id": np.arange(rows),
            "x": x.round(4),
            "count": count,
            "group": rng.choice(["a", "b", "c"], rows),
            "y": y,
        }
    )


def synthetic_params(task: str, raw: pd.DataFrame | None = None) -> dict[str, Any]:
    """params.yaml as `make init` drafts it for `synthetic_raw(task)`, as a plain mapping."""
    import yaml

    from tabular_mlops.init.draft import draft
    from tabular_mlops.init.render import render

    frame = synthetic_raw(task) if raw is None else raw
    drafted = draft(
        frame,
        "y",
        source="synthetic.csv",
        csv_name="synthetic.csv",
        name="synthetic",
        id_column="row_id",
        task=task,
    )
    return yaml.safe_load(render(drafted))


#: The size of each documented drift: a relative change of a numeric column, and the points a
#: share (a category value's, or the positive label's) moves by.
RELATIVE_SHIFT = 0.15
SHARE_SHIFT = 0.15


def moved_share(share: float) -> float:
    """A share moved by SHARE_SHIFT towards a half and beyond: always room in (0, 1)."""
    return share + SHARE_SHIFT if share <= 0.5 else share - SHARE_SHIFT


def covariate_column(frame: pd.DataFrame, data: DataParams, distinct_over: int) -> str | None:
    """The numeric feature a relative shift moves furthest for its spread (largest |mean|/std),
    among those with more than `distinct_over` values (drift tests fewer as categories) whose
    shifted values stay within the contract's plausible range (a shifted batch is ingested)."""
    best, score = None, 0.0
    for name in data.numeric:
        values = pd.to_numeric(frame[name], errors="coerce").dropna()
        spread = float(values.std()) if len(values) > 1 else 0.0
        if values.nunique() <= distinct_over or spread == 0:
            continue
        plausible = data.columns[name].range
        shifted = values * (1 + RELATIVE_SHIFT)
        if plausible is not None and not shifted.between(*plausible).all():
            continue
        if abs(float(values.mean())) / spread > score:
            best, score = name, abs(float(values.mean())) / spread
    return best


def share_shift(frame: pd.DataFrame, data: DataParams) -> tuple[str, str, float] | None:
    """(column, value, new share): the commonest value of the category column where that value's
    share is nearest a half, so it can move either way; None without a category column."""
    best, distance = None, 1.0
    for name in data.categorical:
        shares = frame[name].astype("string").str.strip().value_counts(normalize=True)
        if len(shares) < 2:
            continue
        value, share = str(shares.index[0]), float(shares.iloc[0])
        if abs(share - 0.5) < distance:
            best, distance = (name, value, moved_share(share)), abs(share - 0.5)
    return best


def positive_share(frame: pd.DataFrame, data: DataParams) -> float:
    labels = frame[data.target].astype("string").str.strip()
    return float(labels.eq(str(data.positive_label)).mean())


def prior_shift(frame: pd.DataFrame, data: DataParams) -> tuple[str, Shift]:
    """The task's prior shift and its description: the positive label's share (binary) or the
    commonest label's (multiclass) moved by SHARE_SHIFT; a regression target's mean moved by
    RELATIVE_SHIFT (the draw re-weighted, so rows stay real)."""
    target = data.target
    if data.task == "regression":
        mean = float(pd.to_numeric(frame[target], errors="coerce").mean())
        return (
            f"{target} mean {mean:.4g} {RELATIVE_SHIFT:+.0%} (prior)",
            Shift(target_mean=RELATIVE_SHIFT),
        )
    labels = frame[target].astype("string").str.strip()
    label = (
        str(data.positive_label) if data.task == "binary" else str(labels.value_counts().index[0])
    )
    before = float(labels.eq(label).mean())
    return (
        f"{target}={label} share {before:.0%} -> {moved_share(before):.0%} (prior)",
        Shift(shares=((target, label, moved_share(before)),)),
    )


def documented_shifts(
    frame: pd.DataFrame, data: DataParams, distinct_over: int
) -> dict[str, tuple[Shift, str]]:
    """Each kind of drift the simulator injects, chosen from this data and named by its column:
    {description: (shift, column the drift check must name)}. A kind the data cannot have (no
    continuous numeric column, no category column) is left out."""
    shifts: dict[str, tuple[Shift, str]] = {}
    column = covariate_column(frame, data, distinct_over)
    if column is not None:
        shifts[f"{column} {RELATIVE_SHIFT:+.0%} (covariate)"] = (
            Shift(covariate={column: RELATIVE_SHIFT}),
            column,
        )
    chosen = share_shift(frame, data)
    if chosen is not None:
        name, value, share = chosen
        before = frame[name].astype("string").str.strip().eq(value).mean()
        shifts[f"{name}={value} share {before:.0%} -> {share:.0%} (covariate)"] = (
            Shift(shares=(chosen,)),
            name,
        )
    described, shift = prior_shift(frame, data)
    shifts[described] = (shift, data.target)
    return shifts


def shift_arguments(shift: Shift) -> str:
    """The simulator's command-line form of `shift`, quoted for the shell `make` runs."""
    words = [f"--covariate={column}={change:+.0%}" for column, change in shift.covariate.items()]
    words += [f"--share={column}={value}:{share:.4f}" for column, value, share in shift.shares]
    if shift.target_mean is not None:
        words.append(f"--target-shift={shift.target_mean:+.0%}")
    return " ".join(shlex.quote(word) for word in words)


def prediction_record(data: DataParams, inputs: dict[str, Any], score: Any) -> dict[str, Any]:
    """A prediction-log line as the service writes it for the task: the positive probability,
    a probability per label (and the top label), or the predicted value."""
    if data.task == "binary":
        return {"inputs": inputs, "probability": float(score)}
    if data.task == "regression":
        return {"inputs": inputs, "prediction": float(score)}
    probabilities = dict(zip(data.class_names, map(float, score), strict=True))
    top = max(probabilities, key=probabilities.__getitem__)
    return {"inputs": inputs, "label": top, "probabilities": probabilities}
