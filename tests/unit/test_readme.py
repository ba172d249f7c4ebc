"""The README's tree, commands and numbers must match the repository as it is."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TREE_CHARS = "│├└─ "


def tree_paths() -> list[str]:
    """Paths listed in the 'Repository layout' block, rebuilt from the box-drawing indentation."""
    block = README.split("## Repository layout", 1)[1].split("```", 2)[1]
    stack: list[str] = []
    paths = []
    for line in block.splitlines()[2:]:
        if not line.strip():
            continue
        start = len(line) - len(line.lstrip(TREE_CHARS))
        depth = start // 4 - 1
        name = line[start:].split("  ", 1)[0].strip()
        stack = [*stack[:depth], name.rstrip("/")]
        paths.append("/".join(stack))
    return paths


def tracked() -> list[str]:
    return subprocess.run(
        ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()


def test_every_path_in_the_tree_exists() -> None:
    missing = [path for path in tree_paths() if not (ROOT / path).exists()]
    assert not missing


def test_tree_names_every_top_level_entry_and_source_module() -> None:
    listed = set(tree_paths())
    # A fork commits its results (README: "Written by make repro"); the template ships none.
    results = {"dvc.lock", "metrics", "plots"}
    top = {name.split("/")[0] for name in tracked()} - {".gitignore", ".dvcignore", *results}
    assert top <= listed
    package = ROOT / "src/tabular_mlops"
    modules = {
        str(path.relative_to(ROOT))
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    assert modules <= listed
    test_folders = {f"tests/{p.name}" for p in (ROOT / "tests").iterdir() if p.is_dir()}
    assert test_folders - {"tests/__pycache__"} <= listed


def test_every_make_target_in_the_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-zA-Z_-]+):", makefile, flags=re.MULTILINE))
    mentioned = set(re.findall(r"`make ([a-z-]+)", README)) | set(
        re.findall(r"^make ([a-z-]+)", README, flags=re.MULTILINE)
    )
    assert mentioned, "the README shows make commands"
    assert mentioned <= targets


def test_quickstart_is_the_two_commands_and_ci_runs_the_test_command() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("## ", 1)[0]
    assert re.findall(r"^make (\w+)", quickstart, flags=re.MULTILINE) == ["repro", "test"]
    assert "make test" in (ROOT / ".ci/run").read_text(encoding="utf-8")


@pytest.mark.parametrize("section", ["data", "validate", "prepare", "train", "evaluate", "track"])
def test_params_sections_the_readme_relies_on_exist(params, section) -> None:
    assert hasattr(params, section)
