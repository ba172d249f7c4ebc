"""The pure core of the report: layout pinned by a golden file, size limit, verdicts.

The inputs are made up here with neutral names (a `segment` slice column, `positive` and
`negative` labels): the report's layout does not depend on any dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tabular_mlops.core.gates import MetricGate
from tabular_mlops.reporting.render import GITHUB_COMMENT_LIMIT, render
from tabular_mlops.reporting.rows import DataSide, ReportInputs, build_report

GOLDEN = Path(__file__).parent / "golden" / "pr-report.md"
RULES = {
    "roc_auc": MetricGate("higher", floor=0.75, abs_tolerance=0.01),
    "log_loss": MetricGate("lower", floor=0.6, abs_tolerance=0.02),
}


def sample_inputs(**overrides) -> ReportInputs:
    values = dict(
        base="main (1a2b3c4d)",
        head="5e6f7a8b",
        metrics={
            "metrics/metrics.json": {
                "roc_auc": {"old": 0.84, "new": 0.82},
                "log_loss": {"old": 0.48, "new": 0.47},
                "f1": {"old": 0.63, "new": 0.64},
                "mcc": {"new": 0.41},
                "baseline.roc_auc": {"old": 0.5, "new": 0.5},
            },
            "metrics/slices.json": {
                "slices.segment.B.roc_auc": {"old": 0.80, "new": 0.70},
                "slices.segment.A.roc_auc": {"old": 0.78, "new": 0.785},
            },
            "reports/validation.json": {"evaluated": {"old": 40, "new": 40}},
        },
        params={"params.yaml": {"train.n_estimators": {"old": 300, "new": 50}}},
        plots={
            "ROC": {
                "x": "fpr",
                "y": "tpr",
                "template": "simple",
                "base": [{"fpr": 0, "tpr": 0}, {"fpr": 1, "tpr": 1}],
                "head": [{"fpr": 0, "tpr": 0}, {"fpr": 0.5, "tpr": 0.8}, {"fpr": 1, "tpr": 1}],
            },
            "Confusion matrix": {
                "x": "predicted",
                "y": "actual",
                "template": "confusion",
                "base": [{"actual": "positive", "predicted": "positive"}],
                "head": [{"actual": "positive", "predicted": "negative"}],
            },
        },
        data={"data/raw/records.csv": (DataSide(7043, "aaaa" * 8), DataSide(7100, "bbbb" * 8))},
        validation={"success": True, "evaluated": 40, "passed": 40, "failed": 0},
        promotion=None,
        pr_number=12,
        links={"Workflow run": "https://github.com/acme/tabular/actions/runs/7"},
    )
    values.update(overrides)
    return ReportInputs(**values)


def test_layout_matches_the_golden_file() -> None:
    text = render(build_report(sample_inputs(), RULES, "reports/validation.json"))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_verdict_follows_the_gates() -> None:
    report = build_report(sample_inputs(), RULES, "reports/validation.json")
    assert report.failed
    assert "`roc_auc`" in report.verdict and "`slices.segment.B.roc_auc`" in report.verdict
    calm = sample_inputs(metrics={"m.json": {"roc_auc": {"old": 0.84, "new": 0.835}}})
    assert not build_report(calm, RULES).failed


def test_validation_failure_wins_the_verdict() -> None:
    inputs = sample_inputs(validation={"success": False, "failed": 2, "failures": []})
    report = build_report(inputs, RULES)
    assert report.failed
    assert report.verdict.startswith("⛔ **Validation failed**")


def test_validation_counts_are_not_model_metrics() -> None:
    report = build_report(sample_inputs(), RULES, "reports/validation.json")
    assert "evaluated" not in {row.name for row in report.metrics}


def test_an_oversized_report_is_shortened_never_rejected() -> None:
    huge = {f"train.p{i}": {"old": "x" * 200, "new": "y" * 200} for i in range(1000)}
    inputs = sample_inputs(params={"params.yaml": huge})
    text = render(build_report(inputs, RULES))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert text.startswith("<!-- tabular-mlops:pr-report pr=12 -->")
    assert "Left out to fit GitHub's comment limit" in text
    assert "| `roc_auc` |" in text, "the metrics table survives shortening"


def test_even_a_huge_metrics_table_is_cut_to_the_limit() -> None:
    metrics = {"m.json": {f"metric_{i:05d}": {"old": i, "new": i + 1} for i in range(5000)}}
    text = render(build_report(sample_inputs(metrics=metrics), RULES))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert text.rstrip().endswith("comment limit._")


def test_no_pr_number_is_said_in_the_marker() -> None:
    text = render(build_report(sample_inputs(pr_number=None), RULES))
    assert text.startswith("<!-- tabular-mlops:pr-report pr=none -->")


def test_slices_are_judged_as_the_promotion_gate_judges_them() -> None:
    from tabular_mlops.core.gates import slice_rules_from_raw
    from tabular_mlops.reporting.rows import rows_from_diff

    raw = {
        "gates": {
            "metrics": {
                "roc_auc": {
                    "direction": "higher",
                    "floor": 0.8,
                    "abs_tolerance": 0.01,
                    "rel_tolerance": 0.0,
                },
                "brier": {
                    "direction": "lower",
                    "floor": 0.2,
                    "abs_tolerance": 0.0,
                    "rel_tolerance": 0.03,
                },
            },
            "slices": {"min_rows": 50, "floors": {"roc_auc": 0.6}, "abs_tolerance": 0.05},
        }
    }
    slice_rules = slice_rules_from_raw(raw)
    rules = {name: slice_rules.gates[name] for name in ("roc_auc",)}
    diff = {
        "metrics/slices.json": {
            "slices.segment.A.rows": {"old": 300, "new": 300},
            "slices.segment.A.roc_auc": {"old": 0.80, "new": 0.77},
            "slices.segment.A.brier": {"old": 0.10, "new": 0.20},
            "slices.segment.B.rows": {"old": 300, "new": 300},
            "slices.segment.B.roc_auc": {"old": 0.80, "new": 0.70},
            "slices.band.tiny.rows": {"old": 20, "new": 20},
            "slices.band.tiny.roc_auc": {"old": 0.90, "new": 0.40},
        }
    }
    _, slices = rows_from_diff(diff, rules, slice_rules=slice_rules)
    judged = {row.name: row.regressed or row.below_floor for row in slices if row.rule}
    assert judged == {
        "slices.segment.A.roc_auc": False,  # 0.03 worse: within the slice tolerance
        "slices.segment.B.roc_auc": True,  # 0.10 worse: beyond it
    }


def test_a_slice_floor_for_a_metric_without_a_gate_is_a_clear_error() -> None:
    from tabular_mlops.core.errors import PipelineError
    from tabular_mlops.core.gates import slice_rules_from_raw

    raw = {
        "gates": {
            "metrics": {
                "roc_auc": {
                    "direction": "higher",
                    "floor": 0.8,
                    "abs_tolerance": 0.0,
                    "rel_tolerance": 0.0,
                }
            },
            "slices": {"min_rows": 1, "floors": {"auc_typo": 0.6}, "abs_tolerance": 0.05},
        }
    }
    with pytest.raises(PipelineError, match=r"gates\.slices\.floors\.auc_typo"):
        slice_rules_from_raw(raw)


def plot_inputs(plots: dict, metrics: dict) -> ReportInputs:
    return sample_inputs(metrics={"metrics/metrics.json": metrics}, plots=plots)


def confusion(pairs: dict[tuple[str, str], int]) -> list[dict[str, str]]:
    return [{"actual": a, "predicted": p} for (a, p), n in pairs.items() for _ in range(n)]


def test_a_multiclass_confusion_is_a_full_matrix_with_its_moves() -> None:
    labels = ("low", "mid", "high")
    base = {(a, p): 5 if a == p else 1 for a in labels for p in labels}
    head = base | {("mid", "mid"): 6, ("mid", "low"): 0}
    spec = {"x": "predicted", "y": "actual", "template": "confusion"}
    plots = {"Confusion matrix": spec | {"base": confusion(base), "head": confusion(head)}}
    metrics = {
        "accuracy": {"old": 0.71, "new": 0.73},
        "per_class.mid.recall": {"old": 0.7, "new": 0.8},
    }
    rules = {"accuracy": MetricGate("higher", floor=0.6, abs_tolerance=0.01)}
    text = render(build_report(plot_inputs(plots, metrics), rules))
    assert "| actual ↓ predicted → | high | low | mid |" in text
    assert "| mid | 1 | 1 → 0 | 5 → 6 |" in text
    assert "| high | 5 | 1 | 1 |" in text
    assert "| `per_class.mid.recall` | 0.7000 | 0.8000 |" in text
    assert "✅ **Gates pass**" in text


def test_many_labels_list_the_changed_cells_then_the_mistakes() -> None:
    labels = [f"class{i:02d}" for i in range(20)]
    base = {(a, a): 10 for a in labels} | {("class05", "class05"): 8, ("class05", "class09"): 2}
    head = base | {("class03", "class03"): 4, ("class03", "class07"): 6}
    spec = {"x": "predicted", "y": "actual", "template": "confusion"}
    spec |= {"base": confusion(base), "head": confusion(head)}
    text = render(build_report(plot_inputs({"Confusion matrix": spec}, {}), RULES))
    table = text.split("#### Confusion matrix", 1)[1].split("\n\n")[1].splitlines()
    assert table[2:] == [
        "| class03 | class03 | 10 | 4 |",
        "| class03 | class07 | 0 | 6 |",
        "| class05 | class09 | 2 | 2 |",
    ]
    assert "20 labels: the cells that changed most, then the most frequent mistakes" in text


def scatter(points: list[tuple[float, float]], x: str, y: str) -> list[dict[str, float]]:
    return [{x: a, y: b} for a, b in points]


def test_regression_scatters_render_as_binned_means_and_quantiles() -> None:
    actual = [100.0 * i for i in range(1, 41)]
    base = [(a, a * 0.8 + 500) for a in actual]
    head = [(a, a * 0.95 + 100) for a in actual]
    plots = {
        "Predicted vs actual": {
            "x": "actual",
            "y": "predicted",
            "template": "scatter",
            "base": scatter(base, "actual", "predicted"),
            "head": scatter(head, "actual", "predicted"),
        },
        "Residuals": {
            "x": "predicted",
            "y": "residual",
            "template": "scatter",
            "base": scatter([(p, a - p) for a, p in base], "predicted", "residual"),
            "head": scatter([(p, a - p) for a, p in head], "predicted", "residual"),
        },
        "ROC": {"x": "fpr", "y": "tpr", "template": "simple", "base": [], "head": []},
    }
    metrics = {"rmse": {"old": 420.0, "new": 150.5}, "r2": {"old": 0.8, "new": 0.95}}
    rules = {"rmse": MetricGate("lower", floor=500.0, abs_tolerance=1.0)}
    text = render(build_report(plot_inputs(plots, metrics), rules))
    assert "#### ROC" not in text, "another task's empty plot is left out"
    assert 'title "Predicted vs actual — base (blue) vs head (orange)"' in text
    assert "🟧 head (orange): mean predicted per bin of actual." in text
    assert 'title "Residuals — base (blue) vs head (orange)"' in text
    assert "🟧 head (orange): mean residual per bin of predicted." in text
    assert text.count("```mermaid") == 2
    residuals = text.split("#### Residuals", 1)[1]
    assert "| residual | base | head |" in residuals
    assert "| median |" in residuals and "| p95 |" in residuals
    assert "| `rmse` | 420 | 150.5000 | -269.5000 | -64.17% | ↓ ✅ |" in text


def test_a_worse_rmse_is_a_regression() -> None:
    metrics = {"rmse": {"old": 150.0, "new": 160.0}}
    rules = {"rmse": MetricGate("lower", floor=500.0, abs_tolerance=1.0)}
    report = build_report(plot_inputs({}, metrics), rules)
    assert report.failed and "`rmse`" in report.verdict


def test_the_promotion_section_links_to_the_production_history() -> None:
    page = "https://mlflow.example.com/#/models/m"
    text = render(build_report(sample_inputs(history=page), RULES))
    section = text[text.index("### Champion / challenger") :]
    assert f"Production history (every champion change): [registry]({page})" in section
    promoted = {"decision": "promoted", "reason": "passed", "checks": [], "history": "make history"}
    text = render(build_report(sample_inputs(promotion=promoted), RULES))
    assert "Production history (every champion change): `make history`" in text
    assert "Production history" not in render(build_report(sample_inputs(), RULES))


def test_a_chart_with_one_side_draws_it_in_that_sides_colour() -> None:
    """Mermaid colours lines by their order: a chart without a base line still draws head in
    head's colour and says the base curve is missing; a quote in a title cannot end the string."""
    plots = {
        'Gain "lift"': {
            "x": "share",
            "y": "gain",
            "template": "simple",
            "base": [],
            "head": [{"share": 0, "gain": 0}, {"share": 1, "gain": 1}],
        }
    }
    text = render(build_report(plot_inputs(plots, {}), RULES))
    chart = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert '"plotColorPalette": "#E69F00"' in chart
    assert chart.count("  line [") == 1
    assert "title \"Gain 'lift' — head (orange)\"" in chart
    assert "Lines: 🟧 head (orange); no base curve." in text
