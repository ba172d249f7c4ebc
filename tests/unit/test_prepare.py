from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import Params, PrepareParams, parse
from tabular_mlops.core.task import is_classification
from tabular_mlops.stages.prepare import clean, split

from ..support import columns_of, first, load_params_at_root, synthetic_params, synthetic_raw

PARAMS: Params = load_params_at_root()
CLASSIFICATION = is_classification(PARAMS.data.task)
NUMERIC = first(PARAMS.data.numeric)
CATEGORICAL = first(PARAMS.data.categorical)
IGNORED = columns_of(PARAMS.data, "ignored")


def test_clean_types_and_order(sample_frame, params) -> None:
    data = params.data
    out = clean(sample_frame, data)
    head = [data.id_column] if data.id_column is not None else []
    assert list(out.columns) == [*head, *data.numeric, *data.categorical, data.target]
    assert all(out[c].dtype == "float64" for c in data.numeric)
    target = sample_frame[data.target]
    if not CLASSIFICATION:
        assert out[data.target].dtype == "float64"
        assert out[data.target].tolist() == pd.to_numeric(target).astype(float).tolist()
        return
    assert out[data.target].dtype == "int64"
    assert set(out[data.target].unique()) == set(range(len(data.classes)))
    text = target.astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    for code, name in enumerate(data.class_names):
        assert (out[data.target] == code).sum() == (text == name).sum(), name


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


def test_unknown_target_value_is_named(sample_frame, params) -> None:
    target = params.data.target
    frame = sample_frame.astype({target: object})
    frame.loc[3, target] = "Maybe-not-a-label"
    with pytest.raises(PipelineError, match=rf"'{target}'.*Maybe-not-a-label"):
        clean(frame, params.data)


def test_targets_match_by_text_whatever_the_column_type(params) -> None:
    data = params.data
    frame = pd.DataFrame({name: [None, None] for name in data.all_columns})
    if CLASSIFICATION:
        last = len(data.classes) - 1
        frame[data.target] = [str(data.classes[last]), f" {data.classes[0]} "]
        assert clean(frame, data)[data.target].tolist() == [last, 0]
    else:
        frame[data.target] = ["12.5", " 3 "]
        assert clean(frame, data)[data.target].tolist() == [12.5, 3.0]


def numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The cleaned frame with a row number, so sides of a split compare without an id."""
    return frame.assign(row_number=range(len(frame)))


def test_split_is_deterministic_stratified_and_disjoint(sample_frame, params) -> None:
    data = params.data
    frame = numbered(clean(sample_frame, data))
    train_a, test_a = split(frame, data, params.prepare)
    train_b, test_b = split(frame, data, params.prepare)
    pd.testing.assert_frame_equal(train_a, train_b)
    pd.testing.assert_frame_equal(test_a, test_b)
    assert set(train_a["row_number"]).isdisjoint(test_a["row_number"])
    assert len(train_a) + len(test_a) == len(frame)
    if CLASSIFICATION:
        shares = frame[data.target].value_counts(normalize=True)
        test_shares = test_a[data.target].value_counts(normalize=True)
        assert set(test_shares.index) == set(shares.index)
        assert (test_shares - shares).abs().max() < 0.03


def test_another_seed_gives_another_split(sample_frame, params) -> None:
    frame = numbered(clean(sample_frame, params.data))
    _, test_a = split(frame, params.data, params.prepare)
    _, test_b = split(frame, params.data, replace(params.prepare, seed=7))
    assert set(test_a["row_number"]) != set(test_b["row_number"])


@pytest.mark.parametrize("task", [PARAMS.data.task] if CLASSIFICATION else [])
def test_single_class_cannot_be_split(sample_frame, params, task) -> None:
    frame = clean(sample_frame, params.data)
    frame[params.data.target] = 0
    with pytest.raises(PipelineError, match="single class"):
        split(frame, params.data, params.prepare)


def synthetic(task: str, raw: pd.DataFrame | None = None):
    """The DataParams `make init` drafts for a synthetic frame of `task`, and that frame."""
    raw = synthetic_raw(task) if raw is None else raw
    return parse(synthetic_params(task), Params).data, raw


SPLIT = PrepareParams(test_size=0.2, seed=42)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_task_cleans_and_splits(task) -> None:
    data, raw = synthetic(task)
    train, test = split(clean(raw, data), data, SPLIT)
    assert len(train) + len(test) == len(raw)
    if task == "regression":
        assert test[data.target].dtype == "float64"
    else:
        assert set(test[data.target]) == set(range(len(data.classes)))


def test_a_label_with_one_row_is_one_line() -> None:
    data, raw = synthetic("multiclass")
    raw.loc[0, "y"] = "low"
    raw.loc[raw["y"] == "mid", "y"] = "low"
    raw.loc[1, "y"] = "mid"
    with pytest.raises(PipelineError) as caught:
        split(clean(raw, data), data, SPLIT)
    assert str(caught.value) == (
        "target column 'y': label 'mid' has 1 row; a stratified split needs at least 2 per "
        "label (drop it or merge it into another)"
    )


def test_a_regression_target_that_is_not_a_number_is_one_line() -> None:
    data, raw = synthetic("regression")
    raw = raw.astype({"y": object})
    raw.loc[4, "y"] = "n/a"
    raw.loc[5, "y"] = True
    with pytest.raises(PipelineError) as caught:
        clean(raw, data)
    message = str(caught.value)
    assert message.startswith("target column 'y' holds values that are not numbers: ")
    assert "'n/a'" in message and "\n" not in message
