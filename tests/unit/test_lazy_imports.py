"""Importing Great Expectations costs seconds a process: only the validate stage may pay it."""

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
