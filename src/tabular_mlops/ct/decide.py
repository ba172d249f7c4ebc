"""Decide whether to retrain: new data since the last training, drift, or a forced run.

"The last training" is what dvc.lock records: the md5 and size of paths.raw when the pipeline
last ran. Batches are appended to the raw file, so a batch whose byte offset is at or past the
recorded size came after it. A drift report counts only if it was measured against the model
trained on the data dvc.lock still records, so a report from before the last retraining cannot
keep triggering. A schedule tick with nothing new gives retrain=false and says why.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabular_mlops.core.batches import read_manifest, trained_raw, untrained
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.github import set_outputs
from tabular_mlops.core.io import read_json, write_json
from tabular_mlops.core.lineage import file_md5
from tabular_mlops.core.params import load_params


@dataclass(frozen=True)
class Decision:
    retrain: bool
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def decide(
    force: bool,
    raw_md5: str,
    trained: dict[str, Any] | None,
    batches: list[dict[str, Any]],
    pending: list[str],
    drift: dict[str, Any] | None,
) -> Decision:
    """`trained` is dvc.lock's entry for the raw file ({md5, size}), None if never trained."""
    reasons: list[str] = []
    if force:
        reasons.append("forced (FORCE=true)")
    if pending:
        reasons.append(f"{len(pending)} batch(es) waiting to be ingested: {', '.join(pending)}")
    new = untrained(batches, trained, raw_md5)
    if trained is None:
        reasons.append("no training recorded in dvc.lock")
    elif new is None:
        reasons.append("the raw data changed since the last training (dvc.lock)")
    elif new:
        rows = sum(int(b["rows"]) for b in new)
        names = ", ".join(b["name"] for b in new)
        reasons.append(f"new data since the last training: {names} ({rows} rows)")
    if drift and drift.get("drift") and drift.get("trained_raw_md5") == (trained or {}).get("md5"):
        named = ", ".join(drift.get("drifted_features") or []) or "no single feature"
        also = [
            kind
            for kind, key in (("prior", "prior_shift"), ("prediction", "prediction_drift"))
            if (drift.get(key) or {}).get("drifted")
        ]
        extra = f"; {' and '.join(also)} shift" if also else ""
        stale = "" if reasons else " (but no new data: the retrained model will be the same)"
        reasons.append(f"drift beyond threshold: {named}{extra}{stale}")
    if reasons:
        return Decision(True, tuple(reasons))
    return Decision(
        False, ("nothing new since the last training and no drift: no retraining needed",)
    )


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise PipelineError(f"FORCE={text!r}: expected true or false")


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--force", default="false", help="true: retrain whatever the data says")
    parser.add_argument("--lock", default="dvc.lock")
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    paths = params.paths
    batches = read_manifest(paths.batches)
    known = {batch["md5"] for batch in batches}
    incoming = Path(paths.incoming)
    files = sorted(incoming.glob(params.ingest.pattern)) if incoming.is_dir() else []
    pending = [p.name for p in files if p.is_file() and file_md5(p) not in known]  # no FIFO
    drift_path = Path(paths.drift)
    drift = read_json(drift_path) if drift_path.is_file() else None
    decision = decide(
        parse_bool(args.force),
        file_md5(paths.raw),
        trained_raw(Path(args.lock), paths.raw),
        batches,
        pending,
        drift,
    )
    write_json(paths.decision, {"retrain": decision.retrain, "reasons": list(decision.reasons)})
    set_outputs(retrain=decision.retrain, reason=decision.reason)
    print(f"retrain={str(decision.retrain).lower()}: {decision.reason}")


if __name__ == "__main__":
    main()
