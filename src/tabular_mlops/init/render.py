"""Render a `Draft` as params.yaml: the template's layout and comments, one line a column.

The file is written from this template rather than dumped by PyYAML so the comments that explain
each section survive and every column stays one flow-style line a reviewer can read in a diff.
Text that YAML would read as something else ("Yes", "1", "null") is quoted.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from tabular_mlops.core.task import DIRECTIONS
from tabular_mlops.init.draft import Draft
from tabular_mlops.init.tasks import GATED

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


def number(value: float) -> str:
    """A number YAML reads back as one: ints as ints, floats positional with a dot."""
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, int):
        return str(value)
    text = format(value, ".12g")
    if "e" in text or "E" in text:
        text = format(value, ".12f").rstrip("0")
    return text if "." in text else f"{text}.0"


def text(value: str, *, quote: bool = False) -> str:
    """Plain when that reads back as the same string, else double-quoted (JSON escapes are YAML)."""
    if not quote and _PLAIN.match(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def scalar(value: Any, *, quote: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(value)
    return text(str(value), quote=quote)


def flow_list(values: Any, *, quote: bool = False) -> str:
    return "[" + ", ".join(scalar(v, quote=quote) for v in values) + "]"


def flow_map(mapping: dict[str, Any]) -> str:
    parts = []
    for key, value in mapping.items():
        shown = flow_list(value, quote=True) if isinstance(value, list) else scalar(value)
        parts.append(f"{text(key)}: {shown}")
    return "{" + ", ".join(parts) + "}"


def render(draft: Draft) -> str:
    """The whole params.yaml for `draft`."""
    columns = "\n".join(f"    {text(c.name)}: {flow_map(c.spec())}" for c in draft.columns)
    shares = _block(
        "                 # per label: [min, max] share of rows (class balance)",
        [f"{scalar(k, quote=True)}: {flow_list(v)}" for k, v in draft.class_shares.items()],
    )
    bands = _block(
        "                        # numeric columns in bands: [a, b) [b, c) ... [last, inf)",
        [f"{text(k)}: {flow_list(v)}" for k, v in draft.bands.items()],
    )
    gates = "\n".join(
        f"    {name}: {{direction: {DIRECTIONS[name]}, "
        f"floor: {scalar(draft.gate_floors.get(name))}, "
        f"abs_tolerance: {number(abs_tol)}, rel_tolerance: {number(rel_tol)}}}"
        for name, abs_tol, rel_tol in GATED[draft.task]
    )
    classify = draft.task != "regression"
    baseline = "DummyClassifier" if classify else "DummyRegressor"
    margins = _block(
        f"              # the model must beat the {baseline} by at least this much",
        [f"{k}: {number(v)}" for k, v in draft.baseline_margin.items()],
    )
    weight = "\n    class_weight: balanced" if classify else ""
    return TEMPLATE.format(
        csv_name=draft.csv_name,
        raw=text(f"data/raw/{draft.csv_name}"),
        target_block=_target_block(draft),
        id_column=scalar(draft.id_column),
        columns=columns,
        min_rows=draft.min_rows,
        max_rows=draft.max_rows,
        class_shares=shares,
        rf_weight=(
            "\n    class_weight: balanced      # balanced | null (classification only)"
            if classify
            else ""
        ),
        hgb_weight=weight,
        linear_weight=weight,
        linear=("LogisticRegression (C = 1 / alpha)" if classify else "Ridge (alpha)"),
        threshold=(
            "\n  threshold: 0.5                # the positive label at or above this probability"
            if draft.task == "binary"
            else ""
        ),
        slice_columns=flow_list(draft.slice_columns),
        bands=bands,
        calibration=(
            "\n  calibration_bins: 10          # quantile bins of the reliability curve"
            if classify
            else ""
        ),
        experiment=text(draft.name),
        model=text(f"{draft.name}-model"),
        baseline=baseline,
        gates=gates,
        margins=margins,
        slice_min_rows=draft.slice_min_rows,
        ingest_min_rows=draft.ingest_min_rows,
        behaviour=BEHAVIOUR[draft.task],
    )


def _target_block(draft: Draft) -> str:
    """The target's keys. `labels` and `positive_label` are written (null) for every task, as
    dvc.yaml names them among a stage's params and DVC refuses a key that is absent."""
    lines = [f"  task: {draft.task}", f"  target: {text(draft.target)}"]
    if draft.task == "binary":
        lines += [
            f"  labels: {flow_list(draft.labels or (), quote=True)}",
            f"  positive_label: {scalar(draft.positive_label, quote=True)}",
        ]
    elif draft.task == "multiclass":
        lines += [
            f"  labels: {flow_list(draft.labels or (), quote=True)}"
            "   # the model's classes, in this order",
            "  positive_label: null          # binary only",
        ]
    else:
        bounds = flow_list(draft.target_range) if draft.target_range else "null"
        lines += [
            "  labels: null                  # classification only",
            "  positive_label: null          # binary only",
            f"  target_range: {bounds:<16}# critical: plausible values (null: any)",
        ]
    return "\n".join(lines)


def _block(comment: str, lines: list[str]) -> str:
    """A nested block after its key, or ` {}` when empty (an empty block would read as null)."""
    if not lines:
        return " {}"
    return comment + "".join(f"\n    {line}" for line in lines)


