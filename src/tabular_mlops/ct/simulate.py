"""Make a realistic future batch from the raw data, optionally with an injected shift.

Rows are bootstrapped (drawn with replacement) so every row is one that really occurred, and get
fresh ids when the data has an id column. Shifts, by column name: a value's share of any column,
a class of the target's included (prior shift), by re-weighting the draw, which keeps each row's
other columns consistent with it; and a relative change of a numeric column (covariate shift)
that also scales the columns `simulate.linked` ties to it.

The target, per task: binary `--target-share S` (the positive label's share); multiclass
`--share TARGET=LABEL:S`; regression `--target-shift +15%` (the draw re-weighted so the target's
mean moves by 15%: rows stay real, the features move with the target, as when the population
changes) or `--covariate TARGET=+15%` (every value scaled, the features unchanged, as with
inflation: only the prior-shift test can see it).

    python -m tabular_mlops.ct.simulate --rows 1000 --seed 1 --covariate COLUMN=+15% \\
        --share COLUMN=VALUE:0.6 --target-share 0.4 --out data/incoming/batch-20261123.csv
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import atomic_path, read_csv
from tabular_mlops.core.params import DataParams, SimulateParams, load_params

RAKING_ROUNDS = 50
TILT_ROUNDS = 60


@dataclass(frozen=True)
class Shift:
    """What to change: relative numeric changes, and target shares of (column, value) pairs."""

    covariate: dict[str, float] = field(default_factory=dict)
    shares: tuple[tuple[str, str, float], ...] = ()
    target_mean: float | None = None

    @property
    def empty(self) -> bool:
        return not self.covariate and not self.shares and self.target_mean is None


def mean_weights(values: pd.Series, change: float, base: np.ndarray) -> np.ndarray:
    """Row weights (exponential tilting of `base`) under which the mean of `values` moves by the
    relative `change`: the least change to the draw that reaches that mean."""
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    ok = ~np.isnan(y)
    if not ok.any():
        raise PipelineError(f"cannot shift '{values.name}': it has no numbers")
    base, y = np.where(ok, base, 0.0), np.where(ok, y, 0.0)
    mean = float(base @ y / base.sum())
    goal, low, high = mean * (1 + change), float(y[ok].min()), float(y[ok].max())
    if not low < goal < high:
        raise PipelineError(
            f"cannot move the mean of '{values.name}' from {mean:.4g} to {goal:.4g}: outside "
            f"the values it has ({low:.4g} to {high:.4g})"
        )
    z = (y - mean) / (float(y[ok].std()) or 1.0)

    def tilted(strength: float) -> np.ndarray:
        weights = base * np.exp(strength * z - np.max(strength * z))
        return weights / weights.sum()

    down, up = -1.0, 1.0
    while tilted(down) @ y > goal:
        down *= 2
    while tilted(up) @ y < goal:
        up *= 2
    for _ in range(TILT_ROUNDS):
        middle = (down + up) / 2
        down, up = (middle, up) if tilted(middle) @ y < goal else (down, middle)
    return tilted((down + up) / 2)


def share_weights(frame: pd.DataFrame, shares: tuple[tuple[str, str, float], ...]) -> np.ndarray:
    """Row weights under which each (column, value) has the requested share (raking)."""
    weights = np.ones(len(frame))
    masks = []
    for column, value, share in shares:
        if column not in frame.columns:
            raise PipelineError(f"cannot shift '{column}': no such column")
        mask = frame[column].astype("string").str.strip().eq(str(value)).fillna(False).to_numpy()
        if not mask.any() or mask.all():
            raise PipelineError(
                f"cannot shift '{column}' to {share:.0%} '{value}': no rows to vary"
            )
        masks.append((mask, share))
    for _ in range(RAKING_ROUNDS):
        for mask, share in masks:
            inside = weights[mask].sum() / weights.sum()
            weights[mask] *= share / inside
            weights[~mask] *= (1 - share) / (1 - inside)
    return weights / weights.sum()


def fresh_ids(taken: pd.Series, rows: int, seed: int) -> list[object]:
    """Ids that collide with none in `taken`: numbers after the largest, else a seeded prefix."""
    numbers = pd.to_numeric(taken, errors="coerce")
    if len(taken) and numbers.notna().all():
        start = int(numbers.max()) + 1
        return list(range(start, start + rows))
    existing = set(taken.astype(str))
    ids = [f"sim{seed}-{i}" for i in range(rows)]
    clash = [i for i in ids if i in existing]
    if clash:
        raise PipelineError(f"generated ids already exist, e.g. {clash[:3]}: use another --seed")
    return ids


def simulate(
    source: pd.DataFrame,
    data: DataParams,
    params: SimulateParams,
    rows: int,
    seed: int,
    shift: Shift = Shift(),
    taken_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """`rows` rows drawn from `source` with fresh ids, shifted as asked; same seed, same batch."""
    if rows < 1:
        raise PipelineError(f"--rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    weights = share_weights(source, shift.shares) if shift.shares else None
    if shift.target_mean is not None:
        base = np.ones(len(source)) / len(source) if weights is None else weights
        weights = mean_weights(source[data.target], shift.target_mean, base)
    picked = rng.choice(len(source), size=rows, replace=True, p=weights)
    batch = source.iloc[picked].reset_index(drop=True).copy()
    for column, change in shift.covariate.items():
        for name in (column, *params.linked.get(column, ())):
            if name not in batch.columns or name in data.categorical:
                raise PipelineError(f"cannot shift '{name}': not a numeric column")
            values = pd.to_numeric(batch[name], errors="coerce") * (1 + change)
            integer = pd.api.types.is_integer_dtype(batch[name])
            batch[name] = values.round().astype("int64") if integer else values.round(2)
    if data.id_column is not None:
        taken = source[data.id_column] if taken_ids is None else taken_ids
        batch[data.id_column] = fresh_ids(taken, rows, seed)
    return batch


def parse_covariate(text: str) -> tuple[str, float]:
    """`monthly_charges=+15%` -> ("monthly_charges", 0.15); `x=-0.1` -> ("x", -0.1)."""
    match = re.fullmatch(r"\s*([^=\s]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*(%?)\s*", text)
    if not match:
        raise PipelineError(f"--covariate {text!r}: expected COLUMN=+15% or COLUMN=0.15")
    value = float(match.group(2)) / (100 if match.group(3) else 1)
    return match.group(1), value


def parse_share(text: str) -> tuple[str, str, float]:
    """`contract=Two year:0.4` -> ("contract", "Two year", 0.4)."""
    match = re.fullmatch(r"\s*([^=]+?)\s*=\s*(.+?)\s*:\s*(\d*\.?\d+)\s*", text)
    if not match or not 0 < float(match.group(3)) < 1:
        raise PipelineError(f"--share {text!r}: expected COLUMN=VALUE:SHARE with 0 < SHARE < 1")
    return match.group(1), match.group(2), float(match.group(3))


def parse_change(option: str, text: str) -> float:
    """`+15%` -> 0.15, `-0.1` -> -0.1."""
    match = re.fullmatch(r"\s*([+-]?\d+(?:\.\d+)?)\s*(%?)\s*", text)
    if not match:
        raise PipelineError(f"{option} {text!r}: expected a relative change such as +15% or 0.15")
    return float(match.group(1)) / (100 if match.group(2) else 1)


def target_options(args: argparse.Namespace, data: DataParams) -> None:
    """Refuse, in one line, an option that does not fit the task's target."""
    target, task = data.target, data.task
    if args.target_share is not None and task != "binary":
        other = (
            f"--share '{target}=LABEL:SHARE'"
            if task == "multiclass"
            else f"--target-shift +15% or --covariate '{target}=+15%'"
        )
        raise PipelineError(
            f"--target-share is the positive label's share of a binary target; '{target}' is "
            f"a {task} target: use {other}"
        )
    if getattr(args, "target_shift", None) is not None and task != "regression":
        raise PipelineError(
            f"--target-shift moves a regression target's mean; '{target}' is a {task} target: "
            + ("use --target-share" if task == "binary" else f"use --share '{target}=LABEL:SHARE'")
        )


