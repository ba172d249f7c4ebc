"""What an act run left: its output, the stand-ins' records, the `gh` calls and the artifacts; and
the check that a workflow's suite step reached its folders' tests without running them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: What a workflow's suite steps (`make test-*`) are given under act: pytest collects each
#: folder's tests and runs none. The suite runs once, outside act; what a workflow test checks
#: is that each step reaches its folder's tests in the step's environment (a wrong folder, a
#: missing conftest option or an import error still fails the step).
COLLECT_ONLY = "--collect-only -qq"
#: `-qq --collect-only` prints one `path: count` line per test file.
COLLECTED = re.compile(r"^\[[^\]]*\]\s+\|\s+(tests/\S+\.py): (\d+)\s*$", re.MULTILINE)


@dataclass
class ActRun:
    returncode: int
    output: str
    records: list[dict[str, Any]]
    gh_calls: list[dict[str, Any]]
    artifacts: Path

    def failure_summary(self, context: int = 40) -> str:
        """The lines around each failed step, for an assertion message a reader can use."""
        lines = [line for line in self.output.splitlines() if "LocalRepositoryCache" not in line]
        failed = [i for i, line in enumerate(lines) if "❌" in line] or [len(lines)]
        start = max(failed[0] - context, 0)
        return "\n".join(lines[start : failed[-1] + 3])

    def artifact(self, prefix: str) -> Path:
        """The uploaded artifact whose name starts with `prefix` (names may carry the run id)."""
        [match] = [path for path in self.artifacts.iterdir() if path.name.startswith(prefix)]
        return match

    def recorded(self, action: str) -> list[dict[str, Any]]:
        return [line for line in self.records if line["action"] == action]

    def step_output(self, name: str) -> str:
        """What the step `name` printed: from its start to the next step's."""
        start = re.search(rf"⭐ Run Main {re.escape(name)}\s*$", self.output, flags=re.MULTILINE)
        assert start, f"no step {name!r} ran"
        end = self.output.find("⭐ Run ", start.end())
        return self.output[start.end() : end if end >= 0 else None]

    def collected(self, step: str) -> dict[str, int]:
        """The test files the suite step `step` collected under COLLECT_ONLY, with their counts."""
        return {path: int(count) for path, count in COLLECTED.findall(self.step_output(step))}

    def step_failed(self, name: str) -> bool:
        return bool(re.search(rf"❌\s+Failure - Main {re.escape(name)}", self.output))

    def step_succeeded(self, name: str) -> bool:
        return bool(re.search(rf"✅\s+Success - Main {re.escape(name)}", self.output))


def assert_collects(run: ActRun, step: str, root: Path, *folders: str) -> None:
    """The suite step `step` succeeded and collected tests from every test file of `folders`
    (in the checkout at `root`), and from no other file."""
    assert run.step_succeeded(step), run.failure_summary()
    collected = run.collected(step)
    expected = {
        path.relative_to(root).as_posix()
        for folder in folders
        for path in (root / folder).rglob("test_*.py")
    }
    assert expected, f"no test files under {folders}"
    # act masks each secret's value in the log (`***`), in a file name too.
    patterns = [re.escape(path).replace(re.escape("***"), ".+") for path in collected]
    matched = {path for path in expected if any(re.fullmatch(p, path) for p in patterns)}
    assert len(collected) == len(expected), f"{step}: collected {sorted(collected)}"
    assert matched == expected, f"{step}: collected {sorted(collected)}"
    assert all(count > 0 for count in collected.values()), f"{step}: {collected}"
