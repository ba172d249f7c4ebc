"""Reading the model file: every stage and the service share one loader and its messages."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.io import read_model
from tabular_mlops.ct.drift import model_scores


def test_a_missing_model_file_is_named_with_what_to_run(tmp_path) -> None:
    path = tmp_path / "model.pkl"
    with pytest.raises(
        PipelineError, match=r"model\.pkl: model file not found \(run `make repro`\)"
    ):
        read_model(path)


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", b"\x80\x05\x95truncated"])
def test_a_damaged_model_file_is_one_line_naming_it(tmp_path, content: bytes) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(content)
    with pytest.raises(PipelineError) as caught:
        read_model(path)
    assert str(caught.value).startswith(f"{path}: cannot load model (")
    assert "\n" not in str(caught.value)


def test_prediction_drift_on_a_damaged_model_fails_clearly(tmp_path, params, sample_frame) -> None:
    model, test = tmp_path / "model.pkl", tmp_path / "test.parquet"
    model.write_bytes(b"garbage")
    sample_frame.to_parquet(test)
    paths = dataclasses.replace(params.paths, model=str(model), test=str(test))
    with pytest.raises(PipelineError, match=r"model\.pkl: cannot load model"):
        model_scores(dataclasses.replace(params, paths=paths), pd.DataFrame(sample_frame), None)
