"""promote gates the version this checkout's track registered, when it names this store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.ct import registry


def run_info(path: Path, uri: str, name: str = "m", version: str = "7") -> Path:
    info = {"tracking_uri": uri, "registered_model": name, "model_version": version}
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def test_the_version_of_this_store_is_pinned_however_its_path_is_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    assert registry.pinned(run_info(tmp_path / "info.json", "sqlite:///mlflow.db"), "m") == "7"


def test_another_store_or_model_leaves_the_alias_to_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example.com/")
    elsewhere = run_info(tmp_path / "a.json", "sqlite:///mlflow.db")
    other_model = run_info(tmp_path / "b.json", "http://mlflow.example.com", name="other")

    assert registry.pinned(elsewhere, "m") is None
    assert "names a model in sqlite:///mlflow.db, not in this store" in capsys.readouterr().out
    assert registry.pinned(other_model, "m") is None
    assert registry.pinned(tmp_path / "missing.json", "m") is None
    assert registry.pinned(run_info(tmp_path / "c.json", "http://mlflow.example.com"), "m") == "7"


def test_a_damaged_run_info_is_one_line_naming_it(tmp_path: Path) -> None:
    damaged = tmp_path / "info.json"
    damaged.write_text("{cut off", encoding="utf-8")

    with pytest.raises(PipelineError, match=r"info\.json"):
        registry.pinned(damaged, "m")
