"""Fixtures shared by every test folder: the project root, its params, a sample of its data.

The sample is drawn from the raw file params.yaml names, so a fork's own data is what its tests
see. A test parametrized over config entries that the dataset does not have (no category column,
no id) is not generated, rather than reported as skipped: see pytest_collection_modifyitems.
"""

from __future__ import annotations

import os
from pathlib import Path

import dvc  # noqa: F401  (see below)
import pandas as pd
import pytest

from tabular_mlops.core.params import Params, load_params

from .support import write_sample
from .trained import trained_template, warm_python  # noqa: F401  (tests/trained.py)

ROOT = Path(__file__).resolve().parents[1]
# `import dvc` binds DVC's log handlers to the sys.stdout and sys.stderr of that moment. Imported
# first inside a test with `capsys`, they would keep that test's capture, closed when it ends, and
# every later in-process DVC call of the worker would fail to log ("failed to log <LogRecord").
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Workers already fill the cores: an OpenMP pool per worker (and per pipeline stage it
    # starts) only makes them wait on each other. Models are byte-identical at any thread count.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
EMPTY_PARAMETER_SET = "got empty parameter set"
#: The tier of each test (a marker): `fast` unless its folder or file is named here, the most
#: specific entry winning. `integration` drives copies of the project with the real DVC, MLflow or
#: servers; `workflow` runs a GitHub Actions workflow with act. `make test-fast` runs `fast`.
TIERS = {
    "tests/cd": "integration",
    "tests/drift": "integration",
    "tests/e2e": "integration",
    "tests/faults": "integration",
    "tests/team": "integration",
    "tests/data/test_pipeline_gate.py": "integration",
    "tests/model/test_promote.py": "integration",
    "tests/render": "integration",
    "tests/report/test_report_repos.py": "integration",
    "tests/serve/test_service.py": "integration",
    "tests/serve/test_smoke_and_fallback.py": "integration",
    "tests/unit/test_doctor.py": "integration",
    "tests/unit/test_store_repair.py": "integration",
    "tests/workflows": "workflow",
    "tests/workflows/test_static.py": "fast",
}


def tier_of(relative: str) -> str:
    """The tier of a test file given by its path from the repository root."""
    parts = relative.split("/")
    for end in range(len(parts), 0, -1):
        tier = TIERS.get("/".join(parts[:end]))
        if tier:
            return tier
    return "fast"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With `-m <tier>` alone, a test file of another tier is not even imported: collecting the
    whole suite (MLflow, GX, act's helpers) would cost the inner loop more than its tests."""
    wanted = config.getoption("markexpr", default="")
    if wanted not in TIER_ORDER or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return tier_of(collection_path.relative_to(ROOT).as_posix()) != wanted or None


#: The order tiers are handed to xdist's workers: the longest files first, so that no long file
#: starts last and runs alone while the other worker idles (longest-processing-time-first).
TIER_ORDER = ("workflow", "integration", "fast")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier and order the tiers, each file kept whole and in place within
    its tier; deselect tests whose config-derived parameter list is empty: nothing to check here."""
    tiers = {}
    for item in items:
        tiers[item] = tier_of(item.path.relative_to(ROOT).as_posix())
        item.add_marker(getattr(pytest.mark, tiers[item]))
    items.sort(key=lambda item: TIER_ORDER.index(tiers[item]))
    empty = [
        item
        for item in items
        if any(
            str(mark.kwargs.get("reason", "")).startswith(EMPTY_PARAMETER_SET)
            for mark in item.iter_markers("skip")
        )
    ]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def sample_csv(params: Params, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred rows of the configured raw data, every label and missing value kept."""
    return write_sample(params, ROOT, tmp_path_factory.mktemp("sample") / "sample.csv")


@pytest.fixture
def sample_frame(sample_csv: Path) -> pd.DataFrame:
    return pd.read_csv(sample_csv)
