"""Repair what an interrupted `dvc repro` leaves behind, before DVC reads it.

DVC rewrites dvc.lock in place, so a run killed while writing it leaves an empty or cut-off
file that every later `dvc` command refuses. `make repro` calls this first: a lock that is not
valid by DVC's own schema is set aside under .dvc/tmp/ and replaced by the committed version (or
removed, when none is committed), with one line saying so; `dvc repro` then re-runs the stages
the lock no longer describes, restoring from its run-cache those it has run before.

DVC also records each running `dvc` in .dvc/tmp/rwlock and treats an entry as stale only when
its pid no longer exists. A killed `dvc` whose parent died too stays a zombie where nothing reaps
orphans (a container without an init), and every later `dvc repro` then reports its outputs
"busy"; such entries, and an rwlock file cut off mid-write, are released here with one line.
"""

from __future__ import annotations

import argparse
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tabular_mlops.core.errors import exits_cleanly


def damage(text: bytes) -> str | None:
    """Why DVC would refuse a lock file with this content, or None when it is valid."""
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA

    try:
        COMPILED_LOCKFILE_SCHEMA(yaml.safe_load(text.decode("utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        return f"not valid YAML ({err.__class__.__name__})"
    except Exception as err:  # voluptuous.MultipleInvalid
        return f"not a DVC lock file ({str(err).splitlines()[0][:120]})"
    return None


def committed(path: Path) -> bytes | None:
    """The lock file as git's HEAD holds it; None outside git or when it is not committed."""
    try:
        done = subprocess.run(
            ["git", "show", f"HEAD:./{path.name}"],
            cwd=path.parent,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def repair(path: Path, aside_dir: Path) -> str | None:
    """Set a damaged lock aside and restore the committed one; the line to print, or None."""
    if not path.is_file():
        return None
    why = damage(path.read_bytes())
    if why is None:
        return None
    aside_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = aside_dir / f"{path.name}.damaged-{stamp}"
    path.replace(aside)
    previous = committed(path)
    if previous is not None and damage(previous) is None:
        path.write_bytes(previous)
        action = "restored the committed version"
    else:
        action = "removed it (none is committed)"
    return (
        f"repro: {path} was damaged, {why}, by an interrupted run: {action}, kept the damaged "
        f"file as {aside}; DVC re-runs what the lock no longer describes"
    )


def _dead(pid: int) -> bool:
    """Gone, or a zombie: killed and never reaped, so it holds nothing."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def release_dead_holders(dvc_dir: Path) -> str | None:
    """Drop .dvc/tmp/rwlock entries of dead `dvc` processes (under DVC's own guard); set a
    cut-off rwlock aside. The line to print, or None when nothing was released."""
    tmp_dir = dvc_dir / "tmp"
    if not (tmp_dir / "rwlock").is_file():
        return None
    from dvc.config import Config
    from dvc.fs import LocalFileSystem
    from dvc.rwlock import RWLockFileCorruptedError, RWLockFileFormatError, _edit_rwlock

    hardlink = bool(Config(dvc_dir=str(dvc_dir))["core"].get("hardlink_lock", False))
    released: set[int] = set()
    try:
        with _edit_rwlock(str(tmp_dir), LocalFileSystem(), hardlink) as lock:
            for mode in ("read", "write"):
                for path, holders in list(lock[mode].items()):
                    listed = holders if isinstance(holders, list) else [holders]
                    alive = [h for h in listed if not _dead(int(h["pid"]))]
                    released |= {int(h["pid"]) for h in listed if h not in alive}
                    if not alive:
                        del lock[mode][path]
                    elif mode == "read":
                        lock[mode][path] = alive
    except (RWLockFileCorruptedError, RWLockFileFormatError):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = tmp_dir / f"rwlock.damaged-{stamp}"
        (tmp_dir / "rwlock").replace(aside)
        return f"repro: {tmp_dir / 'rwlock'} was cut off by an interrupted run: kept it as {aside}"
    if not released:
        return None
    pids = ", ".join(str(pid) for pid in sorted(released))
    return f"repro: released DVC's locks held by killed dvc process(es) {pids} ({tmp_dir}/rwlock)"


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", default="dvc.lock")
    args = parser.parse_args(argv)
    lock = Path(args.lock)
    dvc_dir = lock.parent / ".dvc"
    for line in (repair(lock, dvc_dir / "tmp"), release_dead_holders(dvc_dir)):
        if line:
            print(line)


if __name__ == "__main__":
    main()
