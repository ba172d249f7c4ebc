"""What `make release` and `make rollback` share: the checks on the version an alias is moved
to, and how a move is reported (a JSON file, the job summary, step outputs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError, one_line
from tabular_mlops.core.github import add_summary, set_outputs
from tabular_mlops.core.io import write_json
from tabular_mlops.core.lineage import MD5_TAG
from tabular_mlops.ct import registry


def version_number(text: str, source: str) -> str:
    """A registry version as MLflow numbers them (1, 2, ...), else one line naming `source`."""
    value = str(text).strip()
    if not value.isdigit() or int(value) < 1:
        raise PipelineError(f"{source}: {one_line(value)!r} is not a model version number")
    return str(int(value))


def shippable(client: Any, name: str, version: str, nothing: str) -> Any:
    """The version, which must exist and carry the md5 of the exact file it was registered from
    (only those bytes can be bundled); else one line ending in `nothing` (e.g. nothing released)."""
    found = registry.find_version(client, name, version)
    if found is None:
        raise PipelineError(f"registry: {name} has no version {version} (deleted?); {nothing}")
    if not (found.tags or {}).get(MD5_TAG):
        raise PipelineError(
            f"registry: {name} version {version} has no tag {MD5_TAG} (registered "
            "before the track stage recorded its file's md5), so its exact bytes cannot be "
            f"shipped; {nothing}"
        )
    return found


def report(
    path: str | Path, record: Mapping[str, Any], title: str, outputs: Mapping[str, str]
) -> None:
    """reports/<command>.json, a table of the record in the job summary, and step outputs."""
    write_json(path, dict(record))
    rows = [
        f"| {key} | {_cell(value)} |"
        for key, value in record.items()
        if key != "event" and value not in (None, "")
    ]
    add_summary("\n".join([f"### {title}", "", "| | |", "|---|---|", *rows, ""]))
    set_outputs(**dict(outputs))


def _cell(value: Any) -> str:
    return one_line(value).replace("|", "\\|")
