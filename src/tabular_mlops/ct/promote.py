"""`make promote`: move the registry alias `champion` (or `--alias`) to the `challenger` only if
every gate passes.

Both models are loaded from the MLflow registry and re-scored on the same held-out split, so the
comparison never trusts numbers logged by an older pipeline. The gates come from params.yaml
(`gates`): floors and the margin over the task's Dummy baseline always apply, regression tolerances
against the champion when there is one; the first run, with no champion, bootstraps. The decision
is written to reports/promotion.json and .md and as tags on the challenger's model version.
`--alias staging` gates against the champion all the same but moves `staging` instead, for
`make release` to move `champion` later; a move of `champion` is recorded in its history
(cd/history.py).
The read-decide-write holds the store's lock (ct/store_lock.py), so a second promote at once sees
the first one's result; it first repairs what a killed track or promote left (registry.repair).

Exit codes: 0 when the decision was made (promoted, bootstrapped, unchanged, or rejected unless
`--fail-on-reject`, which exits 1 on a rejection); 2 on bad input (unreachable registry, missing
alias, model that does not load, bad gate), in which case nothing in the registry changes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tabular_mlops.cd.links import history_link
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.gates import Check, Gates, Scores, check_all, check_names, gates_from_params
from tabular_mlops.core.github import add_summary
from tabular_mlops.core.io import atomic_path, read_parquet, write_json
from tabular_mlops.core.lineage import tracking_uri
from tabular_mlops.core.params import DataParams, EvaluateParams, load_params
from tabular_mlops.core.task import METRICS, model_scores
from tabular_mlops.ct import registry
from tabular_mlops.ct.promotion_record import describe, markdown, record, version_tags
from tabular_mlops.ct.promotion_record import tag_key as tag_key
from tabular_mlops.ct.store_lock import store_lock
from tabular_mlops.stages.evaluate import overall, slices

EXIT_REJECTED = 1


@dataclass(frozen=True)
class Decision:
    decision: str  # promoted | bootstrapped | rejected | unchanged
    reason: str
    checks: tuple[Check, ...]

    @property
    def moves_champion(self) -> bool:
        return self.decision in ("promoted", "bootstrapped")

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)


def score_model(
    model: Any,
    train: pd.DataFrame,
    test: pd.DataFrame,
    data: DataParams,
    params: EvaluateParams,
) -> Scores:
    """The evaluate stage's metrics and slices for `model`, on the given split, for any task."""
    scores = model_scores(model, test.drop(columns=[data.target]), data.task)
    y_true = test[data.target].to_numpy()
    return Scores(
        metrics=overall(scores, train, test, data, params),
        slices=slices(test, y_true, scores, params, data.task),
    )


def decide(
    gates: Gates,
    challenger: Scores,
    champion: Scores | None,
    challenger_version: str,
    champion_version: str | None,
    alias: str = registry.CHAMPION,
) -> Decision:
    """Promote only when every check passes; bootstrap when there is no champion yet. The
    decision is always against the champion; `alias` is what a pass moves."""
    moves = "" if alias == registry.CHAMPION else f"; alias {alias} moves to it"
    if champion_version == challenger_version:
        return Decision(
            "unchanged", f"version {challenger_version} is already the champion{moves}", ()
        )
    checks = tuple(check_all(gates, challenger, champion))
    failed = [check for check in checks if not check.passed]
    if failed:
        listed = "; ".join(f"{check.name} ({check.detail})" for check in failed[:3])
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        kept = f"version {champion_version} stays champion" if champion_version else "no champion"
        return Decision(
            "rejected",
            f"{len(failed)} of {len(checks)} gates failed, {kept}: {listed}{more}",
            checks,
        )
    if champion_version is None:
        return Decision(
            "bootstrapped",
            f"no champion yet: version {challenger_version} passed all {len(checks)} gates "
            "(floors, baseline margin, slices)" + (moves or " and becomes the first champion"),
            checks,
        )
    return Decision(
        "promoted",
        f"version {challenger_version} passed all {len(checks)} gates against champion version "
        f"{champion_version}{moves}"
        if moves
        else f"version {challenger_version} passed all {len(checks)} gates and replaces "
        f"version {champion_version} as champion",
        checks,
    )


def _write(
    client: Any,
    name: str,
    alias: str,
    decision: Decision,
    versions: tuple[Any, Any | None],
    checked_at: str,
) -> None:
    """The decision's tags and, on a pass, the alias move (recorded in the champion's history
    when the alias is champion). The champion itself passes for any other alias."""
    challenger, champion = versions
    version = str(challenger.version)
    if decision.decision == "unchanged":
        if alias != registry.CHAMPION:
            registry.move_alias(client, name, alias, version, "promoted", decision.reason)
        return
    compared = None if champion is None else str(champion.version)
    registry.write_decision(
        client,
        name,
        version,
        version_tags(decision, checked_at, compared),
        alias if decision.moves_champion else None,
        decision.decision,
    )


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--fail-on-reject", action="store_true", help="exit 1 when the challenger is rejected"
    )
    parser.add_argument(
        "--allow-bootstrap",
        action="store_true",
        help="bootstrap even though the previous champion's version was deleted",
    )
    parser.add_argument(
        "--alias",
        default=registry.CHAMPION,
        help="the alias a pass moves (default champion); the gates compare with the champion",
    )
    args = parser.parse_args(argv)
    if args.alias == registry.CHALLENGER or not args.alias.strip():
        raise PipelineError(f"--alias {args.alias!r}: promote cannot move that alias")
    params = load_params(Path(args.params))
    gates = gates_from_params(params.gates)
    task = params.data.task
    check_names(gates, dict.fromkeys(METRICS[task], 0.0), source=args.params)
    train, test = read_parquet(params.paths.train), read_parquet(params.paths.test)
    name = params.track.registered_model

    with store_lock(tracking_uri(), "promote", name):
        client = registry.connect()
        repaired = registry.repair(client, params.track.experiment, name)
        if repaired:
            print(f"promote: {repaired}")
        challenger_version, champion_version = registry.resolve(
            client,
            name,
            args.allow_bootstrap,
            registry.pinned(Path(params.paths.run_info), name),
        )
        challenger = score_model(
            registry.load(name, challenger_version, registry.CHALLENGER),
            train,
            test,
            params.data,
            params.evaluate,
        )
        champion = (
            score_model(
                registry.load(name, champion_version, registry.CHAMPION),
                train,
                test,
                params.data,
                params.evaluate,
            )
            if champion_version is not None
            else None
        )
        decision = decide(
            gates,
            challenger,
            champion,
            str(challenger_version.version),
            None if champion_version is None else str(champion_version.version),
            args.alias,
        )
        checked_at = datetime.now(UTC).isoformat(timespec="seconds")
        promotion = record(
            decision,
            name,
            describe(challenger_version, challenger, task),
            describe(champion_version, champion, task) if champion_version is not None else None,
            checked_at,
            alias=args.alias,
            history=history_link(tracking_uri(), name),
        )
        versions = (challenger_version, champion_version)
        _write(client, name, args.alias, decision, versions, checked_at)
        write_json(params.paths.promotion, promotion)
        text = markdown(promotion)
        with atomic_path(params.paths.promotion_report) as tmp:
            tmp.write_text(text, encoding="utf-8")
    add_summary(text)
    print(f"promote: {decision.decision}: {decision.reason}")
    if decision.decision == "rejected" and args.fail_on_reject:
        raise SystemExit(EXIT_REJECTED)


if __name__ == "__main__":
    main()
