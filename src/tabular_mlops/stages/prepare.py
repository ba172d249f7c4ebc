"""Stage `prepare`: types, cleaning, and a deterministic stratified train/test split."""

from __future__ import annotations

import argparse
import math

import pandas as pd
from sklearn.model_selection import train_test_split

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.features import label_codes, typed_features
from tabular_mlops.core.io import read_csv, write_parquet
from tabular_mlops.core.params import DataParams, PrepareParams, load_params


def clean(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """The id, the typed features and the target (a class code, or a regression value), in a
    fixed order; ignored and unknown columns are dropped."""
    head = [data.id_column] if data.id_column is not None else []
    missing = [c for c in [*head, *data.features, data.target] if c not in frame.columns]
    if missing:
        raise PipelineError(f"column(s) not found: {', '.join(missing)}")
    codes = label_codes(frame[data.target], data)
    if codes.isna().any():
        unknown = frame.loc[codes.isna(), data.target].astype("string").str.strip()
        shown = sorted(set(unknown.dropna()))[:5] or ["<null>"]
        if data.task == "regression":
            raise PipelineError(
                f"target column '{data.target}' holds values that are not numbers: {shown}"
            )
        labels = sorted(str(label) for label in data.labels or ())
        raise PipelineError(
            f"target column '{data.target}' holds values other than {labels}: {shown}"
        )
    out = pd.concat([frame.loc[:, head], typed_features(frame, data)], axis=1)
    out[data.target] = codes if data.task == "regression" else codes.astype("int64")
    return out.reset_index(drop=True)


def split(
    frame: pd.DataFrame, data: DataParams, params: PrepareParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic: the same seed and data always give the same rows on each side. Stratified
    by class for classification, so every label is in both splits."""
    target = data.target
    stratify = None
    if data.task != "regression":
        stratify = frame[target]
        counts = stratify.value_counts()
        if len(counts) < 2:
            raise PipelineError(f"target column '{target}' has a single class; cannot stratify")
        rare = counts[counts < 2]
        if len(rare):
            label = data.class_names[int(rare.index[0])]
            raise PipelineError(
                f"target column '{target}': label {label!r} has {int(rare.iloc[0])} row; a "
                "stratified split needs at least 2 per label (drop it or merge it into another)"
            )
        n_test = math.ceil(params.test_size * len(frame))
        if n_test < len(counts) or len(frame) - n_test < len(counts):
            raise PipelineError(
                f"prepare.test_size {params.test_size} leaves fewer rows than the "
                f"{len(counts)} labels of '{target}' on one side of the split"
            )
    train, test = train_test_split(
        frame, test_size=params.test_size, random_state=params.seed, stratify=stratify
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
    train, test = split(cleaned, params.data, params.prepare)
    write_parquet(params.paths.train, train)
    write_parquet(params.paths.test, test)
    print(f"prepare: {len(train)} train rows, {len(test)} test rows")


if __name__ == "__main__":
    main()
