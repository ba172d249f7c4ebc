from __future__ import annotations

import hashlib
import subprocess
from importlib import metadata

import mlflow
import pandas as pd

from tabular_mlops.core import lineage
from tabular_mlops.core.io import write_parquet
from tabular_mlops.stages.prepare import clean


def git(cwd, *args) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_tags_name_commit_branch_and_dirty_state(tmp_path, monkeypatch) -> None:
    git(tmp_path, "init", "-q", "-b", "feature")
    (tmp_path / "a.txt").write_text("1")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    monkeypatch.chdir(tmp_path)
    tags = lineage.git_tags()
    assert tags["git.commit"] == git(tmp_path, "rev-parse", "HEAD")
    assert tags["git.branch"] == "feature"
    assert tags["git.dirty"] == "false"
    (tmp_path / "a.txt").write_text("2")
    assert lineage.git_tags()["git.dirty"] == "true"


def test_git_tags_outside_a_checkout_say_unknown(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    tags = lineage.git_tags()
    assert tags["git.commit"] == "unknown"
    assert tags["git.dirty"] == "unknown"


def test_tracking_uri_defaults_to_mlflow_db_and_env_overrides(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert lineage.tracking_uri() == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert lineage.tracking_uri() == "http://127.0.0.1:5000"


def test_pip_requirements_pin_the_installed_versions() -> None:
    pins = dict(line.split("==") for line in lineage.pip_requirements())
    assert pins["scikit-learn"] == metadata.version("scikit-learn")
    assert set(pins) == set(lineage.MODEL_PACKAGES)


def test_file_md5_matches_dvc_style_digest(sample_csv) -> None:
    assert lineage.file_md5(sample_csv) == hashlib.md5(sample_csv.read_bytes()).hexdigest()


def test_a_split_dataset_has_mlflow_s_own_schema_and_the_split_file_s_md5(
    sample_frame, params, tmp_path
) -> None:
    """The schema is inferred on distinct values only: the same as MLflow's inference over every
    row, missing values (a text column's too) included."""
    split = clean(sample_frame, params.data)
    text = split.select_dtypes(exclude="number").columns
    split = split.assign(spare_text=pd.Series(["a", None] * len(split))[: len(split)].to_numpy())
    if len(text):
        split.loc[split.index[-1], text[0]] = None
    path = tmp_path / "train.parquet"
    write_parquet(path, split)
    frame = pd.read_parquet(path)
    target = params.data.target
    dataset = lineage.split_dataset(frame, path, "train", target, read_from=path)
    theirs = mlflow.data.from_pandas(frame, source=str(path))
    assert dataset.schema == theirs.schema
    assert dataset.digest == lineage.file_md5(path)
    unread = lineage.split_dataset(frame, tmp_path / "elsewhere.parquet", "train", target)
    assert unread.digest == theirs.digest
    assert dataset.to_dict()["schema"] is not None
