"""The batch manifest: which batches were appended to the raw file, and which of them a model has
not yet been trained on (by the raw file's size that dvc.lock records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tabular_mlops.core.errors import PipelineError


def batch_tags(batches: list[dict[str, Any]]) -> dict[str, str]:
    """MLflow tags naming the batches a model was trained on (tag values are capped)."""
    names = ",".join(batch["name"] for batch in batches) or "none"
    if len(names) > 4000:
        names = "..." + names[-3997:]
    return {"data.batches": names, "data.batches.count": str(len(batches))}


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The ingested batches, oldest first; none if the manifest does not exist yet."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        batches = payload["batches"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise PipelineError(f"{path}: not a batch manifest ({err.__class__.__name__})") from None
    return list(batches)


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
