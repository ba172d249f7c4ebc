"""`make set-floors`: floors from measured metrics, and nothing else in params.yaml touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import load_params
from tabular_mlops.init.draft import draft
from tabular_mlops.init.floors import main, new_floor, set_floors
from tabular_mlops.init.render import render

from ..support import synthetic_raw

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


def drafted_text(task: str) -> str:
    """params.yaml as `make init` writes it for a small frame of `task`, comments and all."""
    frame = synthetic_raw(task)
    return render(
        draft(frame, "y", source="s.csv", csv_name="s.csv", name="s", id_column="row_id", task=task)
    )


def project(
    tmp_path: Path, newline: str = "\n", task: str = "binary", metrics: dict | None = None
) -> Path:
    params = tmp_path / "params.yaml"
    params.write_bytes(drafted_text(task).replace("\n", newline).encode("utf-8"))
    (tmp_path / "metrics.json").write_text(json.dumps(metrics or METRICS), encoding="utf-8")
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


TASK_METRICS = {
    "multiclass": (
        {"accuracy": 0.8134, "f1_macro": 0.7, "roc_auc_ovr": 0.9, "log_loss": 0.5},
        {"accuracy": 0.793, "f1_macro": 0.68, "roc_auc_ovr": 0.88, "log_loss": 0.52},
    ),
    "regression": (
        {"rmse": 25432.7, "mae": 3.214, "r2": 0.8},
        {"rmse": 26000.0, "mae": 3.28, "r2": 0.78},
    ),
}


@pytest.mark.parametrize("task", sorted(TASK_METRICS))
def test_every_task_gets_floors_in_its_metrics_direction(tmp_path: Path, task: str, capsys) -> None:
    """Errors in the target's units move by a share of their value, not by 0.02 of a unit."""
    measured, expected = TASK_METRICS[task]
    params = project(tmp_path, task=task, metrics={**measured, "baseline": {}})
    before = params.read_text()
    assert run(tmp_path) == 0
    gates = load_params(params).gates.metrics
    assert {name: gate.floor for name, gate in gates.items()} == expected
    assert FLOOR.sub("floor: X", params.read_text()) == FLOOR.sub("floor: X", before)
    if task == "regression":
        assert run(tmp_path, "--margin", "0.1") == 0
        assert "mae: 3.28 -> 3.54 (measured 3.214 + 10%)" in capsys.readouterr().out


def test_relative_floors_round_away_from_the_model() -> None:
    assert new_floor(0.0123, "lower", 0.02, relative=True) == 0.0126
    assert new_floor(1000, "lower", 0.02, relative=True) == 1020
    assert new_floor(0.0, "lower", 0.02, relative=True) == 0.0
