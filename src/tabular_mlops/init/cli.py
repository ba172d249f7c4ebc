"""`make init`: read the CSV, draft, then write params.yaml and copy the CSV under data/raw/.

When init writes without FORCE=1: when nothing can be lost. That is: there is no params.yaml, or
it is the template's own example, committed and unedited (its first line is not init's header and
`git status` shows no change to it, so git still has every byte). Anything else (a params.yaml
init drafted before, which may hold your review; uncommitted edits; a folder outside git; a
different file already at data/raw/<name>) prints the unified diff of params.yaml and exits 1
without writing; FORCE=1 writes. A re-run that would write the same file does nothing, exit 0.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import yaml

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import atomic_path, read_csv
from tabular_mlops.core.params import Params, parse, read_yaml
from tabular_mlops.init.draft import Draft, draft
from tabular_mlops.init.render import render

EXIT_WOULD_CHANGE = 1
HEADER = "# Drafted by `make init`"
RULES = {
    "binary": "invariant, monotonic and cases",
    "multiclass": "invariant and cases",
    "regression": "invariant, monotonic and cases (expect_between)",
}


def git_clean(path: Path) -> bool:
    """True when git tracks `path` and it has no uncommitted change (so git can restore it)."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return False
    if result.returncode != 0 or result.stdout.strip():
        return False
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "--", path.name],
        cwd=path.parent,
        capture_output=True,
        check=False,
    )
    return tracked.returncode == 0


def may_overwrite(path: Path, current: str) -> tuple[bool, str]:
    """Whether init may replace `current` (params.yaml's text) without FORCE=1, and why: only
    the template's committed, unedited example (see the module docstring)."""
    if current.startswith(HEADER):
        return False, "it was drafted by init before and may hold your review"
    if not git_clean(path):
        return False, "it has changes git has not committed (or is not tracked by git)"
    return True, "the template's example, unchanged since the last commit (git keeps it)"


def summary(d: Draft, params: Path, raw: Path, copied: bool) -> list[str]:
    kinds = Counter(c.kind for c in d.columns)
    counts = ", ".join(f"{kinds[k]} {k}" for k in ("number", "integer", "category", "ignored"))
    lines = [
        f"init: wrote {params} for {raw} ({d.rows} rows, {len(d.columns)} columns drafted)"
        + ("; CSV copied there" if copied else ""),
        f"  task: {d.task} (target {d.target!r}, {d.target_values} values; TASK= to change)",
        f"  {d.target_summary}",
        f"  id column: {d.id_column or 'none'} ({d.id_reason})",
        f"  columns: {counts}",
    ]
    ignored = [c for c in d.columns if c.kind == "ignored"]
    lines += [f"  ignored {c.name!r}: {c.reason}" for c in ignored]
    lines += [f"  check {c.name!r}: {c.note}" for c in d.columns if c.note]
    lines += [f"  note: {note}" for note in d.notes]
    slices = ", ".join(d.slice_columns) or "none (no category of 2 to 10 values)"
    bands = ", ".join(f"{k} at its quartiles" for k in d.bands) or "none"
    lines += [
        f"  slices: {slices}; bands: {bands}",
        "  review these before `make repro`:",
        "    - data.columns: each `range` is a guess widened from the data; set what is plausible",
        "    - gates: floors only ask to beat the baseline; after `make repro`, `make set-floors`",
        f"    - behaviour: empty; add {RULES[d.task]} rules you know hold",
        *(["    - ignored columns: set a kind for any that should be a feature"] * bool(ignored)),
        f"  then: git add {raw} {params.name} && make repro",
    ]
    return lines


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Draft params.yaml from your CSV.")
    parser.add_argument("--csv", default="", help="the dataset (CSV, UTF-8, comma-separated)")
    parser.add_argument("--target", default="", help="the column to predict")
    parser.add_argument("--id", default=None, help="the row id column (none: no id column)")
    parser.add_argument("--task", default=None, help="binary|multiclass|regression")
    parser.add_argument("--positive", default=None, help="the positive label (default: minority)")
    parser.add_argument("--name", default=None, help="project name (default: the folder's name)")
    parser.add_argument("--root", default=".", help="the project's folder")
    parser.add_argument("--params", default=None, help="default: ROOT/params.yaml")
    parser.add_argument("--force", action="store_true", help="overwrite an edited params.yaml")
    return parser.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not args.csv:
        raise PipelineError("CSV=path/to/data.csv is required (make init CSV=path TARGET=column)")
    root = Path(args.root).resolve()
    params = Path(args.params) if args.params else root / "params.yaml"
    source = Path(args.csv)
    frame = read_csv(source)
    raw = Path("data/raw") / source.name
    drafted = draft(
        frame,
        args.target,
        source=str(source),
        csv_name=source.name,
        name=args.name or root.name,
        id_column=args.id or None,
        task=args.task or None,
        positive=args.positive or None,
    )
    text = render(drafted)
    parse(yaml.safe_load(text), Params, path=params)
    dest = root / raw
    same_file = dest.exists() and dest.resolve() == source.resolve()
    copy = not same_file and not (dest.exists() and filecmp.cmp(source, dest, shallow=False))
    current = params.read_text(encoding="utf-8") if params.exists() else None
    if current == text and not copy:
        print(f"init: {params} already matches {source}; nothing to do")
        return 0
    blocked = []
    if current is not None and current != text:
        allowed, why = may_overwrite(params, current)
        if not allowed:
            blocked.append(f"{_shown(params)} would change ({why})")
    if copy and dest.exists():
        blocked.append(f"{raw} exists and differs from {source}")
    if blocked and not args.force:
        if current is not None and current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{_shown(params)} (now)",
                f"{_shown(params)} (init)",
            )
            print("".join(diff), end="")
        print(f"init: nothing written: {'; '.join(blocked)}. Run again with FORCE=1 to write.")
        return EXIT_WOULD_CHANGE
    old_raw = _old_raw(params, current)
    if copy:
        with atomic_path(dest) as tmp:
            shutil.copyfile(source, tmp)
    with atomic_path(params) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print("\n".join(summary(drafted, _shown(params), raw, copy)))
    if old_raw and old_raw != str(raw) and (root / old_raw).exists():
        print(f"  the previous paths.raw, {old_raw}, is no longer read: `git rm` it if unneeded")
    return 0


def _shown(path: Path) -> Path:
    """`path` relative to the working folder when it is inside it, as a user typed it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _old_raw(params: Path, current: str | None) -> str | None:
    if current is None:
        return None
    try:
        return str(read_yaml(params).get("paths", {}).get("raw"))
    except (PipelineError, AttributeError):
        return None
