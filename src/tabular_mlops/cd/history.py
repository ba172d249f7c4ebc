"""`make history`: every change of the registered model's `champion`, the production history.

MLflow keeps no record of where an alias pointed before, so each change is written as a
registered-model tag `champion.history.NNNNNN` (a 6-digit sequence) holding one JSON event:
{seq, from, to, at, by, run, kind, reason}. The tags live in the registry itself, so every clone,
workflow and the MLflow UI see the same history, and nothing else needs storing. Writers (promote,
release, rollback) hold the store lock, move the alias, then record the event; a change made
without an event (a killed run, a move by hand in the UI) is recorded as `unrecorded` by the next
command's repair (ct/registry.py). Rollback's target is the previous champion of a replay of the
history as a stack, so repeated rollbacks go further back.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError, exits_cleanly, first_line
from tabular_mlops.core.lineage import tracking_uri
from tabular_mlops.core.params import load_params

PREFIX = "champion.history."
KINDS = ("bootstrapped", "promoted", "released", "rollback", "unrecorded")
#: The kinds that put a new champion on top of the stack; `rollback` takes it off.
PUSHES = frozenset(KINDS) - {"rollback"}
REASON_CHARS = 1000
KEY = re.compile(re.escape(PREFIX) + r"(\d{6,})$")
COLUMNS = ("seq", "at", "kind", "from", "to", "by", "run", "reason")


@dataclass(frozen=True)
class Event:
    seq: int
    previous: str | None
    to: str
    at: str
    by: str
    run: str
    kind: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "from": self.previous,
            "to": self.to,
            "at": self.at,
            "by": self.by,
            "run": self.run,
            "kind": self.kind,
            "reason": self.reason,
        }


def tag_key(seq: int) -> str:
    return f"{PREFIX}{seq:06d}"


def encode(item: Event) -> str:
    """The tag's value: unescaped text, so the truncated reason fits a 5,000-character tag
    column (MLflow's SQL stores) whatever its alphabet."""
    return json.dumps(item.as_dict(), ensure_ascii=False)


def actor(env: Mapping[str, str] | None = None) -> str:
    """Who made the change: the GitHub user who started the workflow, else the OS user."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTOR"):
        return env["GITHUB_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "unknown"


def run_link(env: Mapping[str, str] | None = None) -> str:
    """The workflow run that made the change, or `local`."""
    env = os.environ if env is None else env
    parts = [env.get(key) for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if all(parts):
        server, repo, run_id = parts
        return f"{server}/{repo}/actions/runs/{run_id}"
    return "local"


def event(
    seq: int,
    kind: str,
    previous: str | None,
    to: str,
    reason: str,
    env: Mapping[str, str] | None = None,
    by: str | None = None,
) -> Event:
    """A new event, stamped now, by this run's actor (or `by`)."""
    if kind not in KINDS:
        raise ValueError(kind)
    text = " ".join(reason.split())
    if len(text) > REASON_CHARS:
        text = text[: REASON_CHARS - 1] + "…"
    return Event(
        seq=seq,
        previous=previous,
        to=str(to),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        by=actor(env) if by is None else by,
        run=run_link(env),
        kind=kind,
        reason=text,
    )


def parse(key: str, value: str) -> Event:
    """One history tag; a tag edited into something else is one line naming it."""
    match = KEY.fullmatch(key)
    try:
        if match is None:
            raise ValueError("not a history key")
        raw = json.loads(value)
        kind = str(raw["kind"])
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        previous = raw.get("from")
        return Event(
            seq=int(match.group(1)),
            previous=None if previous is None else str(previous),
            to=str(raw["to"]),
            at=str(raw.get("at", "")),
            by=str(raw.get("by", "")),
            run=str(raw.get("run", "")),
            kind=kind,
            reason=str(raw.get("reason", "")),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise PipelineError(
            f"registry tag {key}: not a champion history event ({first_line(err)[:200]}); "
            "fix or delete the tag"
        ) from None


def events(tags: Mapping[str, str] | None) -> list[Event]:
    """The history in the registered model's tags, oldest first."""
    found = [parse(key, value) for key, value in (tags or {}).items() if key.startswith(PREFIX)]
    return sorted(found, key=lambda item: item.seq)


def stack(history: Iterable[Event]) -> list[str]:
    """Champions in force, oldest first, the current one last: a new champion is pushed, a
    rollback pops the one it replaced and lands on its target (earlier in the stack when it is
    there, so the next rollback goes further back; pushed when it is not)."""
    versions: list[str] = []
    for item in history:
        if item.kind in PUSHES:
            versions.append(item.to)
            continue
        if versions:
            versions.pop()
        if item.to in versions:
            del versions[len(versions) - versions[::-1].index(item.to) :]
        else:
            versions.append(item.to)
    return versions


def previous_champion(history: Iterable[Event], champion: str | None = None) -> str | None:
    """The version a rollback returns to. A `champion` the history has not recorded (a move
    the next repair will record as `unrecorded`) counts as pushed."""
    versions = stack(history)
    if champion is not None and (not versions or versions[-1] != str(champion)):
        versions.append(str(champion))
    return versions[-2] if len(versions) >= 2 else None


def unrecorded(history: list[Event], champion: str, env: Mapping[str, str] | None = None) -> Event:
    """The event repair writes when `champion` is not the last recorded one."""
    last = history[-1].to if history else None
    was = f"the last recorded event moved it to version {last}" if last else "no event records it"
    return event(
        history[-1].seq + 1 if history else 1,
        "unrecorded",
        last,
        champion,
        f"champion is version {champion} but {was} (a run killed before recording, or a move "
        f"by hand); noticed by {actor(env)}",
        env,
        by="unknown",
    )


def table(history: Iterable[Event]) -> str:
    """Aligned plain-text columns, oldest first (the newest on the last line)."""
    rows = [list(COLUMNS)] + [
        ["-" if row[key] is None else str(row[key]) for key in COLUMNS]
        for row in (item.as_dict() for item in history)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


def summary(history: list[Event], name: str, champion: str | None, link: str) -> dict[str, Any]:
    """`make history --json`: the events with the current and previous champion."""
    return {
        "registered_model": name,
        "champion": champion,
        "previous": previous_champion(history, champion) if champion is not None else None,
        "history": link,
        "events": [item.as_dict() for item in history],
    }


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    from tabular_mlops.cd.links import history_link
    from tabular_mlops.ct import registry
    from tabular_mlops.ct.store_lock import store_lock

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--json", action="store_true", help="print the history as JSON")
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    name = params.track.registered_model
    with store_lock(tracking_uri(), "history", name):
        client = registry.connect()
        repaired = registry.repair(client, params.track.experiment, name)
        model = registry.registered(client, name)
    if repaired:
        print(f"history: {repaired}", file=sys.stderr if args.json else sys.stdout)
    tags = dict(model.tags or {}) if model is not None else {}
    champion = registry.alias_version(model, registry.CHAMPION)
    history = events(tags)
    if args.json:
        print(json.dumps(summary(history, name, champion, history_link(tracking_uri(), name))))
    elif not history:
        print(f"history: no champion change recorded for {name} yet")
    else:
        print(table(history))


if __name__ == "__main__":
    main()
