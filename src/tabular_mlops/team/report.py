"""`make doctor`'s lines: one per part, with its status, and the verdict on them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OK, NOT_SET, FAIL, SKIPPED = "OK", "not set", "FAIL", "skipped"


@dataclass(frozen=True)
class Line:
    status: str
    part: str
    text: str


def render(line: Line) -> str:
    return f"{line.status:<8} {line.part:<16} {line.text}"


def verdict(lines: Sequence[Line]) -> int:
    """1 when a part FAILs; a part that is not set falls back to a local default that works."""
    return 1 if any(line.status == FAIL for line in lines) else 0


def summary(lines: Sequence[Line]) -> str:
    counts = {status: sum(line.status == status for line in lines) for status in (OK, NOT_SET)}
    failed = sum(line.status == FAIL for line in lines)
    skipped = sum(line.status == SKIPPED for line in lines)
    text = f"doctor: {counts[OK]} OK, {counts[NOT_SET]} not set, {failed} FAIL"
    text += f", {skipped} skipped" if skipped else ""
    if failed:
        return text + ": fix the FAIL lines above"
    if counts[NOT_SET]:
        return text + ": the parts not set use this machine's local defaults"
    return text + ": every part is ready"
