"""Ingest on a small private project: what reaches the quarantine and under which name, entries
that must not be read, and the modes of the files ingest rewrites. Batches come from the
configured data (tests/ingest_project.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tabular_mlops
from tabular_mlops.core.io import atomic_path
from tabular_mlops.core.params import Params
from tests.ingest_project import good_batches, ingest, project_here, truncated

SRC = Path(tabular_mlops.__file__).resolve().parents[1]  # the code under test, in a child too


@pytest.fixture
def project(params: Params, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return project_here(params, root, tmp_path, monkeypatch)


def broken_text(project: Path, params: Params, cut: int) -> str:
    """A batch rejected before the contract runs: the raw file's first lines, cut mid-line."""
    lines = (project / params.paths.raw).read_text().splitlines()
    return truncated("\n".join(lines[: 10 + cut]))


def quarantined(project: Path, params: Params) -> dict[str, list[str]]:
    """Each quarantine folder's entries; files directly in the quarantine root under ''."""
    root = project / params.paths.quarantine
    found: dict[str, list[str]] = {}
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            found[entry.name] = sorted(p.name for p in entry.iterdir())
        else:
            found.setdefault("", []).append(entry.name)
    return found


def test_a_second_rejection_of_a_same_named_batch_keeps_the_first(
    project: Path, params: Params, capsys
) -> None:
    incoming = project / params.paths.incoming
    texts = [broken_text(project, params, cut) for cut in (0, 5)]
    for text in texts:
        (incoming / "batch.csv").write_text(text)
        code, _, err = ingest(capsys)
        assert code == 2 and "batch.csv: rejected, quarantined in" in err
    folders = quarantined(project, params)
    assert len(folders) == 2 and "" not in folders
    kept = sorted(
        (project / params.paths.quarantine / f / "batch.csv").read_text() for f in folders
    )
    assert kept == sorted(texts)
    for folder in folders:
        report = json.loads(
            (project / params.paths.quarantine / folder / "validation.json").read_text()
        )
        assert folder.startswith("batch-") and report["md5"][:8] in folder


def test_the_same_batch_rejected_again_is_quarantined_once(
    project: Path, params: Params, capsys
) -> None:
    incoming = project / params.paths.incoming
    text = broken_text(project, params, 0)
    for _ in range(2):
        (incoming / "batch.csv").write_text(text)
        assert ingest(capsys)[0] == 2
    [files] = quarantined(project, params).values()
    assert files == ["batch.csv", "validation.json", "validation.txt"]


@pytest.mark.parametrize("name", ["..csv", ".csv", "...csv", "a b;$(x).csv"])
def test_a_batch_name_unsafe_as_a_folder_is_quarantined_in_a_folder_of_its_own(
    project: Path, params: Params, capsys, name: str
) -> None:
    (project / params.paths.incoming / name).write_text(broken_text(project, params, 0))
    code, _, err = ingest(capsys)
    assert code == 2
    [(folder, files)] = quarantined(project, params).items()
    assert folder and not folder.startswith(".") and "/" not in folder
    assert files == sorted([name, "validation.json", "validation.txt"])
    assert f"quarantined in {params.paths.quarantine}/{folder}/" in err


def test_a_batch_name_holding_a_line_break_is_named_on_one_line(
    project: Path, params: Params, root: Path, capsys
) -> None:
    incoming = project / params.paths.incoming
    good_batches(params, root, 1)[0].to_csv(incoming / "good\nname.csv", index=False)
    (incoming / "bad\rname.csv").write_text(broken_text(project, params, 0))

    code, out, err = ingest(capsys)

    assert code == 2
    assert "good\\nname.csv: " in out and "rows appended" in out
    assert "bad\\rname.csv: rejected, quarantined in" in err
    for line in (out + err).splitlines():
        assert line.startswith(("ingest:", params.paths.incoming, "error:")), line


