"""Ingest new batches: validate each CSV in paths.incoming, then append it to paths.raw.

A batch that breaks the data contract, has other columns than the raw file, or reuses an id
(when the data has an id column) is moved to paths.quarantine/<batch>-<md5[:8]>/ with its
validation report and never appended (ct/quarantine.py). The manifest (paths.batches) lists every
ingested batch (name, md5, rows, where it starts in the raw file), is a dependency of the
pipeline, and is logged to MLflow by `track`: which batches trained a model. The raw file and the
manifest change in one journaled commit (ct/ingest_journal.py): killed at any point, the next
ingest finishes or undoes it and says so in one line.
A batch already in the manifest (same md5) is skipped, so a re-run is a no-op.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tabular_mlops.core.batches import read_manifest
from tabular_mlops.core.errors import PipelineError, exits_cleanly, one_line
from tabular_mlops.core.params import Params, load_params
from tabular_mlops.ct.ingest_journal import commit, ingest_lock, recover
from tabular_mlops.ct.quarantine import quarantine, refusal

EXAMPLES = 3


@dataclass(frozen=True)
class Candidate:
    """A batch file as read: its text cells, and the contract's verdict on it."""

    name: str
    md5: str
    frame: pd.DataFrame | None
    problems: tuple[str, ...] = ()
    report: dict[str, Any] = field(default_factory=dict)
    regular: bool = True


