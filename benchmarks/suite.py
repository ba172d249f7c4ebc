"""`make bench-tests`: the whole `make test` of a fresh clone, timed, with pytest's own per-test
times summed per folder and per tier, optionally beside an earlier run's (`--before JUNIT`).

    python benchmarks/suite.py                       # fresh clone of HEAD: make repro, make test
    python benchmarks/suite.py --junit run.xml       # only summarise a finished run's junit
    python benchmarks/suite.py --before old.xml      # and put an earlier run's seconds beside
    TEST_WORKERS=3 python benchmarks/suite.py        # pytest-xdist workers (default: one a core)

Test-seconds are each test's setup + call + teardown as pytest's junit reports them; with two
workers the wall time is about half their sum, plus the longest file's tail. CPU seconds (user +
system of every process the run started) are printed beside wall seconds: other jobs on a shared
machine stretch wall time far more than CPU time.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import clone, link_environment, timed
from tests.conftest import tier_of


def test_seconds(junit: Path) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Seconds and test counts per folder and per tier, from a pytest junit XML file."""
    seconds: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    tier_seconds: Counter[str] = Counter()
    tier_counts: Counter[str] = Counter()
    try:
        cases = list(ET.parse(junit).iter("testcase"))
    except (OSError, ET.ParseError) as err:
        sys.exit(f"{junit}: not a pytest junit XML file ({err})")
    for case in cases:
        module = case.get("classname", "").split(".")
        path = "/".join(module[:3]) + ".py"
        folder = "/".join(module[:2])
        spent = float(case.get("time") or 0)
        seconds[folder] += spent
        counts[folder] += 1
        tier = tier_of(path)
        tier_seconds[tier] += spent
        tier_counts[tier] += 1
    return seconds, counts, tier_seconds, tier_counts


def table(junit: Path, before: Path | None) -> str:
    seconds, counts, tier_seconds, tier_counts = test_seconds(junit)
    old = test_seconds(before) if before else None
    header = "| {} | tests | test-seconds |" + (" before |" if old else "")
    lines = []
    for name, (now, n, then) in {
        "folder": (seconds, counts, old[0] if old else None),
        "tier": (tier_seconds, tier_counts, old[2] if old else None),
    }.items():
        lines += [header.format(name), "|---|---:|---:|" + ("---:|" if old else "")]
        for key, spent in sorted(now.items(), key=lambda item: -item[1]):
            row = f"| `{key}` | {n[key]} | {spent:.0f} |"
            lines.append(row + (f" {then.get(key, 0):.0f} |" if then is not None else ""))
        total = f"| all | {sum(n.values())} | {sum(now.values()):.0f} |"
        lines += [total + (f" {sum(then.values()):.0f} |" if then is not None else ""), ""]
    return "\n".join(lines)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh_run(workdir: Path) -> Path:
    """Clone HEAD, reuse this checkout's environment, `make repro` then `make test`, timed."""
    repo = clone(workdir)
    env = link_environment(repo)
    junit = workdir / "junit.xml"
    env["PYTEST_ADDOPTS"] = f"--junitxml={junit}"
    for target in ("repro", "test"):
        cpu = children_cpu()
        wall = timed(["make", target], repo, env)
        print(f"make {target}: {wall:.0f} s wall, {children_cpu() - cpu:.0f} s CPU")
    return junit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--junit", type=Path, help="summarise this junit file; run nothing")
    parser.add_argument("--before", type=Path, help="an earlier run's junit, put beside")
    parser.add_argument("--save", type=Path, help="keep the junit here")
    args = parser.parse_args()
    if args.junit:
        print(table(args.junit, args.before))
        return
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as scratch:
        start = time.perf_counter()
        junit = fresh_run(Path(scratch))
        print(f"fresh clone, repro and test: {time.perf_counter() - start:.0f} s wall\n")
        print(table(junit, args.before))
        if args.save:
            shutil.copyfile(junit, args.save)


if __name__ == "__main__":
    main()
