"""`make promote`: move the registry alias `champion` to the `challenger` only if every gate passes.

Both models are loaded from the MLflow registry and re-scored on the same held-out split, so the
comparison never trusts numbers logged by an older pipeline. The gates come from params.yaml
(`gates`): floors and the margin over a DummyClassifier always apply, regression tolerances
against the champion when there is one; the first run, with no champion, bootstraps. The decision
is written to reports/promotion.json and .md and as tags on the challenger's model version.

Exit codes: 0 when the decision was made (promoted, bootstrapped, unchanged, or rejected unless
`--fail-on-reject`, which exits 1 on a rejection); 2 on bad input (unreachable registry, missing
alias, model that does not load, bad gate), in which case nothing in the registry changes.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.errors import PipelineError, exits_cleanly, first_line
from tabular_mlops.core.gates import (
    Check,
    Gates,
    Scores,
    check_all,
    check_names,
    check_table,
    gates_from_params,
)
from tabular_mlops.core.github import add_summary
from tabular_mlops.core.io import atomic_path, read_parquet, write_json
from tabular_mlops.core.lineage import tracking_uri
from tabular_mlops.core.params import DataParams, EvaluateParams, load_params
from tabular_mlops.stages.evaluate import METRIC_NAMES, overall, slices

CHAMPION = "champion"
CHALLENGER = "challenger"
#: Registered-model tag naming the version `champion` was last moved to. MLflow drops an alias
#: with its version, so this is how a deleted champion is told apart from "never had one".
CHAMPION_TAG = "promotion.champion_version"
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
    """The evaluate stage's metrics and slices for `model`, on the given split."""
    proba = np.asarray(model.predict_proba(test.drop(columns=[data.target]))[:, 1])
    y_true = test[data.target].to_numpy()
    return Scores(
        metrics=overall(proba, train, test, data, params),
        slices=slices(test, y_true, proba, params),
    )


def decide(
    gates: Gates,
    challenger: Scores,
    champion: Scores | None,
    challenger_version: str,
    champion_version: str | None,
) -> Decision:
    """Promote only when every check passes; bootstrap when there is no champion yet."""
    if champion_version == challenger_version:
        return Decision("unchanged", f"version {challenger_version} is already the champion", ())
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
            "(floors, baseline margin, slices) and becomes the first champion",
            checks,
        )
    return Decision(
        "promoted",
        f"version {challenger_version} passed all {len(checks)} gates and replaces "
        f"version {champion_version} as champion",
        checks,
    )


def record(
    decision: Decision,
    name: str,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    checked_at: str,
) -> dict[str, Any]:
    """The JSON written to reports/promotion.json (the pull-request report reads it)."""
    return {
        "decision": decision.decision,
        "reason": decision.reason,
        "registered_model": name,
        "checked_at": checked_at,
        "challenger": challenger,
        "champion": champion,
        "checks": [check.as_dict() for check in decision.checks],
    }


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown(promotion: dict[str, Any]) -> str:
    """A human-readable decision: failed gates first, each with both values."""
    champion = promotion["champion"]
    lines = [
        f"# Promotion of {promotion['registered_model']}: {promotion['decision']}",
        "",
        promotion["reason"],
        "",
        f"- challenger: version {promotion['challenger']['version']}"
        f" (run {promotion['challenger'].get('run_id', '?')})",
        f"- champion: version {champion['version']} (run {champion.get('run_id', '?')})"
        if champion
        else "- champion: none",
        f"- checked at {promotion['checked_at']}",
    ]
    checks = sorted(promotion["checks"], key=lambda check: check["passed"])
    if checks:
        lines += ["", *check_table(checks, _fmt)]
    return "\n".join(lines) + "\n"


def tag_key(text: str) -> str:
    """MLflow tag keys allow letters, digits, `_ - . / :` and spaces only."""
    return re.sub(r"[^\w.\-/: ]", "_", text)


def version_tags(decision: Decision, checked_at: str, champion: str | None) -> dict[str, str]:
    tags = {
        "promotion.decision": decision.decision,
        "promotion.checked_at": checked_at,
        "promotion.reason": decision.reason[:4000],
        "promotion.compared_with": champion or "none",
    }
    for check in decision.failed:
        tags[tag_key(f"promotion.failed.{check.name}")] = check.detail
    return tags


