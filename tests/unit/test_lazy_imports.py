"""What every command pays to start: only the validate stage imports Great Expectations (seconds
a process), and YAML is parsed in C."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_modules_other_stages_import_do_not_load_great_expectations() -> None:
    names = ["stages.prepare", "stages.train", "stages.evaluate", "stages.track", "core.params"]
    names += ["core.contract", "core.validation", "stages.validate"]
    modules = ", ".join(f"tabular_mlops.{name}" for name in names)
    code = (
        f"import sys; import {modules}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'great_expectations'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
    )
    assert done.stdout.strip() == "[]"


def test_yaml_is_parsed_in_c_by_dvc_and_by_the_commands() -> None:
    """DVC reads params.yaml, dvc.yaml and dvc.lock several times a stage with ruamel.yaml,
    whose C parser is an optional dependency since 0.19; the commands read params.yaml with
    PyYAML. Both pure-Python parsers are ~4x slower."""
    from ruamel.yaml import YAML

    from tabular_mlops.core.params import SAFE_LOADER

    assert YAML(typ="safe").Parser.__module__.startswith("ruamel.yaml.clib")
    assert SAFE_LOADER.__name__ == "CSafeLoader"
