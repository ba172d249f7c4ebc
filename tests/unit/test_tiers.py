"""The tier table names real test paths, and every test gets exactly one tier."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import TIERS, pytest_ignore_collect, tier_of

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"fast", "integration", "workflow"}


def test_every_tier_entry_is_a_test_folder_or_file() -> None:
    missing = [path for path in TIERS if not (ROOT / path).exists()]
    assert not missing, f"tests/conftest.py TIERS names paths that do not exist: {missing}"
    assert set(TIERS.values()) <= NAMES


def test_the_most_specific_entry_wins() -> None:
    assert tier_of("tests/workflows/test_ci.py") == "workflow"
    assert tier_of("tests/workflows/test_static.py") == "fast"
    assert tier_of("tests/unit/test_store_repair.py") == "integration"
    assert tier_of("tests/unit/test_params.py") == "fast"


def test_each_test_gets_its_one_tier_from_the_table(request: pytest.FixtureRequest) -> None:
    """The hook marks this test `fast`, and no test file sets a tier of its own, which would give
    its tests two tiers and run them in two of `make test-fast`'s complements."""
    assert [mark.name for mark in request.node.iter_markers() if mark.name in NAMES] == ["fast"]
    own = re.compile(r"pytest\.mark\.(" + "|".join(sorted(NAMES)) + r")\b")
    setting = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("test_*.py")
        if "node_modules" not in path.parts and own.search(path.read_text(encoding="utf-8"))
    ]
    assert not setting, f"tiers come from tests/conftest.py TIERS, not the files: {setting}"


class AskedFor:
    """A pytest config as `pytest_ignore_collect` reads it: only the `-m` expression."""

    def __init__(self, markexpr: str) -> None:
        self.markexpr = markexpr

    def getoption(self, name: str, default: str = "") -> str:
        return self.markexpr if name == "markexpr" else default


def test_a_tier_asked_for_alone_skips_importing_the_other_tiers_files() -> None:
    ci, static = ROOT / "tests/workflows/test_ci.py", ROOT / "tests/workflows/test_static.py"
    assert pytest_ignore_collect(ci, AskedFor("fast")) is True
    assert pytest_ignore_collect(static, AskedFor("fast")) is None
    assert pytest_ignore_collect(ci, AskedFor("workflow")) is None
    assert pytest_ignore_collect(ROOT / "tests/workflows/conftest.py", AskedFor("fast")) is None
    assert pytest_ignore_collect(ci, AskedFor("fast or workflow")) is None
    assert pytest_ignore_collect(ci, AskedFor("")) is None
