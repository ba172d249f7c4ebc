"""The compiled fast path: one request scored with numpy instead of sklearn's Pipeline.

Scoring one row through sklearn's Pipeline costs milliseconds to tens of milliseconds, almost all
of it input validation in each step and per-tree overhead in a forest or a boosted ensemble.
`CompiledPipeline` reads the fitted imputers, scaler and one-hot encoder into flat arrays, and the
estimator into its own compiled form (compiled_trees.py, compiled_linear.py); it is used only
after it has reproduced the pipeline's own scores on probe rows at load time (`compile_checked`),
otherwise the service falls back to the pipeline itself.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.task import Task, model_scores
from tabular_mlops.serving.inputs import Feature

#: Compiled and sklearn scores may differ only by float summation order: this much for a
#: probability, relative to the value's size for a larger regression value.
TOLERANCE = 1e-12


class Unsupported(Exception):
    """The pipeline holds a step the compiled path does not know; the pipeline itself serves."""


def compile_estimator(estimator: Any) -> Any:
    """The compiled form of the pipeline's last step, by its exact class."""
    from tabular_mlops.serving import compiled_linear, compiled_trees

    for module in (compiled_trees, compiled_linear):
        compiled = module.compile_estimator(estimator)
        if compiled is not None:
            return compiled
    raise Unsupported(f"estimator {type(estimator).__name__}")


class CompiledPipeline:
    """ColumnTransformer(imputer+scaler | imputer+one-hot) -> estimator, as arrays.

    The arithmetic is sklearn's, in sklearn's order: numbers are imputed, centred and scaled in
    float64, one-hot columns are 0/1, and the estimator's own compiled form scores the result.
    `predict` answers in the task's shape (`core.task.model_scores`). A missing category, None or
    NaN, takes the imputer's fill, as `train`'s imputer (missing_values=pd.NA) does.
    """

    def __init__(self, pipeline: Any, task: Task) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        steps = getattr(pipeline, "steps", None)
        if not isinstance(pipeline, Pipeline) or steps is None or len(steps) != 2:
            raise Unsupported("not a two-step Pipeline")
        columns = steps[0][1]
        if not isinstance(columns, ColumnTransformer):
            raise Unsupported("first step is not a ColumnTransformer")
        self.task = task
        self.estimator = compile_estimator(steps[1][1])
        if self.estimator.classifier != (task != "regression"):
            raise Unsupported(f"estimator does not fit a {task} task")
        self.numeric: list[tuple[list[str], np.ndarray | None, tuple[Any, Any], np.ndarray]] = []
        self.categorical: list[tuple[str, dict[Any, int], Any]] = []
        width = 0
        for _, transformer, names in columns.transformers_:
            if not len(names):
                continue
            if isinstance(transformer, str):
                if transformer != "drop":
                    raise Unsupported(f"remainder '{transformer}'")
                continue
            parts = [step for _, step in getattr(transformer, "steps", [("", transformer)])]
            width = self._add_block(parts, list(names), width)
        self.width = width
        if self.estimator.n_features != width:
            raise Unsupported("feature count mismatch")

    def _add_block(self, parts: list[Any], names: list[str], offset: int) -> int:
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        imputer = parts[0] if parts and type(parts[0]) is SimpleImputer else None
        rest = parts[1:] if imputer is not None else parts
        if imputer is not None and imputer.add_indicator:
            raise Unsupported("imputer with a missing-value indicator")
        if len(rest) == 1 and type(rest[0]) is OneHotEncoder:
            encoder = rest[0]
            if imputer is not None and imputer.missing_values is not pd.NA:
                raise Unsupported("a category imputer that leaves None to the encoder")
            if (
                encoder.handle_unknown != "ignore"
                or encoder.drop_idx_ is not None
                or encoder._infrequent_enabled
                or encoder.sparse_output
            ):
                raise Unsupported("one-hot encoder options")
            fills = _constant_fills(imputer, len(names))
            for name, categories, fill in zip(names, encoder.categories_, fills, strict=True):
                lookup = {value: offset + i for i, value in enumerate(categories.tolist())}
                self.categorical.append((name, lookup, fill))
                offset += len(categories)
            return offset
        if imputer is not None and not _is_nan(imputer.missing_values):
            raise Unsupported("a number imputer with a non-NaN missing marker")
        scaler = rest[0] if len(rest) == 1 and type(rest[0]) is StandardScaler else None
        if rest and scaler is None:
            raise Unsupported(f"step {type(rest[0]).__name__}")
        fill = None
        if imputer is not None:
            fill = np.asarray(imputer.statistics_, dtype=np.float64)
            if fill.shape != (len(names),) or np.isnan(fill).any():
                raise Unsupported("imputer dropped an empty column")
        mean = scale = None
        if scaler is not None:
            mean = scaler.mean_ if scaler.with_mean else None
            scale = scaler.scale_ if scaler.with_std else None
        self.numeric.append((names, fill, (mean, scale), np.arange(offset, offset + len(names))))
        return offset + len(names)

    def transform(self, columns: dict[str, list[Any]]) -> np.ndarray:
        """The ColumnTransformer's output for checked columns (numbers as floats, NaN missing)."""
        rows = len(next(iter(columns.values())))
        out = np.zeros((rows, self.width))
        for names, fill, (mean, scale), where in self.numeric:
            block = np.array([columns[name] for name in names], dtype=np.float64).T
            if fill is not None:
                missing = np.isnan(block)
                if missing.any():
                    block = np.where(missing, fill, block)
            if mean is not None:
                block = block - mean
            if scale is not None:
                block = block / scale
            out[:, where] = block
        for name, lookup, fill in self.categorical:
            for row, value in enumerate(columns[name]):
                if value is None or (isinstance(value, float) and value != value):
                    if fill is None:
                        raise Unsupported("a missing category: the pipeline's imputer decides")
                    value = fill
                index = lookup.get(value)
                if index is not None:
                    out[row, index] = 1.0
        return out

    def predict(self, columns: dict[str, list[Any]]) -> np.ndarray:
        """The task's scores: the positive class's probability (binary), one probability per
        class (multiclass), or the predicted value (regression), one per row."""
        scores = self.estimator.scores(self.transform(columns))
        return scores[:, 1] if self.task == "binary" else scores


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _constant_fills(imputer: Any, columns: int) -> list[Any]:
    """Per column, what a constant-strategy imputer puts in for a missing category; None where
    there is no such imputer (a missing value then goes through the pipeline)."""
    if imputer is None or imputer.strategy != "constant":
        return [None] * columns
    return list(imputer.statistics_)


