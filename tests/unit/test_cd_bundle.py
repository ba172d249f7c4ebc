"""`make bundle`'s folder is swapped in whole: a failed or killed bundle leaves the previous one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabular_mlops.cd import manifest
from tabular_mlops.cd.bundle import Source, clean_leftovers, write
from tabular_mlops.core.lineage import file_md5

RECORD = {"a": 1.5, "b": "x", "c": None}


def source(path: Path, version: str) -> Source:
    return Source(
        path=path,
        name="model-x",
        version=version,
        md5=file_md5(path),
        run_id="r" * 32,
        git_commit="c" * 40,
        tracking_uri="sqlite:///mlflow.db",
        described=str(path),
    )


def model_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / f"model-{content.decode()}.pkl"
    path.write_bytes(content)
    return path


def test_a_bundle_holds_the_exact_bytes_its_manifest_and_the_record(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "serving"
    made = write(out, source(model_file(tmp_path, b"one"), "1"), RECORD, "binary")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [manifest.MODEL, manifest.MANIFEST, manifest.EXAMPLE]
    )
    assert (out / manifest.MODEL).read_bytes() == b"one"
    assert manifest.checked(out / manifest.MODEL) == made
    assert json.loads((out / manifest.EXAMPLE).read_text(encoding="utf-8")) == RECORD
    assert [p.name for p in out.parent.iterdir()] == ["serving"]


def test_a_new_bundle_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "serving"
    write(out, source(model_file(tmp_path, b"one"), "1"), RECORD, "binary")
    write(out, source(model_file(tmp_path, b"two"), "2"), RECORD, "binary")
    assert (out / manifest.MODEL).read_bytes() == b"two"
    assert manifest.read(out)["version"] == "2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_bundle_leaves_the_previous_one(tmp_path: Path) -> None:
    out = tmp_path / "serving"
    write(out, source(model_file(tmp_path, b"one"), "1"), RECORD, "binary")
    gone = model_file(tmp_path, b"two")
    broken = source(gone, "2")
    gone.unlink()
    with pytest.raises(FileNotFoundError):
        write(out, broken, RECORD, "binary")
    assert manifest.read(out)["version"] == "1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_kill_between_the_renames_is_undone_by_the_next_bundle(tmp_path: Path) -> None:
    out = tmp_path / "serving"
    write(out, source(model_file(tmp_path, b"one"), "1"), RECORD, "binary")
    out.rename(tmp_path / ".serving.old-dead")
    (tmp_path / ".serving.tmp-dead").mkdir()
    clean_leftovers(out)
    assert manifest.read(out)["version"] == "1"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
