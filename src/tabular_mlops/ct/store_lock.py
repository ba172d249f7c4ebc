"""One writer at a time per MLflow store: `track` and `promote` hold this lock while they use it.

A fresh SQLite store is created (its tables migrated) by whichever process first opens it, and
promote reads the aliases, decides and moves `champion`: without a lock two of them at once race.
The lock is an OS file lock (`flock`), so the kernel releases it when its holder dies, even by
`kill -9`; the lock file itself stays and means nothing.

Scope: for `sqlite:///path` the lock is `path.lock`, beside the database, so every process that
can open the database on this machine (any user, any checkout) is serialized. Any other store (a
tracking server, a database) is shared by machines, so its lock lives in the registry itself
(ct/registry_lock.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from filelock import FileLock, Timeout

from tabular_mlops.core.errors import PipelineError, first_line

#: How long a command waits for another one on the same store before giving up (seconds).
WAIT_SECONDS = 900.0
SQLITE = "sqlite:///"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (relative to the working folder), else None."""
    database = unquote(uri[len(SQLITE) :].split("?", 1)[0]) if uri.startswith(SQLITE) else ""
    return Path(database) if database and database != ":memory:" else None


def lock_path(uri: str) -> Path | None:
    """The lock file of a SQLite store; None for a shared store, locked in its registry."""
    database = sqlite_path(uri)
    return None if database is None else database.with_name(database.name + ".lock")


def create_sqlite_store(database: Path) -> None:
    """A new SQLite store is built beside its path and renamed into place: MLflow creates its
    tables in dozens of commits, and a store killed halfway would fail every later command.

    As nothing reads the staging file, its commits skip the disk flush and the rollback journal
    (most of a first `track`'s store creation); the file is flushed once, before the rename. Both
    pragmas hold for this connection only, so the store itself keeps SQLite's defaults."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    staging = database.with_name(f".{database.name}.creating")
    staging.unlink(missing_ok=True)
    engine = sqlalchemy.create_engine(
        f"sqlite:///{staging.resolve()}", poolclass=sqlalchemy.pool.NullPool
    )
    sqlalchemy.event.listen(engine, "connect", _unflushed)
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    with staging.open("rb") as built:
        os.fsync(built.fileno())
    staging.replace(database)


def _unflushed(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous = OFF")
    cursor.execute("PRAGMA journal_mode = MEMORY")
    cursor.close()


@contextmanager
def store_lock(uri: str, command: str, model: str, wait: float = WAIT_SECONDS) -> Iterator[str]:
    """Hold the store's lock for the block, creating a missing SQLite store first; say so once
    when another command holds the lock. `model` names the registry lock of a shared store."""
    if sqlite_path(uri) is None:
        from tabular_mlops.ct import registry
        from tabular_mlops.ct.registry_lock import registry_lock

        with registry_lock(registry.connect(), model, command, uri, wait) as name:
            yield name
        return
    with _file_lock(uri, command, wait) as path:
        yield str(path)


@contextmanager
def _file_lock(uri: str, command: str, wait: float) -> Iterator[Path]:
    path = lock_path(uri)
    assert path is not None
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
        database = sqlite_path(uri)
        if database is not None and (not database.exists() or database.stat().st_size == 0):
            try:
                create_sqlite_store(database)
            except Exception as err:
                raise PipelineError(
                    f"{database}: cannot create the MLflow store: {first_line(err)}"
                ) from None
        yield path
    finally:
        lock.release()
