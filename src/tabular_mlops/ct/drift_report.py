"""What the drift watch shows a person: Markdown for the job summary and an issue, and the same
report as HTML with one histogram per drifted column (reference against current) for the artifact.

Names and values come from the data, so they are escaped for Markdown (a column may hold a pipe or
a backtick) and the HTML is rendered with raw HTML off (a column may be named `<script>`)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt

from tabular_mlops.core.io import atomic_path
from tabular_mlops.core.params import DataParams
from tabular_mlops.ct.drift_stats import (
    KIND_NAMES,
    PLOT_BINS,
    PREDICTION,
    DriftResult,
    category_counts,
    typed,
)

MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
#: The characters Markdown (CommonMark and GitHub's) may read as syntax in running text.
SPECIAL = set("\\`*_[]<>|~&!#")
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:64em;margin:1em auto;padding:0 1em}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px}"
    "code{font-size:90%}svg{max-width:100%;height:auto}"
)


def md_text(text: object) -> str:
    """Text that Markdown shows as it is: one line, its syntax characters escaped."""
    flat = re.sub(r"[\r\n]+", " ", str(text))
    return "".join(f"\\{char}" if char in SPECIAL else char for char in flat)


def md_code(text: object, in_table: bool = False) -> str:
    """A code span that holds any name: a fence longer than its backtick runs, padded when it
    starts or ends with one; a pipe escaped inside a table row."""
    flat = re.sub(r"[\r\n]+", " ", str(text))
    if in_table:
        flat = flat.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", flat)), default=0) + 1)
    edges = (flat[:1], flat[-1:])
    pad = " " if "`" in edges or edges == (" ", " ") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def histogram(
    reference: pd.Series, current: pd.Series, numeric: bool
) -> tuple[list[str], list[float], list[float]]:
    """Shares per bin (numbers: equal-width bins over both windows) or per category."""
    if numeric:
        ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype="float64")
        cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype="float64")
        both = np.concatenate([ref, cur])
        if len(both) == 0:
            return [], [], []
        edges = np.histogram_bin_edges(both, bins=PLOT_BINS)
        ref_counts = np.histogram(ref, edges)[0]
        cur_counts = np.histogram(cur, edges)[0]
        labels = [f"{edge:.3g}" for edge in edges[:-1]]
    else:
        labels, ref_counts, cur_counts = category_counts(reference, current)
    return (
        labels,
        (ref_counts / max(ref_counts.sum(), 1)).tolist(),
        (cur_counts / max(cur_counts.sum(), 1)).tolist(),
    )


def svg_bars(title: str, labels: list[str], reference: list[float], current: list[float]) -> str:
    """A grouped bar chart as plain SVG, for when matplotlib is not installed."""
    width, height, left, bottom = 640, 260, 40, 60
    top = max([*reference, *current, 1e-9])
    slot = (width - left - 10) / max(len(labels), 1)
    bars = []
    for i, label in enumerate(labels):
        for j, (share, colour) in enumerate(((reference[i], "#1f77b4"), (current[i], "#d62728"))):
            h = (height - bottom - 20) * share / top
            x = left + i * slot + j * slot * 0.45
            bars.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.4:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{share:.3f}</title></rect>'
            )
        bars.append(
            f'<text x="{left + (i + 0.45) * slot:.1f}" y="{height - bottom + 12}" '
            f'font-size="9" transform="rotate(45 {left + (i + 0.45) * slot:.1f} '
            f'{height - bottom + 12})">{html.escape(label)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<text x="{left}" y="14" font-size="12">{html.escape(title)} '
        f"(blue: reference, red: current; share of rows)</text>{''.join(bars)}</svg>"
    )


def matplotlib_svg(
    title: str, labels: list[str], reference: list[float], current: list[float]
) -> str:
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    positions = np.arange(len(labels))
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.bar(positions - 0.2, reference, width=0.4, label="reference")
    axes.bar(positions + 0.2, current, width=0.4, label="current")
    axes.set_xticks(positions, labels, rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("share of rows")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def drift_plots(
    result: DriftResult, reference: pd.DataFrame, current: pd.DataFrame, data: DataParams
) -> list[tuple[str, str]]:
    """One SVG per drifted column: matplotlib if installed (MLflow brings it), else plain SVG."""
    try:
        import matplotlib  # noqa: F401

        draw = matplotlib_svg
    except ImportError:
        draw = svg_bars
    ref_values, cur_values = typed(reference, data), typed(current, data)
    plots = []
    for column in result.columns:
        if not column.drifted or column.kind == PREDICTION:
            continue
        labels, ref_share, cur_share = histogram(
            ref_values[column.column], cur_values[column.column], column.test == "ks"
        )
        title = (
            f"{column.column}: {column.test} {column.statistic:.3g}, "
            f"adjusted p {column.p_adjusted:.2g}, PSI {column.psi:.2f}"
        )
        plots.append((column.column, draw(title, labels, ref_share, cur_share)))
    return plots


def render_markdown(result: DriftResult, context: dict[str, Any]) -> str:
    verdict = "**Drift detected**" if result.drift else "No drift"
    named = ", ".join(md_code(name) for name in result.drifted_features) or "none"
    lines = [
        "## Drift watch",
        "",
        f"{verdict}. Drifted features: {named}.",
        "",
        f"- current window: {md_text(context['current'])}",
        f"- reference window: {md_text(context['reference'])}",
        *[f"- {KIND_NAMES[kind]} shift: {md_text(text)}" for kind, text in result.methods],
        f"- a column drifts when its Benjamini-Hochberg adjusted p-value < {result.alpha} "
        f"and its PSI >= {result.psi_threshold}",
        "",
        "| column | kind | test | statistic | p-value | adjusted p | PSI | drifted |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    ordered = sorted(result.columns, key=lambda c: (not c.drifted, c.kind != "feature", c.column))
    for c in ordered:
        lines.append(
            f"| {md_code(c.column, in_table=True)} | {c.kind} | {c.test} | {c.statistic:.4g} | "
            f"{c.p_value:.3g} | {c.p_adjusted:.3g} | {c.psi:.3f} | "
            f"{'**yes**' if c.drifted else 'no'} |"
        )
    lines += ["", *[f"- note: {md_text(note)}" for note in result.notes]]
    return "\n".join(lines).rstrip() + "\n"


def render_html(markdown: str, plots: list[tuple[str, str]]) -> str:
    """The Markdown report rendered as HTML (raw HTML in it shown as text), then one section per
    drifted column with its histogram."""
    sections = "".join(
        f"<section><h3>{html.escape(name)}</h3>{svg}</section>" for name, svg in plots
    )
    plotted = (
        f"<h2>Drifted columns: reference against current</h2>{sections}"
        if plots
        else "<p>No drifted column: nothing to plot.</p>"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Drift report</title>'
        f"<style>{STYLE}</style></head>\n<body>\n{MARKDOWN.render(markdown)}{plotted}\n"
        "</body></html>\n"
    )


def write_reports(
    out: Path,
    result: DriftResult,
    context: dict[str, Any],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    data: DataParams,
) -> str:
    """Write `out`'s Markdown and HTML siblings (each whole or not at all); return the Markdown."""
    markdown = render_markdown(result, context)
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    plots = drift_plots(result, reference, current, data) if result.drift else []
    with atomic_path(out.with_suffix(".html")) as tmp:
        tmp.write_text(render_html(markdown, plots), encoding="utf-8")
    return markdown
