"""The quality gates a challenger must pass, and the rules the pull-request report judges by.

Pure: gates and metrics in, check results out. One gate per metric says which way is better, the
floor the metric must meet, and how much worse than the champion it may be (the larger of an
absolute and a relative tolerance). Slices and the margin over the task's baseline (evaluate's
Dummy estimator, under `baseline`) reuse each metric's direction, so a margin on a lower-is-better
metric such as rmse means the model must be lower than the baseline by at least the margin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import (
    DEFAULT_PARAMS,
    GatesParams,
    MetricGateParams,
    SliceGateParams,
    parse,
)

Direction = Literal["higher", "lower"]
SliceMetrics = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class MetricGate:
    direction: Direction
    floor: float | None = None
    abs_tolerance: float = 0.0
    rel_tolerance: float = 0.0

    def worse_by(self, old: float, new: float) -> float:
        """How much worse `new` is than `old` in this gate's direction (negative: better)."""
        return old - new if self.direction == "higher" else new - old

    def tolerance(self, old: float) -> float:
        return max(self.abs_tolerance, self.rel_tolerance * abs(old))

    def regressed(self, old: float | None, new: float | None) -> bool:
        """Worse than `old` by more than the tolerance; never when either side is unknown."""
        if old is None or new is None:
            return False
        return self.worse_by(old, new) > self.tolerance(old)

    def meets_floor(self, value: float) -> bool:
        if self.floor is None:
            return True
        return value >= self.floor if self.direction == "higher" else value <= self.floor


@dataclass(frozen=True)
class Gates:
    metrics: Mapping[str, MetricGate]
    baseline_margin: Mapping[str, float] = field(default_factory=dict)
    slice_min_rows: int = 1
    slice_floors: Mapping[str, float] = field(default_factory=dict)
    slice_abs_tolerance: float = 0.0


@dataclass(frozen=True)
class Scores:
    """One model's evaluation: metrics.json's layout (baseline under `baseline`) and slices."""

    metrics: Mapping[str, Any]
    slices: SliceMetrics = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    candidate: float | None
    champion: float | None
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_table(checks: Iterable[Mapping[str, Any]], value: Callable[[Any], str]) -> list[str]:
    """The gate table of promotion.md and of the pull-request report, from checks as dicts
    (promotion.json's form); `value` prints a challenger or champion value in the reader's style."""
    lines = ["| gate | challenger | champion | result |", "|---|---:|---:|---|"]
    for check in checks:
        mark = "✅" if check.get("passed") else "❌"
        lines.append(
            f"| {check.get('name')} | {value(check.get('candidate'))} "
            f"| {value(check.get('champion'))} | {mark} {check.get('detail', '')} |"
        )
    return lines


def gates_from_params(params: GatesParams) -> Gates:
    return Gates(
        metrics={name: MetricGate(**asdict(spec)) for name, spec in params.metrics.items()},
        baseline_margin=dict(params.baseline_margin),
        slice_min_rows=params.slices.min_rows,
        slice_floors=dict(params.slices.floors),
        slice_abs_tolerance=params.slices.abs_tolerance,
    )


def metric_gates_from_raw(
    raw: Mapping[str, Any], path: Path = DEFAULT_PARAMS
) -> dict[str, MetricGate]:
    """Only `gates.metrics` of a raw params mapping (the report needs no more); {} when absent."""
    section = (raw.get("gates") or {}).get("metrics") or {}
    return {
        name: MetricGate(
            **asdict(parse(spec, MetricGateParams, path=path, prefix=f"gates.metrics.{name}"))
        )
        for name, spec in section.items()
    }


def number(value: Any) -> float | None:
    """A metric value as a float; None for anything else, booleans included (JSON's true is 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_names(gates: Gates, metrics: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Every gated name must be a metric the evaluation produces, and have a direction."""
    known = sorted(name for name, value in metrics.items() if number(value) is not None)
    for key, names in (
        ("gates.metrics", gates.metrics),
        ("gates.baseline_margin", gates.baseline_margin),
        ("gates.slices.floors", gates.slice_floors),
    ):
        for name in names:
            if name not in known:
                raise PipelineError(
                    f"{source}: key '{key}.{name}': no metric '{name}' in the evaluation "
                    f"(known: {', '.join(known)})"
                )
            if name not in gates.metrics:
                raise PipelineError(
                    f"{source}: key '{key}.{name}': add gates.metrics.{name} to give it a direction"
                )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _floor_check(name: str, gate: MetricGate, floor: float, value: float | None) -> Check:
    bound = MetricGate(gate.direction, floor)
    sign = ">=" if gate.direction == "higher" else "<="
    if value is None:
        return Check(name, None, None, False, f"not computed; needs {sign} {floor:.4f}")
    passed = bound.meets_floor(value)
    detail = (
        f"{_fmt(value)} {sign} floor {floor:.4f}"
        if passed
        else (
            f"{_fmt(value)} {'below' if gate.direction == 'higher' else 'above'} floor {floor:.4f}"
        )
    )
    return Check(name, value, None, passed, detail)


