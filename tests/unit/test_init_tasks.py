"""`make init` per task: what a multiclass and a regression target draft, that the draft loads,
and the one-line refusals of a target the task cannot learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import Params, load_params, parse
from tabular_mlops.core.task import METRICS
from tabular_mlops.init.render import render

from .test_init import drafted, frame, run_init


def task_frame(task: str, rows: int = 300) -> pd.DataFrame:
    """`frame()` with the target `left` made a three-label or a numeric one that follows price."""
    data = frame(rows)
    if task == "multiclass":
        data["left"] = pd.cut(data["price"], [-np.inf, 45, 55, np.inf], labels=["lo", "mid", "hi"])
        data["left"] = data["left"].astype(str)
    elif task == "regression":
        data["left"] = (data["price"] * 3 + np.arange(rows) % 7).round(2)
    return data


def loaded(d) -> Params:
    """The rendered draft as load_params reads it, with every cross-section check."""
    from tabular_mlops.core.consistency import first_inconsistency

    params = parse(yaml.safe_load(render(d)), Params)
    assert first_inconsistency(params) is None
    return params


def test_multiclass_draft_lists_sorted_labels_and_a_share_for_each() -> None:
    d = drafted(task_frame("multiclass"))
    assert d.task == "multiclass"
    assert d.labels == ("hi", "lo", "mid") and d.positive_label is None
    assert set(d.class_shares) == set(d.labels)
    assert all(0 < low < high < 1 for low, high in d.class_shares.values())
    assert d.bands and next(iter(d.bands)) == "price"
    params = loaded(d)
    assert params.data.classes == ("hi", "lo", "mid")
    assert set(params.gates.metrics) == set(METRICS["multiclass"])
    assert params.gates.metrics["roc_auc_ovr"].floor == 0.5 + d.baseline_margin["roc_auc_ovr"]
    assert params.evaluate.threshold is None
    assert params.train.chosen.class_weight == "balanced"
    text = render(d)
    behaviour = yaml.safe_load(text)["behaviour"]
    assert "positive_label: null" in text and "monotonic" not in behaviour


def test_regression_draft_has_a_target_range_and_floors_from_its_spread() -> None:
    data = task_frame("regression")
    d = drafted(data)
    assert d.task == "regression" and d.labels is None and d.class_shares == {}
    low, high = d.target_range
    assert low <= data["left"].min() and high >= data["left"].max()
    std = data["left"].std(ddof=0)
    assert d.gate_floors["rmse"] < std and d.gate_floors["rmse"] >= 0.9 * std
    assert d.gate_floors["r2"] > 0
    assert d.baseline_margin["rmse"] > 0 and d.baseline_margin["r2"] > 0
    assert next(iter(d.bands)) == "price"
    params = loaded(d)
    assert params.data.target_range == d.target_range
    assert set(params.gates.metrics) == set(METRICS["regression"])
    assert params.evaluate.threshold is None and params.validate.class_shares == {}
    assert all(
        getattr(params.train, family).class_weight is None
        for family in ("random_forest", "hist_gradient_boosting", "linear")
    )
    text = render(d)
    raw = yaml.safe_load(text)
    assert "threshold" not in raw["evaluate"] and "class_weight:" not in text
    assert "expect_between" in text


def test_task_override_drafts_a_few_whole_numbers_as_a_regression() -> None:
    data = frame().assign(left=lambda f: f["age"] % 5)
    assert drafted(data).task == "multiclass"
    d = drafted(data, task="regression")
    assert d.task == "regression" and d.target_range[0] == 0


@pytest.mark.parametrize(
    ("task", "edit", "message"),
    [
        (
            "regression",
            lambda f: f.assign(left=f["active"]),
            "TASK=regression but target 'left' holds true/false, not numbers",
        ),
        (
            None,
            lambda f: f.assign(left=["a"] * 3 + ["b"] * 100 + ["c"] * (len(f) - 103)),
            "target 'left': label 'a' has 3 row(s); each label needs at least 5 so the 20% "
            "test split holds one (drop those rows or merge the label into another)",
        ),
        (
            None,
            lambda f: f.assign(left=["a"] + ["b"] * 100 + ["c"] * (len(f) - 101)),
            "label 'a' has 1 row(s)",
        ),
        ("multiclass", lambda f: f, "TASK=multiclass but target 'left' has 2 distinct values"),
        ("binary", lambda f: f.assign(left=f["colour"]), "TASK=binary but target 'left' has 3"),
        (
            "multiclass",
            lambda f: f.assign(left=f["age"] + 0.5),
            "target 'left' holds fractions (e.g. ",
        ),
    ],
    ids=[
        "regression-bool",
        "rare-label",
        "single-row-label",
        "two-labels",
        "three-for-binary",
        "fractions",
    ],
)
def test_a_target_the_task_cannot_learn_is_one_line(task, edit, message) -> None:
    with pytest.raises(PipelineError) as caught:
        drafted(edit(frame()), task=task)
    text = str(caught.value)
    assert text.startswith("data.csv: ") and message in text and "\n" not in text


def test_positive_applies_to_binary_only() -> None:
    with pytest.raises(PipelineError, match="POSITIVE= applies to a binary target"):
        drafted(task_frame("multiclass"), positive="lo")


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_init_writes_a_loadable_params_for_every_task(tmp_path: Path, task: str) -> None:
    csv = tmp_path / f"{task}.csv"
    task_frame(task).to_csv(csv, index=False)
    result = run_init(tmp_path, "--csv", str(csv), "--target", "left")
    assert result.returncode == 0, result.stderr
    assert f"task: {task} (target 'left'" in result.stdout
    summary = "labels: 3 (majority" if task == "multiclass" else "target: numbers from"
    assert summary in result.stdout
    params = load_params(tmp_path / "params.yaml")
    assert params.data.task == task
