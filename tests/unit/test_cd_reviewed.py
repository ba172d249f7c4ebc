"""`make reviewed-model`'s pure parts: the md5 a dvc.lock records for the model, which lock is
the reference, and putting the checkout back when the check fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tabular_mlops.cd.reviewed import ON_HEAD, UNCOMMITTED, Kept, expected, locked_md5
from tabular_mlops.core.errors import PipelineError

MD5 = "0123456789abcdef0123456789abcdef"


def lock_text(model: str, md5: str = MD5) -> str:
    """A dvc.lock whose model stage writes `model`, after a stage writing something else."""
    return yaml.safe_dump(
        {
            "schema": "2.0",
            "stages": {
                "first": {"cmd": "a", "outs": [{"path": "other.bin", "md5": "f" * 32}]},
                "fit": {"cmd": "b", "outs": [{"path": model, "hash": "md5", "md5": md5}]},
            },
        }
    )


def test_the_md5_and_stage_of_the_configured_model_are_read(params) -> None:
    found = locked_md5(lock_text(params.paths.model), params.paths.model)
    assert (found.stage, found.md5, found.where) == ("fit", MD5, ON_HEAD)


def test_a_path_written_another_way_is_the_same_out(params) -> None:
    found = locked_md5(lock_text(f"./{params.paths.model}"), params.paths.model)
    assert found.md5 == MD5


def test_a_lock_without_the_model_is_one_line_naming_it(params) -> None:
    with pytest.raises(PipelineError) as err:
        locked_md5(lock_text("elsewhere.pkl"), params.paths.model)
    assert params.paths.model in str(err.value)
    assert "\n" not in str(err.value)


def test_a_lock_that_is_not_yaml_is_one_line() -> None:
    with pytest.raises(PipelineError, match=r"dvc\.lock: not valid YAML"):
        locked_md5("stages: [unclosed", "m.pkl")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_the_committed_lock_wins_over_the_working_one(params, tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    git(tmp_path, "init", "-q")
    lock.write_text(lock_text(params.paths.model, MD5), encoding="utf-8")
    git(tmp_path, "add", "dvc.lock")
    git(tmp_path, "commit", "-qm", "reviewed")
    lock.write_text(lock_text(params.paths.model, "e" * 32), encoding="utf-8")
    assert expected(lock, params.paths.model).md5 == MD5


def test_outside_git_the_working_lock_is_the_reference(params, tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text(lock_text(params.paths.model), encoding="utf-8")
    found = expected(lock, params.paths.model)
    assert (found.md5, found.where) == (MD5, UNCOMMITTED)


def test_no_lock_at_all_is_one_line_naming_it(params, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"dvc\.lock: not found"):
        expected(tmp_path / "dvc.lock", params.paths.model)


def test_a_failed_check_puts_the_lock_and_the_model_back(tmp_path: Path) -> None:
    lock, model = tmp_path / "dvc.lock", tmp_path / "model.pkl"
    lock.write_bytes(b"before")
    model.write_bytes(b"reviewed bytes")
    kept = Kept(lock, model)
    lock.write_bytes(b"after")
    model.unlink()
    model.write_bytes(b"rebuilt bytes")
    kept.restore()
    kept.discard()
    assert lock.read_bytes() == b"before"
    assert model.read_bytes() == b"reviewed bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvc.lock", "model.pkl"]


def test_a_model_that_was_not_there_is_not_left_behind(tmp_path: Path) -> None:
    lock, model = tmp_path / "dvc.lock", tmp_path / "model.pkl"
    lock.write_bytes(b"lock")
    kept = Kept(lock, model)
    model.write_bytes(b"rebuilt bytes")
    kept.restore()
    assert not model.exists()
    assert lock.read_bytes() == b"lock"
