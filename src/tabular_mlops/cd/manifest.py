"""A bundle's manifest: which registry version its model file is, and the md5 of every file.

`make bundle` writes it beside the model; the service reads it at start and refuses a model file
whose md5 is not the manifest's, so an image can only ever serve the bytes the registry version
holds, and its /version names that version. Imports nothing heavy: the service loads it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tabular_mlops.cd.links import history_link
from tabular_mlops.core.errors import PipelineError, first_line

MANIFEST = "manifest.json"
MODEL = "model.pkl"
EXAMPLE = "example.json"
#: What every manifest holds; `make bundle` writes these, the service and `make release` read them.
KEYS = (
    "registered_model",
    "version",
    "md5",
    "run_id",
    "git_commit",
    "tracking_uri",
    "task",
    "history",
    "created_at",
    "files",
)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def public_uri(uri: str) -> str:
    """A tracking URI without the user and password a URL may carry: a manifest is public."""
    parts = urlsplit(uri)
    if not parts.scheme or "@" not in parts.netloc:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def build(
    *,
    name: str,
    version: str,
    md5: str,
    run_id: str | None,
    git_commit: str | None,
    tracking_uri: str,
    task: str,
    files: dict[str, str],
    created_at: str | None = None,
) -> dict[str, Any]:
    """The manifest of a bundle holding `files` ({name: md5}, the model among them)."""
    if files.get(MODEL) != md5:
        raise PipelineError(f"{MODEL}: md5 {files.get(MODEL)} is not the model's {md5}")
    uri = public_uri(tracking_uri)
    return {
        "registered_model": name,
        "version": str(version),
        "md5": md5,
        "run_id": run_id,
        "git_commit": git_commit,
        "tracking_uri": uri,
        "task": task,
        "history": history_link(uri, name),
        "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "files": dict(sorted(files.items())),
    }


def read(folder: Path) -> dict[str, Any] | None:
    """The manifest in `folder`, or None when there is none; one line when it is not one."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path}: not a readable JSON manifest ({first_line(err)})") from None
    missing = [key for key in KEYS if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise PipelineError(f"{path}: not a bundle manifest (no {', '.join(missing)})")
    return manifest


def checked(model: Path, got: str | None = None) -> dict[str, Any] | None:
    """The manifest beside `model`, after checking the file (md5 `got`, when already known) is
    the one it lists; None without a manifest. A file whose md5 differs is refused in one line
    naming both."""
    manifest = read(model.parent)
    if manifest is None:
        return None
    got = got or md5_of(model)
    want = manifest["md5"]
    if got != want:
        raise PipelineError(
            f"{model}: md5 {got} differs from {want} that {model.parent / MANIFEST} records for "
            f"{manifest['registered_model']} version {manifest['version']} (a damaged or "
            "replaced file); refusing to serve it"
        )
    return manifest


def summary(manifest: dict[str, Any], out: Path) -> str:
    """The job summary's table of what the bundle (and so the image) holds."""
    rows = [
        ("Registered model", manifest["registered_model"]),
        ("Version", manifest["version"]),
        ("Model md5", f"`{manifest['md5']}`"),
        ("Run", f"`{manifest['run_id']}`"),
        ("Commit", f"`{manifest['git_commit']}`"),
        ("Task", manifest["task"]),
        ("Registry", manifest["tracking_uri"]),
        ("History", manifest["history"]),
        ("Created", manifest["created_at"]),
    ]
    lines = [f"### Serving bundle `{out}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    lines += ["", "| File | md5 |", "|---|---|"]
    lines += [f"| `{name}` | `{md5}` |" for name, md5 in manifest["files"].items()]
    return "\n".join(lines) + "\n"
