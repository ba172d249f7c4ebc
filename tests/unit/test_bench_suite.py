"""`make bench-tests` summarising a junit file: sums per folder and tier; bad files in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JUNIT = """<testsuites><testsuite>
<testcase classname="tests.unit.test_params" name="a" time="1.5"/>
<testcase classname="tests.unit.test_params" name="b" time="0.5"/>
<testcase classname="tests.workflows.test_ci" name="c" time="30"/>
<testcase classname="tests.workflows.test_static.TestPins" name="d" time="0.25"/>
</testsuite></testsuites>"""


def summarise(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--junit", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_seconds_are_summed_per_folder_and_tier(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT, encoding="utf-8")
    done = summarise(junit)
    assert done.returncode == 0, done.stderr
    assert "| `tests/workflows` | 2 | 30 |" in done.stdout
    assert "| `tests/unit` | 2 | 2 |" in done.stdout
    assert "| `workflow` | 1 | 30 |" in done.stdout
    assert "| `fast` | 3 | 2 |" in done.stdout


def test_a_missing_or_broken_junit_file_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<testsuites><testcase", encoding="utf-8")
    for path in (tmp_path / "absent.xml", broken):
        done = summarise(path)
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"{path}: not a pytest junit XML file")
