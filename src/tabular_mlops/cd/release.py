"""`make release ALIAS=staging|champion BUNDLE=dir`: point an alias at the bundle's model version.

The bundle (cd/bundle.py) is what the image ships: its manifest names a registry version and the
md5 of model.pkl. The release moves the alias only when those bytes are that version's (the
bundle file, the manifest and the version's `model.md5` tag agree), and when the version passed
the gate against the champion in force now (`promotion.decision` promoted or bootstrapped, with
`promotion.compared_with` the current champion), or is the champion. Otherwise one line, exit 2,
and nothing moves. Moving `champion` is recorded in its history (cd/history.py). The checks and
the move hold the store lock, so no promote or rollback slips in between.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tabular_mlops.cd import history, moves
from tabular_mlops.cd import manifest as bundle_manifest
from tabular_mlops.cd.links import history_link
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.lineage import MD5_TAG, file_md5, tracking_uri
from tabular_mlops.core.params import load_params
from tabular_mlops.ct import registry
from tabular_mlops.ct.store_lock import store_lock

ALIASES = ("staging", registry.CHAMPION)
PASSED = ("promoted", "bootstrapped")
MODEL_FILE = "model.pkl"
NOTHING = "nothing released"


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: Mapping[str, Any]
    version: str
    md5: str


def read_bundle(path: Path, name: str) -> Bundle:
    """The manifest, checked against the files beside it: model.pkl's md5 (and every file the
    manifest lists) must be what it says, and it must name this project's registered model."""
    source = path / bundle_manifest.MANIFEST
    try:
        manifest = bundle_manifest.read(path)
    except PipelineError as err:
        raise PipelineError(f"{err}; {NOTHING}") from None
    if manifest is None:
        raise PipelineError(f"{source}: not found (build the bundle with `make bundle`); {NOTHING}")
    for key in ("registered_model", "version", "md5"):
        if not manifest.get(key):
            raise PipelineError(f"{source}: no '{key}' (not written by `make bundle`?); {NOTHING}")
    if manifest["registered_model"] != name:
        raise PipelineError(
            f"{source}: names registered model {manifest['registered_model']!r}, but "
            f"track.registered_model is {name!r}; {NOTHING}"
        )
    files = dict(manifest.get("files") or {})
    files[MODEL_FILE] = manifest["md5"]
    for file, expected in files.items():
        target = path / file
        if not target.is_file():
            raise PipelineError(f"{target}: not found, but {source} lists it; {NOTHING}")
        actual = file_md5(target)
        if actual != expected:
            raise PipelineError(
                f"{target}: md5 {actual} differs from {expected} that {source} records; {NOTHING}"
            )
    version = moves.version_number(manifest["version"], f"{source} version")
    return Bundle(path, manifest, version, str(manifest["md5"]))


def refusal(tags: Mapping[str, str], version: str, champion: str | None) -> str | None:
    """Why `version` may not be released while `champion` is the champion (None: it may)."""
    if champion == version:
        return None
    decision = tags.get("promotion.decision")
    if decision not in PASSED:
        return (
            f"version {version} has not passed the gate (promotion.decision: "
            f"{decision or 'none'}): run `make promote`"
        )
    compared = tags.get("promotion.compared_with", "none")
    current = champion or "none"
    if compared != current:
        return (
            f"version {version} was gated against champion {compared}, but the champion is now "
            f"{current}: gate it again with `make promote`"
        )
    return None


def release(client: Any, bundle: Bundle, name: str, alias: str, reason: str) -> dict[str, Any]:
    """Check the version against the bundle and the champion, then move the alias; the caller
    holds the store lock. Returns what reports/release.json records."""
    found = moves.shippable(client, name, bundle.version, NOTHING)
    tagged = found.tags[MD5_TAG]
    if tagged != bundle.md5:
        raise PipelineError(
            f"registry: {name} version {bundle.version} has {MD5_TAG} {tagged}, but "
            f"{bundle.path / 'manifest.json'} records {bundle.md5} (a bundle from another "
            f"store?); {NOTHING}"
        )
    model = registry.registered(client, name)
    champion = registry.alias_version(model, registry.CHAMPION)
    why = refusal(found.tags, bundle.version, champion)
    if why is not None:
        raise PipelineError(f"registry: {name} {why}; {NOTHING}")
    was = registry.alias_version(model, alias)
    added = None
    if was != bundle.version:
        added = registry.move_alias(client, name, alias, bundle.version, "released", reason)
    manifest = bundle.manifest
    return {
        "alias": alias,
        "registered_model": name,
        "version": bundle.version,
        "previous": was,
        "status": "moved" if was != bundle.version else "unchanged",
        "champion": champion,
        "md5": bundle.md5,
        "run_id": manifest.get("run_id") or found.run_id,
        "git_commit": manifest.get("git_commit"),
        "bundle": str(bundle.path),
        "reason": reason,
        "at": added.at if added else datetime.now(UTC).isoformat(timespec="seconds"),
        "by": added.by if added else history.actor(),
        "run": added.run if added else history.run_link(),
        "history": history_link(tracking_uri(), name),
        "event": added.as_dict() if added else None,
    }


def line(done: Mapping[str, Any]) -> str:
    what = f"{done['alias']} of {done['registered_model']}"
    if done["status"] == "unchanged":
        return f"release: {what} is already version {done['version']}; nothing moved"
    was = f"from version {done['previous']} " if done["previous"] else ""
    event = f", history event {done['event']['seq']}" if done["event"] else ""
    return f"release: {what} moved {was}to version {done['version']} (md5 {done['md5']}{event})"


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--bundle", default="dist/serving", type=Path)
    parser.add_argument("--alias", default=registry.CHAMPION, choices=ALIASES)
    parser.add_argument("--reason", default="", help="why (recorded in the champion's history)")
    parser.add_argument("--out", help="the report (default: release.json beside paths.promotion)")
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    name = params.track.registered_model
    bundle = read_bundle(args.bundle, name)
    commit = str(bundle.manifest.get("git_commit") or "")[:12]
    built = f" (commit {commit})" if commit else ""
    reason = args.reason or f"released from {args.bundle}{built}"
    with store_lock(tracking_uri(), "release", name):
        client = registry.connect()
        repaired = registry.repair(client, params.track.experiment, name)
        if repaired:
            print(f"release: {repaired}")
        done = release(client, bundle, name, args.alias, reason)
    out = args.out or Path(params.paths.promotion).with_name("release.json")
    title = f"Release: {args.alias} → {name} version {done['version']}"
    moves.report(out, done, title, {"version": done["version"], "alias": args.alias})
    print(line(done))


if __name__ == "__main__":
    main()
