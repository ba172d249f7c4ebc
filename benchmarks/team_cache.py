"""What the shared run-cache saves a team, measured in one run on this machine, as ratios.

  team-up       `make team-up`: PostgreSQL, the S3 stand-in and the MLflow server on loopback
  first clone   `make repro` in a fresh clone against the team (every stage runs, track logs to
                the server), then `make dvc-push` (cache and run-cache to the team's bucket)
  second clone  a fresh clone of the first's commit: `make dvc-pull`, then `make repro` (no stage
                runs: DVC finds every output in the pulled cache)
  local         `make repro` in a fresh clone with no team (local SQLite store), for comparison

Usage: python benchmarks/team_cache.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import clone, link_environment, remove, scratch, timed
from tests.team_servers import running_team

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def main() -> None:
    work = scratch()
    try:
        start = time.perf_counter()
        with running_team(work) as team:
            up = time.perf_counter() - start
            first = clone(work, "first")
            env = link_environment(first) | team.env
            repro_first = timed(["make", "repro"], first, env)
            push = timed(["make", "dvc-push"], first, env)
            subprocess.run(
                ["git", "add", "dvc.lock", "metrics", "plots", "reports"], cwd=first, check=True
            )
            subprocess.run([*GIT, "commit", "-qm", "first clone's run"], cwd=first, check=True)
            second = work / "second"
            subprocess.run(["git", "clone", "-q", str(first), str(second)], check=True)
            env2 = link_environment(second) | team.env
            pull = timed(["make", "dvc-pull"], second, env2)
            repro_second = timed(["make", "repro"], second, env2)
        local = clone(work, "local")
        repro_local = timed(["make", "repro"], local, link_environment(local))
    finally:
        remove(work)
    second_total = pull + repro_second
    print(f"team-up:                          {up:6.1f} s")
    print(f"first clone  make repro:          {repro_first:6.1f} s   make dvc-push: {push:5.1f} s")
    print(f"second clone make dvc-pull:       {pull:6.1f} s   make repro:    {repro_second:5.1f} s")
    print(f"local clone  make repro (no team):{repro_local:6.1f} s")
    print(f"second clone / first clone:       {second_total / repro_first:6.3f}")
    print(f"first clone (team) / local:       {repro_first / repro_local:6.2f}")


if __name__ == "__main__":
    main()