@dataclass(frozen=True)
class Rejection:
    candidate: Candidate
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What to append (text and manifest entries), what to quarantine, what was seen before."""

    entries: tuple[dict[str, Any], ...] = ()
    text: str = ""
    rejected: tuple[Rejection, ...] = ()
    skipped: tuple[str, ...] = ()


def batch_text(frame: pd.DataFrame, header: list[str]) -> str:
    """The batch's cells, unchanged, as CSV lines in the raw file's column order (no header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(frame.loc[:, header].itertuples(index=False, name=None))
    return buffer.getvalue()


def plan_ingest(
    header: list[str],
    existing_ids: pd.Series,
    raw_rows: int,
    raw_bytes: int,
    manifest: list[dict[str, Any]],
    candidates: list[Candidate],
    id_column: str | None,
    now: str,
) -> Plan:
    """Decide, batch by batch in name order, what is appended and what is quarantined."""
    known = {entry["md5"] for entry in manifest}
    taken = set(existing_ids.astype(str))
    entries: list[dict[str, Any]] = []
    texts: list[str] = []
    rejected: list[Rejection] = []
    skipped: list[str] = []
    rows, size = raw_rows, raw_bytes
    for candidate in sorted(candidates, key=lambda c: c.name):
        if candidate.md5 in known:
            skipped.append(candidate.name)
            continue
        reasons = list(candidate.problems)
        frame = candidate.frame
        if frame is not None and not reasons:
            missing = [c for c in header if c not in frame.columns]
            extra = [c for c in frame.columns if c not in header]
            if missing or extra:
                reasons.append(
                    f"columns differ from the raw file: missing {missing}, unexpected {extra}"
                )
            elif id_column is not None and id_column in frame.columns:
                ids = frame[id_column].astype(str)
                reused = ids[ids.isin(taken)]
                if not reused.empty:
                    reasons.append(
                        f"{id_column}: {len(reused)} id(s) already in the data, "
                        f"e.g. {reused.head(EXAMPLES).tolist()}"
                    )
        if reasons or frame is None:
            rejected.append(Rejection(candidate, tuple(reasons or ["unreadable"])))
            continue
        text = batch_text(frame, header)
        entries.append(
            {
                "name": candidate.name,
                "md5": candidate.md5,
                "rows": len(frame),
                "first_row": rows,
                "offset": size,
                "ingested_at": now,
            }
        )
        texts.append(text)
        if id_column is not None:
            taken |= set(frame[id_column].astype(str))
        known.add(candidate.md5)
        rows += len(frame)
        size += len(text.encode("utf-8"))
    return Plan(tuple(entries), "".join(texts), tuple(rejected), tuple(skipped))


def read_text_cells(path: Path) -> pd.DataFrame:
    """The batch exactly as written, every cell a string, so appending changes no value."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def update_imports(incoming: Path) -> list[str]:
    """`dvc update` every import (`dvc import-url`, `dvc import`) in the incoming folder."""
    targets = sorted(str(p) for p in incoming.glob("*.dvc"))
    if not targets:
        return []
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            repo.update(targets=targets)
    except DvcException as err:
        raise PipelineError(f"{incoming}: dvc update failed ({err})") from None
    return targets


def read_candidates(
    params: Params, files: list[Path], known: set[str], roots: tuple[Path, ...]
) -> list[Candidate]:
    """Validate each new file with the data contract; the row minimum is the batch's own.

    A link out of the project or an entry that is not a regular file is refused unread.
    """
    from tabular_mlops.core.lineage import file_md5

    batch_params = dataclasses.replace(
        params, validate=dataclasses.replace(params.validate, min_rows=params.ingest.min_rows)
    )
    candidates = []
    for path in files:
        refused = refusal(path, roots)
        if refused is not None:
            why, digest = refused
            candidates.append(
                Candidate(path.name, digest, None, (why,), {"success": False}, regular=False)
            )
            continue
        md5 = file_md5(path)
        if md5 in known:
            candidates.append(Candidate(path.name, md5, None))
            continue
        from tabular_mlops.core.validation import validate_csv  # GX: only when there is work

        try:
            result = validate_csv(path, batch_params)
            frame = read_text_cells(path)
        except PipelineError as err:
            reason = str(err).removeprefix(f"{path}: ")
            candidates.append(Candidate(path.name, md5, None, (reason,), {"success": False}))
            continue
        problems = () if result.success else tuple(result.lines())
        candidates.append(Candidate(path.name, md5, frame, problems, result.summary()))
    return candidates


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--refresh", action="store_true", help="first `dvc update` imports (ingest.update_imports)"
    )
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    paths = params.paths
    manifest_path = Path(paths.batches)
    with ingest_lock(manifest_path.parent):
        repaired = recover(Path(paths.raw), manifest_path, Path(paths.quarantine))
        if repaired is not None:
            print(repaired)
        ingest(params, args.refresh, Path(args.params).resolve().parent)


def ingest(params: Params, refresh: bool, project: Path) -> None:
    """Append the good new batches in one commit, then quarantine the rejected ones."""
    paths = params.paths
    incoming, raw_path, manifest_path = Path(paths.incoming), Path(paths.raw), Path(paths.batches)
    if refresh and params.ingest.update_imports and incoming.is_dir():
        for target in update_imports(incoming):
            print(f"ingest: dvc update {target}")
    manifest = read_manifest(manifest_path)
    files = sorted(incoming.glob(params.ingest.pattern)) if incoming.is_dir() else []
    roots = (project, incoming.resolve())
    candidates = read_candidates(params, files, {entry["md5"] for entry in manifest}, roots)
    raw_bytes = raw_path.read_bytes()
    newline = "" if raw_bytes.endswith(b"\n") or not raw_bytes else "\n"
    header = next(csv.reader([raw_bytes.decode("utf-8-sig").split("\n", 1)[0]]))
    id_column = params.data.id_column
    existing = pd.read_csv(raw_path, usecols=[id_column or header[0]], dtype=str)
    plan = plan_ingest(
        header,
        existing[id_column] if id_column is not None else existing.iloc[:0, 0],
        len(existing),
        len(raw_bytes) + len(newline),
        manifest,
        candidates,
        params.data.id_column,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if plan.entries:
        after = raw_bytes + (newline + plan.text).encode("utf-8")
        commit(raw_path, manifest_path, raw_bytes, after, [*manifest, *plan.entries])
        for entry in plan.entries:
            print(
                f"ingest: {one_line(incoming / entry['name'])}: {entry['rows']} rows appended to "
                f"{raw_path}"
            )
    for rejection in plan.rejected:
        candidate = rejection.candidate
        source = incoming / candidate.name
        where = quarantine(
            source,
            candidate.md5,
            rejection.reasons,
            candidate.report,
            Path(paths.quarantine),
            regular=candidate.regular,
        )
        for reason in rejection.reasons:
            print(f"{one_line(source)}: {one_line(reason)}", file=sys.stderr)
        print(f"{one_line(source)}: rejected, quarantined in {where}/", file=sys.stderr)
    if not plan.entries and not plan.rejected:
        print(
            f"ingest: nothing new in {incoming} ({len(plan.skipped)} file(s) already ingested); "
            f"{raw_path} unchanged"
        )
    if plan.rejected:
        names = ", ".join(one_line(r.candidate.name) for r in plan.rejected)
        raise PipelineError(
            f"{incoming}: {len(plan.rejected)} batch(es) rejected and quarantined in "
            f"{paths.quarantine}/: {names}"
        )


if __name__ == "__main__":
    main()
