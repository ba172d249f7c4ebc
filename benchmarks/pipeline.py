"""Issue 17's overhead figures: the pipeline against a bare script at 1x, 10x and 100x rows,
measured side by side in one run on this machine, reported as ratios, with a stage budget.

  bare script   benchmarks/bare_train.py: the same ML work (read the CSV, fit the same model,
                score it) with no DVC, MLflow or validation, in the same clone on the same rows
  cold repro    `make repro` in a fresh clone, environment installed, MLflow store new
  stage budget  from the same `make repro`: seconds from one `Running stage` line of DVC to the
                next, so a stage is its own process plus DVC's hashing and lock update after
                it; `start` is make, the lock-file check and DVC's start-up
  CPU seconds   user + system time of each command and every process under it: on a shared
                machine other jobs stretch wall time, far less CPU time, so its ratio is shown too
  no-op repro   `make repro` again with nothing changed (smallest size only)
  first repro   fresh clone to finished first `make repro`, environment install included

Rows beyond 1x are the configured raw data (paths.raw) resampled with replacement and fresh ids
(_common.resample), written over paths.raw in the clone; validate.max_rows is raised to fit.
Goals: <= 3x at 1x, <= 1.5x at 100x; no-op <= 1.5 s; first repro with install <= 60 s.
Usage: python benchmarks/pipeline.py [--scales 1 10 100] [--repeats N] [--skip-install]
                                     [--ref REV]   (REV: the commit to time, default HEAD)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, clean_env, clone, link_environment, remove, resample, scratch, timed

STAGES = ("validate", "prepare", "train", "evaluate", "track")
GOALS = {1: 3.0, 100: 1.5}
RUNNING = re.compile(r"^Running stage '([^']+)'")
OUT = ROOT / "benchmarks" / "out" / "pipeline.json"


def scaled_raw(repo: Path, scale: int, dest: Path) -> tuple[Path, int]:
    """The clone's raw CSV resampled `scale` times (read as text, so values stay as written)."""
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    raw = repo / params["paths"]["raw"]
    frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
    if scale == 1:
        return raw, len(frame)
    scaled = resample(frame, scale, params["data"].get("id_column"))
    scaled.to_csv(dest, index=False)
    return dest, len(scaled)


def prepared_clone(work: Path, name: str, ref: str | None, raw: Path, rows: int) -> Path:
    """A fresh clone whose paths.raw holds `raw`, with validate.max_rows raised to `rows`."""
    repo = clone(work, name, ref)
    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    target = repo / params["paths"]["raw"]
    if raw.resolve() != target.resolve():
        shutil.copyfile(raw, target)
    if rows > params["validate"]["max_rows"]:
        params["validate"]["max_rows"] = rows
        params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return repo


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and its descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = children_cpu()
    wall = timed(command, cwd, env)
    return wall, children_cpu() - before


