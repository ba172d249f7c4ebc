"""The evaluate stage for every task, on tiny synthetic splits: the task's metric names for the
model, the baseline and each slice, what each task adds to metrics.json, and its plot files."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.task import METRICS, TASKS, Task, model_scores
from tabular_mlops.stages.evaluate import evaluate_all, overall
from tabular_mlops.stages.evaluate_plots import (
    ALL_PLOTS,
    PLOTS,
    SCATTER_POINTS,
    feature_importance,
    regression_rows,
)
from tests.unit.task_frames import EVALUATE, Case, case

ROOT = Path(__file__).resolve().parents[2]


@cache
def evaluated(task: Task) -> tuple[Case, dict, dict, dict]:
    fitted = case(task)
    return fitted, *evaluate_all(fitted.model, fitted.train, fitted.test, fitted.data, EVALUATE)


@pytest.mark.parametrize("task", TASKS)
def test_model_and_baseline_carry_the_tasks_metric_names(task: Task) -> None:
    _, metrics, _, _ = evaluated(task)
    assert set(metrics["baseline"]) == set(METRICS[task])
    assert set(METRICS[task]) <= set(metrics)
    assert all(isinstance(metrics[name], float) for name in METRICS[task])
    others = {name for t in TASKS if t != task for name in METRICS[t]} - set(METRICS[task])
    assert not others & set(metrics), "no other task's metric"
    assert metrics["test_rows"] == 200


@pytest.mark.parametrize("task", TASKS)
def test_the_model_beats_its_dummy_baseline(task: Task) -> None:
    _, metrics, _, _ = evaluated(task)
    primary = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}[task]
    better = metrics[primary] < metrics["baseline"][primary]
    assert better if task == "regression" else not better


def test_binary_adds_what_it_always_wrote() -> None:
    _, metrics, _, _ = evaluated("binary")
    assert set(metrics) == {
        *METRICS["binary"],
        "baseline",
        "test_rows",
        "test_positive_rate",
        "confusion",
    }
    assert sum(metrics["confusion"].values()) == 200
    assert metrics["baseline"]["roc_auc"] == 0.5


def test_multiclass_adds_precision_recall_and_support_per_label() -> None:
    fitted, metrics, _, _ = evaluated("multiclass")
    per_class = metrics["per_class"]
    assert list(per_class) == list(fitted.data.class_names)
    assert all(set(row) == {"precision", "recall", "support"} for row in per_class.values())
    assert sum(row["support"] for row in per_class.values()) == 200
    assert "test_positive_rate" not in metrics and "confusion" not in metrics


def test_regression_adds_the_test_targets_mean_and_spread() -> None:
    fitted, metrics, _, _ = evaluated("regression")
    y = fitted.test["target"]
    assert metrics["test_target_mean"] == round(float(y.mean()), 6)
    assert metrics["test_target_std"] == round(float(y.std()), 6)
    assert abs(metrics["baseline"]["r2"]) < 0.1  # the training mean: no better than the mean
    assert "per_class" not in metrics


@pytest.mark.parametrize("task", TASKS)
def test_slices_score_the_tasks_metrics(task: Task) -> None:
    _, _, slices, _ = evaluated(task)
    assert set(slices["slices"]) == {"plan", "signal"}
    for values in slices["slices"].values():
        for row in values.values():
            assert set(row) == {"rows", *METRICS[task]}
    assert sum(row["rows"] for row in slices["slices"]["plan"].values()) == 200


@pytest.mark.parametrize("task", TASKS)
def test_every_defined_plot_file_is_written_and_only_the_tasks_are_filled(task: Task) -> None:
    _, _, _, plots = evaluated(task)
    assert set(plots) == set(ALL_PLOTS)
    assert {name for name, rows in plots.items() if rows} == set(PLOTS[task])


def test_dvc_yaml_defines_exactly_the_plot_files_evaluate_writes() -> None:
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    files = {
        Path(path).stem
        for definition in pipeline["plots"]
        for spec in definition.values()
        for path in spec["y"]
    }
    assert files == set(ALL_PLOTS)


def test_multiclass_plots_name_every_label() -> None:
    fitted, _, _, plots = evaluated("multiclass")
    names = set(fitted.data.class_names)
    assert len(plots["confusion"]) == 200
    assert {row["actual"] for row in plots["confusion"]} == names
    assert {row["predicted"] for row in plots["confusion"]} <= names
    for row in plots["calibration"]:
        assert set(row) == {"mean_predicted", "fraction_positive"}
        assert 1 / len(names) <= row["mean_predicted"] <= 1 and 0 <= row["fraction_positive"] <= 1


def test_regression_plots_pair_actual_predicted_and_residual() -> None:
    fitted, _, _, plots = evaluated("regression")
    actual = sorted(fitted.test["target"].round(6))
    assert [row["actual"] for row in plots["predicted_actual"]] == actual
    for pair, residual in zip(plots["predicted_actual"], plots["residuals"], strict=True):
        assert residual["predicted"] == pair["predicted"]
        assert residual["residual"] == pytest.approx(pair["actual"] - pair["predicted"], abs=1e-5)


def test_regression_scatters_are_thinned_keeping_the_extremes() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=5000)
    rows = regression_rows(y, y + rng.normal(scale=0.1, size=5000))
    assert len(rows["predicted_actual"]) == len(rows["residuals"]) == SCATTER_POINTS
    actual = [row["actual"] for row in rows["predicted_actual"]]
    assert actual == sorted(actual)
    assert (actual[0], actual[-1]) == (round(y.min(), 6), round(y.max(), 6))


@pytest.mark.parametrize(("task", "scoring"), [("multiclass", "accuracy"), ("regression", "r2")])
def test_permutation_importance_is_sklearns_on_the_primary_metric(task: Task, scoring: str) -> None:
    from sklearn.inspection import permutation_importance

    fitted = case(task, trees=10)
    x = fitted.test[["signal", "noise", "plan"]]
    y = fitted.test["target"].to_numpy()
    params = dataclasses.replace(EVALUATE, importance_repeats=3, seed=7)
    expected = permutation_importance(
        fitted.model, x, y, scoring=scoring, n_repeats=3, random_state=7
    )
    rows = {row["feature"]: row for row in feature_importance(fitted.model, x, y, params, task)}
    for name, mean in zip(x.columns, expected.importances_mean, strict=True):
        assert rows[name]["importance"] == pytest.approx(round(float(mean), 6), abs=1e-6)
    assert max(rows, key=lambda name: rows[name]["importance"]) == "signal"


def test_multiclass_scores_missing_a_label_are_one_clear_error() -> None:
    fitted = case("multiclass", trees=5)
    train = fitted.train[fitted.train["target"] != 2]
    scores = model_scores(fitted.model, fitted.test.drop(columns=["target"]), "multiclass")
    with pytest.raises(
        PipelineError, match=r"the baseline scores 2 classes but data\.labels lists 3"
    ):
        overall(scores, train, fitted.test, fitted.data, EVALUATE)