def build_shift(args: argparse.Namespace, data: DataParams) -> Shift:
    target_options(args, data)
    shares = [parse_share(text) for text in args.share]
    for column, value, _ in shares:
        if column != data.target:
            continue
        if data.task == "regression":
            raise PipelineError(
                f"--share {column}=...: '{column}' is a regression target, whose values are not "
                f"labels: use --target-shift +15% or --covariate '{column}=+15%'"
            )
        if value not in data.class_names:
            raise PipelineError(
                f"--share {column}={value}: not one of the labels ({', '.join(data.class_names)})"
            )
    if args.target_share is not None:
        if not 0 < args.target_share < 1:
            raise PipelineError(f"--target-share must be between 0 and 1, got {args.target_share}")
        shares.append((data.target, str(data.positive_label), args.target_share))
    covariate = dict(parse_covariate(t) for t in args.covariate)
    if data.target in covariate and data.task != "regression":
        raise PipelineError(
            f"--covariate {data.target}=...: '{data.target}' is a {data.task} target, whose "
            f"labels are not numbers to scale: use "
            + (
                "--target-share"
                if data.task == "binary"
                else f"--share '{data.target}=LABEL:SHARE'"
            )
        )
    text = getattr(args, "target_shift", None)
    change = parse_change("--target-shift", text) if text is not None else None
    return Shift(covariate=covariate, shares=tuple(shares), target_mean=change)


