"""One writer at a time per MLflow store: `track` and `promote` hold this lock while they use it.

A fresh SQLite store is created (its tables migrated) by whichever process first opens it, and
promote reads the aliases, decides and moves `champion`: without a lock two of them at once race.
The lock is an OS file lock (`flock`), so the kernel releases it when its holder dies, even by
`kill -9`; the lock file itself stays and means nothing.

Scope: for `sqlite:///path` the lock is `path.lock`, beside the database, so every process that
can open the database on this machine (any user, any checkout) is serialized. For any other URI
(a tracking server, a database) the lock is keyed by the URI under a per-user temporary folder:
it serializes this user's commands on this machine only. Across machines, the workflows'
`concurrency:` groups serialize the jobs that track or promote.
"""

from __future__ import annotations

import getpass
import hashlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

from filelock import FileLock, Timeout

from tabular_mlops.core.errors import PipelineError

#: How long a command waits for another one on the same store before giving up (seconds).
WAIT_SECONDS = 900.0
SQLITE = "sqlite:///"


def lock_path(uri: str) -> Path:
    """Where the lock for the store at `uri` lives (see the module docstring)."""
    database = unquote(uri[len(SQLITE) :].split("?", 1)[0]) if uri.startswith(SQLITE) else ""
    if database and database != ":memory:":
        path = Path(database)
        return path.with_name(path.name + ".lock")
    digest = hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"tabular-mlops-{_user()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"mlflow-store-{digest}.lock"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def store_lock(uri: str, command: str, wait: float = WAIT_SECONDS) -> Iterator[Path]:
    """Hold the store's lock for the block; say so once when another command holds it."""
    path = lock_path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, mode=0o666)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"{command}: waiting for {path} (another track or promote uses {uri})")
            sys.stdout.flush()
            lock.acquire(timeout=wait)
    except Timeout:
        raise PipelineError(
            f"{path}: still locked after {wait:.0f} s by another track or promote on {uri}"
        ) from None
    except OSError as err:
        raise PipelineError(f"{path}: cannot lock the MLflow store ({err.strerror})") from None
    try:
        yield path
    finally:
        lock.release()
