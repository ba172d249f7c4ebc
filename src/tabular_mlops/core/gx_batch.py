"""How the contract's frame and suite are handed to Great Expectations: what makes 7M rows,
and each small batch, validate fast.

None of these changes a value GX checks or which rows it checks: every expectation still
runs on every row. They only change how the frame is stored (`compact`), skip a batch
marker GX computes for its metadata (`unfingerprinted`), and stop GX rebuilding the same
expectation configuration over and over (`configurations_built_once`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from pandas.api.types import is_numeric_dtype


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categories, for GX only (reports use the frame as read).

    GX copies the whole frame for each column expectation of a column that has missing values
    (its null filter), and category codes are far cheaper to copy than strings
    (`make bench-validate`). Downcasting integers too was measured slower (GX upcasts them again).
    """
    text = {
        column: "category"
        for column, dtype in frame.dtypes.items()
        if not is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    }
    return frame.astype(text) if text else frame


@contextmanager
def unfingerprinted() -> Iterator[None]:
    """GX's pandas engine fingerprints every batch under `HASH_THRESHOLD` bytes (1 GB) by
    hashing each cell, and records the hash as a batch marker: metadata shown in Data Docs, not
    a check. At millions of rows that hash is a large share of the contract's time
    (`make bench-validate`), so it is off while the contract runs. A GX without the threshold is
    left as it is."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    if not hasattr(engine, "HASH_THRESHOLD"):
        yield
        return
    before = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = before


@contextmanager
def configurations_built_once() -> Iterator[None]:
    """GX builds an expectation's configuration (a pydantic `dict()` of every field) anew each
    time it reads one of the expectation's kwargs, dozens of times per expectation in one
    validation: on the shipped data, ~85 builds each and a third of the validation's CPU.
    While the contract runs, each expectation builds it once, and again after any of its fields
    is set. A GX whose `Expectation.configuration` is not a property is left as it is."""
    from great_expectations.expectations.expectation import Expectation

    build = Expectation.__dict__.get("configuration")
    if not isinstance(build, property) or build.fget is None:
        yield
        return
    built: dict[int, tuple[Any, Any]] = {}
    own_setattr = Expectation.__dict__.get("__setattr__")
    inherited_setattr = Expectation.__setattr__

    def configuration(self: Any) -> Any:
        entry = built.get(id(self))
        if entry is None or entry[0] is not self:
            entry = built[id(self)] = (self, build.fget(self))
        return entry[1]

    def forget_on_set(self: Any, name: str, value: Any) -> None:
        built.pop(id(self), None)
        inherited_setattr(self, name, value)

    Expectation.configuration = property(configuration)  # type: ignore[assignment,method-assign]
    Expectation.__setattr__ = forget_on_set  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Expectation.configuration = build  # type: ignore[method-assign]
        if own_setattr is None:
            del Expectation.__setattr__
        else:
            Expectation.__setattr__ = own_setattr  # type: ignore[method-assign]
        built.clear()
