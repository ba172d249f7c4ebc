"""What the contract hands GX for speed changes no verdict and leaves GX as it found it."""

from __future__ import annotations

import pandas as pd
from great_expectations.execution_engine import pandas_execution_engine as engine

from tabular_mlops.core.gx_batch import compact, unfingerprinted
from tabular_mlops.core.validation import validate_frame


def test_compact_keeps_every_value_and_only_recodes_text(good_sample) -> None:
    packed = compact(good_sample)
    pd.testing.assert_frame_equal(
        packed.astype(object), good_sample.astype(object), check_dtype=False
    )
    for column, dtype in good_sample.dtypes.items():
        numeric = pd.api.types.is_numeric_dtype(dtype)
        assert (packed[column].dtype == dtype) if numeric else packed[column].dtype == "category"


def test_the_fingerprint_is_off_only_while_the_contract_runs(good_sample, sample_params) -> None:
    before = engine.HASH_THRESHOLD
    with unfingerprinted():
        assert engine.HASH_THRESHOLD == 0
    assert before == engine.HASH_THRESHOLD
    target = sample_params.data.target
    bad = good_sample.astype({target: object})
    bad.loc[bad.index[0], target] = None
    assert validate_frame(good_sample, sample_params).success
    result = validate_frame(bad, sample_params)
    assert not result.success
    assert (target, "expect_column_values_to_not_be_null") in {
        (failure.column, failure.expectation) for failure in result.failures
    }
    assert before == engine.HASH_THRESHOLD
