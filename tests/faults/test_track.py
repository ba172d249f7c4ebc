"""`track` killed at chosen writes (kill -9), then the next `track` or `promote` on the same store.

After any kill the next command succeeds and leaves no run RUNNING, no logged model or version of
a failed run, every alias on a version of a finished run, and says in one line what it repaired.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tabular_mlops.ct.registry import CHALLENGER, CHAMPION

from . import registry_state as rs

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def stores(params, tmp_path_factory) -> dict[str, Path]:
    """Templates, all built at the trial's own path (the store records absolute artifact paths):
    `fresh` has no store yet; `champion` has one tracked and promoted version."""
    base = tmp_path_factory.mktemp("track")
    work = rs.make_project(params, base / "trial")
    fresh = rs.copy_state(work, base / "fresh")
    rs.ok(rs.run(rs.TRACK, work))
    rs.ok(rs.run(rs.PROMOTE, work))
    return {"trial": work, "fresh": fresh, "champion": rs.copy_state(work, base / "champion")}


def killed_then(params, stores, template: str, at: int, command: str) -> tuple[rs.State, bool]:
    work = rs.copy_state(stores[template], stores["trial"])
    trial = rs.run(rs.TRACK, work, kill_at=at)
    assert trial.killed or trial.exitcode == 0, trial.stderr[-2000:]
    left = rs.state(work, params.track.registered_model)
    after = rs.ok(rs.run(command, work))
    assert (rs.REPAIRED in after.stdout) == bool(left.running), (trial.killed_at, after.stdout)
    assert len([line for line in after.stdout.splitlines() if rs.REPAIRED in line]) <= 1
    return rs.assert_consistent(work, params), bool(left.running)


def test_a_track_killed_at_any_write_is_repaired_by_the_next_command(params, stores) -> None:
    work = rs.copy_state(stores["champion"], stores["trial"])
    writes = rs.ok(rs.run(rs.TRACK, work)).writes
    repaired = []
    for i, at in enumerate(rs.chosen(writes, spread=4, last_commits=5)):
        command = rs.TRACK if i % 2 == 0 else rs.PROMOTE
        now, was_running = killed_then(params, stores, "champion", at, command)
        repaired.append(was_running)
        if command == rs.TRACK:
            assert now.aliases[CHAMPION] == "1", (at, now.aliases)
            assert now.aliases[CHALLENGER] != "1", (at, now.aliases)
    assert sum(repaired) >= 3, "too few kills left a run RUNNING"


def test_a_first_track_killed_while_it_creates_the_store(params, stores) -> None:
    work = rs.copy_state(stores["fresh"], stores["trial"])
    writes = rs.ok(rs.run(rs.TRACK, work)).writes
    first = writes.index("database commit") + 1
    created = next(n for n, what in enumerate(writes, 1) if what.startswith("os.replace"))
    for at in (first + 10, created):
        now, _ = killed_then(params, stores, "fresh", at, rs.TRACK)
        assert CHALLENGER in now.aliases and CHAMPION not in now.aliases, (at, now.aliases)


def test_two_tracks_at_once_on_a_fresh_store_both_register(params, stores) -> None:
    work = rs.copy_state(stores["fresh"], stores["trial"])
    done = rs.together(rs.TRACK, work)
    for process in done:
        assert process.exitcode == 0, process.stderr[-3000:]
        assert "Traceback" not in process.stderr
    now = rs.assert_consistent(work, params)
    assert sorted(now.versions) == ["1", "2"]
    assert sorted(status for status in now.runs.values()) == ["FINISHED", "FINISHED"]
    assert now.aliases[CHALLENGER] in ("1", "2")
