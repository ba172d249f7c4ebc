"""`make promote` killed at chosen writes (kill -9), then promote again; two promotes at once.

After any kill the next promote succeeds: `champion` names a version whose model loads, the
promotion tag agrees with it (repaired in one line when a kill fell between the two), and
reports/promotion.json is whole. Two promotes at once make one decision: the second sees it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabular_mlops.ct.registry import CHAMPION, CHAMPION_TAG

from . import registry_state as rs

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def stores(params, tmp_path_factory) -> dict[str, Path]:
    """Templates built at the trial's own path: `bootstrap` has a challenger and no champion;
    `challenger` has champion 1 and challenger 2 (the same model, so promote moves champion)."""
    base = tmp_path_factory.mktemp("promote")
    work = rs.make_project(params, base / "trial")
    rs.ok(rs.run(rs.TRACK, work))
    bootstrap = rs.copy_state(work, base / "bootstrap")
    rs.ok(rs.run(rs.PROMOTE, work))
    rs.ok(rs.run(rs.TRACK, work))
    return {"trial": work, "bootstrap": bootstrap, "challenger": rs.copy_state(work, base / "ch")}


def decision(project: Path, params) -> str:
    text = (project / params.paths.promotion).read_text(encoding="utf-8")
    return json.loads(text)["decision"]


@pytest.mark.parametrize(
    ("template", "winner", "decisions"),
    [
        ("challenger", "2", {"promoted", "unchanged"}),
        ("bootstrap", "1", {"bootstrapped", "unchanged"}),
    ],
)
def test_a_promote_killed_at_any_write_is_finished_by_the_next(
    params, stores, template, winner, decisions
) -> None:
    work = rs.copy_state(stores[template], stores["trial"])
    writes = rs.ok(rs.run(rs.PROMOTE, work)).writes
    repaired = []
    for at in rs.chosen(writes, spread=3, last_commits=4):
        work = rs.copy_state(stores[template], stores["trial"])
        trial = rs.run(rs.PROMOTE, work, kill_at=at)
        assert trial.killed or trial.exitcode == 0, trial.stderr[-2000:]
        left = rs.state(work, params.track.registered_model)
        disagree = (
            CHAMPION in left.aliases and left.tags.get(CHAMPION_TAG) != left.aliases[CHAMPION]
        )
        after = rs.ok(rs.run(rs.PROMOTE, work))
        assert (rs.REPAIRED in after.stdout) == disagree, (trial.killed_at, after.stdout)
        repaired.append(disagree)
        now = rs.assert_consistent(work, params)
        assert now.aliases[CHAMPION] == winner, (trial.killed_at, now.aliases)
        assert decision(work, params) in decisions, trial.killed_at
    assert any(repaired), "no kill fell between the alias and the tag"


def test_two_promotes_at_once_make_one_decision(params, stores) -> None:
    work = rs.copy_state(stores["challenger"], stores["trial"])
    done = rs.together(rs.PROMOTE, work)
    for process in done:
        assert process.exitcode == 0, process.stderr[-3000:]
    said = sorted(
        line.split(":")[1].strip()
        for process in done
        for line in process.stdout.splitlines()
        if line.startswith("promote: ") and rs.REPAIRED not in line and "waiting" not in line
    )
    assert said == ["promoted", "unchanged"], [process.stdout for process in done]
    now = rs.assert_consistent(work, params)
    assert now.aliases[CHAMPION] == "2"
