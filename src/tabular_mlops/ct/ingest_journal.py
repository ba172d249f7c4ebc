"""Ingest's commit: the raw file and the manifest change together, or a journal says how to.

The raw file and the manifest are two files, so no single rename changes both. A commit first
writes a journal beside the manifest (the raw file's size and md5 before and after, and the new
manifest), then swaps in the raw file, then the manifest, then removes the journal. Whenever a
process is killed, the next ingest finds the journal and finishes the commit (the raw file was
swapped) or drops it (it was not), and removes the temporary files the atomic writer left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tabular_mlops.core.batches import (
    fingerprint,
    journal_path,
    listed_batches,
    raw_side,
    read_journal,
)
from tabular_mlops.core.errors import one_line
from tabular_mlops.core.io import atomic_path, temp_files, write_json

#: Folders the quarantine builds before renaming them into place start with this.
BUILDING = ".building-"


@contextlib.contextmanager
def ingest_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the manifest's folder, so two ingests never interleave (and one
    never removes the other's temporary files). No lock file is left; a no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # Windows: one ingest at a time is then the user's business
        yield
        return
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"ingest: waiting for another ingest in {folder}", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def commit(
    raw: Path, manifest: Path, before: bytes, after: bytes, batches: list[dict[str, Any]]
) -> None:
    """Replace the raw file's `before` bytes with `after` and the manifest with `batches`."""
    journal = journal_path(manifest)
    write_json(
        journal,
        {
            "raw": str(raw),
            "before": fingerprint(before),
            "after": fingerprint(after),
            "manifest": {"batches": batches},
        },
    )
    with atomic_path(raw) as tmp:
        tmp.write_bytes(after)
    write_json(manifest, {"batches": batches})
    journal.unlink()


def recover(raw: Path, manifest: Path, quarantine: Path) -> str | None:
    """Finish or undo an interrupted commit and remove what a killed ingest left half-written;
    one line saying what was done, or None if there was nothing to do."""
    done: list[str] = []
    journal = journal_path(manifest)
    if journal.exists():
        pending = read_journal(journal)
        names = ", ".join(one_line(e["name"]) for e in added(pending)) or "no batch"
        if raw_side(pending, journal) == "before":
            done.append(f"undid the interrupted ingest of {names} ({pending['raw']} was unchanged)")
        elif listed_batches(manifest) == pending["manifest"]["batches"]:
            done.append(f"removed the journal of the finished ingest of {names}")
        else:
            write_json(manifest, pending["manifest"])
            done.append(
                f"finished the interrupted ingest of {names} ({pending['raw']} already held "
                f"them; {manifest} now lists them)"
            )
        journal.unlink()
    stale = [*temp_files(raw), *temp_files(manifest)]  # the journal's: .<manifest>.journal.*
    if quarantine.is_dir():
        stale += sorted(p for p in quarantine.iterdir() if p.name.startswith(BUILDING))
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    if stale:
        done.append(f"removed {len(stale)} temporary file(s) of a killed ingest")
    return "ingest: repaired: " + "; ".join(done) if done else None


def added(journal: dict[str, Any]) -> list[dict[str, Any]]:
    """The batches the journaled commit appends: those past the raw file's old end."""
    end = int(journal["before"]["size"])
    return [e for e in journal["manifest"]["batches"] if int(e.get("offset", 0)) >= end]
