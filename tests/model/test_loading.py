"""A missing or damaged model fails the model tests with one line; it is never skipped."""

from __future__ import annotations

import re

import pytest

from tests.model.conftest import load_model_file


def test_a_missing_model_fails_and_says_how_to_make_it(tmp_path) -> None:
    path = tmp_path / "model.pkl"
    with pytest.raises(pytest.fail.Exception, match=r"model file not found \(run `make repro`"):
        load_model_file(path)


def test_a_corrupt_model_fails_naming_the_file(tmp_path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(pytest.fail.Exception, match=re.escape(f"{path}: cannot load model")):
        load_model_file(path)
