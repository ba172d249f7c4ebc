from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.pipeline import Pipeline

from tabular_mlops.core.params import (
    HistGradientBoostingParams,
    LinearParams,
    Params,
    PrepareParams,
    RandomForestParams,
    TrainParams,
    parse,
)
from tabular_mlops.core.task import Task, is_classification, model_scores
from tabular_mlops.stages.prepare import clean, split
from tabular_mlops.stages.train import build_pipeline, fit

from ..support import (
    TASKS,
    assert_task_scores,
    load_params_at_root,
    synthetic_params,
    synthetic_raw,
)

PARAMS = load_params_at_root()
FAMILIES = ("random_forest", "hist_gradient_boosting", "linear")


def small(family: str, task: Task, seed: int = 42) -> TrainParams:
    """Quick settings of one family, with class weights only where the task has classes."""
    weight = "balanced" if is_classification(task) else None
    blocks = {
        "random_forest": RandomForestParams(
            n_estimators=20, max_depth=None, min_samples_leaf=1, class_weight=weight
        ),
        "hist_gradient_boosting": HistGradientBoostingParams(
            max_iter=20, max_depth=None, min_samples_leaf=5, learning_rate=0.1, class_weight=weight
        ),
        "linear": LinearParams(alpha=1.0, class_weight=weight),
    }
    return TrainParams(model=family, seed=seed, **{family: blocks[family]})  # type: ignore[arg-type]


@pytest.fixture
def train_frame(sample_frame, params):
    return clean(sample_frame, params.data)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_model_family_fits_and_scores_as_the_task_does(train_frame, params, family) -> None:
    data = params.data
    model = fit(train_frame, data, small(family, data.task))
    assert isinstance(model, Pipeline)
    rows = train_frame.drop(columns=[data.target])
    assert_task_scores(
        model_scores(model, rows, data.task), len(rows), data.task, len(data.classes)
    )


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("family", FAMILIES)
def test_train_builds_the_classifier_or_regressor_of_each_family(task, family) -> None:
    data = parse(synthetic_params(task), Params).data
    train, test = split(clean(synthetic_raw(task), data), data, PrepareParams(0.2, 42))
    model = fit(train, data, small(family, task))
    estimator = model.named_steps["classifier"]
    assert is_classifier(estimator) if is_classification(task) else is_regressor(estimator)
    scores = model_scores(model, test.drop(columns=[data.target]), task)
    assert_task_scores(scores, len(test), task, len(data.classes))
    if task == "regression":
        error = np.sqrt(np.mean((scores - test[data.target].to_numpy()) ** 2))
        assert error < test[data.target].std(), "no better than predicting the mean"


def test_hyper_parameters_reach_the_estimator(params) -> None:
    chosen = RandomForestParams(n_estimators=17, max_depth=3, min_samples_leaf=2)
    settings = TrainParams(model="random_forest", seed=5, random_forest=chosen)
    data = params.data
    pipeline = build_pipeline(data.numeric, data.categorical, settings, data.task)
    estimator = pipeline.named_steps["classifier"]
    assert (estimator.n_estimators, estimator.max_depth, estimator.min_samples_leaf) == (17, 3, 2)
    assert estimator.random_state == 5


def test_features_come_from_the_prepared_split(train_frame, params) -> None:
    model = fit(train_frame, params.data, small("random_forest", params.data.task))
    selected = {
        name: list(columns) for name, _, columns in model.named_steps["features"].transformers_
    }
    assert selected["numeric"] == list(params.data.numeric)
    assert selected["categorical"] == list(params.data.categorical)


@pytest.mark.parametrize(
    ("numeric", "categorical"),
    [(PARAMS.data.numeric[:1], PARAMS.data.categorical[:1])]
    if PARAMS.data.numeric and PARAMS.data.categorical
    else [],
)
def test_model_carries_its_preprocessing(train_frame, params, numeric, categorical) -> None:
    """Raw-typed rows with missing numbers and unseen categories score without a separate step."""
    task = params.data.task
    model = fit(train_frame, params.data, small("random_forest", task))
    rows = train_frame.drop(columns=[params.data.target]).head(3).copy()
    rows.loc[rows.index[0], numeric[0]] = np.nan
    rows.loc[rows.index[1], categorical[0]] = "a value never seen in training"
    assert np.isfinite(model_scores(model, rows, task)).all()


def test_id_and_unknown_columns_do_not_change_predictions(train_frame, params) -> None:
    task = params.data.task
    model = fit(train_frame, params.data, small("random_forest", task))
    rows = train_frame.drop(columns=[params.data.target])
    changed = rows.assign(unused="x")
    if params.data.id_column is not None:
        changed[params.data.id_column] = [f"other-{i}" for i in range(len(changed))]
    np.testing.assert_allclose(
        model_scores(model, rows, task), model_scores(model, changed, task), atol=1e-12
    )


def test_same_seed_same_model(train_frame, params) -> None:
    settings = small("random_forest", params.data.task)
    rows = train_frame.drop(columns=[params.data.target])
    task = params.data.task
    first = model_scores(fit(train_frame, params.data, settings), rows, task)
    second = model_scores(fit(train_frame, params.data, settings), rows, task)
    np.testing.assert_allclose(first, second, atol=1e-12)
    other = model_scores(fit(train_frame, params.data, replace(settings, seed=7)), rows, task)
    assert not np.allclose(first, other)
