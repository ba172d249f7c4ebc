"""Issue 2's speed figures, measured in one run on this machine, reported as ratios.

  cold repro    `make repro` in a fresh clone, environment already installed (MLflow store new)
  no-op repro   `make repro` again with nothing changed
  bare script   benchmarks/bare_train.py: the same ML work with no DVC, MLflow or validation
  first repro   fresh clone to finished first `make repro`, environment install included
  per stage     each stage's `python -m tabular_mlops.stages.<stage>` alone: where the time goes

Targets: cold repro <= 3x bare; no-op <= 1.5 s; first repro with install <= 60 s.
Usage: python benchmarks/pipeline.py [--repeats N] [--skip-install]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import clean_env, clone, link_environment, median_of, remove, scratch, timed

STAGES = ("validate", "prepare", "train", "evaluate", "track")


def cold_repro(work: Path, index: int) -> float:
    repo = clone(work, f"cold{index}")
    env = link_environment(repo)
    return timed(["make", "repro"], repo, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-install", action="store_true", help="skip the first-repro figure")
    args = parser.parse_args()
    work = scratch()
    try:
        counter = iter(range(1000))
        cold = median_of(args.repeats, lambda: cold_repro(work, next(counter)))
        repo = work / "cold0"
        env = clean_env(repo) | {"PYTHONPATH": str(repo / "src")}
        noop = median_of(args.repeats, lambda: timed(["make", "repro"], repo, env))
        bare = median_of(
            args.repeats, lambda: timed([sys.executable, "benchmarks/bare_train.py"], repo, env)
        )
        stages = {
            stage: median_of(
                args.repeats,
                lambda stage=stage: timed(
                    [sys.executable, "-m", f"tabular_mlops.stages.{stage}"], repo, env
                ),
            )
            for stage in STAGES
        }
        first = None
        if not args.skip_install and shutil.which("make"):
            fresh = clone(work, "fresh")
            first = timed(["make", "repro"], fresh, clean_env(fresh))
    finally:
        remove(work)

    rows = [
        (
            "cold `make repro` (fresh clone, env installed)",
            cold,
            f"{cold / bare:.1f}x bare",
            "<= 3x",
        ),
        ("no-op `make repro`", noop, "", "<= 1.5 s"),
        ("bare script (same ML work)", bare, "1.0x", ""),
    ]
    if first is not None:
        rows.append(("fresh clone to first repro, with env install", first, "", "<= 60 s"))
    rows += [
        (f"  stage `{name}` alone", seconds, f"{seconds / bare:.1f}x bare", "")
        for name, seconds in stages.items()
    ]
    print(f"median of {args.repeats} runs, {os.cpu_count()} cores")
    print("| measure | seconds | ratio | target |")
    print("|---|---:|---:|---|")
    for name, seconds, ratio, target in rows:
        print(f"| {name} | {seconds:.2f} | {ratio} | {target} |")


if __name__ == "__main__":
    main()
