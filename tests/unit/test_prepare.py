from __future__ import annotations

import pandas as pd
import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.stages.prepare import clean, split


def test_clean_types_and_order(sample_frame, params) -> None:
    data = params.data
    out = clean(sample_frame, data)
    assert list(out.columns) == [data.id_column, *data.numeric, *data.categorical, data.target]
    assert all(out[c].dtype == "float64" for c in data.numeric)
    assert set(out[data.target].unique()) == {0, 1}
    assert out[data.target].sum() == (sample_frame[data.target] == "Yes").sum()


def test_blank_and_non_numeric_cells_become_missing(sample_frame, params) -> None:
    frame = sample_frame.astype({"total_charges": object, "monthly_charges": object})
    frame.loc[0, "total_charges"] = " "
    frame.loc[1, "monthly_charges"] = "n/a"
    out = clean(frame, params.data)
    assert out["total_charges"].isna()[0]
    assert out["monthly_charges"].isna()[1]


def test_categories_are_stripped(sample_frame, params) -> None:
    frame = sample_frame.copy()
    frame.loc[0, "contract"] = "  Two year "
    assert clean(frame, params.data).loc[0, "contract"] == "Two year"


def test_extra_columns_are_dropped(sample_frame, params) -> None:
    frame = sample_frame.assign(notes="free text")
    assert "notes" not in clean(frame, params.data).columns


def test_missing_target_column_is_named(sample_frame, params) -> None:
    with pytest.raises(PipelineError, match="churn"):
        clean(sample_frame.drop(columns=["churn"]), params.data)


def test_unknown_target_label_is_named(sample_frame, params) -> None:
    frame = sample_frame.copy()
    frame.loc[3, "churn"] = "Maybe"
    with pytest.raises(PipelineError, match=r"'churn'.*Maybe"):
        clean(frame, params.data)


def test_split_is_deterministic_stratified_and_disjoint(sample_frame, params) -> None:
    data = params.data
    frame = clean(sample_frame, data)
    train_a, test_a = split(frame, data.target, params.prepare)
    train_b, test_b = split(frame, data.target, params.prepare)
    pd.testing.assert_frame_equal(train_a, train_b)
    pd.testing.assert_frame_equal(test_a, test_b)
    assert set(train_a[data.id_column]).isdisjoint(test_a[data.id_column])
    assert len(train_a) + len(test_a) == len(frame)
    assert abs(test_a[data.target].mean() - frame[data.target].mean()) < 0.03


def test_another_seed_gives_another_split(sample_frame, params) -> None:
    from dataclasses import replace

    frame = clean(sample_frame, params.data)
    _, test_a = split(frame, params.data.target, params.prepare)
    _, test_b = split(frame, params.data.target, replace(params.prepare, seed=7))
    assert set(test_a[params.data.id_column]) != set(test_b[params.data.id_column])


def test_single_class_cannot_be_split(sample_frame, params) -> None:
    frame = clean(sample_frame, params.data)
    frame[params.data.target] = 0
    with pytest.raises(PipelineError, match="single class"):
        split(frame, params.data.target, params.prepare)
