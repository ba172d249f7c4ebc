"""The README is the front door: short, the two commands CI runs, a layout naming only real paths.
Its commands, paths, links and keys are checked with the docs' pages in test_docs.py."""

from __future__ import annotations

import re

import pytest

from tests.unit.test_docs import ROOT, fences, path_exists, path_mentions, section

README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_LINES = 150


def test_the_readme_is_a_front_door_of_at_most_150_lines() -> None:
    assert len(README.splitlines()) <= MAX_LINES


def test_quickstart_is_the_two_commands_and_ci_runs_the_test_command() -> None:
    quickstart = section(README, "Quickstart")
    blocks = fences(quickstart)
    assert len(blocks) == 1
    commands = [line.split("#", 1)[0].strip() for line in blocks[0][1].splitlines()]
    assert [command for command in commands if command] == ["make repro", "make test"]
    assert re.findall(r"^make (\w+)", quickstart, flags=re.MULTILINE) == ["repro", "test"]
    assert "make test" in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_the_short_layout_names_only_existing_paths_and_every_role() -> None:
    named = path_mentions(section(README, "Layout"))
    missing = sorted(path for path in named if not path_exists(path))
    assert not missing, f"the README's layout names paths that do not exist: {missing}"
    roles = {
        f"src/tabular_mlops/{path.name}/"
        for path in (ROOT / "src/tabular_mlops").iterdir()
        if path.is_dir() and path.name != "__pycache__"
    }
    assert roles <= named, f"roles missing from the README's layout: {sorted(roles - named)}"


SECTIONS = ["paths", "data", "validate", "prepare", "train", "evaluate", "track", "gates"]


@pytest.mark.parametrize("section_name", [*SECTIONS, "ingest", "simulate", "drift", "behaviour"])
def test_params_sections_the_docs_rely_on_exist(params, section_name) -> None:
    assert hasattr(params, section_name)
