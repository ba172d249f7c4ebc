"""upload-artifact stand-in: copy matched files into $ARTIFACT_DIR/<name>, rooted like GitHub."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.environ["STANDINS"])
from record import record

files: list[Path] = []
for pattern in filter(None, (line.strip() for line in os.environ["PATHS"].splitlines())):
    for match in (
        sorted(Path.cwd().glob(pattern)) if not Path(pattern).is_absolute() else [Path(pattern)]
    ):
        path = match.resolve()
        if path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file()]
        elif path.is_file():
            files.append(path)
if not files:
    record("actions/upload-artifact", {"files": []})
    if os.environ["IF_NO_FILES"] == "error":
        sys.exit("upload-artifact stand-in: no files found")
    print("upload-artifact stand-in: no files found")
    sys.exit(0)
root = Path(os.path.commonpath([str(p.parent) for p in files]))
dest = Path(os.environ["ARTIFACT_DIR"]) / os.environ["NAME"]
for path in files:
    target = dest / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)
record("actions/upload-artifact", {"files": sorted(str(p.relative_to(root)) for p in files)})
