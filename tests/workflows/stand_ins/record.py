"""Shared by the stand-in actions: append what an action was given to $STANDIN_RECORD.

Each line is {"action": ..., "inputs": {...}, "extra": {...}} so a test can assert on exactly
what a workflow sent to GitHub-side actions that cannot run here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def record(action: str, extra: dict | None = None) -> None:
    inputs = json.loads(os.environ.get("STANDIN_INPUTS") or "{}")
    line = {"action": action, "inputs": inputs, "extra": extra or {}}
    with Path(os.environ["STANDIN_RECORD"]).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    record(sys.argv[1])