def ids_in_use(raw: pd.DataFrame, incoming: Path, id_column: str | None, out: Path) -> pd.Series:
    """Ids in the raw data and in batches still waiting in the incoming folder."""
    if id_column is None:
        return pd.Series([], dtype=object)
    frames = [raw[id_column]]
    for path in sorted(incoming.glob("*.csv")) if incoming.is_dir() else []:
        if path.resolve() == out.resolve() or not path.is_file():  # a FIFO would block
            continue
        try:
            frames.append(pd.read_csv(path, usecols=[id_column])[id_column])
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
            continue  # a broken batch is ingest's to reject, not the simulator's
    return pd.concat(frames, ignore_index=True)


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--source", help="CSV to draw rows from (default: paths.raw)")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--covariate", action="append", default=[], metavar="COLUMN=+15%")
    parser.add_argument("--share", action="append", default=[], metavar="COLUMN=VALUE:SHARE")
    parser.add_argument(
        "--target-share", type=float, help="binary: share of rows with data.positive_label"
    )
    parser.add_argument(
        "--target-shift", metavar="+15%", help="regression: relative change of the target's mean"
    )
    parser.add_argument("--out", required=True, help="CSV to write, e.g. data/incoming/b.csv")
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    source_path = Path(args.source or params.paths.raw)
    source = read_csv(source_path)
    shift = build_shift(args, params.data)
    out = Path(args.out)
    taken = ids_in_use(source, Path(params.paths.incoming), params.data.id_column, out)
    batch = simulate(source, params.data, params.simulate, args.rows, args.seed, shift, taken)
    with atomic_path(out) as tmp:
        batch.to_csv(tmp, index=False)
    described = ", ".join(
        [f"{c} {v:+.0%}" for c, v in shift.covariate.items()]
        + [f"{c}={v!r} {s:.0%}" for c, v, s in shift.shares]
        + (
            [f"{params.data.target} mean {shift.target_mean:+.0%}"]
            if shift.target_mean is not None
            else []
        )
    )
    print(f"simulate: {out}: {len(batch)} rows from {source_path} ({described or 'no shift'})")


if __name__ == "__main__":
    main()
