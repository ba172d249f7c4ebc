"""The gate rules: directions, floors, tolerances, and the checks for a challenger."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.gates import (
    Gates,
    MetricGate,
    Scores,
    check_all,
    gates_from_params,
    metric_gates_from_raw,
)
from tabular_mlops.core.params import load_params
from tabular_mlops.core.task import DIRECTIONS, METRICS

from ..support import load_params_at_root

#: A metric the configured gates name: the bad-key cases edit it.
GATED = next(iter(load_params_at_root().gates.metrics))

HIGHER = MetricGate("higher", floor=0.8, abs_tolerance=0.01, rel_tolerance=0.0)
LOWER = MetricGate("lower", floor=0.5, abs_tolerance=0.0, rel_tolerance=0.1)


@pytest.mark.parametrize(
    ("gate", "old", "new", "regressed"),
    [
        (HIGHER, 0.85, 0.845, False),  # within the absolute tolerance
        (HIGHER, 0.85, 0.83, True),
        (HIGHER, 0.85, 0.95, False),  # better
        (LOWER, 0.40, 0.43, False),  # within 10 % of 0.40
        (LOWER, 0.40, 0.45, True),
        (LOWER, 0.40, 0.20, False),
        (HIGHER, None, 0.1, False),  # nothing to compare with
        (HIGHER, 0.85, None, False),
    ],
)
def test_regressed_follows_direction_and_the_larger_tolerance(gate, old, new, regressed) -> None:
    assert gate.regressed(old, new) is regressed


def test_floors_follow_the_direction() -> None:
    assert HIGHER.meets_floor(0.8) and not HIGHER.meets_floor(0.79)
    assert LOWER.meets_floor(0.5) and not LOWER.meets_floor(0.51)
    assert MetricGate("higher").meets_floor(-1.0)


GATES = Gates(
    metrics={"roc_auc": HIGHER, "log_loss": LOWER},
    baseline_margin={"roc_auc": 0.2},
    slice_min_rows=50,
    slice_floors={"roc_auc": 0.6},
    slice_abs_tolerance=0.05,
)


def scores(roc_auc: float, log_loss: float, slice_auc: float, rows: int = 100) -> Scores:
    return Scores(
        metrics={
            "roc_auc": roc_auc,
            "log_loss": log_loss,
            "baseline": {"roc_auc": 0.5, "log_loss": 0.6},
        },
        slices={"plan": {"annual": {"rows": rows, "roc_auc": slice_auc}}},
    )


def by_name(checks) -> dict[str, object]:
    return {check.name: check for check in checks}


def test_without_a_champion_only_floors_margin_and_slice_floors_apply() -> None:
    checks = by_name(check_all(GATES, scores(0.85, 0.45, 0.7), None))
    assert set(checks) == {
        "roc_auc floor",
        "log_loss floor",
        "roc_auc vs baseline",
        "slice plan=annual roc_auc floor",
    }
    assert all(check.passed for check in checks.values())
    assert checks["roc_auc vs baseline"].detail == "beats baseline 0.5000 by 0.3500, margin 0.2000"


def test_each_failure_is_reported_with_both_values() -> None:
    champion = scores(0.90, 0.40, 0.80)
    checks = by_name(check_all(GATES, scores(0.79, 0.52, 0.55), champion))
    failed = {name for name, check in checks.items() if not check.passed}
    assert failed == {
        "roc_auc floor",
        "log_loss floor",
        "roc_auc vs champion",
        "log_loss vs champion",
        "slice plan=annual roc_auc floor",
        "slice plan=annual roc_auc vs champion",
    }
    versus = checks["roc_auc vs champion"]
    assert (versus.candidate, versus.champion) == (0.79, 0.90)
    assert versus.detail == "worse by 0.1100, beyond tolerance 0.0100"
    assert checks["log_loss floor"].detail == "0.5200 above floor 0.5000"


def test_the_baseline_margin_can_fail_alone() -> None:
    gates = dataclasses.replace(GATES, baseline_margin={"roc_auc": 0.35})
    checks = by_name(check_all(gates, scores(0.81, 0.45, 0.7), None))
    assert not checks["roc_auc vs baseline"].passed
    assert checks["roc_auc vs baseline"].detail == "beats baseline 0.5000 by 0.3100, margin 0.3500"
    assert checks["roc_auc floor"].passed


def test_small_slices_are_not_judged() -> None:
    checks = check_all(GATES, scores(0.85, 0.45, 0.1, rows=49), scores(0.85, 0.45, 0.9))
    assert not [check for check in checks if check.name.startswith("slice")]


def test_a_slice_without_a_value_fails_its_floor() -> None:
    checks = by_name(check_all(GATES, scores(0.85, 0.45, None), None))  # type: ignore[arg-type]
    assert not checks["slice plan=annual roc_auc floor"].passed


@pytest.mark.parametrize(
    ("gates", "key"),
    [
        (Gates(metrics={"auc": HIGHER}), "gates.metrics.auc"),
        (Gates(metrics={}, baseline_margin={"roc_auc": 0.1}), "gates.baseline_margin.roc_auc"),
        (Gates(metrics={"roc_auc": HIGHER}, slice_floors={"pr_auc": 0.5}), "gates.slices.floors"),
    ],
)
def test_a_gate_on_an_unknown_or_undirected_metric_names_the_key(gates, key) -> None:
    with pytest.raises(PipelineError, match=key.replace(".", r"\.")):
        check_all(gates, scores(0.85, 0.45, 0.7), None)


def test_shipped_gates_load(params) -> None:
    gates = gates_from_params(params.gates)
    assert set(gates.metrics) <= set(METRICS[params.data.task])
    for name, gate in gates.metrics.items():
        assert gate.direction == DIRECTIONS[name]
    assert set(gates.baseline_margin) <= set(gates.metrics)


def test_the_report_reads_only_gates_metrics() -> None:
    raw = {
        "gates": {
            "metrics": {
                "f1": {
                    "direction": "higher",
                    "floor": None,
                    "abs_tolerance": 0.02,
                    "rel_tolerance": 0.0,
                }
            }
        }
    }
    assert metric_gates_from_raw(raw) == {"f1": MetricGate("higher", None, 0.02, 0.0)}
    assert metric_gates_from_raw({}) == {}
    raw["gates"]["metrics"]["f1"]["direction"] = "up"
    with pytest.raises(PipelineError, match=r"key 'gates\.metrics\.f1\.direction'"):
        metric_gates_from_raw(raw, Path("params.yaml"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda g: g["metrics"][GATED].update(flor=0.8),
            f"unknown key 'gates.metrics.{GATED}.flor'",
        ),
        (
            lambda g: g["metrics"][GATED].pop("direction"),
            f"missing key 'gates.metrics.{GATED}.direction'",
        ),
        (
            lambda g: g["metrics"][GATED].update(direction="up"),
            f"key 'gates.metrics.{GATED}.direction'",
        ),
        (lambda g: g["slices"].pop("min_rows"), "missing key 'gates.slices.min_rows'"),
    ],
    ids=["typo", "missing", "bad-direction", "missing-slice-key"],
)
def test_bad_gate_params_name_the_key(tmp_path, root, edit, message) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    edit(raw["gates"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PipelineError, match=re.escape(message)):
        load_params(path)


REGRESSION = Gates(
    metrics={"rmse": MetricGate("lower", floor=3.0, abs_tolerance=0.1), "r2": MetricGate("higher")},
    baseline_margin={"rmse": 0.4},
    slice_min_rows=10,
    slice_floors={"rmse": 2.0},
)


def regression_scores(rmse: float, slice_rmse: float, baseline: float = 1.5) -> Scores:
    return Scores(
        metrics={"rmse": rmse, "r2": 0.6, "baseline": {"rmse": baseline, "r2": -0.01}},
        slices={"plan": {"annual": {"rows": 40, "rmse": slice_rmse, "r2": 0.5}}},
    )


def test_a_lower_is_better_margin_needs_the_model_below_the_baseline_by_it() -> None:
    checks = by_name(check_all(REGRESSION, regression_scores(1.0, 1.0), None))
    assert checks["rmse vs baseline"].passed
    assert checks["rmse vs baseline"].detail == "beats baseline 1.5000 by 0.5000, margin 0.4000"
    close = by_name(check_all(REGRESSION, regression_scores(1.2, 1.0), None))
    assert not close["rmse vs baseline"].passed  # lower, but by 0.3 only
    worse = by_name(check_all(REGRESSION, regression_scores(1.6, 1.0), None))
    assert not worse["rmse vs baseline"].passed
    assert worse["rmse vs baseline"].detail == "worse than baseline 1.5000 by 0.1000, margin 0.4000"


def test_lower_is_better_floors_and_slice_floors_cap_the_metric() -> None:
    checks = by_name(
        check_all(REGRESSION, regression_scores(1.0, 2.5), regression_scores(0.8, 1.9))
    )
    assert checks["rmse floor"].passed
    assert not checks["slice plan=annual rmse floor"].passed
    assert checks["slice plan=annual rmse floor"].detail == "2.5000 above floor 2.0000"
    assert not checks["rmse vs champion"].passed  # 0.2 higher than the champion's, tolerance 0.1
    assert checks["rmse vs champion"].detail == "worse by 0.2000, beyond tolerance 0.1000"
