"""The warm server's shims stand for the processes they replace (tests/e2e/warm.py and
warm_client.py): the caller sees the command's output and exit code, a signal sent to the shim
reaches the command, a killed shim takes its command with it, and what the command starts with
sys.executable goes through the shim again. The probe is a pytest run, one of the commands the
server takes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.e2e.warm_client import SOCKET_ENV, python_of

PROBE = """
import os, signal, sys, time
from pathlib import Path


def test_probe():
    out = Path(os.environ["PROBE_DIR"])
    (out / "executable").write_text(sys.executable)

    def ended(signum, frame):
        (out / "signal").write_text(str(signum))
        os._exit(3)

    signal.signal(signal.SIGTERM, ended)
    (out / "pid").write_text(str(os.getpid()))
    time.sleep(float(os.environ["PROBE_SLEEP"]))
"""


def start(warm: dict[str, str], folder: Path, sleep: float) -> subprocess.Popen[str]:
    """The probe through the `python` shim, as a fork's `make` would start a command."""
    (folder / "test_probe.py").write_text(PROBE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {SOCKET_ENV: warm[SOCKET_ENV], "PROBE_DIR": str(folder), "PROBE_SLEEP": str(sleep)}
    env["PATH"] = warm["PATH"] + env["PATH"]
    argv = [python_of(env), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_probe.py"]
    return subprocess.Popen(
        argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def sleeping(warm: dict[str, str], folder: Path) -> tuple[subprocess.Popen[str], int]:
    """The shim of a probe that sleeps, and the pid of the probe's own process once it runs."""
    process = start(warm, folder, sleep=60)
    path, deadline = folder / "pid", time.monotonic() + 60
    while not path.exists() or not path.read_text():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the probe never started"
        time.sleep(0.05)
    return process, int(path.read_text())


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_caller_sees_the_commands_output_and_exit_and_its_executable_is_the_shim(
    warm_python: dict[str, str], tmp_path: Path
) -> None:
    process = start(warm_python, tmp_path, sleep=0)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    assert "1 passed" in out
    assert int((tmp_path / "pid").read_text()) != process.pid
    shim = Path(warm_python["PATH"].rstrip(os.pathsep)) / "python"
    assert (tmp_path / "executable").read_text() == str(shim)


def test_a_signal_sent_to_the_shim_reaches_the_command(
    warm_python: dict[str, str], tmp_path: Path
) -> None:
    process, command = sleeping(warm_python, tmp_path)
    process.terminate()
    assert process.wait(timeout=30) == 3
    assert (tmp_path / "signal").read_text() == str(int(signal.SIGTERM))
    assert not running(command)


def test_a_killed_shim_takes_its_command_with_it(
    warm_python: dict[str, str], tmp_path: Path
) -> None:
    process, command = sleeping(warm_python, tmp_path)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while running(command) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(command)
    assert not (tmp_path / "signal").exists()