# Registry access: only main() and these helpers touch MLflow.


def _registry_error(err: BaseException) -> PipelineError:
    return PipelineError(f"registry {tracking_uri()}: {first_line(err)[:300]}")


def _registered(client: Any, name: str) -> Any | None:
    """The registered model (aliases and tags included), or None when it does not exist."""
    try:
        return client.get_registered_model(name)
    except Exception as err:
        if getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise _registry_error(err) from None


def _version(client: Any, name: str, version: str) -> Any:
    try:
        return client.get_model_version(name, version)
    except Exception as err:
        raise _registry_error(err) from None


def _resolve(client: Any, name: str, allow_bootstrap: bool) -> tuple[Any, Any | None]:
    """The challenger's and the champion's model versions (champion None: bootstrap)."""
    model = _registered(client, name)
    aliases = dict(model.aliases) if model is not None else {}
    if CHALLENGER not in aliases:
        raise PipelineError(
            f"registry: {name} has no alias '{CHALLENGER}' (nothing registered yet, or its "
            "version was deleted): run `make repro`"
        )
    challenger = _version(client, name, str(aliases[CHALLENGER]))
    if CHAMPION in aliases:
        return challenger, _version(client, name, str(aliases[CHAMPION]))
    last = (model.tags or {}).get(CHAMPION_TAG)
    if last is not None and not allow_bootstrap:
        versions = {str(v.version) for v in _search(client, name)}
        what = "was deleted" if last not in versions else "lost the alias"
        raise PipelineError(
            f"registry: {name} alias '{CHAMPION}' is gone (version {last} {what}); "
            "set the alias to a version by hand, or run with --allow-bootstrap"
        )
    return challenger, None


def _search(client: Any, name: str) -> list[Any]:
    try:
        return list(client.search_model_versions(f"name = '{name}'"))
    except Exception as err:
        raise _registry_error(err) from None


def _load(name: str, version: Any, alias: str) -> Any:
    import mlflow

    uri = f"models:/{name}/{version.version}"
    try:
        return mlflow.sklearn.load_model(uri)
    except Exception as err:  # missing artifacts, corrupt pickle, unreachable artifact store
        raise PipelineError(
            f"{uri} ({alias}): cannot load model "
            f"({err.__class__.__name__}: {first_line(err)[:300]})"
        ) from None


def _describe(version: Any, scores: Scores | None) -> dict[str, Any]:
    metrics = scores.metrics if scores else {}
    return {
        "version": str(version.version),
        "run_id": version.run_id,
        "metrics": {name: metrics.get(name) for name in METRIC_NAMES if name in metrics},
    }


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
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    gates = gates_from_params(params.gates)
    check_names(gates, dict.fromkeys(METRIC_NAMES, 0.0), source=args.params)
    train, test = read_parquet(params.paths.train), read_parquet(params.paths.test)
    name = params.track.registered_model

    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient(tracking_uri())
    challenger_version, champion_version = _resolve(client, name, args.allow_bootstrap)
    challenger = score_model(
        _load(name, challenger_version, CHALLENGER), train, test, params.data, params.evaluate
    )
    champion = (
        score_model(
            _load(name, champion_version, CHAMPION), train, test, params.data, params.evaluate
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
    )
    checked_at = datetime.now(UTC).isoformat(timespec="seconds")
    promotion = record(
        decision,
        name,
        _describe(challenger_version, challenger),
        _describe(champion_version, champion) if champion_version is not None else None,
        checked_at,
    )
    if decision.decision != "unchanged":
        try:
            compared = None if champion_version is None else str(champion_version.version)
            for key, value in version_tags(decision, checked_at, compared).items():
                client.set_model_version_tag(name, challenger_version.version, key, value)
            if decision.moves_champion:
                client.set_registered_model_alias(name, CHAMPION, challenger_version.version)
                client.set_registered_model_tag(name, CHAMPION_TAG, challenger_version.version)
        except Exception as err:
            raise _registry_error(err) from None
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
