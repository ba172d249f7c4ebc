"""What the contract hands GX for speed changes no verdict and leaves GX as it found it."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest
from great_expectations.execution_engine import pandas_execution_engine as engine
from great_expectations.expectations.expectation import Expectation

from tabular_mlops.core import validation
from tabular_mlops.core.contract import build_suite
from tabular_mlops.core.gx_batch import compact, configurations_built_once, unfingerprinted
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
    bad = with_a_missing_label(good_sample, target)
    assert validate_frame(good_sample, sample_params).success
    result = validate_frame(bad, sample_params)
    assert not result.success
    assert (target, "expect_column_values_to_not_be_null") in {
        (failure.column, failure.expectation) for failure in result.failures
    }
    assert before == engine.HASH_THRESHOLD


def with_a_missing_label(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    bad = frame.astype({target: object})
    bad.loc[bad.index[0], target] = None
    return bad


def test_each_configuration_is_built_once_until_a_field_is_set(sample_params) -> None:
    real = Expectation.__dict__["configuration"]
    builds: list[int] = []

    def counted(self):
        builds.append(id(self))
        return real.fget(self)

    Expectation.configuration = property(counted)
    try:
        [expectation, *_] = build_suite(sample_params).expectations
        with configurations_built_once():
            first = expectation.configuration
            assert expectation.configuration is first
            assert len(builds) == 1
            expectation.meta = {"changed": True}
            assert expectation.configuration.meta == {"changed": True}
            assert len(builds) == 2
        assert expectation.configuration is not expectation.configuration
    finally:
        Expectation.configuration = real
    assert "__setattr__" not in Expectation.__dict__


def test_building_configurations_once_changes_no_verdict(
    good_sample, sample_params, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = with_a_missing_label(good_sample, sample_params.data.target)
    fast = validate_frame(bad, sample_params)
    monkeypatch.setattr(validation, "configurations_built_once", contextlib.nullcontext)
    plain = validate_frame(bad, sample_params)
    assert not fast.success
    assert fast.summary() == plain.summary()
    assert fast.lines() == plain.lines()