TEMPLATE = """\
# Drafted by `make init` from {csv_name}: review it (ranges, gates, behaviour), then commit it.
# One section per stage; dvc.yaml lists, for each stage, only the keys it reads.
# Every path is written once, here; dvc.yaml templates them with ${{paths.*}}.
paths:
  raw: {raw}
  validation: reports/validation.json
  data_docs: reports/data_docs
  train: data/prepared/train.parquet
  test: data/prepared/test.parquet
  model: models/model.pkl
  metrics: metrics/metrics.json
  plots: plots
  run_info: reports/mlflow_run.json
  incoming: data/incoming          # new CSV batches are dropped (or `dvc import-url`ed) here
  quarantine: data/quarantine      # rejected batches, each with its validation report
  batches: data/batches.json       # manifest of ingested batches: provenance for MLflow
  drift: reports/drift.json        # plus drift.md and drift.html beside it
  decision: reports/decision.json
  slices: metrics/slices.json
  promotion: reports/promotion.json
  promotion_report: reports/promotion.md

# The dataset, described once: the data contract (src/tabular_mlops/core/contract.py builds a
# Great Expectations suite from it), the model's features, serving's input check and the model
# tests all read this section. `make init CSV=... TARGET=...` drafted it from your data.
# Per column: kind (number | integer | category | ignored), range (critical: plausible values),
# warn (warning: the range seen so far), median (warning: a band for the median), values (a
# category's allowed values) and missing (largest share of empty cells; default 0).
# Drafted: range = the observed span widened by the span on each side (never below 0 for
# non-negative data); warn = the observed range; median = the observed median +- half the
# interquartile range; missing = the observed share plus headroom for a 50-row batch.
data:
{target_block}
  id_column: {id_column:<18} # null when rows have no id
  columns:
{columns}

validate:                       # bounds of the data contract beyond the per-column rules
  min_rows: {min_rows}
  max_rows: {max_rows}
  class_shares:{class_shares}

prepare:
  test_size: 0.2
  seed: 42

train:
  model: random_forest          # the family below: random_forest | hist_gradient_boosting | linear
  seed: 42
  # Each family's own settings; the task (data.task) picks its classifier or regressor.
  random_forest:
    n_estimators: 300
    max_depth: 10               # null for unlimited
    min_samples_leaf: 5{rf_weight}
  hist_gradient_boosting:
    max_iter: 300
    max_depth: null
    min_samples_leaf: 20
    learning_rate: 0.05{hgb_weight}
  linear:                       # {linear}
    alpha: 1.0{linear_weight}

evaluate:{threshold}
  slice_columns: {slice_columns}   # metrics per value of each
  bands:{bands}{calibration}
  importance_repeats: 2         # permutation importance shuffles per column
  importance_rows: 5000         # test rows it scores: a seeded, stratified sample (null: all)
  seed: 42

track:
  experiment: {experiment}
  registered_model: {model}

# What a challenger must pass before `make promote` moves the `champion` alias to it (the
# pull-request report judges metric changes by the same rules). Per metric: which way is better,
# a floor (null for none), and how much worse than the champion it may be: the larger of
# abs_tolerance and rel_tolerance * champion's value. The drafted floors only ask the model to
# beat the {baseline}; after the first `make repro`, `make set-floors` sets them
# to the measured metrics minus a margin.
gates:
  metrics:
{gates}
  baseline_margin:{margins}
  slices:                       # every slice with at least min_rows test rows
    min_rows: {slice_min_rows}
    floors: {{}}
    abs_tolerance: 0.05

# New data: batches in paths.incoming are validated with the data contract, then appended to
# paths.raw (see docs/drift.md).
ingest:
  pattern: "*.csv"
  min_rows: {ingest_min_rows:<20}# a smaller batch is rejected (the contract's validate.min_rows
                                # applies to the whole raw file, not to one batch)
  update_imports: false         # `make refresh-data` first runs `dvc update` on incoming/*.dvc

# `python -m tabular_mlops.ct.simulate`: a covariate shift on a key column also scales the linked
# columns, so the simulated rows stay consistent (e.g. a total with the price it multiplies).
simulate:
  linked: {{}}

drift:
  current: batches              # batches (ingested since the last training) | prediction_log;
                                # CURRENT=path (CSV or .jsonl) wins over both
  reference: raw                # raw (the rows the model was trained on) | train (its train split)
  prediction_log: null          # JSON lines the prediction service writes (drift.current)
  alpha: 0.05                   # Benjamini-Hochberg false discovery rate across all tests
  psi_threshold: 0.03           # a drifted column must also move this much (PSI; docs/drift.md)
  psi_bins: 10                  # quantile bins of the reference for numeric PSI
  discrete_max_values: 10       # numeric columns with at most this many values: chi-squared

# What the model must do beyond its metrics; tests/model checks each rule on the produced model,
# after checking that the training data agree with it. Drafted empty: add the rules you know.
behaviour:
{behaviour}
"""

BEHAVIOUR = {
    "binary": """\
  invariant: []                 # changing only these columns barely moves predictions
  invariant_tolerance: 0.02     # largest mean absolute change of the positive-class score
  monotonic: {}                 # column: increasing | decreasing (the mean score, as it rises)
  category_order: {}            # column: [categories from the highest to the lowest mean score]
  cases: []                     # - {expect: <label>, row: {column: value, ...}}""",
    "multiclass": """\
  invariant: []                 # changing only these columns barely moves predictions
  invariant_tolerance: 0.02     # largest mean absolute change of any class's probability
  cases: []                     # - {expect: <label>, row: {column: value, ...}}
  # (no monotonic or category_order: a multiclass model has no single score to order)""",
    "regression": """\
  invariant: []                 # changing only these columns barely moves predictions
  invariant_tolerance: 0.02     # largest mean absolute change of the prediction / target's std
  monotonic: {}                 # column: increasing | decreasing (the mean prediction, as it rises)
  category_order: {}            # column: [categories from the highest to the lowest prediction]
  cases: []                     # - {expect_between: [low, high], row: {column: value, ...}}""",
}
