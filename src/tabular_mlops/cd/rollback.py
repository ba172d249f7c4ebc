"""`make rollback [TO=n] [REASON=...] [DRY_RUN=1]`: move `champion` back, in one recorded step.

The target is the previous champion, found by replaying the production history as a stack
(cd/history.py): a rollback pops the current champion, so a second rollback goes one further
back. `--to` names a version instead. The target must exist and carry `model.md5`, the md5 of
its exact file (what `make bundle VERSION=n` ships). The move and its `rollback` event hold the
store lock; `--dry-run` only reads, prints and sets the target.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tabular_mlops.cd import history, moves
from tabular_mlops.cd.links import history_link
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.github import set_outputs
from tabular_mlops.core.lineage import tracking_uri
from tabular_mlops.core.params import load_params
from tabular_mlops.ct import registry
from tabular_mlops.ct.store_lock import sqlite_path, store_lock

NOTHING = "nothing rolled back"


def target(client: Any, name: str, to: str | None) -> tuple[str, str]:
    """(current champion, version to roll back to), both checked; else one line."""
    model = registry.registered(client, name)
    champion = registry.alias_version(model, registry.CHAMPION)
    if champion is None:
        raise PipelineError(f"registry: {name} has no champion; {NOTHING}")
    if to is None:
        to = history.previous_champion(history.events(model.tags), champion)
        if to is None:
            raise PipelineError(
                f"registry: {name} has no previous champion in its history (version {champion} "
                f"is the first); {NOTHING} (TO=version names one)"
            )
    if to == champion:
        raise PipelineError(f"registry: {name} version {to} is already the champion; {NOTHING}")
    moves.shippable(client, name, to, NOTHING)
    return champion, to


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--to", help="the version to roll back to (default: previous champion)")
    parser.add_argument("--reason", default="", help="why (recorded in the history)")
    parser.add_argument("--dry-run", action="store_true", help="say the target, change nothing")
    parser.add_argument("--out", help="the report (default: rollback.json beside paths.promotion)")
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    name = params.track.registered_model
    to = None if args.to is None else moves.version_number(args.to, "--to")
    if args.dry_run:
        database = sqlite_path(tracking_uri())
        if database is not None and not database.is_file():
            raise PipelineError(f"{database}: no MLflow store there; {NOTHING}")
        champion, to = target(registry.connect(), name, to)
        set_outputs(version=to, previous=champion, dry_run=True)
        print(
            f"rollback: would move champion of {name} from version {champion} back to version "
            f"{to} (dry run: nothing changed)"
        )
        return
    with store_lock(tracking_uri(), "rollback", name):
        client = registry.connect()
        repaired = registry.repair(client, params.track.experiment, name)
        if repaired:
            print(f"rollback: {repaired}")
        champion, to = target(client, name, to)
        reason = args.reason or f"rollback of version {champion}"
        added = registry.move_alias(client, name, registry.CHAMPION, to, "rollback", reason)
    done = {
        "registered_model": name,
        "from": champion,
        "to": to,
        "reason": added.reason,
        "at": added.at,
        "by": added.by,
        "run": added.run,
        "history": history_link(tracking_uri(), name),
        "event": added.as_dict(),
    }
    out = args.out or Path(params.paths.promotion).with_name("rollback.json")
    title = f"Rollback: champion of {name} → version {to}"
    moves.report(out, done, title, {"version": to, "previous": champion, "dry_run": "false"})
    print(
        f"rollback: champion of {name} moved from version {champion} back to version {to} "
        f"(history event {added.seq})"
    )


if __name__ == "__main__":
    main()
