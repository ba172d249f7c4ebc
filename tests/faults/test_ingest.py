"""Ingest killed before each of its writes, then run again: nothing lost, nothing twice.

One small project (a sample of the configured raw data, two good batches and a truncated one)
is ingested once cleanly for reference. Then, for every write the clean run makes inside the
project, a copy is ingested killed before that write and ingested again normally: the raw file,
the manifest, the quarantine and the incoming folder must end exactly as after the clean run,
with no temporary file left, and one line saying so when the second run had to repair something.
A few killed states are also repaired by a run that is itself killed at each of its writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tabular_mlops.core.params import Params
from tabular_mlops.ct.ingest import batch_text, read_text_cells
from tests.faults import failpoints
from tests.ingest_project import good_batches, make_project, truncated

MODULE = "tabular_mlops.ct.ingest"
GOOD = ("a-good.csv", "b-good.csv")
BAD = "c-bad.csv"
REPAIRED = "ingest: repaired"
REJECTED_EXIT = 2


@dataclass(frozen=True)
class Scenario:
    base: Path
    template: Path
    params: Params
    reference: dict[str, Any]
    writes: tuple[str, ...]

    @property
    def trial(self) -> Path:
        return self.base / "trial"

    def run(self, project: Path, kill_at: int | None = None) -> failpoints.Trial:
        return failpoints.run(MODULE, [], project, kill_at=kill_at)


def project_writes(writes: tuple[str, ...], project: Path) -> list[int]:
    """1-based indices of the writes inside the project (a kill before a write elsewhere, such
    as a library probing the temporary folder, leaves the project as the next one does)."""
    return [
        n
        for n, what in enumerate(writes, start=1)
        if not what.split(" ")[1].startswith("/") or what.split(" ")[1].startswith(f"{project}/")
    ]


def snapshot(project: Path, params: Params) -> dict[str, Any]:
    """What the invariants compare: the raw bytes, the manifest (but when each batch was
    ingested), every file of the quarantine, the names left in the incoming folder."""
    paths = params.paths
    manifest = json.loads((project / paths.batches).read_text())["batches"]
    quarantine = project / paths.quarantine
    return {
        "raw": (project / paths.raw).read_bytes(),
        "manifest": [{k: v for k, v in e.items() if k != "ingested_at"} for e in manifest],
        "quarantine": {
            str(p.relative_to(quarantine)): p.read_bytes()
            for p in sorted(quarantine.rglob("*"))
            if p.is_file()
        }
        if quarantine.is_dir()
        else {},
        "incoming": sorted(p.name for p in (project / paths.incoming).iterdir()),
    }


def leftovers(project: Path) -> list[str]:
    """Temporary files, half-built folders and journals anywhere in the project."""
    return sorted(
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.name.startswith(".") or p.name.endswith(".journal")
    )


def assert_raw_holds_each_good_batch_once(project: Path, params: Params, original: bytes) -> None:
    """The raw file is the original bytes and then each good batch's rows once, in name order,
    and each manifest entry's offset, first row and row count point at that batch's rows."""
    raw = (project / params.paths.raw).read_bytes()
    header = list(pd.read_csv(io.BytesIO(raw), nrows=0, dtype=str).columns)
    incoming = project / params.paths.incoming
    batches = {name: read_text_cells(incoming / name).loc[:, header] for name in GOOD}
    texts = {name: batch_text(frame, header).encode() for name, frame in batches.items()}
    assert raw == original + b"".join(texts[name] for name in GOOD)
    entries = json.loads((project / params.paths.batches).read_text())["batches"]
    assert [e["name"] for e in entries] == list(GOOD)
    table = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    for entry in entries:
        rows = table.iloc[entry["first_row"] : entry["first_row"] + entry["rows"]]
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), batches[entry["name"]])
        assert (
            raw[entry["offset"] : entry["offset"] + len(texts[entry["name"]])]
            == texts[entry["name"]]
        )
    assert entries[-1]["first_row"] + entries[-1]["rows"] == len(table)


@pytest.fixture(scope="module")
def scenario(params: Params, root: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = tmp_path_factory.mktemp("ingest-faults")
    template = make_project(params, root, base / "template")
    incoming = template / params.paths.incoming
    for name, batch in zip(GOOD, good_batches(params, root, len(GOOD)), strict=True):
        batch.to_csv(incoming / name, index=False)
    (incoming / BAD).write_text(truncated((incoming / GOOD[0]).read_text()))
    original = (template / params.paths.raw).read_bytes()
    with failpoints.fresh_copy(template, base / "trial") as project:
        clean = failpoints.run(MODULE, [], project)
        assert clean.exitcode == REJECTED_EXIT, clean.stderr
        assert f"{BAD}: rejected, quarantined in" in clean.stderr
        assert_raw_holds_each_good_batch_once(project, params, original)
        reference = snapshot(project, params)
        assert reference["incoming"] == list(GOOD)
        assert [Path(f).name for f in reference["quarantine"]] == [
            BAD,
            "validation.json",
            "validation.txt",
        ]
        assert not leftovers(project)
    return Scenario(base, template, params, reference, clean.writes)


def assert_recovered(
    scenario: Scenario, project: Path, run: failpoints.Trial, repair: bool, bad_pending: bool
) -> None:
    """After the run that follows a kill: as after a clean ingest, one line if it repaired."""
    assert not run.killed
    assert run.exitcode == (REJECTED_EXIT if bad_pending else 0), run.stderr
    assert snapshot(project, scenario.params) == scenario.reference
    assert not leftovers(project)
    lines = [line for line in run.stdout.splitlines() if line.startswith(REPAIRED)]
    assert len(lines) == (1 if repair else 0), run.stdout


def state(project: Path) -> tuple[tuple[str, str], ...]:
    """Every path in the project and its content's md5, the random part of temporary names and
    the ingest times blanked: two kills that leave the same state need one repair run."""
    return tuple(
        (
            re.sub(r"\.[0-9a-f]{8}(?=/|$)", ".*", str(p.relative_to(project))),
            hashlib.md5(re.sub(rb'"ingested_at": "[^"]*"', b"", p.read_bytes())).hexdigest()
            if p.is_file()
            else "folder",
        )
        for p in sorted(project.rglob("*"))
    )


def kill_then_run(
    scenario: Scenario, start: Path, n: int, writes: tuple[str, ...], seen: set
) -> None:
    """A copy of `start` ingested killed before write `n`, then ingested again normally (unless
    an earlier kill left the very same files: consecutive kills around one file's open do)."""
    with failpoints.fresh_copy(start, scenario.trial) as project:
        killed = scenario.run(project, n)
        assert killed.killed, f"the run ended before write {n}"
        if state(project) in seen:
            return
        seen.add(state(project))
        repair = bool(leftovers(project))
        bad_pending = (project / scenario.params.paths.incoming / BAD).exists()
        again = scenario.run(project)
        try:
            assert_recovered(scenario, project, again, repair, bad_pending)
        except AssertionError as err:
            raise AssertionError(
                f"killed before write {n} ({writes[n - 1]}), then: {again.stdout}{again.stderr}"
                f"\n{err}"
            ) from None


def normalized(writes: list[str]) -> list[str]:
    return [re.sub(r"\.[0-9a-f]{8}(?=/|$| )", ".*", what) for what in writes]


def state_killed_at(scenario, kill_at: int, name: str) -> Path:
    """The project as a run killed before its `kill_at`-th write left it, kept under `name`."""
    state = scenario.base / name
    if state.exists():
        shutil.rmtree(state)
    with failpoints.fresh_copy(scenario.template, scenario.trial) as project:
        assert scenario.run(project, kill_at).killed
        shutil.copytree(project, state, symlinks=True)
    return state


def test_ingest_killed_before_any_write_is_finished_or_undone_by_the_next_run(
    scenario: Scenario,
) -> None:
    """Every write of the clean run. Those of the quarantine step are killed in a run that starts
    where the clean run stood at its first quarantine write (batches committed, the bad one
    still incoming): the same writes from the same state, without validating the good batches
    again in every trial."""
    points = project_writes(scenario.writes, scenario.trial)
    assert len(points) >= 15, scenario.writes
    quarantine = re.escape(scenario.params.paths.quarantine)
    first = write_index(scenario.writes, rf"\S+ (.*/)?{quarantine}/")
    seen: set = set()
    for n in (n for n in points if n <= first):
        kill_then_run(scenario, scenario.template, n, scenario.writes, seen)

    committed = state_killed_at(scenario, first, "committed")
    with failpoints.fresh_copy(committed, scenario.trial) as project:
        rest = scenario.run(project)
    later = project_writes(rest.writes, scenario.trial)
    assert normalized([rest.writes[n - 1] for n in later]) == normalized(
        [scenario.writes[n - 1] for n in points if n >= first]
    )
    for n in later:
        kill_then_run(scenario, committed, n, rest.writes, seen)
    assert len(seen) >= len(points) // 2, "the kills left too few different states"


def test_a_kill_between_the_raw_file_and_the_manifest_loses_no_batch(
    scenario: Scenario,
) -> None:
    """The issue's case: the raw file already holds the good batches, the manifest does not list
    them yet. The next run must list them, not quarantine them as ids already in the data."""
    after_raw = (
        write_index(
            scenario.writes, rf"os\.replace .*{re.escape(Path(scenario.params.paths.raw).name)}"
        )
        + 1
    )
    with failpoints.fresh_copy(scenario.template, scenario.trial) as project:
        assert scenario.run(project, after_raw).killed
        again = scenario.run(project)
        quarantined = sorted(
            p.name for p in (project / scenario.params.paths.quarantine).rglob("*.csv")
        )
        assert quarantined == [BAD], again.stderr
        assert snapshot(project, scenario.params) == scenario.reference
        [line] = [line for line in again.stdout.splitlines() if line.startswith(REPAIRED)]
        assert f"finished the interrupted ingest of {', '.join(GOOD)}" in line


def write_index(writes: tuple[str, ...], pattern: str) -> int:
    """The 1-based index of the first write that `pattern` (a regular expression) matches."""
    return next(n for n, what in enumerate(writes, 1) if re.match(pattern, what))


@pytest.mark.parametrize(
    "killed_in",
    [
        "raw swapped, manifest not written",
        "manifest temporary file half-written",
        "quarantine folder built, batch still incoming",
    ],
)
def test_the_repair_run_killed_at_each_write_is_repaired_by_the_next(
    scenario: Scenario, killed_in: str
) -> None:
    """Second generation: a killed state, its repair killed before each write, then a run."""
    paths, writes = scenario.params.paths, scenario.writes
    raw, manifest = re.escape(Path(paths.raw).name), re.escape(Path(paths.batches).name)
    incoming = re.escape(Path(paths.incoming).name)
    kill_at = {
        "raw swapped, manifest not written": lambda: (
            write_index(writes, rf"os\.replace .*{raw}") + 1
        ),
        "manifest temporary file half-written": lambda: (
            write_index(writes, rf"open .*/\.{manifest}\.\w+ ") + 1
        ),
        "quarantine folder built, batch still incoming": lambda: write_index(
            writes, rf"os\.unlink .*{incoming}/{BAD}"
        ),
    }[killed_in]()
    killed_state = state_killed_at(scenario, kill_at, "killed-state")
    with failpoints.fresh_copy(killed_state, scenario.trial) as project:
        repair = scenario.run(project)
        assert any(line.startswith(REPAIRED) for line in repair.stdout.splitlines()) or (
            killed_in.startswith("quarantine")
        ), repair.stdout
    seen: set = set()
    for n in project_writes(repair.writes, scenario.trial):
        kill_then_run(scenario, killed_state, n, repair.writes, seen)
