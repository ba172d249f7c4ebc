"""The report's plots section: line plots as Mermaid xy-charts (GitHub renders them inline, no
image host needed), bar plots and confusion matrices as tables of base and head."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from tabular_mlops.core.gates import number
from tabular_mlops.reporting.rows import fmt, signed

CHART_POINTS = 11


def _series(rows: list[dict[str, Any]], x: str, y: str, grid: list[float]) -> list[float] | None:
    points = sorted(
        (float(r[x]), float(r[y]))
        for r in rows
        if number(r.get(x)) is not None and number(r.get(y)) is not None
    )
    if len(points) < 2:
        return None
    values = []
    for target in grid:
        values.append(_interpolate(points, target))
    return values


def _interpolate(points: list[tuple[float, float]], target: float) -> float:
    if target <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= target <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (target - x0) / (x1 - x0)
    return points[-1][1]


def plots_section(plots: Mapping[str, Any]) -> list[str]:
    """Line plots as Mermaid xy-charts (GitHub renders them inline, no image host needed);
    confusion matrices as count tables."""
    lines: list[str] = []
    for title, spec in plots.items():
        base_rows, head_rows = spec.get("base") or [], spec.get("head") or []
        x, y = spec["x"], spec["y"]
        if spec.get("template") == "confusion":
            if base_rows or head_rows:
                lines += [f"#### {title}", "", *_confusion_table(base_rows, head_rows, x, y), ""]
            continue
        if str(spec.get("template", "")).startswith("bar"):
            if base_rows or head_rows:
                lines += [f"#### {title}", "", *_bar_table(base_rows, head_rows, x, y), ""]
            continue
        values = [number(r.get(x)) for r in (*base_rows, *head_rows)]
        xs = [v for v in values if v is not None]
        if not xs:
            continue
        low, high = min(xs), max(xs)
        grid = [low + (high - low) * i / (CHART_POINTS - 1) for i in range(CHART_POINTS)]
        series = [
            ("base", _series(base_rows, x, y, grid)),
            ("head", _series(head_rows, x, y, grid)),
        ]
        drawn = [(name, s) for name, s in series if s is not None]
        if not drawn:
            continue
        legend = " then ".join(name for name, _ in drawn)
        chart = [
            "```mermaid",
            "xychart-beta",
            f'  title "{title}"',
            f'  x-axis "{x}" [{", ".join(f"{g:.2f}" for g in grid)}]',
            f'  y-axis "{y}"',
            *(f"  line [{', '.join(f'{v:.3f}' for v in s)}]" for _, s in drawn),
            "```",
            f"Lines: {legend}.",
        ]
        lines += [f"#### {title}", "", *chart, ""]
    return lines


def _bar_table(base_rows: list, head_rows: list, x: str, y: str, top: int = 10) -> list[str]:
    """A bar plot (one value per label, e.g. feature importance) as a table, largest first."""

    def values(rows: list) -> dict[str, float]:
        return {str(r.get(y)): v for r in rows if (v := number(r.get(x))) is not None}

    base, head = values(base_rows), values(head_rows)
    labels = sorted(set(base) | set(head), key=lambda k: -(head.get(k, base.get(k)) or 0.0))
    lines = [f"| {y} | base {x} | head {x} | change |", "|---|---:|---:|---:|"]
    for label in labels[:top]:
        old, new = base.get(label), head.get(label)
        change = signed(new - old) if old is not None and new is not None else "new"
        lines.append(f"| {label} | {fmt(old)} | {fmt(new)} | {change} |")
    if len(labels) > top:
        lines.append(f"| … {len(labels) - top} more | | | |")
    return lines


def _confusion_table(base_rows: list, head_rows: list, x: str, y: str) -> list[str]:
    def counts(rows: list) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (str(row.get(y)), str(row.get(x)))
            out[key] = out.get(key, 0) + 1
        return out

    base, head = counts(base_rows), counts(head_rows)
    keys = sorted(set(base) | set(head))
    lines = [f"| {y} | {x} | base | head |", "|---|---|---:|---:|"]
    lines += [f"| {a} | {p} | {base.get((a, p), 0)} | {head.get((a, p), 0)} |" for a, p in keys]
    return lines