def repro_budget(repo: Path, env: dict[str, str]) -> dict[str, float]:
    """`make repro`, timed whole and cut at DVC's `Running stage` lines."""
    cpu = children_cpu()
    start = time.perf_counter()
    marks: list[tuple[str, float]] = [("start", start)]
    tail: deque[str] = deque(maxlen=80)
    with subprocess.Popen(
        ["make", "repro"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            found = RUNNING.match(line)
            if found:
                marks.append((found.group(1), time.perf_counter()))
    end = time.perf_counter()
    if proc.returncode != 0:
        sys.exit(f"make repro failed in {repo}:\n{''.join(tail)}")
    ends = [at for _, at in marks[1:]] + [end]
    budget = {name: ends[i] - at for i, (name, at) in enumerate(marks)}
    return budget | {"total": end - start, "cpu": children_cpu() - cpu}


def measure_scale(
    work: Path, scale: int, repeats: int, ref: str | None, noop: bool
) -> dict[str, object]:
    """Bare script and cold `make repro` side by side, `repeats` times, each in a fresh clone."""
    source = clone(work, f"source{scale}", ref)
    raw, rows = scaled_raw(source, scale, work / f"raw{scale}.csv")
    bares, bare_cpus, budgets, noops = [], [], [], []
    for index in range(repeats):
        repo = prepared_clone(work, f"x{scale}-{index}", ref, raw, rows)
        env = link_environment(repo)
        wall, cpu = cpu_timed([sys.executable, "benchmarks/bare_train.py"], repo, env)
        bares.append(wall)
        bare_cpus.append(cpu)
        budgets.append(repro_budget(repo, env))
        if noop:
            noops.append(timed(["make", "repro"], repo, env))
        remove(repo)
    remove(source)
    keys = list(dict.fromkeys(key for budget in budgets for key in budget))
    return {
        "scale": scale,
        "rows": rows,
        "bare": statistics.median(bares),
        "bare_cpu": statistics.median(bare_cpus),
        "budget": {key: statistics.median(b.get(key, 0.0) for b in budgets) for key in keys},
        "noop": statistics.median(noops) if noops else None,
    }


def verdict(scale: int, ratio: float) -> str:
    goal = GOALS.get(scale)
    if goal is None:
        return ""
    return f"<= {goal:g}x: {'met' if ratio <= goal else f'**missed** by {ratio - goal:.1f}x'}"


def report(results: list[dict], repeats: int, first: float | None) -> None:
    print(f"median of {repeats} run(s) per size, {os.cpu_count()} cores, one run of this script")
    print(
        "| rows | bare script s | cold `make repro` s | ratio | goal | CPU s: bare, repro | ratio |"
    )
    print("|---|---:|---:|---:|---|---:|---:|")
    for r in results:
        total, cpu = r["budget"]["total"], r["budget"]["cpu"]
        ratio = total / r["bare"]
        label = f"{r['scale']}x ({r['rows']:,})"
        goal = verdict(r["scale"], ratio)
        cpus = f"{r['bare_cpu']:.1f}, {cpu:.1f} | {cpu / r['bare_cpu']:.1f}x"
        print(f"| {label} | {r['bare']:.1f} | {total:.1f} | {ratio:.1f}x | {goal} | {cpus} |")
    print()
    print("Stage budget, seconds (same runs; a stage includes DVC's bookkeeping after it):")
    print("| stage | " + " | ".join(f"{r['scale']}x" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    names = ["start", *STAGES, "total"]
    names += [k for r in results for k in r["budget"] if k not in [*names, "cpu"]]
    for name in dict.fromkeys(names):
        cells = " | ".join(f"{r['budget'].get(name, 0.0):.1f}" for r in results)
        label = "start (make, lock check, DVC)" if name == "start" else name
        print(f"| {label} | {cells} |")
    print("| bare script | " + " | ".join(f"{r['bare']:.1f}" for r in results) + " |")
    noop = results[0]["noop"]
    if noop is not None:
        print(f"\nno-op `make repro` ({results[0]['scale']}x): {noop:.2f} s (goal <= 1.5 s)")
    if first is not None:
        print(f"fresh clone to first repro, with env install: {first:.1f} s (goal <= 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-install", action="store_true", help="skip the first-repro figure")
    parser.add_argument("--ref", help="commit to time (default: HEAD)")
    args = parser.parse_args()
    work = scratch()
    try:
        scales = sorted(args.scales)
        results = [
            measure_scale(work, scale, args.repeats, args.ref, noop=scale == scales[0])
            for scale in scales
        ]
        first = None
        if not args.skip_install and shutil.which("make"):
            fresh = clone(work, "fresh", args.ref)
            first = timed(["make", "repro"], fresh, clean_env(fresh))
    finally:
        remove(work)
    report(results, args.repeats, first)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"results": results, "first_repro": first}, indent=2) + "\n")


if __name__ == "__main__":
    main()
