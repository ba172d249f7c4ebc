"""`make repro` after an interrupted one: DVC rewrites dvc.lock in place, so a run killed while
writing it leaves a file DVC refuses; the next `make repro` sets it aside, restores the committed
lock with one line, and ends with the pipeline up to date."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tabular_mlops.core.lockfile import damage
from tabular_mlops.core.params import load_params
from tests.drift.conftest import make
from tests.e2e.conftest import Workspace, warmed
from tests.faults import failpoints
from tests.trained import private_copy

pytestmark = pytest.mark.pipeline
DAMAGED = "was damaged"


@pytest.fixture
def fork(trained_template: Workspace, tmp_path: Path, warm_python: dict[str, str]) -> Workspace:
    """A private copy of the session's trained fork (tests/trained.py): trained from this
    checkout's run-cache, its dvc.lock committed, as a fork that followed the README has it.
    Its repairing `make repro` and `dvc` calls start warm; what is killed starts cold."""
    return warmed(private_copy(trained_template, tmp_path / "fork"), warm_python)


def cut_where_yaml_breaks(text: bytes) -> bytes:
    """The lock cut off at the first length DVC refuses: what a kill mid-write leaves."""
    for end in range(len(text) // 3, len(text)):
        if damage(text[:end]) is not None:
            return text[:end]
    raise AssertionError("no cut of dvc.lock is refused")


def assert_up_to_date_after_one_repair_line(fork: Workspace, done: subprocess.CompletedProcess):
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    repaired = [line for line in done.stdout.splitlines() if DAMAGED in line]
    assert len(repaired) == 1, done.stdout
    assert "dvc.lock" in repaired[0]
    assert damage((fork.path / "dvc.lock").read_bytes()) is None
    assert "up to date" in fork.dvc("status").stdout
    params = load_params(fork.path / "params.yaml")
    json.loads((fork.path / params.paths.metrics).read_text(encoding="utf-8"))


@pytest.mark.parametrize("state", ["empty", "cut mid-entry", "not UTF-8"])
def test_a_damaged_lock_is_set_aside_and_the_committed_one_restored(
    fork: Workspace, state: str
) -> None:
    lock = fork.path / "dvc.lock"
    good = lock.read_bytes()
    damaged = {
        "empty": b"",
        "cut mid-entry": cut_where_yaml_breaks(good),
        "not UTF-8": b"\xff\xfe" + good[:100],
    }[state]
    lock.write_bytes(damaged)
    assert fork.dvc("status", check=False).returncode != 0  # what DVC alone does with it

    done = make(fork, "repro")

    assert_up_to_date_after_one_repair_line(fork, done)
    assert lock.read_bytes() == good
    [kept] = (fork.path / ".dvc" / "tmp").glob("dvc.lock.damaged-*")
    assert kept.read_bytes() == damaged
    assert DAMAGED not in make(fork, "repro").stdout


def change_an_evaluate_param(fork: Workspace) -> None:
    """A change only `evaluate` (and `track` after it) reads, so the re-run is short."""
    path = fork.path / "params.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    bins = raw["evaluate"].get("calibration_bins", 10)
    raw["evaluate"]["calibration_bins"] = bins + 1
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def test_dvc_killed_while_writing_its_lock_is_repaired_by_the_next_repro(fork: Workspace) -> None:
    change_an_evaluate_param(fork)
    lock = fork.path / "dvc.lock"
    killed = failpoints.run(
        "dvc.cli",
        ["repro"],
        fork.path,
        kill_on=f"opened {lock}",
        env=fork.env,
        exact_env=True,
        timeout=600,
    )
    assert killed.killed, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert lock.read_bytes() == b""  # DVC had truncated it and written nothing yet

    assert_up_to_date_after_one_repair_line(fork, make(fork, "repro"))


def test_a_dvc_killed_and_never_reaped_does_not_hold_its_outputs_busy(fork: Workspace) -> None:
    """Where nothing reaps orphans (a container without an init), a killed `dvc` stays a zombie:
    DVC sees its pid and calls what it held busy; `make repro` releases it."""
    zombie = subprocess.Popen(["true"])
    deadline = time.monotonic() + 30
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rwlock = fork.path / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    held = {"pid": zombie.pid, "cmd": "dvc repro"}
    rwlock.write_text(json.dumps({"read": {}, "write": {str(fork.path): held}}))
    change_an_evaluate_param(fork)
    assert "busy" in fork.dvc("repro", check=False).stderr  # what DVC alone does

    done = make(fork, "repro")

    zombie.wait()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [line] = [line for line in done.stdout.splitlines() if "released" in line]
    assert f"killed dvc process(es) {zombie.pid}" in line
    assert "up to date" in fork.dvc("status").stdout


def test_a_cut_off_dvc_rwlock_is_set_aside(fork: Workspace) -> None:
    rwlock = fork.path / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text('{"write": {"/some/pa')
    assert fork.dvc("status", check=False).returncode != 0

    done = make(fork, "repro")

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sum("rwlock was cut off" in line for line in done.stdout.splitlines()) == 1
    [kept] = rwlock.parent.glob("rwlock.damaged-*")
    assert kept.read_text() == '{"write": {"/some/pa'


def test_make_repro_killed_mid_stage_is_finished_by_the_next_one(fork: Workspace) -> None:
    change_an_evaluate_param(fork)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "repro", *make_args()],
        cwd=fork.path,
        env=fork.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Running stage 'evaluate'" in line:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode != 0, "".join(seen)

    done = make(fork, "repro")

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "up to date" in fork.dvc("status").stdout


def make_args() -> list[str]:
    """The real environment: a process killed here must be the one doing the work, not a
    warm server's client (tests/e2e/warm_client.py)."""
    from tests.drift.conftest import ENV_DIR, UV

    return [f"VENV={ENV_DIR}", f"UV={UV}"]
