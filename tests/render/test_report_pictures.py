"""The pull-request report's charts, and every Mermaid block in the docs, through Mermaid's own
parser (the two major versions GitHub may run): each must parse, and each chart must say which line
is base and which is head, in the colour Mermaid really gives each line. DVC's plots page, which the
report writes beside it, through an HTML parser. The report's inputs come from tests/report's
repositories; a broken picture is shown to fail."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tabular_mlops.reporting.charts import SIDES
from tabular_mlops.stages.evaluate_plots import ALL_PLOTS, regression_rows
from tests.render.pictures import assert_parsed, check, elements, mermaid_blocks
from tests.report.conftest import pr_repo, roc  # noqa: F401  (pr_repo: a fixture)

LEGEND = re.compile(r"(\S+) (base|head) \((\w+)\)")
SPEC = re.compile(r"var spec = (\{.*\});", re.DOTALL)
VEGA_LITE = "https://vega.github.io/schema/vega-lite/"


def assert_sides_named(block: dict, result: dict) -> None:
    """The legend under a chart names each line's side, and Mermaid draws each line in the
    colour the legend gives that side; the title names the sides too."""
    legend = LEGEND.findall(block["after"])
    assert legend, f"{block['name']}: no legend under the chart: {block['after']!r}"
    for square, side, colour in legend:
        assert (square, colour) == (SIDES[side][2], SIDES[side][1]), block["after"]
        assert f"{side} ({colour})" in result["title"], result["title"]
    assert result["lines"] == [SIDES[side][0] for _, side, _ in legend], block["name"]


def report_plots(repo, task: str) -> None:
    """Plot files as evaluate writes them for `task` (another task's files empty)."""
    rng = np.random.default_rng(0)
    actual = rng.normal(10.0, 2.0, size=300)
    if task == "binary":
        rows = {"roc": roc(lift=0.05)}
    else:
        rows = regression_rows(actual, actual + rng.normal(scale=0.5, size=300))
    for name in ALL_PLOTS:
        repo.write(f"plots/{name}.json", rows.get(name, []))


def vega_specs(page: dict) -> list[dict]:
    """The Vega-Lite spec each of DVC's plot `div`s hands to vega-embed."""
    scripts = (
        "".join(s["children"]) for div in elements(page, "div") for s in elements(div, "script")
    )
    return [json.loads(match.group(1)) for t in scripts if (match := SPEC.search(t))]


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_report_charts_parse_and_name_base_and_head(pr_repo, task) -> None:  # noqa: F811
    """Binary: a line chart of both sides. Regression: binned scatters of both sides, and the base's
    ROC alone (one line, drawn in base's colour). A multiclass run draws tables, no chart. DVC's
    page draws the same plots, each a spec with data: another task's empty plot is left out."""
    report_plots(pr_repo, task)
    pr_repo.commit(f"a {task} run")
    done = pr_repo.report("--base", "main", "--plots-html", "reports/plots")
    assert done.returncode == 0, done.stderr
    blocks = mermaid_blocks(pr_repo.markdown, "pr-report.md")
    assert blocks, "every task draws at least one chart (ROC's base, at least)"
    page = (pr_repo.path / "reports/plots/index.html").read_text(encoding="utf-8")
    results = check([*blocks, {"name": "dvc plots index.html", "kind": "html", "text": page}])
    assert_parsed(results)
    for block, result in zip(blocks, results[:-1], strict=True):
        assert result["type"] == "xychart"
        assert_sides_named(block, result)
    specs = vega_specs(results[-1]["tree"])
    headings = {line[5:] for line in pr_repo.markdown.splitlines() if line.startswith("#### ")}
    assert {spec.get("title", {}).get("text") for spec in specs} == headings
    assert all(spec["$schema"].startswith(VEGA_LITE) and spec["data"]["values"] for spec in specs)


def test_every_mermaid_block_in_the_docs_parses(root: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=root, capture_output=True, text=True, check=True
    )
    blocks = [
        block
        for name in listed.stdout.split()
        for block in mermaid_blocks((root / name).read_text(encoding="utf-8"), name)
    ]
    assert blocks, "the docs draw the journey and the golden report a chart"
    results = check(blocks)
    assert_parsed(results)
    for block, result in zip(blocks, results, strict=True):
        if result["type"] == "xychart":
            assert_sides_named(block, result)


def test_a_broken_picture_fails() -> None:
    """The parsers are really consulted: a chart cut short and a misnested page are errors."""
    results = check(
        [
            {"name": "chart", "kind": "mermaid", "text": "xychart-beta\n  line [1, 2\n"},
            {"name": "page", "kind": "html", "text": "<!doctype html><p><b>x</p></b>"},
        ]
    )
    assert [bool(r["errors"]) for r in results] == [True, True]
    assert any("mermaid 11" in e for e in results[0]["errors"])
    assert any("mermaid 10" in e for e in results[0]["errors"])
