"""`make bench-drift`: how often the drift check cries wolf, how often it catches a real shift,
and how long it takes.

- False alarms: the shipped data split at random into two halves (reference, current), 200
  times; an alarm on a random split is a false alarm (target: at most 5%).
- Detection: each shift the simulator can inject, at the magnitude the README documents, in a
  1,000-row batch drawn from the current half and compared with the reference half, 200 times
  each (target: at least 95%); also how often the shifted column itself is named.
- Run time on 7,000 and 700,000 rows (split in halves): the statistics, and scoring with the model.

Every comparison includes the prior-shift test and prediction drift on a model fitted here
with the project's own pipeline and params, as `make drift` does. Writes benchmarks/out/drift.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tabular_mlops.core.io import read_csv  # noqa: E402
from tabular_mlops.core.params import load_params  # noqa: E402
from tabular_mlops.ct.drift import detect, model_input  # noqa: E402
from tabular_mlops.ct.simulate import FIBRE, Shift, simulate  # noqa: E402
from tabular_mlops.stages.prepare import clean, split  # noqa: E402
from tabular_mlops.stages.train import build_pipeline  # noqa: E402

SPLITS = 200
BATCH_ROWS = 1000
SEED = 20261123

PARAMS = load_params(ROOT / "params.yaml")
DATA = PARAMS.data
SHIFTS = {
    "monthly_charges +15% (covariate)": (
        Shift(covariate={"monthly_charges": 0.15}),
        "monthly_charges",
    ),
    "Fiber optic share 44% -> 60% (covariate)": (
        Shift(shares=((*FIBRE, 0.6),)),
        "internet_service",
    ),
    "churn rate 26.5% -> 40% (prior)": (
        Shift(shares=((DATA.target, DATA.positive_label, 0.4),)),
        DATA.target,
    ),
    "no shift (bootstrap batch, control)": (Shift(), None),
}


def fitted_model(raw: pd.DataFrame) -> object:
    train, _ = split(clean(raw, DATA), DATA.target, PARAMS.prepare)
    model = build_pipeline(DATA.numeric, DATA.categorical, PARAMS.train)
    model.fit(train[[*DATA.numeric, *DATA.categorical]], train[DATA.target])
    return model


def scores(model: object, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(model_input(frame, DATA))[:, 1]  # type: ignore[attr-defined]


def halves(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(rows)
    return order[: rows // 2], order[rows // 2 :]


def named(result: object, column: str | None) -> bool:
    if column is None:
        return False
    return any(c.column == column and c.drifted for c in result.columns)  # type: ignore[attr-defined]


def false_alarms(raw: pd.DataFrame, all_scores: np.ndarray) -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    alarms, columns = 0, {}
    for _ in range(SPLITS):
        ref, cur = halves(rng, len(raw))
        result = detect(
            raw.iloc[ref], raw.iloc[cur], DATA, PARAMS.drift, all_scores[ref], all_scores[cur]
        )
        alarms += result.drift
        for column in result.columns:
            if column.drifted:
                columns[column.column] = columns.get(column.column, 0) + 1
    return {"rate": alarms / SPLITS, "alarms": alarms, "by_column": columns}


def detection(raw: pd.DataFrame, all_scores: np.ndarray, model: object) -> dict[str, object]:
    out = {}
    for name, (shift, column) in SHIFTS.items():
        rng = np.random.default_rng(SEED)
        detected = hits = 0
        for trial in range(SPLITS):
            ref, cur = halves(rng, len(raw))
            batch = simulate(
                raw.iloc[cur], DATA, PARAMS.simulate, BATCH_ROWS, trial, shift, raw[DATA.id_column]
            )
            result = detect(
                raw.iloc[ref], batch, DATA, PARAMS.drift, all_scores[ref], scores(model, batch)
            )
            detected += result.drift
            hits += named(result, column)
        out[name] = {
            "rate": detected / SPLITS,
            "named_rate": hits / SPLITS if column else None,
            "column": column,
        }
    return out


def timings(raw: pd.DataFrame, model: object) -> dict[str, dict[str, float]]:
    out = {}
    for rows in (7_000, 700_000):
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
    raw = read_csv(ROOT / PARAMS.paths.raw)
    start = time.perf_counter()
    model = fitted_model(raw)
    all_scores = scores(model, raw)
    report = {
        "splits": SPLITS,
        "batch_rows": BATCH_ROWS,
        "alpha": PARAMS.drift.alpha,
        "psi_threshold": PARAMS.drift.psi_threshold,
        "false_alarms": false_alarms(raw, all_scores),
        "detection": detection(raw, all_scores, model),
        "run_time": timings(raw, model),
    }
    report["total_s"] = round(time.perf_counter() - start, 1)
    out = ROOT / "benchmarks" / "out" / "drift.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    fa = report["false_alarms"]
    print(f"false alarms on {SPLITS} random splits: {fa['rate']:.1%} (target <= 5%)")
    for name, row in report["detection"].items():
        shown = f", shifted column named {row['named_rate']:.1%}" if row["column"] else ""
        print(f"{name}: alarm in {row['rate']:.1%} of {SPLITS}{shown}")
    for rows, row in report["run_time"].items():
        print(
            f"{rows} rows in two halves: statistics {row['statistics_s']} s, "
            f"scoring {row['scoring_s']} s"
        )
    print(f"wrote {out.relative_to(ROOT)} ({report['total_s']} s)")


if __name__ == "__main__":
    main()
