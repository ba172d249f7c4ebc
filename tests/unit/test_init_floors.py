"""`make set-floors`: floors from measured metrics, and nothing else in params.yaml touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import load_params
from tabular_mlops.init.floors import main, new_floor, set_floors

ROOT = Path(__file__).resolve().parents[2]
METRICS = {
    "roc_auc": 0.9137,
    "pr_auc": 0.7,
    "f1": 0.015,
    "recall": 0.8,
    "log_loss": 0.41234,
    "brier": 0.1,
    "baseline": {"roc_auc": 0.5},
}


def test_new_floor_moves_towards_worse_and_never_below_zero() -> None:
    assert new_floor(0.9137, "higher", 0.02) == 0.893
    assert new_floor(0.41234, "lower", 0.02) == 0.433
    assert new_floor(0.7, "higher", 0.02) == 0.68
    assert new_floor(0.015, "higher", 0.02) == 0.0


def project(tmp_path: Path, newline: str = "\n") -> Path:
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_bytes(text.replace("\n", newline).encode("utf-8"))
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS), encoding="utf-8")
    return params


def run(tmp_path: Path, *extra: str) -> int:
    argv = ["--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "metrics.json")]
    try:
        return main([*argv, *extra])
    except SystemExit as exit_:
        return exit_.code


FLOOR = re.compile(r"floor: [^,}]+")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_only_the_floor_values_change(tmp_path: Path, newline: str) -> None:
    params = project(tmp_path, newline)
    before = params.read_bytes()
    assert run(tmp_path) == 0
    after = params.read_bytes()
    assert after != before
    assert FLOOR.sub("floor: X", after.decode()) == FLOOR.sub("floor: X", before.decode())
    gates = load_params(params).gates.metrics
    assert gates["roc_auc"].floor == 0.893 and gates["log_loss"].floor == 0.433
    assert gates["f1"].floor == 0.0 and gates["brier"].floor == 0.12
    assert run(tmp_path) == 0
    assert params.read_bytes() == after


def test_margin_is_stated_and_checked(tmp_path: Path, capsys) -> None:
    before = load_params(project(tmp_path)).gates.metrics["roc_auc"].floor
    assert run(tmp_path, "--margin", "0.05") == 0
    assert f"roc_auc: {before} -> 0.863 (measured 0.9137 - 0.05)" in capsys.readouterr().out
    assert run(tmp_path, "--margin", "-1") == 2
    assert "MARGIN='-1'" in capsys.readouterr().err


def test_missing_metrics_file_or_metric_is_one_line(tmp_path: Path, capsys) -> None:
    params = project(tmp_path)
    before = params.read_bytes()
    (tmp_path / "metrics.json").write_text(json.dumps({"roc_auc": 0.9}), encoding="utf-8")
    assert run(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.json: no number for 'pr_auc'" in err
    (tmp_path / "metrics.json").unlink()
    assert run(tmp_path) == 2
    assert "metrics.json: file not found" in capsys.readouterr().err
    assert params.read_bytes() == before


def test_block_style_gates_are_edited_too() -> None:
    text = "gates:\n  metrics:\n    roc_auc:\n      direction: higher\n      floor: null  # x\n"
    assert set_floors(text, {"roc_auc": 0.7}, "p.yaml") == text.replace("null", "0.7")
    with pytest.raises(PipelineError, match=r"gates\.metrics\.brier\.floor"):
        set_floors(text, {"roc_auc": 0.7, "brier": 0.2}, "p.yaml")
