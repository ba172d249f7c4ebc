"""The model's input columns, read off a prepared split rather than params.yaml.

`prepare` types every feature (numbers as floats, categories as text) and drops ignored columns,
so train and evaluate need only the target and the id from params: editing a contract range in
params.yaml then re-runs validate and prepare, and nothing retrains unless the data changed.
"""

from __future__ import annotations

import pandas as pd
from pandas.api.types import is_numeric_dtype


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
