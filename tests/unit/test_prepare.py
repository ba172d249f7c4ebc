from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import Params
from tabular_mlops.stages.prepare import clean, split

from ..support import columns_of, first, load_params_at_root

PARAMS: Params = load_params_at_root()
NUMERIC = first(PARAMS.data.numeric)
CATEGORICAL = first(PARAMS.data.categorical)
IGNORED = columns_of(PARAMS.data, "ignored")


def test_clean_types_and_order(sample_frame, params) -> None:
    data = params.data
    out = clean(sample_frame, data)
    head = [data.id_column] if data.id_column is not None else []
    assert list(out.columns) == [*head, *data.numeric, *data.categorical, data.target]
    assert all(out[c].dtype == "float64" for c in data.numeric)
    assert set(out[data.target].unique()) == {0, 1}
    positives = sample_frame[data.target].astype(str).str.strip() == str(data.positive_label)
    assert out[data.target].sum() == positives.sum()


@pytest.mark.parametrize("column", NUMERIC)
def test_blank_and_non_numeric_cells_become_missing(sample_frame, params, column) -> None:
    frame = sample_frame.astype({column: object})
    frame.loc[0, column] = " "
    frame.loc[1, column] = "n/a"
    out = clean(frame, params.data)
    assert out[column].isna()[0]
    assert out[column].isna()[1]


@pytest.mark.parametrize("column", CATEGORICAL)
def test_categories_are_stripped(sample_frame, params, column) -> None:
    value = str(params.data.columns[column].values[0])
    frame = sample_frame.astype({column: object})
    frame.loc[0, column] = f"  {value} "
    assert clean(frame, params.data).loc[0, column] == value


def test_extra_and_ignored_columns_are_dropped(sample_frame, params) -> None:
    frame = sample_frame.assign(unlisted_extra="free text")
    out = clean(frame, params.data)
    assert "unlisted_extra" not in out.columns
    assert not set(IGNORED) & set(out.columns)


def test_missing_target_column_is_named(sample_frame, params) -> None:
    target = params.data.target
    with pytest.raises(PipelineError, match=target):
        clean(sample_frame.drop(columns=[target]), params.data)


def test_unknown_target_label_is_named(sample_frame, params) -> None:
    target = params.data.target
    frame = sample_frame.astype({target: object})
    frame.loc[3, target] = "Maybe-not-a-label"
    with pytest.raises(PipelineError, match=rf"'{target}'.*Maybe-not-a-label"):
        clean(frame, params.data)


def test_labels_match_by_text_whatever_the_column_type(params) -> None:
    data = params.data
    frame = pd.DataFrame({name: [None, None] for name in data.all_columns})
    frame[data.target] = [str(data.positive_label), f" {data.negative_label} "]
    assert clean(frame, data)[data.target].tolist() == [1, 0]


def numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The cleaned frame with a row number, so sides of a split compare without an id."""
    return frame.assign(row_number=range(len(frame)))


def test_split_is_deterministic_stratified_and_disjoint(sample_frame, params) -> None:
    data = params.data
    frame = numbered(clean(sample_frame, data))
    train_a, test_a = split(frame, data.target, params.prepare)
    train_b, test_b = split(frame, data.target, params.prepare)
    pd.testing.assert_frame_equal(train_a, train_b)
    pd.testing.assert_frame_equal(test_a, test_b)
    assert set(train_a["row_number"]).isdisjoint(test_a["row_number"])
    assert len(train_a) + len(test_a) == len(frame)
    assert abs(test_a[data.target].mean() - frame[data.target].mean()) < 0.03


def test_another_seed_gives_another_split(sample_frame, params) -> None:
    frame = numbered(clean(sample_frame, params.data))
    _, test_a = split(frame, params.data.target, params.prepare)
    _, test_b = split(frame, params.data.target, replace(params.prepare, seed=7))
    assert set(test_a["row_number"]) != set(test_b["row_number"])


def test_single_class_cannot_be_split(sample_frame, params) -> None:
    frame = clean(sample_frame, params.data)
    frame[params.data.target] = 0
    with pytest.raises(PipelineError, match="single class"):
        split(frame, params.data.target, params.prepare)
