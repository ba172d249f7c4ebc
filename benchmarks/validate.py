"""Issues 3 and 17's speed figures: the data contract on the configured data and it resampled 100x
and 1,000x, against the bare parse of the same CSV, measured side by side in one run.

  parse        `pd.read_csv(FILE)` with pandas' defaults, in this process: the bare parse
  validation   run_suite() on a frame already in memory (CSV parsing excluded): seconds, rows/s,
               and its ratio to the parse (each repeat times the parse, then the validation)
  memory       peak resident memory added while validating, as a multiple of the frame's size
               (pandas' deep memory_usage), sampled from /proc every few milliseconds
  whole stage  `python -m tabular_mlops.stages.validate --csv FILE` in a fresh process: GX
               import, CSV parsing, validation, report and Data Docs; and its ratio to the parse

The data is the raw file params.yaml names (paths.raw). Resampled rows get fresh ids when the
data has an id column, so every scale passes the contract (as a real extract would) and the time
is the passing path's. Target: 7M rows validated in <= 10 s, memory < 3x.
Usage: python benchmarks/validate.py [--scales 1 100 1000] [--repeats 3] [--no-stage]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, remove, resample

from tabular_mlops.core.contract import build_suite
from tabular_mlops.core.params import Params, load_params
from tabular_mlops.core.validation import read_extract, run_suite

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:  # noqa: PTH123
        return int(statm.read().split()[1]) * PAGE


class PeakRss:
    """Highest resident set size seen while the block runs, sampled every 2 ms."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def bench_params(rows: int) -> Params:
    params = load_params(ROOT / "params.yaml")
    return replace(params, validate=replace(params.validate, max_rows=max(rows, 1)))


def side_by_side(
    frame: pd.DataFrame, csv_path: Path, params: Params, repeats: int
) -> tuple[float, float, float]:
    """Median seconds of the bare parse and of run_suite, and the peak memory run_suite added."""
    parses, suite_runs, peaks = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        parsed = pd.read_csv(csv_path)
        parses.append(time.perf_counter() - start)
        del parsed
        suite = build_suite(params)
        with PeakRss() as memory:
            start = time.perf_counter()
            result = run_suite(frame, suite)
            suite_runs.append(time.perf_counter() - start)
        peaks.append(memory.peak - memory.start)
        if not result.success:
            sys.exit(f"the contract failed on the benchmark data: {result.lines()}")
    return statistics.median(parses), statistics.median(suite_runs), max(peaks)


def whole_stage(rows: int, csv_path: Path, work: Path) -> float:
    params_path = work / "params.yaml"
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["validate"]["max_rows"] = max(rows, raw["validate"]["max_rows"])
    params_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "tabular_mlops.stages.validate", "--params", str(params_path)]
    command += ["--csv", str(csv_path), "--out", str(work / "v.json")]
    command += ["--docs", str(work / "docs")]
    env = os.environ | {"PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"stage failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-stage", action="store_true", help="skip the whole-stage timing")
    args = parser.parse_args()
    configured = load_params(ROOT / "params.yaml")
    shipped = read_extract(ROOT / configured.paths.raw)
    run_suite(shipped, build_suite(bench_params(len(shipped))))  # warm GX's imports and caches
    rows_out = []
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        for scale in args.scales:
            frame = resample(shipped, scale, configured.data.id_column)
            csv_path = work / "extract.csv"
            frame.to_csv(csv_path, index=False)
            size = int(frame.memory_usage(deep=True).sum())
            params = bench_params(len(frame))
            parse, seconds, added = side_by_side(frame, csv_path, params, args.repeats)
            stage = None if args.no_stage else whole_stage(len(frame), csv_path, work)
            rows_out.append((scale, len(frame), parse, seconds, size, added, stage))
            del frame
    finally:
        remove(work)
    print(
        f"{configured.paths.raw}; {os.cpu_count()} cores; parse and validation = median of "
        f"{args.repeats} runs, side by side; stage = one run"
    )
    print(
        "| data | rows | parse s | validation s | ratio | rows/s | frame MB | peak added MB "
        "| x frame | stage s | stage ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale, rows, parse, seconds, size, added, stage in rows_out:
        staged = "| |" if stage is None else f"| {stage:.1f} | {stage / parse:.2f}x |"
        print(
            f"| {scale}x | {rows:,} | {parse:.2f} | {seconds:.2f} | {seconds / parse:.2f}x "
            f"| {rows / seconds:,.0f} | {size / 1e6:,.1f} | {added / 1e6:,.1f} "
            f"| {added / size:.2f} {staged}"
        )
    largest = max(rows_out, key=lambda row: row[1])
    if largest[1] >= 7_000_000:
        met = "met" if largest[3] <= 10 else "**missed**"
        print(f"\n{largest[1]:,} rows validated in {largest[3]:.2f} s: goal <= 10 s {met}")


if __name__ == "__main__":
    main()
