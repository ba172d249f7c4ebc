"""An ingest interrupted mid-commit: the next run finishes or undoes it in one line, refuses a
raw file that matches neither side, and readers of the manifest see the one that goes with the
raw file. The interruption is an exception at the chosen write (tests/faults kills instead)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabular_mlops.core.batches import journal_path, read_manifest
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import Params
from tabular_mlops.ct import ingest_journal
from tests.ingest_project import good_batches, ingest, project_here

REPAIRED = "ingest: repaired: "


@pytest.fixture
def project(params: Params, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return project_here(params, root, tmp_path, monkeypatch)


class Interrupted(BaseException):
    """Not an Exception, so nothing on the way up handles it (as a kill would not be)."""


def interrupt_writes_to(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """The commit's next atomic write of `target` dies before it replaces the file."""
    real = ingest_journal.atomic_path

    def dying(path, *args, **kwargs):
        if Path(path).resolve() == target.resolve():
            raise Interrupted(str(path))
        return real(path, *args, **kwargs)

    def dying_json(path, payload):
        with dying(path) as tmp:
            tmp.write_text(json.dumps(payload))

    monkeypatch.setattr(ingest_journal, "atomic_path", dying)
    monkeypatch.setattr(ingest_journal, "write_json", dying_json)


def interrupted(project: Path, params: Params, root: Path, capsys, monkeypatch, at: str) -> str:
    """A good batch in the incoming folder and an ingest interrupted writing `at` ("raw" or
    "manifest"); the batch's name."""
    good_batches(params, root, 1)[0].to_csv(project / params.paths.incoming / "b.csv", index=False)
    with monkeypatch.context() as patch:
        interrupt_writes_to(
            patch, project / (params.paths.raw if at == "raw" else params.paths.batches)
        )
        with pytest.raises(Interrupted):
            ingest(capsys)
    capsys.readouterr()
    assert journal_path(project / params.paths.batches).is_file()
    return "b.csv"


def listed(project: Path, params: Params) -> list[str]:
    return [e["name"] for e in json.loads((project / params.paths.batches).read_text())["batches"]]


def test_a_commit_interrupted_after_the_raw_file_is_finished(
    project: Path, params: Params, root: Path, capsys, monkeypatch
) -> None:
    name = interrupted(project, params, root, capsys, monkeypatch, "manifest")
    assert listed(project, params) == []
    assert [e["name"] for e in read_manifest(params.paths.batches)] == [name]
    assert "note: " in capsys.readouterr().err, "a reader says it used the journal"

    code, out, err = ingest(capsys)

    assert code == 0, err
    [line] = [line for line in out.splitlines() if line.startswith("ingest: repaired")]
    assert line == (
        f"{REPAIRED}finished the interrupted ingest of {name} ({params.paths.raw} already held "
        f"them; {params.paths.batches} now lists them)"
    )
    assert listed(project, params) == [name]
    assert not journal_path(project / params.paths.batches).exists()
    assert not (project / params.paths.quarantine).exists()
    assert "nothing new" in out


def test_a_commit_interrupted_before_the_raw_file_is_undone_then_done(
    project: Path, params: Params, root: Path, capsys, monkeypatch
) -> None:
    raw = (project / params.paths.raw).read_bytes()
    name = interrupted(project, params, root, capsys, monkeypatch, "raw")
    assert (project / params.paths.raw).read_bytes() == raw
    assert read_manifest(params.paths.batches) == []

    code, out, err = ingest(capsys)

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (
        f"{REPAIRED}undid the interrupted ingest of {name} ({params.paths.raw} was unchanged)"
    )
    assert sum(line.startswith("ingest: repaired") for line in lines) == 1
    assert f"{name}: " in lines[1] and "rows appended" in lines[1]
    assert listed(project, params) == [name]


def test_a_raw_file_matching_neither_side_is_one_line_and_changes_nothing(
    project: Path, params: Params, root: Path, capsys, monkeypatch
) -> None:
    interrupted(project, params, root, capsys, monkeypatch, "manifest")
    raw = project / params.paths.raw
    raw.write_bytes(raw.read_bytes() + b"edited by hand\n")
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}

    code, out, err = ingest(capsys)

    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"error: {params.paths.raw}: matches neither side of the interrupted ")
    assert str(journal_path(params.paths.batches)) in line
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
    with pytest.raises(PipelineError, match="matches neither side"):
        read_manifest(params.paths.batches)


def test_temporary_files_a_kill_left_are_removed_with_one_line(
    project: Path, params: Params, capsys
) -> None:
    raw, manifest = project / params.paths.raw, project / params.paths.batches
    left = [
        raw.with_name(f".{raw.name}.k1ll3d00"),
        manifest.with_name(f".{manifest.name}.0a1b2c3d"),
        manifest.with_name(f".{manifest.name}.journal.0a1b2c3d"),
    ]
    for path in left:
        path.write_text("half")
    building = project / params.paths.quarantine / f"{ingest_journal.BUILDING}x-1.2"
    building.mkdir(parents=True)
    (building / "x.csv").write_text("half")

    code, out, err = ingest(capsys)

    assert code == 0, err
    assert out.splitlines()[0] == f"{REPAIRED}removed 4 temporary file(s) of a killed ingest"
    assert not any(path.exists() for path in [*left, building])
    assert "repaired" not in ingest(capsys)[1]


def test_an_unreadable_journal_is_one_line(project: Path, params: Params, capsys) -> None:
    journal = journal_path(project / params.paths.batches)
    journal.write_text("{not json")
    code, _, err = ingest(capsys)
    assert code == 2
    assert err.startswith(f"error: {journal_path(params.paths.batches)}: not an ingest journal")
    assert journal.read_text() == "{not json"
