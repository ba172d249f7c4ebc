"""Checks across params.yaml's sections: every column, label, value and metric a section names
is one that `data` describes and `data.task` produces. Each returns the first problem as one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabular_mlops.core.task import METRICS, is_classification

if TYPE_CHECKING:
    from tabular_mlops.core.params import Params


def first_inconsistency(params: Params) -> str | None:
    """The first key that names something `data` does not describe, or that the task lacks."""
    return _first_task_mismatch(params) or _first_dangling_reference(params)


def _first_dangling_reference(params: Params) -> str | None:
    """A key that names a column, a label or a value that `data` does not describe."""
    data = params.data
    labels = {str(label) for label in data.labels or ()}
    checks: list[tuple[str, object, tuple[str, ...], str]] = [
        ("evaluate.slice_columns", c, data.features, "a feature column")
        for c in params.evaluate.slice_columns
    ]
    checks += [
        ("evaluate.bands", c, data.numeric, "a numeric feature") for c in params.evaluate.bands
    ]
    checks += [
        ("simulate.linked", c, data.numeric, "a numeric feature") for c in params.simulate.linked
    ]
    checks += [
        ("simulate.linked", c, data.numeric, "a numeric feature")
        for linked in params.simulate.linked.values()
        for c in linked
    ]
    behaviour = params.behaviour
    checks += [
        ("behaviour.invariant", c, data.features, "a feature column") for c in behaviour.invariant
    ]
    checks += [
        ("behaviour.monotonic", c, data.numeric, "a numeric feature") for c in behaviour.monotonic
    ]
    checks += [
        ("behaviour.category_order", c, data.categorical, "a category feature")
        for c in behaviour.category_order
    ]
    checks += [
        ("behaviour.cases", c, data.features, "a feature column")
        for case in behaviour.cases
        for c in case.row
    ]
    for key, name, allowed, what in checks:
        if name not in allowed:
            return f"key '{key}': {name!r} is not {what} of data.columns"
    for column, order in behaviour.category_order.items():
        values = {str(value) for value in data.columns[column].values or ()}
        unknown = [value for value in order if str(value) not in values]
        if unknown:
            return (
                f"key 'behaviour.category_order.{column}': {unknown[0]!r} is not one of its values"
            )
    expected = [case.expect for case in behaviour.cases if case.expect is not None]
    for label in [*params.validate.class_shares, *expected]:
        if str(label) not in labels:
            return (
                f"label {label!r} (validate.class_shares or behaviour.cases) is not in data.labels"
            )
    return None


def _first_task_mismatch(params: Params) -> str | None:
    """A metric the task does not produce, or a key that applies to another task."""
    task = params.data.task
    produced = METRICS[task]
    gates = params.gates
    named = [
        *(("gates.metrics", m) for m in gates.metrics),
        *(("gates.baseline_margin", m) for m in gates.baseline_margin),
        *(("gates.slices.floors", m) for m in gates.slices.floors),
    ]
    for key, metric in named:
        if metric not in produced:
            return (
                f"key '{key}.{metric}': a {task} task does not produce '{metric}' "
                f"(it produces {', '.join(produced)})"
            )
    classification = is_classification(task)
    if task != "binary" and params.evaluate.threshold is not None:
        return f"key 'evaluate.threshold': applies to a binary task only (data.task is {task})"
    chosen = params.train.chosen
    if not classification and chosen.class_weight is not None:
        return (
            f"key 'train.{params.train.model}.class_weight': applies to classification only "
            f"(data.task is {task})"
        )
    if not classification and params.validate.class_shares:
        return f"key 'validate.class_shares': applies to classification only (data.task is {task})"
    behaviour = params.behaviour
    if task == "multiclass" and (behaviour.monotonic or behaviour.category_order):
        return (
            "key 'behaviour.monotonic' or 'behaviour.category_order': a multiclass model has no "
            "single score to order; use behaviour.cases"
        )
    for index, case in enumerate(behaviour.cases):
        if classification and case.expect is None:
            return f"key 'behaviour.cases.{index}': a {task} case names the label it 'expect's"
        if not classification and case.expect_between is None:
            return f"key 'behaviour.cases.{index}': a regression case names 'expect_between'"
    return None
