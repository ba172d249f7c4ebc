"""A `python` and a `dvc` for the forks that start without importing the heavy libraries.

Each stage DVC runs is `python -m tabular_mlops.stages.<name>`, and most of its CPU on a small
CSV is importing pandas, scikit-learn, Great Expectations and MLflow. A server imports those
once (third-party libraries only: never the project, so each stage imports the fork's own
code); the `python` put first on the forks' PATH hands it the command, its folder, its
environment and its stdin/stdout/stderr, and the server forks a child that runs the module as
`python -m` would: `__main__`, argv, sys.path from the folder and PYTHONPATH, threads joined and
atexit handlers run at exit. DVC still starts a process per stage and reads its output and exit
code; `dvc` runs as `python -m dvc` the same way; any other command goes to the real interpreter.

Run as `python warm.py serve SOCKET` (the server); the shims (warm_client.py) are its clients.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "joblib",
    "yaml",
    "sklearn.calibration",
    "sklearn.compose",
    "sklearn.dummy",
    "sklearn.ensemble",
    "sklearn.impute",
    "sklearn.inspection",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "great_expectations",
    "great_expectations.expectations",
    "great_expectations.execution_engine.pandas_execution_engine",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.models",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "dvc.cli",
    "dvc.repo",
    "dvc.repo.reproduce",
)


def _installed(name: str) -> bool:
    """A module of the environment or the standard library, never a fork's own code."""
    if name.startswith(("tabular_mlops", "tests", "benchmarks", "__main__", "__mp_main__")):
        return False
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) or ""
    return origin in ("built-in", "frozen") or origin.startswith((sys.prefix, sys.base_prefix))


def _report_imports(before: set[str], learned: Path) -> None:
    """Append the installed modules this command imported that the server had not: the server
    imports them before its next fork, so the next command finds them loaded."""
    new = [name for name in list(sys.modules) if name not in before and _installed(name)]
    if new:
        descriptor = os.open(learned, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (json.dumps(new) + "\n").encode())
        finally:
            os.close(descriptor)


def _learn(learned: Path, offset: int) -> int:
    """Import what the commands so far reported (`_report_imports`); the new read offset."""
    import importlib

    if not learned.exists():
        return offset
    with learned.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            if not line.endswith(b"\n"):
                break
            offset += len(line)
            for name in json.loads(line):
                if name not in sys.modules:
                    with contextlib.suppress(Exception):
                        importlib.import_module(name)
    return offset


def _run(request: dict, fds: list[int], base_path: list[str], learned: Path) -> None:
    import atexit
    import runpy
    import threading
    import traceback

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [request["cwd"], *extra, *base_path]
    module, *rest = request["argv"][1:]
    sys.argv = ["-m", *rest]
    # The `python` shim, as a process started by it would see: what the command starts with
    # sys.executable (`dvc plots diff`, `dvc repro`) starts warm too.
    sys.executable = request["exe"]
    code = 0
    before = set(sys.modules)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        if exit.code is None or isinstance(exit.code, int):
            code = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        _report_imports(before, learned)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _handle(
    conn: socket.socket, message: bytes, fds: list[int], base_path: list[str], learned: Path
) -> None:
    """In a child of the server: run the request in a grandchild, tell the client its pid (to
    forward signals to), report how it ended. A client that goes away without a word was killed
    (SIGKILL cannot be forwarded): its command is killed too, as the process it stands for."""
    import select
    import signal

    pid = os.fork()
    if pid == 0:
        conn.close()
        _run(json.loads(message), fds, base_path, learned)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        conn.sendall(struct.pack("!i", pid))
    ended = os.pidfd_open(pid)
    watched = [ended, conn]
    while ended not in select.select(watched, [], [])[0]:
        with contextlib.suppress(OSError):
            if conn.recv(1):
                continue
        os.kill(pid, signal.SIGKILL)
        watched = [ended]
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        conn.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
    os._exit(0)


def _reap(flags: int) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, flags)[0]:
            pass


def prepare_mlflow() -> None:
    """What each MLflow command would otherwise redo in its child, done once before forking
    (here and in the kill trials' forkserver, tests/faults/warm.py): the SQL store's ORM
    mappers, and MLflow's map of installed packages (read from every distribution's metadata
    when a model is logged). Neither starts a thread nor depends on the fork."""
    with contextlib.suppress(Exception):
        import sqlalchemy.orm

        sqlalchemy.orm.configure_mappers()
    with contextlib.suppress(Exception):
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()


def serve(path: str) -> None:
    """Import the libraries, then run each request in a forked child; at SIGTERM, reap them
    all, so the CPU they used counts in the server's parent as it would for real processes.

    What the server holds is frozen out of the garbage collector before each fork: else every
    collection in a child walks (and, writing its headers, copies) the whole inherited heap."""
    import gc
    import importlib
    import signal
    import threading

    base_path = sys.path[1:]
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    prepare_mlflow()
    learned, offset = Path(path).with_name("learned"), 0

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.bind(path)
        sock.listen()
        Path(f"{path}.ready").touch()
        try:
            while True:
                _reap(os.WNOHANG)
                conn, _ = sock.accept()
                with conn:
                    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                    offset = _learn(learned, offset)
                    if threading.active_count() > 1:
                        print(f"warm: threads running in the server: {threading.enumerate()}")
                    sys.stdout.flush()
                    sys.stderr.flush()
                    gc.freeze()
                    if os.fork() == 0:
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        sock.close()
                        _handle(conn, message, fds, base_path, learned)
                    for fd in fds:
                        os.close(fd)
        finally:
            _reap(0)


def _start(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "socket"
    for stale in (path, Path(f"{path}.ready")):
        stale.unlink(missing_ok=True)
    with (folder / "server.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, __file__, "serve", str(path)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    while not Path(f"{path}.ready").exists():
        if server.poll() is not None:
            raise RuntimeError((folder / "server.log").read_text())
        time.sleep(0.1)
    from tests.e2e.warm_client import write_venv

    write_venv(folder / "venv")
    return server


@contextlib.contextmanager
def shared_server(base: Path, env: dict[str, str]) -> Iterator[Path]:
    """The server's folder, shared by the session's xdist workers under `base`. The first to ask
    starts it and, at its own end, waits until no other worker uses it, then stops and reaps it,
    so the CPU of the server and of every command it ran counts in the session's."""
    from filelock import FileLock

    folder, lock = base / "warm", FileLock(base / "warm.lock")
    users = folder / "users"
    with lock:
        count = int(users.read_text()) if users.exists() else 0
        server = None if count else _start(folder, env)
        users.write_text(str(count + 1))
    try:
        yield folder
    finally:
        deadline = time.monotonic() + 3600
        while True:
            with lock:
                count = int(users.read_text())
                if server is None or count == 1 or time.monotonic() > deadline:
                    users.write_text(str(count - 1))
                    if server is not None:
                        server.terminate()
                        server.wait()
                    break
            time.sleep(0.5)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(sys.argv[2])
