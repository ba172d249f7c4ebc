"""What the drift watch shows a person: Markdown for the job summary and an issue, HTML with one
histogram per column (reference against current) for the artifact."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.params import DataParams
from tabular_mlops.ct.drift_stats import (
    KIND_NAMES,
    PLOT_BINS,
    PREDICTION,
    DriftResult,
    category_counts,
    typed,
)


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
    named = ", ".join(f"`{name}`" for name in result.drifted_features) or "none"
    lines = [
        "## Drift watch",
        "",
        f"{verdict}. Drifted features: {named}.",
        "",
        f"- current window: {context['current']}",
        f"- reference window: {context['reference']}",
        *[f"- {KIND_NAMES[kind]} shift: {text}" for kind, text in result.methods],
        f"- a column drifts when its Benjamini-Hochberg adjusted p-value < {result.alpha} "
        f"and its PSI >= {result.psi_threshold}",
        "",
        "| column | kind | test | statistic | p-value | adjusted p | PSI | drifted |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    ordered = sorted(result.columns, key=lambda c: (not c.drifted, c.kind != "feature", c.column))
    for c in ordered:
        lines.append(
            f"| `{c.column}` | {c.kind} | {c.test} | {c.statistic:.4g} | {c.p_value:.3g} | "
            f"{c.p_adjusted:.3g} | {c.psi:.3f} | {'**yes**' if c.drifted else 'no'} |"
        )
    lines += ["", *[f"- note: {note}" for note in result.notes]]
    return "\n".join(lines).rstrip() + "\n"


def render_html(markdown_table: str, plots: list[tuple[str, str]]) -> str:
    sections = (
        "".join(f"<section><h2>{html.escape(name)}</h2>{svg}</section>" for name, svg in plots)
        or "<p>No drifted column: nothing to plot.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title></head>"
        f"<body><pre>{html.escape(markdown_table)}</pre>{sections}</body></html>\n"
    )
