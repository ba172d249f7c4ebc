"""What evaluate's bounded permutation importance keeps: a sample of the test split vs all of it.

The configured data resampled `--scale` times (as `make bench` does) is taken through validate,
prepare and train in a fresh clone; then, on that model and test split, permutation importance
(evaluate_plots.feature_importance) is computed on the whole split with two shuffle seeds (how
much the whole-split figures move by chance alone) and on seeded, stratified samples of each
`--rows` bound with several seeds. Reported per bound, against the whole split: Spearman's rank
correlation of the importances, how many of the top 5 columns agree, the largest absolute
difference, and the seconds it took. The reliability curve (calibration) is timed on the whole
split and compared with the curve of a sample of each bound too, to show what sampling it
would cost for what it would save.

Usage: python benchmarks/evaluate_sample.py [--scale 100] [--rows 2000 5000 10000 20000]
                                            [--seeds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import link_environment, remove, scratch, timed
from pipeline import clone, prepared_clone, scaled_raw

from tabular_mlops.core.features import feature_frame
from tabular_mlops.core.io import read_model, read_parquet
from tabular_mlops.core.params import load_params
from tabular_mlops.core.task import is_classification, model_scores
from tabular_mlops.stages.evaluate_plots import feature_importance, sample_rows, task_plots

TOP = 5


def importances(model, x, y, params, task, rows, seed) -> tuple[dict[str, float], float]:
    chosen = dataclasses.replace(params, importance_rows=rows, seed=seed)
    start = time.perf_counter()
    result = feature_importance(model, x, y, chosen, task)
    return {row["feature"]: row["importance"] for row in result}, time.perf_counter() - start


def agreement(found: dict[str, float], whole: dict[str, float]) -> tuple[float, int, float]:
    names = list(whole)
    rho = spearmanr([whole[n] for n in names], [found[n] for n in names]).statistic
    top = len(set(sorted(names, key=lambda n: -whole[n])[:TOP]) & set(list(found)[:TOP]))
    return float(rho), top, max(abs(found[n] - whole[n]) for n in names)


def calibration_gap(y, scores, data, params, rows: int, seed: int) -> float:
    """Largest difference, bin by bin, between the sample's and the whole split's curves."""
    kept = sample_rows(y, rows, seed, is_classification(data.task))
    whole = task_plots(data.task, y, scores, data.class_names, params)["calibration"]
    part = task_plots(data.task, y[kept], scores[kept], data.class_names, params)["calibration"]
    return max(
        abs(a[key] - b[key])
        for a, b in zip(whole, part, strict=False)
        for key in ("mean_predicted", "fraction_positive")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 5000, 10000, 20000])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    work = scratch()
    try:
        source = clone(work, "source")
        raw, rows = scaled_raw(source, args.scale, work / "raw.csv")
        repo = prepared_clone(work, "repo", None, raw, rows)
        timed(["dvc", "repro", "train"], repo, link_environment(repo))
        params = load_params(repo / "params.yaml")
        data, evaluate = params.data, params.evaluate
        model = read_model(repo / params.paths.model)
        test = read_parquet(repo / params.paths.test)
    finally:
        remove(work)
    y = test[data.target].to_numpy()
    x = feature_frame(test, data.target, data.id_column)
    task = data.task
    whole, whole_s = importances(model, x, y, evaluate, task, None, evaluate.seed)
    again, _ = importances(model, x, y, evaluate, task, None, evaluate.seed + 1)
    scores = model_scores(model, x, task)
    start = time.perf_counter()
    task_plots(task, y, scores, data.class_names, evaluate)
    curves_s = time.perf_counter() - start
    print(f"{args.scale}x: {len(x):,} test rows, {x.shape[1]} columns, {data.task}")
    print(
        "| importance on | seconds | Spearman rho | top-5 agree | max abs diff | calibration diff |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    rho, top, gap = agreement(again, whole)
    print(
        f"| whole split, another shuffle seed | {whole_s:.1f} | {rho:.3f} | {top}/{TOP} | "
        f"{gap:.4f} | |"
    )
    for bound in args.rows:
        if bound >= len(x):
            continue
        runs = []
        for offset in range(args.seeds):
            seed = evaluate.seed + offset
            found, seconds = importances(model, x, y, evaluate, task, bound, seed)
            calibration = calibration_gap(y, scores, data, evaluate, bound, seed)
            runs.append((seconds, *agreement(found, whole), calibration))
        seconds, rho, top, gap, calibration = (
            statistics.median(col) for col in zip(*runs, strict=True)
        )
        worst = min(run[1] for run in runs)
        print(
            f"| sample of {bound:,} (median of {args.seeds} seeds; worst rho {worst:.3f}) | "
            f"{seconds:.1f} | {rho:.3f} | {top:g}/{TOP} | {gap:.4f} | {calibration:.4f} |"
        )
    print(f"\nROC, precision-recall and calibration curves on the whole split: {curves_s:.2f} s")
    print("whole-split importances:", {k: round(v, 4) for k, v in list(whole.items())[:8]})


if __name__ == "__main__":
    main()
