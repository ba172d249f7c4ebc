"""The promotion decision and its records, on plain values (the registry: tests/model)."""

from __future__ import annotations

from typing import Any

import pytest

from tabular_mlops.core.gates import Gates, MetricGate, Scores
from tabular_mlops.core.params import RandomForestParams, TrainParams
from tabular_mlops.core.task import DIRECTIONS, METRICS, PRIMARY, Task
from tabular_mlops.ct.promote import (
    decide,
    markdown,
    record,
    score_model,
    tag_key,
    version_tags,
)
from tabular_mlops.stages.train import fit
from tests.unit.task_frames import EVALUATE, case

GATES = Gates(metrics={"roc_auc": MetricGate("higher", floor=0.8, abs_tolerance=0.01)})


def scores(roc_auc: float) -> Scores:
    return Scores(metrics={"roc_auc": roc_auc, "baseline": {"roc_auc": 0.5}})


def test_first_model_that_meets_the_floors_bootstraps() -> None:
    decision = decide(GATES, scores(0.84), None, "1", None)
    assert decision.decision == "bootstrapped" and decision.moves_champion
    assert "no champion yet" in decision.reason


def test_first_model_below_a_floor_is_rejected_even_without_champion() -> None:
    decision = decide(GATES, scores(0.7), None, "1", None)
    assert decision.decision == "rejected" and not decision.moves_champion
    assert "no champion" in decision.reason and "roc_auc floor" in decision.reason


def test_a_challenger_within_tolerance_is_promoted() -> None:
    decision = decide(GATES, scores(0.835), scores(0.84), "3", "2")
    assert decision.decision == "promoted" and decision.moves_champion
    assert "replaces version 2" in decision.reason


def test_a_regression_beyond_tolerance_is_rejected_and_says_why() -> None:
    decision = decide(GATES, scores(0.82), scores(0.85), "3", "2")
    assert decision.decision == "rejected"
    assert [check.name for check in decision.failed] == ["roc_auc vs champion"]
    assert "version 2 stays champion" in decision.reason
    assert "worse by 0.0300, beyond tolerance 0.0100" in decision.reason


def test_the_champion_itself_is_left_unchanged() -> None:
    decision = decide(GATES, scores(0.84), scores(0.84), "2", "2")
    assert decision.decision == "unchanged" and not decision.checks


def test_record_markdown_and_tags_show_both_values() -> None:
    decision = decide(GATES, scores(0.82), scores(0.85), "3", "2")
    promotion = record(
        decision, "m", {"version": "3", "run_id": "r3"}, {"version": "2", "run_id": "r2"}, "now"
    )
    assert set(promotion) >= {"decision", "reason", "challenger", "champion", "checks"}
    assert set(promotion["checks"][0]) == {"name", "candidate", "champion", "passed", "detail"}
    text = markdown(promotion)
    assert "| roc_auc vs champion | 0.8200 | 0.8500 | ❌ worse by 0.0300" in text
    assert text.index("❌") < text.index("✅")  # failures first
    tags = version_tags(decision, "now", "2")
    assert tags["promotion.decision"] == "rejected"
    assert tags["promotion.compared_with"] == "2"
    assert tags["promotion.failed.roc_auc vs champion"].startswith("worse by 0.0300")


def test_tag_keys_keep_only_characters_mlflow_accepts() -> None:
    assert tag_key("promotion.failed.slice contract=Two year (x)") == (
        "promotion.failed.slice contract_Two year _x_"
    )


def stump_on_shuffled_targets(task: Task) -> Any:
    """A model that learnt nothing: one depth-one tree fitted to shuffled targets."""
    fitted = case(task)
    train = fitted.train.assign(
        target=fitted.train["target"].sample(frac=1.0, random_state=0).to_numpy()
    )
    stump = RandomForestParams(n_estimators=1, max_depth=1, min_samples_leaf=1)
    return fit(train, fitted.data, TrainParams("random_forest", 0, random_forest=stump))


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_promote_scores_and_judges_any_tasks_model(task: Task) -> None:
    """A model that learnt the signal bootstraps; one that learnt nothing is rejected against it,
    on the task's metrics and its margin over the baseline (for rmse: lower by the margin)."""
    good = case(task)
    margin_metric = "rmse" if task == "regression" else PRIMARY[task]
    gates = Gates(
        metrics={name: MetricGate(DIRECTIONS[name], abs_tolerance=0.01) for name in METRICS[task]},
        baseline_margin={margin_metric: 0.5 if task == "regression" else 0.1},
        slice_min_rows=10,
    )
    champion = score_model(good.model, good.train, good.test, good.data, EVALUATE)
    assert set(champion.metrics["baseline"]) == set(METRICS[task])
    for row in champion.slices["plan"].values():
        assert set(row) == {"rows", *METRICS[task]}
    assert decide(gates, champion, None, "1", None).decision == "bootstrapped"
    noise = stump_on_shuffled_targets(task)
    challenger = score_model(noise, good.train, good.test, good.data, EVALUATE)
    decision = decide(gates, challenger, champion, "2", "1")
    assert decision.decision == "rejected"
    failed = {check.name for check in decision.failed}
    assert {f"{PRIMARY[task]} vs champion", f"{margin_metric} vs baseline"} <= failed
