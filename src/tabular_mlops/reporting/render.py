"""The report as Markdown: one comment, sections in a fixed order, shortened to GitHub's limit.

Pure, so its layout is pinned by a golden file (tests/report/golden).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tabular_mlops.core.gates import check_table, number
from tabular_mlops.reporting.charts import plots_section
from tabular_mlops.reporting.rows import MetricRow, Report, ReportInputs, fmt, signed

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- tabular-mlops:pr-report"


def _arrow(row: MetricRow) -> str:
    if row.status == "new":
        return "🆕 new"
    if row.status == "removed":
        return "🗑️ removed"
    if not row.change:
        return "="
    arrow = "↑" if row.change > 0 else "↓"
    if row.regressed or row.below_floor:
        return f"{arrow} ❌"
    if row.rule is None:
        return arrow
    better = row.change > 0 if row.rule.direction == "higher" else row.change < 0
    return f"{arrow} ✅" if better else f"{arrow} ⚠️ within tolerance"


def metrics_table(rows: tuple[MetricRow, ...], show_source: bool = False) -> list[str]:
    header = "| metric | base | head | change | relative | |"
    lines = [header, "|---|---:|---:|---:|---:|---|"]
    for row in rows:
        name = f"`{row.name}`" + (f" ({row.source})" if show_source else "")
        floor = ""
        if row.below_floor and row.rule is not None:
            floor = f" below floor {fmt(row.rule.floor)}"
        lines.append(
            f"| {name} | {fmt(row.old)} | {fmt(row.new)} | {signed(row.change)} "
            f"| {signed(row.relative, percent=True)} | {_arrow(row)}{floor} |"
        )
    return lines


def metrics_body(rows: tuple[MetricRow, ...]) -> list[str]:
    """Gated and moved metrics in the table; unchanged ungated ones folded away below it."""
    if not rows:
        return ["No metrics on either side."]
    shown = tuple(row for row in rows if row.rule is not None or row.status != "same")
    folded = tuple(row for row in rows if row not in shown)
    lines = metrics_table(shown) if shown else ["No metric changed."]
    if folded:
        lines += [
            "",
            f"<details><summary>{len(folded)} unchanged metrics</summary>",
            "",
            *metrics_table(folded),
            "",
            "</details>",
        ]
    return lines


def _section(title: str, body: list[str]) -> list[str]:
    return [f"### {title}", "", *body, ""]


def params_section(params: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    rows = [
        f"| `{name}` | {json.dumps(values.get('old'))} | {json.dumps(values.get('new'))} |"
        for source in sorted(params)
        for name, values in sorted(params[source].items())
    ]
    if not rows:
        return ["No parameter changed."]
    return ["| param | base | head |", "|---|---|---|", *rows]


def data_section(inputs: ReportInputs) -> list[str]:
    lines = []
    for path, (base, head) in sorted(inputs.data.items()):
        changed = "changed" if base.md5 != head.md5 else "unchanged"
        lines += [
            f"`{path}` ({changed})",
            "",
            "| | base | head |",
            "|---|---:|---:|",
            f"| rows | {fmt(base.rows)} | {fmt(head.rows)} |",
            f"| md5 | `{(base.md5 or '—')[:12]}` | `{(head.md5 or '—')[:12]}` |",
            "",
        ]
    if inputs.validation is not None:
        summary = inputs.validation
        verdict = "passed" if summary.get("success") else "**failed**"
        counts = ", ".join(
            f"{key} {summary[key]}"
            for key in ("evaluated", "passed", "failed", "warnings")
            if key in summary
        )
        lines.append(f"Data contract {verdict} ({counts}).")
        for failure in summary.get("failures", [])[:10]:
            column = failure.get("column", "*")
            rule = failure.get("expectation", failure.get("rule", ""))
            detail = failure.get("observed", failure.get("detail", ""))
            lines.append(f"- `{column}`: {rule}: {detail}")
    return lines or ["No data change recorded."]


def history_line(history: str | None) -> list[str]:
    """Which model served when: a link to the registry's page, or the command that prints it."""
    if not history:
        return []
    if history.startswith(("http://", "https://")):
        return ["", f"Production history (every champion change): [registry]({history})"]
    return ["", f"Production history (every champion change): `{history}`"]


def promotion_section(promotion: Mapping[str, Any] | None, history: str | None = None) -> list[str]:
    if promotion is None:
        return [
            "No promotion decision for this run (promotion runs on the default branch).",
            *history_line(history),
        ]
    lines = [f"Decision: **{promotion.get('decision', 'unknown')}**"]
    if promotion.get("reason"):
        lines.append(f"{promotion['reason']}")
    checks = promotion.get("checks", [])
    if checks:
        lines += ["", *check_table(checks, lambda value: fmt(number(value)))]
    return lines + history_line(history or promotion.get("history"))


def render(report: Report, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The Markdown comment, shortened (plots, then slices, then rows) to fit `limit`."""
    inputs = report.inputs
    pr = inputs.pr_number if inputs.pr_number is not None else "none"
    head = [
        f"{MARKER} pr={pr} -->",
        "## Model report",
        "",
        report.verdict,
        "",
        f"Base `{inputs.base}` → head `{inputs.head}`.",
        "",
    ]
    moved_slices = tuple(
        r for r in report.slices if r.regressed or r.below_floor or r.status != "same"
    )
    sections = {
        "metrics": _section("Metrics", metrics_body(report.metrics)),
        "params": _section("Params changed", params_section(inputs.params)),
        "data": _section("Data", data_section(inputs)),
        "slices": _section(
            "Slices beyond tolerance",
            metrics_table(tuple(r for r in report.slices if r.regressed or r.below_floor))
            if any(r.regressed or r.below_floor for r in report.slices)
            else [f"No slice moved beyond tolerance ({len(moved_slices)} slice metrics changed)."],
        ),
        "promotion": _section(
            "Champion / challenger", promotion_section(inputs.promotion, inputs.history)
        ),
        "plots": _section("Plots", plots_section(inputs.plots) or ["No plots."]),
        "links": _section("Links", [f"- [{k}]({v})" for k, v in inputs.links.items()])
        if inputs.links
        else [],
    }
    order = ["metrics", "params", "data", "slices", "promotion", "plots", "links"]
    text = "\n".join(head + [line for key in order for line in sections[key]])
    for drop in ("plots", "slices", "data", "params"):
        if len(text) <= limit:
            break
        sections[drop] = _section(
            sections[drop][0].removeprefix("### "),
            ["_Left out to fit GitHub's comment limit; see the full report artifact._"],
        )
        text = "\n".join(head + [line for key in order for line in sections[key]])
    if len(text) > limit:
        note = "\n\n_Report shortened to fit GitHub's 65,536-character comment limit._\n"
        text = text[: limit - len(note)] + note
    return text
