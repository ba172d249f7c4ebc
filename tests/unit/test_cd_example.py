"""The example record a smoke test sends: from a split, an MLflow input example, or a file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.cd import example
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.stages.prepare import clean


@pytest.fixture
def split(params, sample_frame) -> pd.DataFrame:
    return clean(sample_frame, params.data)


def test_a_split_gives_its_first_row_of_features_only(params, split) -> None:
    record = example.from_split(split, list(params.data.features))
    assert list(record) == list(params.data.features)
    assert params.data.target not in record
    assert json.loads(json.dumps(record)) == record


def test_a_missing_value_becomes_null(params, split) -> None:
    name = params.data.features[0]
    split = split.copy()
    split[name] = split[name].astype(object)
    split.iloc[0, split.columns.get_loc(name)] = np.nan
    assert example.from_split(split, list(params.data.features))[name] is None


def test_a_split_lacking_a_feature_is_one_line_naming_it(params, split) -> None:
    name = params.data.features[0]
    with pytest.raises(PipelineError, match=name):
        example.from_split(split.drop(columns=[name]), list(params.data.features))


@pytest.mark.parametrize("form", ["split", "dataframe_split", "dataframe_records", "records"])
def test_every_input_example_form_gives_the_first_record(params, split, form) -> None:
    features = list(params.data.features)
    rows = split[features].head(3)
    first = json.loads(rows.to_json(orient="records"))[0]
    payload = {
        "split": json.loads(rows.to_json(orient="split", index=False)),
        "dataframe_split": {"dataframe_split": json.loads(rows.to_json(orient="split"))},
        "dataframe_records": {"dataframe_records": json.loads(rows.to_json(orient="records"))},
        "records": json.loads(rows.to_json(orient="records")),
    }[form]
    assert example.from_payload(payload, features) == first


def test_an_example_file_that_is_not_json_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "example.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(PipelineError, match=re.escape(str(path))):
        example.from_file(path)
