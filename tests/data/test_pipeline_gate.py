"""`dvc repro` on a copy whose data breaks the contract stops at validate and loses nothing."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from tabular_mlops.core.lineage import file_md5
from tests.e2e.conftest import Workspace, warmed
from tests.support import columns_of, load_params_at_root, outside
from tests.trained import private_copy

PARAMS = load_params_at_root()
RAW = PARAMS.paths.raw
#: One cell beyond a column's plausible range breaks exactly one critical rule.
COLUMN = columns_of(PARAMS.data, "number", "integer", where=lambda s: s.range is not None)[0]


def test_contract_failure_stops_repro_before_prepare_and_keeps_the_model(
    trained_template: Workspace, tmp_path, warm_python
):
    fork = warmed(private_copy(trained_template, tmp_path / "repo"), warm_python)
    path = fork.path
    model = path / PARAMS.paths.model
    model_before, lock_before = file_md5(model), (path / "dvc.lock").read_bytes()

    raw = path / RAW
    frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
    bad = int(outside(PARAMS.data.columns[COLUMN]))
    frame.loc[0, COLUMN] = str(bad)
    frame.to_csv(raw, index=False)
    done = fork.dvc("repro", "train", check=False)

    assert done.returncode != 0
    assert f"{RAW}: {COLUMN}: expect_column_values_to_be_between [critical]: " in done.stderr
    assert re.search(rf"e\.g\. \[{bad}(\.0)?\]", done.stderr), done.stderr
    assert f"error: {RAW}: 1 critical expectation(s) of the data contract failed" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Running stage 'prepare'" not in done.stdout
    assert file_md5(model) == model_before
    assert (path / "dvc.lock").read_bytes() == lock_before
    report = json.loads((path / PARAMS.paths.validation).read_text())
    assert (report["success"], report["critical_failed"]) == (False, 1)
    assert report["failures"][0]["examples"] == [pytest.approx(bad)]
    assert (path / PARAMS.paths.data_docs / "index.html").is_file()