def test_a_link_out_of_the_project_is_refused_unread(
    project: Path, params: Params, root: Path, capsys, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "good.csv"
    outside.parent.mkdir()
    good_batches(params, root, 1)[0].to_csv(outside, index=False)
    link = project / params.paths.incoming / "linked.csv"
    link.symlink_to(outside)
    raw = (project / params.paths.raw).read_bytes()

    code, _, err = ingest(capsys)

    assert code == 2
    assert f"{params.paths.incoming}/linked.csv: a symbolic link to {outside}, outside the " in err
    assert (project / params.paths.raw).read_bytes() == raw
    assert json.loads((project / params.paths.batches).read_text())["batches"] == []
    [folder] = quarantined(project, params)
    moved = project / params.paths.quarantine / folder / "linked.csv"
    assert moved.is_symlink() and moved.readlink() == outside and outside.is_file()
    assert not os.path.lexists(link)


def test_a_link_inside_the_project_is_ingested(
    project: Path, params: Params, root: Path, capsys
) -> None:
    """As `dvc import-url` leaves a batch with a symlink cache: a link into the project."""
    cache = project / ".dvc" / "cache" / "files" / "ab" / "cdef"
    cache.parent.mkdir(parents=True)
    batch = good_batches(params, root, 1)[0]
    batch.to_csv(cache, index=False)
    (project / params.paths.incoming / "imported.csv").symlink_to(cache)

    code, out, err = ingest(capsys)

    assert code == 0, err
    assert f"imported.csv: {len(batch)} rows appended" in out
    [entry] = json.loads((project / params.paths.batches).read_text())["batches"]
    assert entry["name"] == "imported.csv" and entry["rows"] == len(batch)


def test_a_folder_named_like_a_batch_is_refused(project: Path, params: Params, capsys) -> None:
    (project / params.paths.incoming / "folder.csv").mkdir()
    code, _, err = ingest(capsys)
    assert code == 2
    assert f"{params.paths.incoming}/folder.csv: a folder, not a regular file; not read" in err
    [files] = quarantined(project, params).values()
    assert "folder.csv" in files


def test_a_fifo_named_like_a_batch_is_refused_without_blocking(
    project: Path, params: Params
) -> None:
    """A reader would wait for a writer forever: the run must end (in a child, to time it out)."""
    os.mkfifo(project / params.paths.incoming / "pipe.csv")
    done = subprocess.run(
        [sys.executable, "-m", "tabular_mlops.ct.ingest"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{params.paths.incoming}/pipe.csv: a FIFO, not a regular file; not read" in done.stderr


@pytest.mark.parametrize(
    "content", [bytes(range(256)) * 64, b"\x00" * 4096, b"PK\x03\x04" + os.urandom(512)]
)
def test_a_binary_file_is_a_one_line_rejection(
    project: Path, params: Params, capsys, content: bytes
) -> None:
    (project / params.paths.incoming / "binary.csv").write_bytes(content)
    code, _, err = ingest(capsys)
    assert code == 2
    reasons = [
        line
        for line in err.splitlines()
        if line.startswith(f"{params.paths.incoming}/binary.csv: ")
    ]
    assert len(reasons) == 2 and reasons[-1].startswith(
        f"{params.paths.incoming}/binary.csv: rejected"
    )


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """`os.umask` for one test (a team's shared checkout uses 002); the old one is restored."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize(("mask", "new_mode"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, umask, mask, new_mode) -> None:
    umask(mask)
    with atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_text("{}")
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == new_mode


@pytest.mark.parametrize("mode", [0o664, 0o640, 0o444])
def test_a_replaced_file_keeps_its_mode(tmp_path, umask, mode) -> None:
    umask(0o077)
    path = tmp_path / "out.json"
    path.write_text("old")
    path.chmod(mode)
    with atomic_path(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == mode


def test_ingest_leaves_the_raw_file_and_manifest_shared_as_they_were(
    project: Path, params: Params, root: Path, capsys, umask
) -> None:
    umask(0o002)
    raw, manifest = project / params.paths.raw, project / params.paths.batches
    raw.chmod(0o664)
    manifest.unlink()
    good_batches(params, root, 1)[0].to_csv(project / params.paths.incoming / "b.csv", index=False)
    code, _, err = ingest(capsys)
    assert code == 0, err
    assert raw.stat().st_mode & 0o777 == 0o664
    assert manifest.stat().st_mode & 0o777 == 0o664


def test_a_batch_too_large_to_read_is_refused_unread(
    project: Path, params: Params, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tabular_mlops.ct import quarantine

    monkeypatch.setattr(quarantine, "largest_batch", lambda: 1_000)
    (project / params.paths.incoming / "big.csv").write_text(broken_text(project, params, 40))
    code, _, err = ingest(capsys)
    assert code == 2
    assert f"{params.paths.incoming}/big.csv: 0 MB, more than ingest reads at once (" in err
    [files] = quarantined(project, params).values()
    assert "big.csv" in files


def test_other_readers_of_the_incoming_folder_skip_what_is_not_a_regular_file(
    project: Path, params: Params
) -> None:
    """`make decide` and `make simulate` list the incoming folder too: a FIFO must not block
    them, a folder must not crash them."""
    incoming = project / params.paths.incoming
    os.mkfifo(incoming / "pipe.csv")
    (incoming / "folder.csv").mkdir()
    env = {**os.environ, "PYTHONPATH": str(SRC), "GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""}
    for command in (
        ["tabular_mlops.ct.decide"],
        ["tabular_mlops.ct.simulate", "--rows", "5", "--seed", "1", "--out", "new.csv"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["broken", "loop"])
def test_a_link_that_leads_nowhere_is_refused(project: Path, params: Params, capsys, kind) -> None:
    incoming = project / params.paths.incoming
    if kind == "broken":
        (incoming / "gone.csv").symlink_to(incoming / "missing.txt")
    else:
        (incoming / "gone.csv").symlink_to(incoming / "loop.txt")
        (incoming / "loop.txt").symlink_to(incoming / "gone.csv")
    code, _, err = ingest(capsys)
    assert code == 2
    [line] = [
        line for line in err.splitlines() if "gone.csv: a " in line and "symbolic link to" in line
    ]
    assert line.endswith("; not read")
