"""The data contract: a Great Expectations 1.x expectation suite generated from params.yaml.

Everything the contract knows about the dataset comes from the `data` section (per column: kind,
range, warning range, median band, allowed values, missing share; the target's labels, or a
regression target's range; the id)
and from `validate` (row counts, class shares), so a fork describes its data in config and never
edits this module. Every expectation carries `meta = {"severity": "critical" | "warning",
"reason": "<what it protects>"}`: critical failures stop the pipeline, warnings are reported only.

great_expectations is imported inside the functions: importing it costs seconds, and other
stages import modules that import this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tabular_mlops.core.dataset import ColumnSpec, DataParams, ValidateParams
from tabular_mlops.core.params import Params

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITE_NAME = "data_contract"
CRITICAL = "critical"
WARNING = "warning"
SEVERITIES = (CRITICAL, WARNING)

INTEGER_TYPES = ["int64", "int32", "int16", "int8", "Int64"]
NUMBER_TYPES = [*INTEGER_TYPES, "float64", "Float64", "float32"]


def columns(data: DataParams) -> list[str]:
    """Every column the extract must hold, in the order the contract reports them."""
    return list(data.all_columns)


def as_read(values: tuple[object, ...] | list[object]) -> list[object]:
    """The values as config names them and as text: one stray word in a numeric column makes
    pandas read the whole column as text, and only the stray value should then be unexpected."""
    out: list[object] = []
    for value in [*values, *(str(v) for v in values if not isinstance(v, str))]:
        if value not in out or not any(type(o) is type(value) for o in out if o == value):
            out.append(value)
    return out


def _meta(severity: str, reason: str) -> dict[str, str]:
    return {"severity": severity, "reason": reason}


def expectations(params: Params) -> list[Any]:
    """The contract's expectations, in report order; see the module docstring for severities."""
    import great_expectations.expectations as gxe

    data, bounds = params.data, params.validate
    out: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=columns(data),
            exact_match=True,
            meta=_meta(CRITICAL, "stages read columns by name: a missing, renamed or extra column"),
        ),
        gxe.ExpectTableRowCountToBeBetween(
            min_value=bounds.min_rows,
            max_value=bounds.max_rows,
            meta=_meta(CRITICAL, "a truncated, partial or duplicated extract"),
        ),
    ]
    for column in columns(data):
        spec = data.columns.get(column)
        allowed = spec.missing if spec is not None else 0.0
        out.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                mostly=1.0 - allowed,
                meta=_meta(
                    CRITICAL,
                    f"at most {allowed:.0%} missing values" if allowed else "no missing values",
                ),
            )
        )
    out += _id_rules(data)
    out += _target_rules(data, bounds)
    for column, spec in data.columns.items():
        if spec.kind == "category":
            out += _category_rules(column, spec)
        elif spec.kind != "ignored":
            out += _numeric_rules(column, spec)
    return out


def _id_rules(data: DataParams) -> list[Any]:
    import great_expectations.expectations as gxe

    if data.id_column is None:
        return []
    return [
        gxe.ExpectColumnValuesToBeUnique(
            column=data.id_column,
            meta=_meta(
                CRITICAL, "one row per id: duplicates leak rows across the train/test split"
            ),
        ),
    ]


def _target_rules(data: DataParams, bounds: ValidateParams) -> list[Any]:
    """Classification: the labels, each present, and the class balance. Regression: a number
    column (never empty, within `data.target_range` when set)."""
    import great_expectations.expectations as gxe

    if data.task == "regression":
        return _numeric_rules(data.target, data.target_spec)
    labels = list(data.labels or ())
    out = [
        gxe.ExpectColumnValuesToBeInSet(
            column=data.target,
            value_set=as_read(labels),
            meta=_meta(CRITICAL, f"the target is one of {labels}"),
        ),
        gxe.ExpectColumnDistinctValuesToEqualSet(
            column=data.target,
            value_set=labels,
            meta=_meta(CRITICAL, "every class present, or it cannot be learnt"),
        ),
    ]
    for label, (low, high) in bounds.class_shares.items():
        others = [other for other in labels if other != label]
        out.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=data.target,
                value_set=as_read([label]),
                mostly=low,
                meta=_meta(
                    CRITICAL,
                    f"class balance: at least {low:.0%} of rows are {label!r} "
                    "(unexpected = the other classes)",
                ),
            )
        )
        out.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=data.target,
                value_set=as_read(others),
                mostly=1.0 - high,
                meta=_meta(
                    CRITICAL,
                    f"class balance: at most {high:.0%} of rows are {label!r} "
                    "(unexpected = that class)",
                ),
            )
        )
    return out


def _numeric_rules(column: str, spec: ColumnSpec) -> list[Any]:
    """Type, plausible range (critical), seen range and median band (warnings).

    An integer column with missing values is read as floats, so only a complete one is held to
    an integer dtype.
    """
    import great_expectations.expectations as gxe

    integer = spec.kind == "integer" and spec.missing == 0
    out: list[Any] = [
        gxe.ExpectColumnValuesToBeInTypeList(
            column=column,
            type_list=INTEGER_TYPES if integer else NUMBER_TYPES,
            meta=_meta(CRITICAL, "a number; text here breaks the model"),
        )
    ]
    bounded = [
        (
            gxe.ExpectColumnValuesToBeBetween,
            spec.range,
            CRITICAL,
            "physically plausible values; outside means a unit or parsing error",
        ),
        (
            gxe.ExpectColumnValuesToBeBetween,
            spec.warn,
            WARNING,
            "the range the model was trained on; beyond it predictions extrapolate",
        ),
        (
            gxe.ExpectColumnMedianToBeBetween,
            spec.median,
            WARNING,
            "the typical value moved: a unit error or a change upstream",
        ),
    ]
    for expectation, bounds, severity, reason in bounded:
        if bounds is not None:
            low, high = bounds
            out.append(
                expectation(
                    column=column, min_value=low, max_value=high, meta=_meta(severity, reason)
                )
            )
    return out


def _category_rules(column: str, spec: ColumnSpec) -> list[Any]:
    """The allowed values; they also check the type, as no other value is among them.

    (GX 1.24's type check does not recognise pandas 3's default `str` dtype.)
    """
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column=column,
            value_set=as_read(list(spec.values or ())),
            meta=_meta(
                CRITICAL, "a value the model has never seen is silently encoded as all zeros"
            ),
        )
    ]


def build_suite(params: Params, name: str = SUITE_NAME) -> ExpectationSuite:
    """The contract as a (not yet stored) GX ExpectationSuite."""
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=expectations(params))
