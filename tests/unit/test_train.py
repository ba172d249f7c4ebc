from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from tabular_mlops.stages.prepare import clean
from tabular_mlops.stages.train import build_pipeline, fit

from ..support import load_params_at_root

PARAMS = load_params_at_root()


@pytest.fixture
def train_frame(sample_frame, params):
    return clean(sample_frame, params.data)


@pytest.mark.parametrize("kind", ["random_forest", "hist_gradient_boosting", "logistic_regression"])
def test_every_model_kind_fits_and_gives_probabilities(train_frame, params, kind) -> None:
    settings = replace(params.train, model=kind, n_estimators=20)
    model = fit(train_frame, params.data, settings)
    assert isinstance(model, Pipeline)
    proba = model.predict_proba(train_frame.drop(columns=[params.data.target]))
    assert proba.shape == (len(train_frame), 2)
    assert np.all((proba >= 0) & (proba <= 1))


def test_hyper_parameters_reach_the_estimator(params) -> None:
    settings = replace(params.train, n_estimators=17, max_depth=3)
    data = params.data
    estimator = build_pipeline(data.numeric, data.categorical, settings).named_steps["classifier"]
    assert (estimator.n_estimators, estimator.max_depth) == (17, 3)


def test_features_come_from_the_prepared_split(train_frame, params) -> None:
    model = fit(train_frame, params.data, replace(params.train, n_estimators=5))
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
    model = fit(train_frame, params.data, replace(params.train, n_estimators=20))
    rows = train_frame.drop(columns=[params.data.target]).head(3).copy()
    rows.loc[rows.index[0], numeric[0]] = np.nan
    rows.loc[rows.index[1], categorical[0]] = "a value never seen in training"
    proba = model.predict_proba(rows)[:, 1]
    assert np.isfinite(proba).all()


def test_id_and_unknown_columns_do_not_change_predictions(train_frame, params) -> None:
    model = fit(train_frame, params.data, replace(params.train, n_estimators=20))
    rows = train_frame.drop(columns=[params.data.target])
    changed = rows.assign(unused="x")
    if params.data.id_column is not None:
        changed[params.data.id_column] = [f"other-{i}" for i in range(len(changed))]
    np.testing.assert_allclose(model.predict_proba(rows), model.predict_proba(changed), atol=1e-12)


def test_same_seed_same_model(train_frame, params) -> None:
    settings = replace(params.train, n_estimators=20)
    rows = train_frame.drop(columns=[params.data.target])
    first = fit(train_frame, params.data, settings).predict_proba(rows)
    second = fit(train_frame, params.data, settings).predict_proba(rows)
    np.testing.assert_allclose(first, second, atol=1e-12)
