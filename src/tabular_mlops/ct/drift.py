"""Drift watch: compare the newest data with the data the model was trained on.

Per feature, the test that fits its type (Kolmogorov-Smirnov for continuous numbers, chi-squared
for categories and for numbers with few values) plus the population stability index (PSI); prior
shift as chi-squared on the target's classes, or KS on a regression target's values; prediction
drift as KS on the model's scores (binary: the positive probability; multiclass: each class's
probability; regression: the predicted value). One
Benjamini-Hochberg correction runs across all of them, so twenty features do not raise twenty
false alarms, and a column counts as drifted only if its adjusted p-value is below `drift.alpha`
*and* its PSI reaches `drift.psi_threshold`: with many rows any tiny change is significant, and
an alarm should mean a change worth a look. Writes JSON, Markdown and HTML; exits 0 either way.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabular_mlops.core.batches import read_manifest, trained_raw, untrained
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.features import typed_features
from tabular_mlops.core.github import add_summary, set_outputs
from tabular_mlops.core.io import read_csv, read_model, read_parquet, write_json
from tabular_mlops.core.lineage import file_md5
from tabular_mlops.core.params import DataParams, Params, load_params
from tabular_mlops.core.task import model_scores as task_scores
from tabular_mlops.ct.drift_report import write_reports
from tabular_mlops.ct.drift_stats import (
    KIND_NAMES,
    DriftResult,
    check_columns,
    describe_tests,
    detect,
)

#: The key of each task's score in a prediction-log line (see serving's PredictionLog).
LOG_KEYS = {"binary": "probability", "multiclass": "probabilities", "regression": "prediction"}


def logged_score(value: Any, data: DataParams) -> float | list[float]:
    """One logged score as the drift check compares it: a number, or one probability per class
    in `data.classes` order (the log names them by label)."""
    key = LOG_KEYS[data.task]
    if data.task != "multiclass":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"'{key}' is not a number")
        return float(value)
    if not isinstance(value, dict):
        raise ValueError(f"'{key}' is not an object of label: probability")
    missing = [name for name in data.class_names if name not in value]
    if missing:
        raise ValueError(f"'{key}' has no class {missing[0]!r}")
    if not all(isinstance(value[n], int | float) for n in data.class_names):
        raise ValueError(f"'{key}' has a value that is not a number")
    return [float(value[name]) for name in data.class_names]


def log_record(record: Any, data: DataParams) -> tuple[list[Any], list[Any]]:
    """The inputs and scores of one log line (a line may hold one row or a list of rows)."""
    key = LOG_KEYS[data.task]
    if not isinstance(record, dict) or "inputs" not in record or key not in record:
        raise ValueError(f"expected an object with 'inputs' and '{key}'")
    inputs, logged = record["inputs"], record[key]
    if not isinstance(inputs, list):
        return [inputs], [logged_score(logged, data)]
    values = logged if isinstance(logged, list) else [logged]
    if len(values) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(values)} scores")
    return inputs, [logged_score(value, data) for value in values]


def read_prediction_log(path: str | Path, data: DataParams) -> tuple[pd.DataFrame, np.ndarray]:
    """The serving log (one JSON object a line: `inputs` and the task's score, `probability`,
    `probabilities` by label, or `prediction`) as a window and its scores."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: prediction log not found")
    rows: list[Any] = []
    scores: list[Any] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                inputs, scored = log_record(json.loads(line), data)
            except json.JSONDecodeError:
                raise PipelineError(f"{path}: line {number}: not a JSON object") from None
            except ValueError as err:
                raise PipelineError(
                    f"{path}: line {number}: not a {data.task} prediction record: {err}"
                ) from None
            rows.extend(inputs)
            scores.extend(scored)
    if not rows:
        raise PipelineError(f"{path}: prediction log has no records")
    frame = pd.DataFrame(rows)
    check_columns(frame, data, str(path))
    return frame, np.asarray(scores, dtype="float64")


