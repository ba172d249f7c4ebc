"""What a promotion leaves behind: reports/promotion.json and .md, and the decision's tags on
the challenger's model version. Pure: the decision in, plain values out."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tabular_mlops.core.gates import Scores, check_table
from tabular_mlops.core.task import METRICS, Task

if TYPE_CHECKING:
    from tabular_mlops.ct.promote import Decision


def record(
    decision: Decision,
    name: str,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    checked_at: str,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON written to reports/promotion.json (the pull-request report reads it); `extra`
    adds keys such as the alias moved and the production history's link."""
    return {
        "decision": decision.decision,
        "reason": decision.reason,
        "registered_model": name,
        "checked_at": checked_at,
        "challenger": challenger,
        "champion": champion,
        "checks": [check.as_dict() for check in decision.checks],
        **extra,
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
    if promotion.get("history"):
        lines.append(f"- production history: {promotion['history']}")
    checks = sorted(promotion["checks"], key=lambda check: check["passed"])
    if checks:
        lines += ["", *check_table(checks, _fmt)]
    return "\n".join(lines) + "\n"


def tag_key(text: str) -> str:
    """MLflow tag keys allow letters, digits, `_ - . / :` and spaces only."""
    return re.sub(r"[^\w.\-/: ]", "_", text)


def version_tags(decision: Decision, checked_at: str, champion: str | None) -> dict[str, str]:
    """`promotion.compared_with` is what `make release` checks: the champion the version was
    gated against must still be the champion when it is released."""
    tags = {
        "promotion.decision": decision.decision,
        "promotion.checked_at": checked_at,
        "promotion.reason": decision.reason[:4000],
        "promotion.compared_with": champion or "none",
    }
    for check in decision.failed:
        tags[tag_key(f"promotion.failed.{check.name}")] = check.detail
    return tags


def describe(version: Any, scores: Scores | None, task: Task) -> dict[str, Any]:
    metrics = scores.metrics if scores else {}
    return {
        "version": str(version.version),
        "run_id": version.run_id,
        "metrics": {name: metrics.get(name) for name in METRICS[task] if name in metrics},
    }
