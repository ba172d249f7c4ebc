"""Checking prediction requests against the model's inputs: pure functions, no HTTP, no model.

Every rejection is an `InputError` carrying the HTTP status and one line naming the field, so the
service answers 4xx for anything a client can get wrong and never reaches the model with it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson


class InputError(Exception):
    """A request the service rejects; `status` is the HTTP status, the message names the field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Feature:
    """One model input: numeric (a JSON number) or categorical (a JSON string)."""

    name: str
    numeric: bool
    nullable: bool = False
    categories: frozenset[str] | None = None


@dataclass(frozen=True)
class NonFinite:
    """A bare NaN/Infinity token: not JSON, but parsed so that the error can name its field."""

    token: str


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
SHOWN_CHARS = 80


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """Client text quoted for a message: cut to `limit` characters, and escaped as Python's repr
    does when it holds anything unprintable (a lone surrogate, a line break), so every message is
    one line that any JSON encoder accepts."""
    cut = text if len(text) <= limit else f"{text[:limit]}..."
    return f"'{cut}'" if cut.isprintable() else repr(cut)


def _number(value: int | float) -> str:
    return repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"the number {_number(value)}"
    quoted = f" {shown(value, 40)}" if isinstance(value, str) else ""
    return f"{_JSON_TYPES.get(type(value), type(value).__name__)}{quoted}"


def check_rows(count: int, limit: int | None, *, known: bool = True) -> None:
    """413 naming the limit when a batch has more than `limit` rows."""
    if limit is not None and count > limit:
        size = f"batch of {count} records" if known else "batch"
        raise InputError(413, f"{size} exceeds the limit of {limit} records (SERVE_MAX_BATCH_ROWS)")


def parse_json(body: bytes) -> Any:
    """orjson for speed; on failure the standard parser says where it broke, or finds a NaN."""
    if not body.strip():
        raise InputError(400, "empty body: send a JSON object (or a list of them for a batch)")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body, parse_constant=NonFinite)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError too
        raise InputError(400, f"malformed JSON: {err}") from None


def parse_csv(
    body: bytes, features: Iterable[Feature], max_rows: int | None = None
) -> list[dict[str, Any]]:
    """A CSV batch with a header row; empty cells are null and numeric cells must parse; 413 as
    soon as it passes `max_rows`. Repeated category cells share one string (memory)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(400, f"CSV is not valid UTF-8 (byte offset {err.start})") from None
    numeric = {feature.name for feature in features if feature.numeric}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records: list[dict[str, Any]] = []
    strings: dict[str, str] = {}
    try:
        for row_number, row in enumerate(reader):
            check_rows(row_number + 1, max_rows, known=False)
            if None in row:
                raise InputError(400, f"CSV row {row_number}: more cells than header columns")
            record: dict[str, Any] = {}
            for name, cell in row.items():
                if cell is None or cell.strip() == "":
                    record[name] = None
                elif name in numeric:
                    try:
                        record[name] = float(cell)
                    except ValueError:
                        raise InputError(
                            422,
                            f"CSV row {row_number}: field {shown(name)}: {shown(cell, 40)} "
                            "is not a number",
                        ) from None
                else:
                    record[name] = strings.setdefault(cell, cell)
            records.append(record)
    except csv.Error as err:
        raise InputError(400, f"malformed CSV: {err}") from None
    return records


def check_records(
    records: list[Any],
    features: tuple[Feature, ...],
    ignored: frozenset[str] = frozenset(),
    *,
    batch: bool = True,
) -> tuple[dict[str, list[Any]], list[str]]:
    """Validate records into one list per feature (nulls as NaN for numbers) plus warnings.

    Fields in `ignored` (the id column) may be sent and are dropped; any other unknown field is
    rejected, so a misspelt feature never silently becomes a missing one.
    """
    if not records:
        raise InputError(422, "empty batch: send at least one record")
    known = {feature.name for feature in features}
    columns: dict[str, list[Any]] = {feature.name: [] for feature in features}
    warnings: list[str] = []
    for index, record in enumerate(records):
        where = f"record {index}: " if batch else ""
        if not isinstance(record, Mapping):
            raise InputError(422, f"{where}expected an object of features, got {_kind(record)}")
        if len(record) != len(known) or not known.issuperset(record):
            extra = sorted(set(record) - known - ignored)
            if extra:
                raise InputError(422, f"{where}unknown field {shown(extra[0])}")
        for feature in features:
            name = feature.name
            if name not in record:
                raise InputError(422, f"{where}missing field {shown(name)}")
            value = record[name]
            columns[name].append(_check_value(feature, value, where, warnings))
    return columns, warnings


def _check_value(feature: Feature, value: Any, where: str, warnings: list[str]) -> Any:
    name = feature.name
    if value is None:
        if not feature.nullable:
            raise InputError(422, f"{where}field {shown(name)} is null; it must have a value")
        return math.nan if feature.numeric else None
    if isinstance(value, NonFinite):
        raise InputError(
            422,
            f"{where}field {shown(name)}: {value.token} is not a valid JSON value"
            + ("; send null for a missing value" if feature.nullable else ""),
        )
    if feature.numeric:
        if type(value) is float:
            if not math.isfinite(value):
                raise InputError(422, f"{where}field {shown(name)}: {value} is not a finite number")
            return value
        if type(value) is int:
            if abs(value) > 2**53:
                raise InputError(
                    422, f"{where}field {shown(name)}: {_number(value)} is too large a number"
                )
            return float(value)
        raise InputError(422, f"{where}field {shown(name)}: expected a number, got {_kind(value)}")
    if type(value) is not str:
        raise InputError(422, f"{where}field {shown(name)}: expected a string, got {_kind(value)}")
    if feature.categories is not None and value not in feature.categories:
        warnings.append(
            f"{where}field {shown(name)}: unknown category {shown(value, 40)}, encoded as none "
            "of the known ones (the model ignores unknown categories)"
        )
    return value
