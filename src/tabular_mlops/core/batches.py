"""The batch manifest: which batches were appended to the raw file, and which of them a model has
not yet been trained on (by the raw file's size that dvc.lock records)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.lineage import file_md5


def batch_tags(batches: list[dict[str, Any]]) -> dict[str, str]:
    """MLflow tags naming the batches a model was trained on (tag values are capped)."""
    names = ",".join(batch["name"] for batch in batches) or "none"
    if len(names) > 4000:
        names = "..." + names[-3997:]
    return {"data.batches": names, "data.batches.count": str(len(batches))}


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The ingested batches, oldest first; none if the manifest does not exist yet.

    If an ingest was killed between swapping in the raw file and writing the manifest, its
    journal says which manifest goes with the raw file as it is now: that one is returned (the
    next `make ingest` writes it), so a reader never pairs new rows with the old manifest.
    """
    path = Path(path)
    journal = journal_path(path)
    if journal.exists():
        pending = read_journal(journal)
        if raw_side(pending, journal) == "after":
            print(
                f"note: {journal}: an interrupted ingest; its manifest is used "
                "(`make ingest` finishes it)",
                file=sys.stderr,
            )
            return list(pending["manifest"]["batches"])
    return listed_batches(path)


def listed_batches(path: Path) -> list[dict[str, Any]]:
    """The batches the manifest file lists, journal or not."""
    if not path.exists():
        return []
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        batches = payload["batches"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise PipelineError(f"{path}: not a batch manifest ({err.__class__.__name__})") from None
    return list(batches)


def journal_path(manifest: str | Path) -> Path:
    """Where ingest records a commit in progress: beside the manifest, visible to `git status`."""
    manifest = Path(manifest)
    return manifest.with_name(f"{manifest.name}.journal")


def fingerprint(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "md5": hashlib.md5(data, usedforsecurity=False).hexdigest()}


def read_journal(path: Path) -> dict[str, Any]:
    """An ingest's journal: the raw file's path, its size and md5 before and after, and the
    manifest that goes with the raw file after."""
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        for side in ("before", "after"):
            int(journal[side]["size"]), str(journal[side]["md5"])
        list(journal["manifest"]["batches"])
        str(journal["raw"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise PipelineError(
            f"{path}: not an ingest journal ({err.__class__.__name__}); remove it and check "
            "the raw file and the manifest by hand"
        ) from None
    return journal


def raw_side(journal: dict[str, Any], where: Path) -> str:
    """ "before" or "after": which side of the journaled commit the raw file is on."""
    raw = Path(journal["raw"])
    size = raw.stat().st_size if raw.is_file() else -1
    for side in ("after", "before"):
        if size == journal[side]["size"] and file_md5(raw) == journal[side]["md5"]:
            return side
    raise PipelineError(
        f"{raw}: matches neither side of the interrupted ingest in {where} (size {size}, "
        f"expected {journal['before']['size']} before or {journal['after']['size']} after); "
        "restore it (e.g. `git checkout` or `dvc checkout` it), then remove the journal"
    )


def trained_raw(lock_path: Path, raw: str) -> dict[str, Any] | None:
    """dvc.lock's record ({md5, size}) of the raw file, from whichever stage depends on it."""
    if not lock_path.is_file():
        return None
    try:
        lock = yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise PipelineError(f"{lock_path}: not valid YAML") from None
    for stage in (lock.get("stages") or {}).values():
        for dep in stage.get("deps") or []:
            if Path(dep.get("path", "")) == Path(raw):
                return dep
    return None


def untrained(
    batches: list[dict[str, Any]], trained: dict[str, Any] | None, raw_md5: str
) -> list[dict[str, Any]] | None:
    """Batches appended since dvc.lock recorded the raw file; None if the data changed otherwise.

    Batches are appended, so a batch whose byte offset is at or past the recorded size is new.
    """
    if trained is None:
        return list(batches)
    if trained.get("md5") == raw_md5:
        return []
    size = int(trained.get("size") or 0)
    new = [batch for batch in batches if int(batch.get("offset", 0)) >= size] if size else []
    return new or None
