"""`make report` against real git repositories: each robustness case the README promises."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import yaml

from tabular_mlops.stages.evaluate_plots import ALL_PLOTS, confusion_rows, regression_rows
from tests.report.conftest import BIN, base_metrics, git, roc, table_row

#: dvc runs in this process here (tests/report/conftest.py): its own deprecation notices are noise.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:dvc.*")


def test_changed_param_and_regressed_metric(pr_repo) -> None:
    seed = yaml.safe_load((pr_repo.path / "params.yaml").read_text())["train"]["seed"]
    pr_repo.set_param("train", "seed", seed + 1)
    pr_repo.write("metrics/metrics.json", base_metrics(roc_auc=0.80))
    pr_repo.commit("smaller forest")
    done = pr_repo.report("--base", "main")
    assert done.returncode == 0, done.stderr
    md = pr_repo.markdown
    assert "❌ **Regression**: `roc_auc`" in md
    row = table_row(md, "`roc_auc`")
    assert row[1:5] == ["0.8400", "0.8000", "-0.0400", "-4.76%"]
    assert "❌" in row[5]
    assert table_row(md, "`train.seed`")[1:] == [str(seed), str(seed + 1)]


def test_fail_on_regression_exits_non_zero_only_when_a_gate_fails(pr_repo) -> None:
    pr_repo.write("metrics/metrics.json", base_metrics(roc_auc=0.80))
    pr_repo.commit("worse")
    assert pr_repo.report("--base", "main", "--fail-on-regression").returncode == 1
    pr_repo.write("metrics/metrics.json", base_metrics(roc_auc=0.835))
    pr_repo.commit("wobble within tolerance")
    done = pr_repo.report("--base", "main", "--fail-on-regression")
    assert done.returncode == 0, done.stderr
    assert "✅ **Gates pass**" in pr_repo.markdown
    assert "within tolerance" in table_row(pr_repo.markdown, "`roc_auc`")[5]


def test_metric_below_its_floor_fails_even_without_a_base(pr_repo) -> None:
    pr_repo.write("metrics/metrics.json", base_metrics(roc_auc=0.70))
    pr_repo.commit("bad")
    pr_repo.report("--base", "main")
    assert "below floor 0.7500" in table_row(pr_repo.markdown, "`roc_auc`")[5]


def test_changed_data_shows_rows_and_digest(pr_repo) -> None:
    data = pr_repo.path / pr_repo.raw
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines + lines[1:21]) + "\n")
    pr_repo.commit("twenty more rows")
    pr_repo.report("--base", "main")
    md = pr_repo.markdown
    assert f"`{pr_repo.raw}` (changed)" in md
    rows = len(lines) - 1
    assert table_row(md, "rows")[1:] == [f"{rows:,}", f"{rows + 20:,}"]
    base_md5, head_md5 = table_row(md, "md5")[1:]
    assert base_md5 != head_md5


def test_added_and_removed_metrics(pr_repo) -> None:
    metrics = base_metrics(mcc=0.41)
    del metrics["brier"]
    pr_repo.write("metrics/metrics.json", metrics)
    pr_repo.commit("add mcc, drop brier")
    pr_repo.report("--base", "main")
    md = pr_repo.markdown
    assert table_row(md, "`mcc`")[1:3] == ["—", "0.4100"]
    assert "new" in table_row(md, "`mcc`")[5]
    assert table_row(md, "`brier`")[1:3] == ["0.1610", "—"]
    assert "removed" in table_row(md, "`brier`")[5]


def test_first_pull_request_with_no_base_metrics(pr_repo) -> None:
    git(pr_repo.path, "checkout", "-q", "--orphan", "fresh")
    git(pr_repo.path, "rm", "-rq", "--cached", "metrics", "plots", "reports")
    git(pr_repo.path, "commit", "-qm", "template without results")
    git(pr_repo.path, "checkout", "-q", "-b", "first-pr")
    git(pr_repo.path, "add", "-A")
    pr_repo.commit("first repro")
    done = pr_repo.report("--base", "fresh")
    assert done.returncode == 0, done.stderr
    row = table_row(pr_repo.markdown, "`roc_auc`")
    assert row[1:3] == ["—", "0.8400"]
    assert "new" in row[5]
    assert "✅ **Gates pass**" in pr_repo.markdown


def test_shallow_clone_says_to_fetch_full_history(pr_repo, tmp_path) -> None:
    pr_repo.write("metrics/metrics.json", base_metrics(roc_auc=0.85))
    pr_repo.commit("better")
    shallow = tmp_path / "shallow"
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "pr",
        f"file://{pr_repo.path}",
        str(shallow),
    )
    pr_repo.path, original = shallow, pr_repo.path
    try:
        done = pr_repo.report("--base", "origin/main", process=True)
    finally:
        pr_repo.path = original
    assert done.returncode == 2
    assert "shallow clone" in done.stderr
    assert "fetch-depth: 0" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_marker_pr_number_from_the_github_event_and_step_summary(pr_repo, tmp_path) -> None:
    pr_repo.write("metrics/metrics.json", base_metrics(roc_auc=0.85))
    pr_repo.commit("better")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 42, "pull_request": {"number": 42}}))
    summary = tmp_path / "summary.md"
    done = pr_repo.report(
        "--base",
        "main",
        env={
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/tabular",
            "GITHUB_RUN_ID": "7",
        },
    )
    assert done.returncode == 0, done.stderr
    md = pr_repo.markdown
    assert md.startswith("<!-- tabular-mlops:pr-report pr=42 -->")
    assert "https://github.com/acme/tabular/actions/runs/7" in md
    assert summary.read_text().strip() == md.strip()


def test_plots_render_inline_as_mermaid_and_as_dvc_html(pr_repo) -> None:
    pr_repo.write("plots/roc.json", roc(lift=0.05))
    pr_repo.commit("better curve")
    done = pr_repo.report("--base", "main", "--plots-html", "reports/plots")
    assert done.returncode == 0, done.stderr
    html = (pr_repo.path / "reports/plots/index.html").read_text()
    assert "ROC" in html
    md = pr_repo.markdown
    chart = md.split("```mermaid", 1)[1].split("```", 1)[0]
    assert 'title "ROC — base (blue) vs head (orange)"' in chart
    assert chart.count("line [") == 2
    assert "Lines: 🟦 base (blue) · 🟧 head (orange)." in md


def test_unknown_base_revision_is_a_clear_error(pr_repo) -> None:
    done = pr_repo.report("--base", "no-such-branch")
    assert done.returncode == 2
    assert "base 'no-such-branch' is not a known git revision" in done.stderr


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_another_tasks_plots_render_and_dvc_loads_every_file(pr_repo, task) -> None:
    """evaluate writes every file dvc.yaml defines (another task's empty): DVC loads them all
    without a warning, and the report draws only the task's plots."""
    rng = np.random.default_rng(0)
    actual = rng.normal(10.0, 2.0, size=300)
    if task == "regression":
        rows = regression_rows(actual, actual + rng.normal(scale=0.5, size=300))
    else:
        codes = rng.integers(0, 3, size=300)
        rows = {"confusion": confusion_rows(codes, (codes + (actual > 12)) % 3, ("a", "b", "c"))}
    for name in ALL_PLOTS:
        pr_repo.write(f"plots/{name}.json", rows.get(name, []))
    pr_repo.commit(f"a {task} run")
    done = pr_repo.report("--base", "main", "--plots-html", "reports/plots")
    assert done.returncode == 0, done.stderr
    titles = {
        line.removeprefix("#### ")
        for line in pr_repo.markdown.splitlines()
        if line.startswith("#### ")
    }
    expected = {
        "regression": {"Predicted vs actual", "Residuals"},
        "multiclass": {"Confusion matrix"},
    }
    assert titles - {"ROC"} == expected[task]  # ROC: the base is a binary run's
    shown = subprocess.run(
        [str(BIN / "dvc"), "plots", "show", "--json"],
        cwd=pr_repo.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "failed to load" not in shown.stderr + shown.stdout
