"""TEMPORARY stand-in for churn.gates until the gate module lands (same interface)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class MetricRule:
    direction: Literal["higher", "lower"]
    floor: float | None = None
    abs_tolerance: float = 0.0
    rel_tolerance: float = 0.0

    def regressed(self, old: float | None, new: float | None) -> bool:
        if old is None or new is None:
            return False
        worse = old - new if self.direction == "higher" else new - old
        return worse > max(self.abs_tolerance, self.rel_tolerance * abs(old))

    def meets_floor(self, value: float) -> bool:
        if self.floor is None:
            return True
        return value >= self.floor if self.direction == "higher" else value <= self.floor


def rules_from_params(raw: dict[str, Any]) -> dict[str, MetricRule]:
    gates = raw.get("gates", {}).get("metrics", {})
    return {name: MetricRule(**spec) for name, spec in gates.items()}
