"""Where a rejected batch goes: paths.quarantine/<name>-<md5[:8]>/, beside its report.

A folder per batch content, so a later batch of the same name never overwrites an earlier one,
and names that are not safe as a folder (`..csv`, odd characters) are cleaned. A folder is built
under a temporary name and renamed into place whole; only then is the batch removed from the
incoming folder. A kill therefore leaves the batch in the incoming folder (judged again by the
next ingest, which finds its folder already there) or fully quarantined, never lost or twice.

Entries that are not read at all are judged here too: a link that leads out of the project
(reading it would append whatever it points at) and anything that is not a regular file (a FIFO
would block the reader, a folder cannot be read), and a file too large to read in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

from tabular_mlops.ct.ingest_journal import BUILDING

KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def safe_stem(name: str) -> str:
    """A file name's stem usable as a folder name: no separators, no leading dot, never empty."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).lstrip(".")[:80]
    return stem or "batch"


def refusal(path: Path, roots: tuple[Path, ...]) -> tuple[str, str] | None:
    """(why, a digest naming its folder) if `path` must not be read, else None.

    Nothing is opened: a link's target is only resolved, a file's type only looked up.
    """
    if path.is_symlink():
        target = str(path.readlink())
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a loop of links
            return f"a symbolic link to {target} that cannot be resolved; not read", _digest(
                f"symlink:{target}"
            )
        if not any(resolved.is_relative_to(root) for root in roots):
            why = f"a symbolic link to {target}, outside the project; not read"
            return why, _digest(f"symlink:{target}")
        if not resolved.exists():
            return f"a broken symbolic link to {target}; not read", _digest(f"symlink:{target}")
    info = path.stat()
    if stat.S_ISREG(info.st_mode):
        limit = largest_batch()
        if info.st_size <= limit:
            return None
        return (
            f"{info.st_size / 1e6:,.0f} MB, more than ingest reads at once ({limit / 1e6:,.0f} MB,"
            " an eighth of this machine's memory); split it; not read",
            _digest(f"large:{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"),
        )
    kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
    return (
        f"{kind}, not a regular file; not read",
        _digest(f"{kind}:{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}"),
    )


def largest_batch() -> int:
    """The largest batch file read: a frame of text cells takes several times the file's size,
    so a file past an eighth of the memory would fail (or be killed) halfway, not be judged."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8
    except (ValueError, OSError, AttributeError):  # no sysconf: no limit
        return sys.maxsize


def _digest(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


def folder_for(root: Path, name: str, md5: str) -> Path:
    """The batch's folder: its md5's first 8 digits, or all 32 if another batch has that one."""
    folder = root / f"{safe_stem(name)}-{md5[:8]}"
    if folder.is_dir() and _recorded_md5(folder) not in (md5, None):
        folder = root / f"{safe_stem(name)}-{md5}"
    return folder


def _recorded_md5(folder: Path) -> str | None:
    try:
        return json.loads((folder / "validation.json").read_text(encoding="utf-8")).get("md5")
    except (OSError, ValueError, AttributeError):
        return None


def quarantine(
    source: Path,
    md5: str,
    reasons: tuple[str, ...],
    contract: dict[str, Any],
    root: Path,
    regular: bool = True,
) -> Path:
    """Put the batch (moved; copied if DVC tracks it) in its folder beside its report; an entry
    that was not `regular` (refused unread) is moved as it is, a link as a link."""
    tracked = Path(f"{source}.dvc").exists()
    folder = folder_for(root, source.name, md5)
    if not folder.is_dir():
        building = root / f"{BUILDING}{folder.name}.{secrets.token_hex(4)}"
        building.mkdir(parents=True)
        report = {"source": str(source), "md5": md5, "reasons": list(reasons), "contract": contract}
        (building / "validation.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        (building / "validation.txt").write_text(
            "".join(f"{source}: {reason}\n" for reason in reasons), encoding="utf-8"
        )
        if regular:
            _link_or_copy(source, building / source.name, copy=tracked or source.is_symlink())
        building.rename(folder)
    if not regular:
        if not os.path.lexists(folder / source.name):
            source.rename(folder / source.name)  # the link or the entry itself, never its data
    elif not tracked:
        source.unlink(missing_ok=True)
    return folder


def _link_or_copy(source: Path, dest: Path, copy: bool) -> None:
    if not copy:
        try:
            os.link(source, dest)
            return
        except OSError:  # another file system, or links not supported
            pass
    shutil.copy2(source, dest)
