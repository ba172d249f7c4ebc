"""The compiled fast path of every model family for every task, on tiny synthetic data: it
compiles, it reproduces the pipeline's own scores (rows one at a time and in batches, with missing
values and unknown categories), and anything it does not know is served by the pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.core.task import model_scores
from tabular_mlops.serving.compiled import TOLERANCE, compile_checked
from tabular_mlops.serving.model import ServedModel
from tests.serve.synthetic import CASES, columns, fitted, frame


def unseen_rows(x: pd.DataFrame) -> pd.DataFrame:
    """Rows the model never saw: unknown categories, missing values where the data has them."""
    rows = x.head(20).copy()
    rows.loc[rows.index[::2], "cat_a"] = "never-seen"
    rows.loc[rows.index[1::3], "num_gappy"] = np.nan
    rows.loc[rows.index[::4], "cat_gappy"] = None
    return rows


@pytest.mark.parametrize(("task", "family"), CASES)
def test_every_family_compiles_and_reproduces_its_pipeline(task, family) -> None:
    pipeline, x, features = fitted(task, family)
    compiled = compile_checked(pipeline, features, task)
    assert compiled is not None, f"{family} for {task} did not compile"
    fresh, _ = frame(task, rows=150, seed=1)
    for rows in (fresh, unseen_rows(x)):
        expected = model_scores(pipeline, rows, task)
        given = columns(rows)
        batch = compiled.predict(given)
        single = np.concatenate(
            [compiled.predict({k: v[i : i + 1] for k, v in given.items()}) for i in range(20)]
        )
        assert batch.shape == expected.shape
        np.testing.assert_allclose(batch, expected, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_allclose(single, expected[:20], rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_scores_have_the_task_shape(task) -> None:
    pipeline, x, features = fitted(task, "random_forest")
    scores = compile_checked(pipeline, features, task).predict(columns(x.head(7)))
    if task == "multiclass":
        assert scores.shape == (7, 4)
        np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    else:
        assert scores.shape == (7,)
        assert np.isfinite(scores).all()


@pytest.mark.parametrize(("task", "family"), CASES[::4])
def test_a_model_of_another_task_does_not_compile(task, family) -> None:
    pipeline, _, features = fitted(task, family)
    other = "regression" if task != "regression" else "binary"
    assert compile_checked(pipeline, features, other) is None


def test_an_unknown_estimator_is_served_through_the_pipeline_itself() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    pipeline, x, features = fitted("multiclass", "linear")
    pipeline.steps[-1] = ("classifier", KNeighborsClassifier(3))
    _, y = frame("multiclass")
    pipeline.fit(x, y)
    assert compile_checked(pipeline, features, "multiclass") is None
    served = ServedModel(
        pipeline=pipeline, features=features, info={"model_version": "x"}, task="multiclass"
    )
    expected = model_scores(pipeline, x, "multiclass")
    np.testing.assert_array_equal(served.predict(columns(x)), expected)


def test_a_pipeline_that_disagrees_at_load_is_not_compiled(monkeypatch) -> None:
    from tabular_mlops.serving import compiled_linear

    pipeline, _, features = fitted("regression", "linear")
    real = compiled_linear.CompiledLinear.scores
    monkeypatch.setattr(
        compiled_linear.CompiledLinear, "scores", lambda self, f: real(self, f) * (1 + 1e-9)
    )
    assert compile_checked(pipeline, features, "regression") is None