def probe_frame(pipeline: Any, features: tuple[Feature, ...], rows: int = 96) -> pd.DataFrame:
    """Rows that exercise every imputer, category (known and unknown) and deep tree branches."""
    rng = np.random.default_rng(0)
    frame: dict[str, list[Any]] = {}
    categories = known_categories(pipeline)
    for feature in features:
        if feature.numeric:
            values = rng.normal(0.0, 1.0, rows) * rng.choice([1.0, 10.0, 100.0, 1000.0], rows)
            values[::7] = np.nan
            values[1::11] = np.round(values[1::11])
            frame[feature.name] = values.tolist()
        else:
            known = sorted(categories.get(feature.name, ()))
            choices = [*known, "__unknown__"]
            values = [choices[i % len(choices)] for i in rng.permutation(rows)]
            if feature.nullable:
                values[3::9] = [None] * len(values[3::9])
                values[4::9] = [float("nan")] * len(values[4::9])
            frame[feature.name] = values
    return pd.DataFrame(frame)


def agrees(got: np.ndarray, expected: np.ndarray) -> bool:
    """Same shape, and equal within TOLERANCE (relative beyond magnitude 1)."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return False
    return bool(np.all(np.abs(got - expected) <= TOLERANCE * np.maximum(1.0, np.abs(expected))))


def compile_checked(
    pipeline: Any, features: tuple[Feature, ...], task: Task
) -> CompiledPipeline | None:
    """The compiled path, only if it reproduces the pipeline on probe rows (one and many)."""
    try:
        compiled = CompiledPipeline(pipeline, task)
        probe = probe_frame(pipeline, features)
        expected = model_scores(pipeline, probe, task)
        columns = {name: probe[name].tolist() for name in probe.columns}
        small = np.concatenate(
            [
                compiled.predict({name: values[i : i + 1] for name, values in columns.items()})
                for i in range(len(probe))
            ]
        )
        batch = compiled.predict(columns)
        many = compiled.predict({name: values * 2 for name, values in columns.items()})
    except (Unsupported, KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
        print(
            f"serve: compiled path unavailable ({err}); serving through the pipeline",
            file=sys.stderr,
        )
        return None
    for got in (small, batch, many[: len(probe)]):
        if not agrees(got, expected):
            print(
                "serve: compiled path disagrees with the pipeline; serving through the pipeline",
                file=sys.stderr,
            )
            return None
    return compiled


def known_categories(pipeline: Any) -> dict[str, frozenset[str]]:
    """Categories each one-hot encoded column was fitted on (for the unknown-category warning)."""
    from sklearn.preprocessing import OneHotEncoder

    found: dict[str, frozenset[str]] = {}
    columns = getattr(pipeline, "steps", [(None, None)])[0][1]
    for _, transformer, names in getattr(columns, "transformers_", []):
        if not len(names):
            continue
        for _, step in getattr(transformer, "steps", [("", transformer)]):
            if isinstance(step, OneHotEncoder):
                for name, categories in zip(names, step.categories_, strict=True):
                    found[name] = frozenset(str(value) for value in categories.tolist())
    return found
