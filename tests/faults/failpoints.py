"""Kill a command at its Nth write, as `kill -9` would, then let the test run the next command.

A trial runs the command's `main(argv)` in a child forked from a clean, single-threaded
forkserver that has already imported the heavy libraries, so a trial costs only the command's
own work. In the child every write counts: a file opened for writing (before the open, and
again once the empty file exists), a rename or replace, a removal, a directory made, a mode
change, a database commit. At the Nth the child ends with `os._exit`: no `finally` block, no
`atexit`, no buffer flushed, as after SIGKILL. Page-cache contents survive, as they do when a
process (not the machine) dies. `together` forks several such children, none killed, and
releases them at the same moment, for the tests of two commands at once.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import functools
import importlib
import io
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

KILLED = 137
_PRELOAD = [
    "tabular_mlops.core.io",
    "tabular_mlops.core.validation",
    "tabular_mlops.stages.track",
    "tabular_mlops.ct.ingest",
    "tabular_mlops.ct.promote",
    "great_expectations",
    "mlflow",
    "mlflow.sklearn",
    "sklearn.ensemble",
    "sqlalchemy",
    "tests.faults.warm",
]
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@dataclass(frozen=True)
class Trial:
    """How one run ended: its exit code, the write it was killed at (if any), what it printed."""

    exitcode: int
    killed_at: str | None
    writes: tuple[str, ...]
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.killed_at is not None


@functools.cache
def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    atexit.register(_stop_forkserver)
    return ctx


def _stop_forkserver() -> None:
    """Stop and reap the forkserver when the test process ends. Left running it outlives
    pytest as an orphan, and the CPU of every trial it forked (and reaped) is missing from the
    test run's own count (`time`, `getrusage` of the children)."""
    from multiprocessing import forkserver

    with contextlib.suppress(Exception):
        forkserver._forkserver._stop()


class _Counter:
    def __init__(self, kill_at: int | None, kill_on: str | None, journal_fd: int) -> None:
        self.kill_at = kill_at
        self.kill_on = kill_on
        self.count = 0
        self.journal_fd = journal_fd

    def hit(self, what: str) -> None:
        self.count += 1
        os.write(self.journal_fd, f"{self.count}\t{what}\n".encode("utf-8", "backslashreplace"))
        if (self.kill_at is not None and self.count >= self.kill_at) or (
            self.kill_on is not None and self.kill_on in what
        ):
            os.write(self.journal_fd, b"KILLED\n")
            sys.stdout.flush = lambda: None  # type: ignore[method-assign]
            os._exit(KILLED)


