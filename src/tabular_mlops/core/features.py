"""The model's input columns, read off a prepared split rather than params.yaml.

`prepare` types every feature (numbers as floats, categories as text) and drops ignored columns,
so train and evaluate need only the target and the id from params: editing a contract range in
params.yaml then re-runs validate and prepare, and nothing retrains unless the data changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from tabular_mlops.core.params import DataParams


def feature_kinds(
    frame: pd.DataFrame, target: str, id_column: str | None
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names of a prepared split, numeric first as in params."""
    names = [c for c in frame.columns if c not in (target, id_column)]
    numeric = [c for c in names if is_numeric_dtype(frame[c])]
    return numeric, [c for c in names if c not in numeric]


def feature_frame(frame: pd.DataFrame, target: str, id_column: str | None) -> pd.DataFrame:
    """The features of a prepared split in the model's column order."""
    numeric, categorical = feature_kinds(frame, target, id_column)
    return frame.loc[:, [*numeric, *categorical]]


def typed_features(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """The feature columns as the model is fitted on them: numbers as floats (blanks and text
    become NaN, which the model imputes), categories as stripped text (" a" and "a" are one)."""
    out = pd.DataFrame(index=frame.index)
    for column in data.numeric:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in data.categorical:
        values = frame[column].astype("string").str.strip().astype(object)
        out[column] = values.where(values.notna(), None)
    return out


def label_codes(values: pd.Series, data: DataParams) -> pd.Series:
    """The target as the model learns it: a class's code (its index in `data.classes`, so the
    positive label is 1), or a regression target's number; NaN for anything else.

    Labels match by their text, so `1` in params.yaml matches a CSV's `1` (or `1.0`, once a
    missing value made pandas read the column as floats) however the column was typed.
    """
    if data.task == "regression":
        if is_bool_dtype(values):
            return pd.Series(np.nan, index=values.index)
        text = values.astype("string").str.strip()
        return pd.to_numeric(text, errors="coerce").astype("float64")
    text = values.astype("string").str.strip()
    if is_numeric_dtype(values) and not is_bool_dtype(values):
        text = text.str.replace(r"\.0$", "", regex=True)
    mapping = {name: float(code) for code, name in enumerate(data.class_names)}
    return text.map(mapping).astype("float64")
