"""How the contract's frame is handed to Great Expectations: what makes 7M rows validate fast.

Neither function changes a value GX checks or which rows it checks: every expectation still
runs on every row. They only change how the frame is stored (`compact`) and skip a batch
marker GX computes for its metadata (`unfingerprinted`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
