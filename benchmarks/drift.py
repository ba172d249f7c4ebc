"""`make bench-drift`: how often the drift check cries wolf, how often it catches a real shift,
and how long it takes.

- False alarms: the configured raw data (params.paths.raw) split at random into two halves
  (reference, current), 200 times; an alarm on a random split is a false alarm (target: at most
  5%).
- Detection: each kind of shift the simulator can inject, chosen from the data as
  tests/drift/test_rates.py chooses it (tests/support.documented_shifts: a numeric column +15%, a
  category value's share moved 15 points, and the task's prior shift: the positive or commonest
  label's share moved 15 points, or a regression target's mean +15%), in a 1,000-row batch
  drawn from the current half and compared with the reference half, 200 times each (target: at
  least 95%); also how often the shifted column itself is named.
- Run time on the raw data and on it resampled 100x (split in halves): the statistics, and
  scoring with the model.

Every comparison includes the prior-shift test and prediction drift on a model fitted here
with the project's own pipeline and params, as `make drift` does. Writes benchmarks/out/drift.json.
Usage: python benchmarks/drift.py [--splits 200] [--scales 1 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.support import documented_shifts  # noqa: E402

from tabular_mlops.core.io import read_csv  # noqa: E402
from tabular_mlops.core.params import load_params  # noqa: E402
from tabular_mlops.core.task import model_scores  # noqa: E402
from tabular_mlops.ct.drift import model_input  # noqa: E402
from tabular_mlops.ct.drift_stats import detect  # noqa: E402
from tabular_mlops.ct.simulate import Shift, simulate  # noqa: E402
from tabular_mlops.stages.prepare import clean, split  # noqa: E402
from tabular_mlops.stages.train import build_pipeline  # noqa: E402

BATCH_ROWS = 1000
SEED = 20261123

PARAMS = load_params(ROOT / "params.yaml")
DATA = PARAMS.data


def shifts(raw: pd.DataFrame) -> dict[str, tuple[Shift, str | None]]:
    chosen: dict[str, tuple[Shift, str | None]] = dict(
        documented_shifts(raw, DATA, PARAMS.drift.discrete_max_values)
    )
    chosen["no shift (bootstrap batch, control)"] = (Shift(), None)
    return chosen


def taken_ids(raw: pd.DataFrame) -> pd.Series | None:
    return raw[DATA.id_column] if DATA.id_column is not None else None


def fitted_model(raw: pd.DataFrame) -> object:
    train, _ = split(clean(raw, DATA), DATA, PARAMS.prepare)
    model = build_pipeline(DATA.numeric, DATA.categorical, PARAMS.train, DATA.task)
    model.fit(train[list(DATA.features)], train[DATA.target])
    return model


def scores(model: object, frame: pd.DataFrame) -> np.ndarray:
    """The task's scores, as `make drift` compares them (core.task.model_scores)."""
    return model_scores(model, model_input(frame, DATA), DATA.task)


def halves(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(rows)
    return order[: rows // 2], order[rows // 2 :]


def named(result: object, column: str | None) -> bool:
    if column is None:
        return False
    return any(c.column == column and c.drifted for c in result.columns)  # type: ignore[attr-defined]


def false_alarms(raw: pd.DataFrame, all_scores: np.ndarray, splits: int) -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    alarms, columns = 0, {}
    for _ in range(splits):
        ref, cur = halves(rng, len(raw))
        result = detect(
            raw.iloc[ref], raw.iloc[cur], DATA, PARAMS.drift, all_scores[ref], all_scores[cur]
        )
        alarms += result.drift
        for column in result.columns:
            if column.drifted:
                columns[column.column] = columns.get(column.column, 0) + 1
    return {"rate": alarms / splits, "alarms": alarms, "by_column": columns}


def detection(
    raw: pd.DataFrame, all_scores: np.ndarray, model: object, splits: int
) -> dict[str, object]:
    out = {}
    for name, (shift, column) in shifts(raw).items():
        rng = np.random.default_rng(SEED)
        detected = hits = 0
        for trial in range(splits):
            ref, cur = halves(rng, len(raw))
            batch = simulate(
                raw.iloc[cur], DATA, PARAMS.simulate, BATCH_ROWS, trial, shift, taken_ids(raw)
            )
            result = detect(
                raw.iloc[ref], batch, DATA, PARAMS.drift, all_scores[ref], scores(model, batch)
            )
            detected += result.drift
            hits += named(result, column)
        out[name] = {
            "rate": detected / splits,
            "named_rate": hits / splits if column else None,
            "column": column,
        }
    return out


def timings(raw: pd.DataFrame, model: object, scales: list[int]) -> dict[str, dict[str, float]]:
    out = {}
    for rows in (len(raw) * scale for scale in scales):
        sample = raw.sample(rows, replace=True, random_state=1).reset_index(drop=True)
        reference, current = sample.iloc[: rows // 2], sample.iloc[rows // 2 :]
        start = time.perf_counter()
        ref_scores, cur_scores = scores(model, reference), scores(model, current)
        scoring = time.perf_counter() - start
        start = time.perf_counter()
        detect(reference, current, DATA, PARAMS.drift, ref_scores, cur_scores)
        statistics = time.perf_counter() - start
        out[f"{rows:,}"] = {"statistics_s": round(statistics, 2), "scoring_s": round(scoring, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=200, help="random splits per measure")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 100], help="run-time sizes")
    args = parser.parse_args()
    splits = args.splits
    raw = read_csv(ROOT / PARAMS.paths.raw)
    start = time.perf_counter()
    model = fitted_model(raw)
    all_scores = scores(model, raw)
    report = {
        "data": PARAMS.paths.raw,
        "splits": splits,
        "batch_rows": BATCH_ROWS,
        "alpha": PARAMS.drift.alpha,
        "psi_threshold": PARAMS.drift.psi_threshold,
        "false_alarms": false_alarms(raw, all_scores, splits),
        "detection": detection(raw, all_scores, model, splits),
        "run_time": timings(raw, model, args.scales),
    }
    report["total_s"] = round(time.perf_counter() - start, 1)
    out = ROOT / "benchmarks" / "out" / "drift.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    fa = report["false_alarms"]
    print(
        f"false alarms on {splits} random splits of {PARAMS.paths.raw}: "
        f"{fa['rate']:.1%} (target <= 5%)"
    )
    for name, row in report["detection"].items():
        shown = f", shifted column named {row['named_rate']:.1%}" if row["column"] else ""
        print(f"{name}: alarm in {row['rate']:.1%} of {splits}{shown}")
    for rows, row in report["run_time"].items():
        print(
            f"{rows} rows in two halves: statistics {row['statistics_s']} s, "
            f"scoring {row['scoring_s']} s"
        )
    print(f"wrote {out.relative_to(ROOT)} ({report['total_s']} s)")


if __name__ == "__main__":
    main()
