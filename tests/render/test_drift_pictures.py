"""drift.html, as `make drift` writes it from the configured data, through an HTML parser: the
verdict, the table and the charts are HTML elements (not Markdown shown as text), and names from the
data are text, never markup."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from tabular_mlops.core.io import read_csv
from tabular_mlops.core.params import Params
from tabular_mlops.ct.drift_report import drift_plots, render_html, render_markdown, write_reports
from tabular_mlops.ct.drift_stats import PREDICTION, DriftResult, detect
from tabular_mlops.ct.simulate import simulate
from tests.render.pictures import assert_parsed, check, elements, text, texts
from tests.support import documented_shifts, sample_rows

RAW_MARKDOWN = re.compile(r"^\s*(#{1,6} |\|.*\||[-*] )|\*\*|\|---")
HEADER = ["column", "kind", "test", "statistic", "p-value", "adjusted p", "PSI", "drifted"]


class Windows(NamedTuple):
    raw: pd.DataFrame
    shifted: pd.DataFrame
    calm: pd.DataFrame
    column: str
    drifted: DriftResult


@pytest.fixture(scope="module")
def windows(params: Params, root: Path) -> Windows:
    """The configured raw data against a batch simulated from it with its first documented
    shift (`column` the shifted one), and against a calm sample of itself."""
    raw = read_csv(root / params.paths.raw)
    shifts = documented_shifts(raw, params.data, params.drift.discrete_max_values)
    shift, column = next(iter(shifts.values()))
    shifted = simulate(raw, params.data, params.simulate, rows=1000, seed=7, shift=shift)
    drifted = detect(raw, shifted, params.data, params.drift)
    return Windows(raw, shifted, sample_rows(raw, params.data), column, drifted)


def test_drift_reports_are_html_with_their_verdict_table_and_charts(
    params: Params, windows: Windows, tmp_path: Path
) -> None:
    raw = windows.raw
    calm = detect(raw, windows.calm, params.data, params.drift)
    pages = []
    for name, current, result in (
        ("drifted", windows.shifted, windows.drifted),
        ("calm", windows.calm, calm),
    ):
        out = tmp_path / name / "drift.json"
        out.parent.mkdir()
        context = {"current": f"{name} batch", "reference": params.paths.raw}
        write_reports(out, result, context, raw, current, params.data)
        html = out.with_suffix(".html").read_text(encoding="utf-8")
        pages.append((result, {"name": f"{name} drift.html", "kind": "html", "text": html}))
    results = check([page for _, page in pages])
    assert_parsed(results)
    for (result, _), parsed in zip(pages, results, strict=True):
        body = next(elements(parsed["tree"], "body"))
        assert next(text(h) for h in elements(body, "h2")) == "Drift watch"
        raw_text = [t for t in texts(body) if RAW_MARKDOWN.search(t)]
        assert not raw_text, f"Markdown shown as text: {raw_text[:3]}"
        [table] = elements(body, "table")
        assert [text(th) for th in elements(table, "th")] == HEADER
        rows = list(elements(next(elements(table, "tbody")), "tr"))
        assert {text(next(elements(row, "td"))) for row in rows} == {
            c.column for c in result.columns
        }
        charts = {text(next(elements(s, "h3"))): s for s in elements(body, "section")}
        assert set(charts) == {
            c.column for c in result.columns if c.drifted and c.kind != PREDICTION
        }
        assert all(next(elements(s, "svg"), None) for s in charts.values())
    assert windows.column in {c.column for c in windows.drifted.columns if c.drifted}
    assert not calm.drift
    assert "No drifted column" in text(next(elements(results[1]["tree"], "body")))


def test_names_from_the_data_are_shown_as_text_in_the_drift_report(
    params: Params, windows: Windows
) -> None:
    """A column named like markup (a pipe, backticks, a tag) is a cell's text, not structure."""
    result, column = windows.drifted, windows.column
    plots = dict(drift_plots(result, windows.raw, windows.shifted, params.data))

    def hostile(name: str) -> str:
        return f"<script>alert(1)</script>|`{name}`|**{name}**"

    renamed = dataclasses.replace(
        result,
        columns=tuple(dataclasses.replace(c, column=hostile(c.column)) for c in result.columns),
    )
    markdown = render_markdown(renamed, {"current": "<b>batch</b> | x", "reference": "*raw*"})
    page = render_html(markdown, [(hostile(name), svg) for name, svg in plots.items()])
    [parsed] = check([{"name": "drift.html", "kind": "html", "text": page}])
    assert_parsed([parsed])
    body = next(elements(parsed["tree"], "body"))
    assert not list(elements(body, "script")) and not list(elements(body, "b"))
    rows = elements(next(elements(body, "tbody")), "tr")
    cells = {text(next(elements(row, "td"))) for row in rows}
    assert cells == {hostile(c.column) for c in result.columns}
    assert hostile(column) in {text(h) for h in elements(body, "h3")}
    assert "<b>batch</b> | x" in text(body) and "*raw*" in text(body)