def _install(counter: _Counter) -> None:
    """Wrap every way the project and its libraries write, in this (child) process only."""
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        writes = isinstance(mode, str) and any(flag in mode for flag in "wax+")
        if writes:
            counter.hit(f"open {file} {mode}")
        handle = real_open(file, mode, *args, **kwargs)
        if writes:
            counter.hit(f"opened {file}")
        return handle

    builtins.open = counting_open
    io.open = counting_open

    real_os_open = os.open

    def counting_os_open(path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS:
            counter.hit(f"os.open {path}")
            fd = real_os_open(path, flags, *args, **kwargs)
            counter.hit(f"os.opened {path}")
            return fd
        return real_os_open(path, flags, *args, **kwargs)

    os.open = counting_os_open

    for name in (
        "replace",
        "rename",
        "remove",
        "unlink",
        "rmdir",
        "mkdir",
        "chmod",
        "link",
        "symlink",
        "truncate",
    ):
        real = getattr(os, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            counter.hit(f"os.{_name} {args[0] if args else ''}")
            return _real(*args, **kwargs)

        setattr(os, name, counting)

    with contextlib.suppress(ImportError):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "commit", lambda conn: counter.hit("database commit"))


def _child(
    module: str,
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    kill_at: int | None,
    kill_on: str | None,
    exact_env: bool,
    out_dir: str,
    go: str | None = None,
) -> None:
    os.chdir(cwd)
    if exact_env:
        os.environ.clear()
    os.environ.update(env)
    out = Path(out_dir)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    journal = os.open(out / "writes", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    main = importlib.import_module(module).main
    if go is not None:
        (out / "ready").touch()
        while not Path(go).exists():
            time.sleep(0.01)
    _install(_Counter(kill_at, kill_on, journal))
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def run(
    module: str,
    argv: Sequence[str],
    cwd: Path,
    *,
    kill_at: int | None = None,
    kill_on: str | None = None,
    env: dict[str, str] | None = None,
    exact_env: bool = False,
    timeout: float = 300,
) -> Trial:
    """Run `module.main(argv)` in `cwd`, killed before its `kill_at`-th write, or before the
    first write whose description contains `kill_on` (e.g. "opened /path/dvc.lock"). `env` is
    added to the test process's environment, or is the whole of it with `exact_env`."""
    out = cwd.parent / f".trial-{cwd.name}"
    args = (module, list(argv), str(cwd), dict(env or {}), kill_at, kill_on, exact_env)
    return _ended(_started(args, out), out, f"{module} {' '.join(argv)}", timeout)


def together(
    module: str,
    argv: Sequence[str],
    cwd: Path,
    *,
    count: int = 2,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> list[Trial]:
    """`count` processes running `module.main(argv)` in `cwd`, released at the same moment
    once each is ready (as two commands started at once), none killed."""
    go = cwd.parent / f".go-{cwd.name}"
    go.unlink(missing_ok=True)
    args = (module, list(argv), str(cwd), dict(env or {}), None, None, False)
    outs = [cwd.parent / f".trial-{cwd.name}-{n}" for n in range(count)]
    processes = [_started(args, out, go) for out in outs]
    deadline = time.monotonic() + timeout
    while not all((out / "ready").exists() for out in outs):
        if time.monotonic() > deadline or any(p.exitcode is not None for p in processes):
            go.touch()
            break
        time.sleep(0.01)
    go.touch()
    what = f"{module} {' '.join(argv)}"
    return [_ended(p, out, what, timeout) for p, out in zip(processes, outs, strict=True)]


def _started(args: tuple, out: Path, go: Path | None = None) -> multiprocessing.process.BaseProcess:
    out.mkdir(exist_ok=True)
    (out / "ready").unlink(missing_ok=True)
    process = _context().Process(
        target=_child, args=(*args, str(out), None if go is None else str(go))
    )
    process.start()
    return process


def _ended(
    process: multiprocessing.process.BaseProcess, out: Path, what: str, timeout: float
) -> Trial:
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        raise AssertionError(f"{what} did not end within {timeout} s")
    lines = (out / "writes").read_text(encoding="utf-8").splitlines()
    killed = lines[-2].split("\t", 1)[1] if lines and lines[-1] == "KILLED" else None
    writes = tuple(line.split("\t", 1)[1] for line in lines if "\t" in line)
    return Trial(
        exitcode=process.exitcode,
        killed_at=killed,
        writes=writes,
        stdout=(out / "stdout").read_text(encoding="utf-8", errors="replace"),
        stderr=(out / "stderr").read_text(encoding="utf-8", errors="replace"),
    )


def kill_points(total: int, every_up_to: int = 40, samples: int = 12) -> list[int]:
    """Every write when there are few; else the first and last few and an even spread between."""
    if total <= every_up_to:
        return list(range(1, total + 1))
    ends = [*range(1, 6), *range(total - 4, total + 1)]
    step = max(1, (total - 10) // samples)
    return sorted({*ends, *range(6, total - 4, step)})


@contextlib.contextmanager
def fresh_copy(template: Path, dest: Path) -> Iterator[Path]:
    """A copy of `template` at `dest` for one trial (symlinks kept as links), removed after."""
    import shutil

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest, symlinks=True)
    try:
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)
