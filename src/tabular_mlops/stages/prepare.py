"""Stage `prepare`: types, cleaning, and a deterministic stratified train/test split."""

from __future__ import annotations

import argparse

import pandas as pd
from sklearn.model_selection import train_test_split

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import read_csv, write_parquet
from tabular_mlops.core.params import DataParams, PrepareParams, load_params


def encode_target(values: pd.Series, data: DataParams) -> pd.Series:
    """The target as the model learns it: 1 for the positive label, 0 for the other.

    Labels are matched by their text, so `1` in params.yaml matches a CSV's `1` however pandas
    typed the column.
    """
    text = values.astype("string").str.strip()
    mapping = {str(data.positive_label): 1, str(data.negative_label): 0}
    unknown = sorted(set(text.dropna().unique()) - set(mapping))
    if unknown or text.isna().any():
        raise PipelineError(
            f"target column '{data.target}' holds values other than "
            f"{sorted(mapping)}: {unknown[:5] or ['<null>']}"
        )
    return text.map(mapping).astype("int64")


def clean(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """Keep the id, the features and the target in a fixed order, with numeric, string and 0/1
    target types; ignored columns are dropped.

    Blank or non-numeric numeric cells become NaN (the model imputes them); categories are
    stripped strings so " DSL" and "DSL" do not become two categories.
    """
    head = [data.id_column] if data.id_column is not None else []
    columns = [*head, *data.numeric, *data.categorical, data.target]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise PipelineError(f"column(s) not found: {', '.join(missing)}")
    out = frame.loc[:, columns].copy()
    for column in data.numeric:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    for column in data.categorical:
        out[column] = out[column].astype("string").str.strip().astype(object)
        out[column] = out[column].where(out[column].notna(), None)
    out[data.target] = encode_target(out[data.target], data)
    return out.reset_index(drop=True)


def split(
    frame: pd.DataFrame, target: str, params: PrepareParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split: the same seed and data always give the same rows on each side."""
    if frame[target].nunique() < 2:
        raise PipelineError(f"target column '{target}' has a single class; cannot stratify")
    train, test = train_test_split(
        frame, test_size=params.test_size, random_state=params.seed, stratify=frame[target]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    raw = read_csv(params.paths.raw)
    try:
        cleaned = clean(raw, params.data)
    except PipelineError as err:
        raise PipelineError(f"{params.paths.raw}: {err}") from None
    train, test = split(cleaned, params.data.target, params.prepare)
    write_parquet(params.paths.train, train)
    write_parquet(params.paths.test, test)
    print(f"prepare: {len(train)} train rows, {len(test)} test rows")


if __name__ == "__main__":
    main()
