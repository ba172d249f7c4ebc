"""Detached server processes that `team-up` starts and only `team-down` stops.

A process is known by its pid and its start time together, so a pid the kernel reused for
another program is never signalled. Servers run in their own session, with their output in a log
file: the `make` that started them returns, and nothing holds its pipes open.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tabular_mlops.core.errors import PipelineError

#: psutil's start times are rounded to the clock tick: equal within this many seconds.
SAME_START = 1.0


@dataclass(frozen=True)
class Started:
    """A process this tool started: enough to find it again, and nothing else's."""

    pid: int
    started: float

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return (
                process.status() != psutil.STATUS_ZOMBIE
                and abs(process.create_time() - self.started) <= SAME_START
            )
        except psutil.Error:
            return False


def identify(pid: int) -> Started:
    return Started(pid, psutil.Process(pid).create_time())


def spawn(
    argv: Sequence[str],
    log: Path,
    env: Mapping[str, str],
    user: tuple[int, int] | None = None,
    cwd: Path | None = None,
) -> Started:
    """Start `argv` in a new session with its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            **_as_user(user),
        )
    return identify(process.pid)


def _as_user(user: tuple[int, int] | None) -> dict[str, object]:
    if user is None:
        return {}
    uid, gid = user
    return {"user": uid, "group": gid, "extra_groups": []}


def stop(process: Started, grace: float = 5.0) -> bool:
    """SIGTERM the process's session (a server's workers with it), then SIGKILL what is left."""
    return bool(stop_all([process], grace))


def stop_all(processes: list[Started], grace: float = 5.0) -> list[Started]:
    """`stop` for several at once: all are asked first, then waited for together."""
    stopping = [process for process in processes if process.alive()]
    members = [member for process in stopping for member in _session(process.pid)]
    for member in members:
        _signal(member, signal.SIGTERM)
    _gone, left = psutil.wait_procs(members, timeout=grace)
    for member in left:
        _signal(member, signal.SIGKILL)
    psutil.wait_procs(left, timeout=5)
    return stopping


def _session(pid: int) -> list[psutil.Process]:
    """The process, its descendants, and, only when it leads its own session (as `spawn` makes
    it), the session's other members: workers whose parent died are still in it."""
    leader = psutil.Process(pid)
    members = [leader, *leader.children(recursive=True)]
    if session_id(pid) == pid:
        members += [
            p for p in psutil.process_iter() if p not in members and session_id(p.pid) == pid
        ]
    return members


def session_id(pid: int) -> int | None:
    """The pid's session, or None when it is gone."""
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _signal(process: psutil.Process, sig: int) -> None:
    with contextlib.suppress(psutil.Error):
        process.send_signal(sig)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    ready: Callable[[], bool], what: str, process: Started | None, log: Path, timeout: float
) -> None:
    """Poll `ready` until it holds; fail in one line, with the log's last line, when the process
    exits first or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and not process.alive():
            raise PipelineError(f"team-up: {what} exited at start ({log}: {last_line(log)})")
        time.sleep(0.2)
    raise PipelineError(f"team-up: {what} did not answer within {timeout:.0f} s (see {log})")


def last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip()[:300] if lines else "empty log"
