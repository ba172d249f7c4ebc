"""The report's plots section: line plots as Mermaid xy-charts (GitHub renders them inline, no
image host needed), bar plots and confusion matrices as tables of base and head, scatter plots
(regression's predicted vs actual and residuals) as a chart of binned means and a table of the
plotted value's quantiles.

Mermaid's xy-chart has no legend, so each chart names its sides in its title, draws them in fixed
colours (an init directive's `plotColorPalette`) and is followed by a legend line."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from typing import Any

from tabular_mlops.core.gates import number
from tabular_mlops.reporting.rows import fmt, signed

CHART_POINTS = 11
SCATTER_BINS = 10
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: A confusion matrix with more labels than this is listed by its most changed cells instead.
MATRIX_LABELS = 12
TOP_CELLS = 20
#: Each side's line colour, its name and the square that stands for it in the legend: Okabe-Ito
#: blue and orange, told apart with colour blindness and on GitHub's light and dark themes.
SIDES = {"base": ("#0072B2", "blue", "🟦"), "head": ("#E69F00", "orange", "🟧")}


def _label(text: str) -> str:
    """Text for a quoted Mermaid string: it cannot hold a double quote or a line break."""
    return " ".join(str(text).replace('"', "'").split())


def line_chart(
    title: str, x: str, ticks: list[str], y: str, drawn: list[tuple[str, list[str]]], note: str = ""
) -> list[str]:
    """A Mermaid xy-chart of one line per side (`drawn`: side and its values), in the side's
    colour, with the sides named in the title and in a legend line below."""
    palette = ", ".join(SIDES[side][0] for side, _ in drawn)
    init = json.dumps({"themeVariables": {"xyChart": {"plotColorPalette": palette}}})
    named = " vs ".join(f"{side} ({SIDES[side][1]})" for side, _ in drawn)
    missing = [side for side in SIDES if side not in dict(drawn)]
    legend = " · ".join(f"{SIDES[side][2]} {side} ({SIDES[side][1]})" for side, _ in drawn)
    absent = "".join(f"; no {side} curve" for side in missing)
    return [
        "```mermaid",
        f"%%{{init: {init}}}%%",
        "xychart-beta",
        f'  title "{_label(title)} — {named}"',
        f'  x-axis "{_label(x)}" [{", ".join(ticks)}]',
        f'  y-axis "{_label(y)}"',
        *(f"  line [{', '.join(values)}]" for _, values in drawn),
        "```",
        f"Lines: {legend}{note}{absent}.",
    ]


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
        if str(spec.get("template", "")).startswith("scatter"):
            scatter = _scatter(title, base_rows, head_rows, x, y)
            if scatter:
                lines += [f"#### {title}", "", *scatter, ""]
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
        ticks = [f"{g:.2f}" for g in grid]
        values = [(name, [f"{v:.3f}" for v in s]) for name, s in drawn]
        lines += [f"#### {title}", "", *line_chart(title, x, ticks, y, values), ""]
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
    labels = sorted({label for key in keys for label in key})
    if 2 < len(labels) <= MATRIX_LABELS:
        return _confusion_matrix(base, head, labels, x, y)
    if len(labels) > MATRIX_LABELS:
        keys = _notable_cells(base, head, keys)
    lines = [f"| {y} | {x} | base | head |", "|---|---|---:|---:|"]
    lines += [f"| {a} | {p} | {base.get((a, p), 0)} | {head.get((a, p), 0)} |" for a, p in keys]
    if len(labels) > MATRIX_LABELS:
        lines += [
            "",
            f"{len(labels)} labels: the cells that changed most, then the most frequent "
            f"mistakes ({len(keys)} cells).",
        ]
    return lines


def _notable_cells(
    base: Mapping[tuple[str, str], int],
    head: Mapping[tuple[str, str], int],
    keys: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    """Too many labels for a matrix: the changed cells, largest change first, then the head's
    largest off-diagonal cells (mistakes), up to `TOP_CELLS`."""
    changed = sorted(
        (k for k in keys if head.get(k, 0) != base.get(k, 0)),
        key=lambda k: (-abs(head.get(k, 0) - base.get(k, 0)), k),
    )
    mistakes = sorted(
        (k for k in keys if k[0] != k[1] and k not in changed),
        key=lambda k: (-head.get(k, 0), k),
    )
    return [*changed, *mistakes][:TOP_CELLS]


def _confusion_matrix(
    base: Mapping[tuple[str, str], int],
    head: Mapping[tuple[str, str], int],
    labels: list[str],
    x: str,
    y: str,
) -> list[str]:
    """The full matrix, `y` (actual) in rows and `x` (predicted) in columns; a cell that moved
    reads `base → head`."""

    def cell(key: tuple[str, str]) -> str:
        old, new = base.get(key, 0), head.get(key, 0)
        return f"{new:,}" if old == new else f"{old:,} → {new:,}"

    lines = [
        f"| {y} ↓ {x} → | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    lines += [f"| {a} | " + " | ".join(cell((a, p)) for p in labels) + " |" for a in labels]
    return [*lines, "", "Counts; a changed cell reads base → head."]


def _points(rows: list, x: str, y: str) -> list[tuple[float, float]]:
    return [
        (float(r[x]), float(r[y]))
        for r in rows
        if number(r.get(x)) is not None and number(r.get(y)) is not None
    ]


def _decimals(values: list[float]) -> int:
    """Enough decimals for about four significant digits of the largest value, at most four."""
    largest = max((abs(v) for v in values), default=0.0)
    if largest == 0:
        return 2
    return max(0, min(4, 3 - math.floor(math.log10(largest))))


def _binned_means(points: list[tuple[float, float]], edges: list[float]) -> list[float] | None:
    """Mean y per bin of x (equal-width bins between `edges`); an empty bin is interpolated."""
    sums = [[0.0, 0] for _ in range(len(edges) - 1)]
    for px, py in points:
        index = min(sum(px >= edge for edge in edges[1:-1]), len(sums) - 1)
        sums[index][0] += py
        sums[index][1] += 1
    centres = [(lo + hi) / 2 for lo, hi in itertools.pairwise(edges)]
    known = [(c, total / n) for c, (total, n) in zip(centres, sums, strict=True) if n]
    if not known:
        return None
    return [_interpolate(known, c) for c in centres]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _scatter(title: str, base_rows: list, head_rows: list, x: str, y: str) -> list[str]:
    """A scatter (too many points for Mermaid) as the mean `y` per bin of `x`, base then head,
    and the quantiles of `y` on each side: for residuals, how far off the model is and whether
    it leans one way."""
    sides = [("base", _points(base_rows, x, y)), ("head", _points(head_rows, x, y))]
    sides = [(name, points) for name, points in sides if points]
    if not sides:
        return []
    xs = [px for _, points in sides for px, _ in points]
    low, high = min(xs), max(xs)
    if high == low:
        high = low + 1.0
    edges = [low + (high - low) * i / SCATTER_BINS for i in range(SCATTER_BINS + 1)]
    series = [(name, _binned_means(points, edges)) for name, points in sides]
    drawn = [(name, s) for name, s in series if s is not None]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    x_places = _decimals(centres)
    y_places = _decimals([v for _, s in drawn for v in s])
    ticks = [f"{c:.{x_places}f}" for c in centres]
    values = [(name, [f"{v:.{y_places}f}" for v in s]) for name, s in drawn]
    note = f": mean {y} per bin of {x}"
    chart = [*line_chart(title, x, ticks, f"mean {y}", values, note), ""]
    by_side = dict(sides)
    quantiles = {
        (name, q): _quantile([py for _, py in points], q)
        for name, points in sides
        for q in QUANTILES
    }
    places = _decimals(list(quantiles.values()))
    table = [f"| {y} | base | head |", "|---|---:|---:|"]
    for q in QUANTILES:
        cells = [
            f"{quantiles[name, q]:,.{places}f}" if name in by_side else "—"
            for name in ("base", "head")
        ]
        table.append(f"| {'median' if q == 0.5 else f'p{round(q * 100)}'} | {' | '.join(cells)} |")
    return [*chart, *table]
