"""GitHub Actions' step outputs and job summary: appended to the files the runner names, and a
no-op anywhere else, so every command runs the same locally and in a workflow."""

from __future__ import annotations

import os
from pathlib import Path


def _append(variable: str, text: str) -> None:
    target = os.environ.get(variable)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")


def set_outputs(**values: str | bool) -> None:
    """`key=value` lines for `steps.<id>.outputs`; booleans as `true`/`false`, one line each."""
    lines = []
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{key}={text.replace(chr(10), ' ')}")
    if lines:
        _append("GITHUB_OUTPUT", "\n".join(lines))


def add_summary(markdown: str) -> None:
    """Append Markdown to the job summary page."""
    _append("GITHUB_STEP_SUMMARY", markdown)
