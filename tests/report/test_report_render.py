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