def _regression_check(
    name: str, gate: MetricGate, champion: float | None, value: float | None
) -> Check:
    if champion is None or value is None:
        return Check(name, value, champion, True, "no value to compare")
    worse = gate.worse_by(champion, value)
    tolerance = gate.tolerance(champion)
    passed = worse <= tolerance
    how = f"worse by {worse:.4f}" if worse > 0 else f"better by {-worse:.4f}" if worse else "same"
    verdict = "within" if passed else "beyond"
    return Check(name, value, champion, passed, f"{how}, {verdict} tolerance {tolerance:.4f}")


@dataclass(frozen=True)
class SliceRules:
    """How the promotion gate judges slices, so the report marks exactly what it would reject:
    only metrics with a slice floor, with the slice tolerance, on slices with enough rows."""

    gates: Mapping[str, MetricGate] = field(default_factory=dict)
    min_rows: int = 1

    def rule_for(self, metric: str, rows: float | None) -> MetricGate | None:
        if rows is not None and rows < self.min_rows:
            return None
        return self.gates.get(metric)


def slice_rules_from_raw(raw: Mapping[str, Any], path: Path = DEFAULT_PARAMS) -> SliceRules:
    """`gates.slices` of a raw params mapping, each floor taking its metric's direction."""
    gates = raw.get("gates") or {}
    if not gates.get("slices"):
        return SliceRules()
    slices = parse(gates["slices"], SliceGateParams, path=path, prefix="gates.slices")
    metrics = metric_gates_from_raw(raw, path)
    unknown = sorted(set(slices.floors) - set(metrics))
    if unknown:
        raise PipelineError(
            f"{path}: key 'gates.slices.floors.{unknown[0]}': no gate in gates.metrics gives "
            "its direction"
        )
    return SliceRules(
        gates={
            name: MetricGate(metrics[name].direction, floor, slices.abs_tolerance)
            for name, floor in slices.floors.items()
        },
        min_rows=slices.min_rows,
    )


def check_all(gates: Gates, candidate: Scores, champion: Scores | None) -> list[Check]:
    """Every gate for the challenger, against the champion when there is one.

    Floors and the baseline margin always apply; regression checks only with a champion. Slices
    with fewer than `slice_min_rows` rows (on the challenger's side) are not judged.
    """
    check_names(gates, candidate.metrics)
    checks: list[Check] = []
    for name, gate in gates.metrics.items():
        value = number(candidate.metrics.get(name))
        if gate.floor is not None:
            checks.append(_floor_check(f"{name} floor", gate, gate.floor, value))
    baseline = candidate.metrics.get("baseline") or {}
    for name, margin in gates.baseline_margin.items():
        gate = gates.metrics[name]
        value, base = number(candidate.metrics.get(name)), number(baseline.get(name))
        if value is None or base is None:
            checks.append(Check(f"{name} vs baseline", value, None, False, "no baseline value"))
            continue
        lead = -gate.worse_by(base, value)
        checks.append(
            Check(
                f"{name} vs baseline",
                value,
                None,
                lead >= margin,
                f"beats baseline {base:.4f} by {lead:.4f}, margin {margin:.4f}"
                if lead >= 0
                else f"worse than baseline {base:.4f} by {-lead:.4f}, margin {margin:.4f}",
            )
        )
    if champion is not None:
        for name, gate in gates.metrics.items():
            checks.append(
                _regression_check(
                    f"{name} vs champion",
                    gate,
                    number(champion.metrics.get(name)),
                    number(candidate.metrics.get(name)),
                )
            )
    for column, values in candidate.slices.items():
        for value_name, row in values.items():
            if (number(row.get("rows")) or 0) < gates.slice_min_rows:
                continue
            label = f"slice {column}={value_name}"
            theirs = (champion.slices.get(column, {}).get(value_name) if champion else None) or {}
            for name, floor in gates.slice_floors.items():
                gate = gates.metrics[name]
                new = number(row.get(name))
                checks.append(_floor_check(f"{label} {name} floor", gate, floor, new))
                if champion is not None and theirs:
                    slice_gate = MetricGate(gate.direction, None, gates.slice_abs_tolerance)
                    checks.append(
                        _regression_check(
                            f"{label} {name} vs champion",
                            slice_gate,
                            number(theirs.get(name)),
                            new,
                        )
                    )
    return checks
