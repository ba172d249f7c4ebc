"""A small project for ingest tests: this checkout's params.yaml, a sample of the configured raw
data, an empty manifest, and batches drawn from the configured data (good ones with fresh ids and
no empty cells, a bad one whose cell the contract rejects). Nothing names a column."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tabular_mlops.core.dataset import NUMERIC_KINDS, DataParams
from tabular_mlops.core.params import Params
from tabular_mlops.ct.ingest import main
from tabular_mlops.ct.simulate import simulate
from tests.support import outside, write_sample

RAW_ROWS = 200


def make_project(params: Params, root: Path, dest: Path) -> Path:
    """`dest` as a project ingest can run in (cwd), with an empty incoming folder."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "params.yaml", dest / "params.yaml")
    raw = dest / params.paths.raw
    raw.parent.mkdir(parents=True, exist_ok=True)
    write_sample(params, root, raw, rows=RAW_ROWS)
    manifest = dest / params.paths.batches
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"batches": []}) + "\n")
    (dest / params.paths.incoming).mkdir(parents=True, exist_ok=True)
    return dest


def good_batches(params: Params, root: Path, count: int, seed: int = 1) -> list[pd.DataFrame]:
    """`count` batches of ingest's smallest size plus a few rows, drawn from the configured raw
    data, with ids new to it and to each other, and no empty cell (a small batch must not fail
    the missing-values rule by chance)."""
    source = pd.read_csv(root / params.paths.raw, na_values=["", " "], encoding="utf-8-sig")
    rows = params.ingest.min_rows + 5
    id_column = params.data.id_column
    batches: list[pd.DataFrame] = []
    for i in range(count):
        taken = None
        if id_column is not None:
            taken = pd.concat([source[id_column], *(b[id_column] for b in batches)])
        drawn = simulate(source, params.data, params.simulate, rows * 3, seed + i, taken_ids=taken)
        batches.append(drawn.dropna().head(rows).reset_index(drop=True))
        assert len(batches[-1]) == rows, "the configured data has too few complete rows"
    return batches


def rejected_cell(data: DataParams) -> tuple[str, object]:
    """A column and a value its contract rejects: an unknown category, else a number beyond its
    critical range."""
    if data.categorical:
        return data.categorical[0], f"not-a-{data.categorical[0]}"
    for name, spec in data.columns.items():
        if spec.kind in NUMERIC_KINDS and spec.range is not None:
            value = outside(spec)
            return name, int(value) if spec.kind == "integer" else value
    raise AssertionError("params.yaml gives no column a rule a single cell can break")


def bad_batch(good: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """`good` with one cell the contract rejects."""
    column, value = rejected_cell(data)
    bad = good.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[3, column] = value
    return bad


def truncated(text: str) -> str:
    """A CSV cut halfway through a line, as a copy interrupted mid-file leaves it: rejected
    before the contract runs."""
    lines = text.splitlines()
    return "\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2]


def project_here(
    params: Params, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project with an empty incoming folder, made the working directory for one test."""
    path = make_project(params, root, tmp_path / "repo")
    monkeypatch.chdir(path)
    return path


def ingest(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`python -m tabular_mlops.ct.ingest` in-process, in the working directory: exit code,
    stdout, stderr."""
    try:
        main([])
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
