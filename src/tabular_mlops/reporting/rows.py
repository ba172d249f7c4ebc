"""The report's data model: DVC's metric diff as rows, each judged by its gate, and the verdict.

Pure: it takes what DVC returned and the gate rules, so the layout modules and the tests need no
git or DVC. The number formats live here too, shared by the tables and the charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabular_mlops.core.gates import MetricGate, SliceRules, number


@dataclass(frozen=True)
class MetricRow:
    source: str
    name: str
    old: float | None
    new: float | None
    rule: MetricGate | None = None

    @property
    def change(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def relative(self) -> float | None:
        if self.change is None or not self.old:
            return None
        return self.change / abs(self.old)

    @property
    def status(self) -> str:
        if self.old is None:
            return "new"
        if self.new is None:
            return "removed"
        return "changed" if self.change else "same"

    @property
    def regressed(self) -> bool:
        """Worse than base by more than the tolerance, in the direction the rule calls worse."""
        return self.rule is not None and self.rule.regressed(self.old, self.new)

    @property
    def below_floor(self) -> bool:
        return (
            self.rule is not None and self.new is not None and not self.rule.meets_floor(self.new)
        )


@dataclass(frozen=True)
class DataSide:
    rows: int | None
    md5: str | None


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, as plain values: what main() gathered from git and DVC."""

    base: str
    head: str
    metrics: Mapping[str, Mapping[str, Mapping[str, Any]]]
    params: Mapping[str, Mapping[str, Mapping[str, Any]]]
    plots: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, tuple[DataSide, DataSide]] = field(default_factory=dict)
    validation: Mapping[str, Any] | None = None
    promotion: Mapping[str, Any] | None = None
    pr_number: int | None = None
    links: Mapping[str, str] = field(default_factory=dict)
    #: Where the production history is read: the registry's page, or `make history`.
    history: str | None = None


@dataclass(frozen=True)
class Report:
    inputs: ReportInputs
    metrics: tuple[MetricRow, ...]
    slices: tuple[MetricRow, ...]
    verdict: str
    failed: bool


def rows_from_diff(
    diff: Mapping[str, Mapping[str, Mapping[str, Any]]],
    rules: Mapping[str, MetricGate],
    skip_sources: tuple[str, ...] = (),
    slice_prefix: str = "slices.",
    slice_rules: SliceRules | None = None,
) -> tuple[tuple[MetricRow, ...], tuple[MetricRow, ...]]:
    """Split DVC's `metrics diff --all` into overall rows and slice rows, each with its rule.

    Gated metrics come first. A slice metric such as `slices.contract.Two year.roc_auc` is judged
    as the promotion gate judges it (`slice_rules`: slice floor and tolerance, enough rows);
    without slice rules it takes the rule of `roc_auc`. Sources in `skip_sources` (the
    validation summary) are shown elsewhere.
    """
    overall: list[MetricRow] = []
    slices: list[MetricRow] = []
    for source in sorted(set(diff) - set(skip_sources)):
        for name in sorted(diff[source]):
            values = diff[source][name]
            old, new = number(values.get("old")), number(values.get("new"))
            if old is None and new is None:
                continue
            is_slice = "slice" in Path(source).stem or name.startswith(slice_prefix)
            group, metric = name.rsplit(".", 1) if "." in name else ("", name)
            if is_slice and slice_rules is not None:
                rows = number(diff[source].get(f"{group}.rows", {}).get("new"))
                rule = slice_rules.rule_for(metric, rows)
            else:
                rule = rules.get(metric if is_slice else name)
            row = MetricRow(source, name, old, new, rule)
            (slices if is_slice else overall).append(row)
    overall.sort(key=lambda row: (row.rule is None, row.name))
    return tuple(overall), tuple(slices)


def build_report(
    inputs: ReportInputs,
    rules: Mapping[str, MetricGate],
    validation_source: str = "",
    slice_rules: SliceRules | None = None,
) -> Report:
    """Compare head with base under the gate rules and decide the one-line verdict."""
    overall, slices = rows_from_diff(
        inputs.metrics, rules, skip_sources=(validation_source,), slice_rules=slice_rules
    )
    validation_failed = inputs.validation is not None and not inputs.validation.get("success", True)
    regressions = [row for row in (*overall, *slices) if row.regressed or row.below_floor]
    if validation_failed:
        verdict = "⛔ **Validation failed**: the data broke its contract; nothing was trained."
    elif regressions:
        names = ", ".join(f"`{row.name}`" for row in regressions[:5])
        more = f" and {len(regressions) - 5} more" if len(regressions) > 5 else ""
        verdict = f"❌ **Regression**: {names}{more} worse than the gates allow."
    elif not overall:
        verdict = "⚠️ **No metrics**: the pipeline produced no metrics to compare."
    else:
        verdict = "✅ **Gates pass**: no metric is worse than its tolerance allows."
    return Report(
        inputs=inputs,
        metrics=overall,
        slices=slices,
        verdict=verdict,
        failed=validation_failed or bool(regressions),
    )


def fmt(value: float | None) -> str:
    """A table cell: counts with thousands separators, scores to 4 places, a dash when absent."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4f}"


def signed(value: float | None, percent: bool = False) -> str:
    """A change, always with its sign, so a drop never reads as a value."""
    if value is None:
        return "—"
    if percent:
        return f"{value:+.2%}"
    if float(value).is_integer():
        return f"{int(value):+,}" if value else "0"
    return f"{value:+.4f}"