def model_input(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """The feature columns typed as `prepare` types them, which is what the model was fitted on."""
    features = typed_features(frame, data).loc[:, list(data.features)]
    return features.reset_index(drop=True)


def windows(
    params: Params, current_path: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None, dict[str, Any]]:
    """Read the current and reference windows (and logged scores) as params and CURRENT say."""
    paths, settings, data = params.paths, params.drift, params.data
    raw = read_csv(paths.raw)
    logged: np.ndarray | None = None
    context: dict[str, Any] = {}
    new = untrained(
        read_manifest(paths.batches), trained_raw(Path("dvc.lock"), paths.raw), file_md5(paths.raw)
    )
    start = min((int(batch["first_row"]) for batch in new or []), default=len(raw))
    log_path = current_path if current_path else None
    if log_path is None and settings.current == "prediction_log":
        if not settings.prediction_log:
            raise PipelineError(
                "params.yaml: drift.current is prediction_log but drift.prediction_log is null"
            )
        log_path = settings.prediction_log
    if log_path and Path(log_path).suffix in (".jsonl", ".ndjson", ".log"):
        current, logged = read_prediction_log(log_path, data)
        context["current"] = f"prediction log {log_path} ({len(current)} rows)"
    elif log_path:
        current = read_csv(log_path)
        check_columns(current, data, str(log_path))
        context["current"] = f"{log_path} ({len(current)} rows)"
    else:
        if not new:
            return raw, raw.iloc[:0], None, {"current": "none", "reference": paths.raw}
        current = raw.iloc[start:]
        names = ", ".join(batch["name"] for batch in new)
        context["current"] = f"batch(es) ingested since the last training: {names}"
    if settings.reference == "train":
        reference = read_parquet(paths.train)
        context["reference"] = f"the train split {paths.train} ({len(reference)} rows)"
    else:
        reference = raw.iloc[:start]
        context["reference"] = f"{paths.raw}, the {len(reference)} rows trained on"
    if data.id_column is not None and {data.id_column} <= {*reference.columns} & {*current.columns}:
        reference = reference[~reference[data.id_column].isin(current[data.id_column])]
    if reference.empty and not current.empty:
        raise PipelineError(
            f"reference window is empty: every row of it is also in the current window "
            f"({context['current']})"
        )
    return reference, current, logged, context


def model_scores(
    params: Params, current: pd.DataFrame, logged: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Scores on held-out reference rows (the test split) and on the current window.

    Rows the model was trained on score more confidently than new rows, so the reference is
    the test split and current rows that are in the train split are left out.
    """
    model_path, test_path = Path(params.paths.model), Path(params.paths.test)
    if not model_path.is_file() or not test_path.is_file():
        return None, None, f"prediction drift not checked: run `make repro` for {model_path}"
    model = read_model(model_path)
    data = params.data
    held_out = read_parquet(test_path)
    trained_ids: pd.Series = pd.Series([], dtype=object)
    has_ids = data.id_column is not None and data.id_column in current.columns
    if has_ids and Path(params.paths.train).is_file():
        trained_ids = read_parquet(params.paths.train)[data.id_column]
    if has_ids:
        held_out = held_out[~held_out[data.id_column].isin(current[data.id_column])]
    if held_out.empty:
        return (
            None,
            None,
            "prediction drift not checked: every held-out row is in the current window",
        )
    reference_scores = task_scores(model, model_input(held_out, data), data.task)
    if logged is not None:
        return reference_scores, logged, None
    if has_ids:
        current = current[~current[data.id_column].isin(trained_ids)]
    if current.empty:
        return reference_scores, np.array([]), None
    return reference_scores, task_scores(model, model_input(current, data), data.task), None


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--current", help="CSV or prediction log (.jsonl) to check (default: drift.current)"
    )
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    reference, current, logged, context = windows(params, args.current)
    out = Path(params.paths.drift)
    if current.empty:
        result = DriftResult(
            (),
            params.drift.alpha,
            params.drift.psi_threshold,
            ("nothing to compare: no batch ingested since the last training and no CURRENT",),
            describe_tests(params.data),
        )
    else:
        ref_scores, cur_scores, note = model_scores(params, current, logged)
        result = detect(
            reference,
            current,
            params.data,
            params.drift,
            ref_scores,
            cur_scores,
            (note,) if note else (),
        )
    payload = {
        **result.summary(),
        "current": context["current"],
        "reference": context["reference"],
        "raw_md5": file_md5(params.paths.raw),
        "trained_raw_md5": (trained_raw(Path("dvc.lock"), params.paths.raw) or {}).get("md5"),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(out, payload)
    markdown = write_reports(out, result, context, reference, current, params.data)
    set_outputs(drift=result.drift)
    add_summary(markdown)
    named = ", ".join(result.drifted_features) or "none"
    extra = list(
        dict.fromkeys(
            KIND_NAMES[c.kind] for c in result.columns if c.drifted and c.kind != "feature"
        )
    )
    print(
        f"drift={str(result.drift).lower()}: drifted features: {named}"
        + (f"; also {', '.join(extra)} shift" if extra else "")
        + f" ({out}, {out.with_suffix('.md')}, {out.with_suffix('.html')})"
    )


if __name__ == "__main__":
    main()
