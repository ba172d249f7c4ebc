"""The client side of the warm server (warm.py): the `python`, `dvc` and `pytest` shims a fork's
environment gets (`write_venv`), and what each hands the server.

A shim stands for the process it replaces: it sends the command (argv, folder, environment,
stdin/stdout/stderr), forwards the signals it receives to the command the server forked, and
exits as the command did. Commands of other modules, and any command without a server named in
the environment, run on the real interpreter.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path

SOCKET_ENV = "E2E_WARM_SOCKET"
#: Modules whose command starts what outlives it (the team's servers): the server waits for its
#: children when it stops, so these start cold.
LONG_LIVED = ("tabular_mlops.team",)
#: What a client passes on to its command, as a signal sent to the process it stands for.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
#: The environment's commands that become shims, and the argv each hands to `python`.
SHIMS = {
    "python": "sys.argv[1:]",
    "dvc": '["-m", "dvc", *sys.argv[1:]]',
    "pytest": '["-m", "pytest", *sys.argv[1:]]',
}


def warm_module(argv: list[str]) -> bool:
    module = argv[1] if len(argv) >= 2 and argv[0] == "-m" else ""
    if module in ("dvc", "pytest"):
        return True
    return module.startswith("tabular_mlops.") and module not in LONG_LIVED


def client(real: str, argv: list[str]) -> None:
    """The shims' body: project modules, DVC and pytest to the server, the rest to `real`."""
    path = os.environ.get(SOCKET_ENV)
    if not (path and warm_module(argv)):
        os.execv(real, [real, *argv])
    python = str(Path(sys.argv[0]).absolute().parent / "python")
    request = {"argv": argv, "cwd": str(Path.cwd()), "env": dict(os.environ), "exe": python}
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.connect(path)
        socket.send_fds(sock, [json.dumps(request).encode()], [0, 1, 2])
        (pid,) = struct.unpack("!i", sock.recv(4))
        for signum in FORWARDED:
            signal.signal(signum, functools.partial(_forward, pid))
        (code,) = struct.unpack("!i", sock.recv(4))
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _forward(pid: int, signum: int, _frame: object) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def write_venv(folder: Path) -> Path:
    """`folder` shaped like this interpreter's environment: its bin/ (every command linked;
    `python`, `dvc` and `pytest` replaced by shims) and its sync stamps, so that `make
    VENV=folder`, which puts `$(VENV)/bin` first on PATH, starts the stages warm."""
    real = Path(sys.prefix)
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for entry in (real / "bin").iterdir():
        if entry.name not in SHIMS:
            (bin_dir / entry.name).symlink_to(entry)
    for stamp in [*real.glob(".synced-*"), real / "pyvenv.cfg"]:
        (folder / stamp.name).symlink_to(stamp)
    here = str(Path(__file__).resolve().parent)
    python = str(real / "bin" / "python")
    for name, argv in SHIMS.items():
        shim = bin_dir / name
        shim.write_text(
            f"#!{python} -S\n"
            f"import sys\nsys.path.insert(0, {here!r})\n"
            f"from warm_client import client\nclient({python!r}, {argv})\n",
            encoding="utf-8",
        )
        shim.chmod(0o755)
    return folder


def venv_of(env: dict[str, str]) -> Path:
    """The environment `make VENV=...` should use in `env`: the warm one if `env` names a
    server, else this interpreter's."""
    warm = env.get(SOCKET_ENV)
    return Path(warm).parent / "venv" if warm else Path(sys.prefix)


def python_of(env: dict[str, str]) -> str:
    """The `python` a command started in `env` runs: the warm server's shim if `env` names a
    server (a real process, forked from the server), else this interpreter."""
    return str(venv_of(env) / "bin" / "python")
