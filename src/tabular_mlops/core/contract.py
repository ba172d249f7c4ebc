"""The data contract: a Great Expectations 1.x expectation suite built in code from params.yaml.

The suite is code rather than a JSON file so that it follows `params.yaml` (column lists, target
labels, row and class-balance bounds) and a change to it is an ordinary reviewed diff. What only
this dataset knows (ranges, categories, allowed nulls) sits in the tables below. Every expectation
carries `meta = {"severity": "critical" | "warning", "reason": "<what it protects>"}`: critical
failures stop the pipeline, warnings are reported only.

great_expectations is imported inside the functions: importing it costs seconds, and other
stages import modules that import this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import DataParams, Params, ValidateParams

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITE_NAME = "churn_contract"
CRITICAL = "critical"
WARNING = "warning"
SEVERITIES = (CRITICAL, WARNING)

INTEGER_TYPES = ["int64", "int32", "int16", "int8", "Int64"]
NUMBER_TYPES = [*INTEGER_TYPES, "float64", "Float64", "float32"]

# Numeric columns holding a 0/1 flag.
BINARY = ("female", "senior_citizen", "partner", "dependents", "phone_service", "paperless_billing")

# column: (critical range, warning range). The critical range is what is physically plausible;
# the warning range is what the shipped data holds, so a new extract beyond it is flagged.
RANGES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "tenure": ((0, 120), (0, 72)),
    "monthly_charges": ((0, 500), (18, 120)),
    "total_charges": ((0, 60_000), (0, 9_000)),
}
INTEGER = ("tenure",)

# column: largest allowed fraction of missing values; every other column must be complete.
NULLABLE = {"total_charges": 0.02}

# column: (low, high) bounds of the median, checked as a warning (a shift in the typical bill
# suggests a pricing change or a unit error upstream). The median, not the mean: GX's pandas mean
# first scans every value in Python for decimals (~2 s at 7M rows).
MEDIANS = {"monthly_charges": (50.0, 90.0)}

CATEGORIES: dict[str, tuple[str, ...]] = {
    "multiple_lines": ("No", "Yes", "No phone service"),
    "internet_service": ("DSL", "Fiber optic", "No"),
    "online_security": ("No", "Yes", "No internet service"),
    "online_backup": ("No", "Yes", "No internet service"),
    "device_protection": ("No", "Yes", "No internet service"),
    "tech_support": ("No", "Yes", "No internet service"),
    "streaming_tv": ("No", "Yes", "No internet service"),
    "streaming_movies": ("No", "Yes", "No internet service"),
    "contract": ("Month-to-month", "One year", "Two year"),
    "payment_method": (
        "Electronic check",
        "Mailed check",
        "Bank transfer (automatic)",
        "Credit card (automatic)",
    ),
}


def columns(data: DataParams) -> list[str]:
    """Every column the extract must hold, in the order the contract reports them."""
    return [data.id_column, data.target, *data.numeric, *data.categorical]


def check_rules_cover(data: DataParams) -> None:
    """Fail closed when params.yaml names a column this contract has no rule for."""
    uncovered = [c for c in data.numeric if c not in BINARY and c not in RANGES]
    uncovered += [c for c in data.categorical if c not in CATEGORIES]
    if uncovered:
        raise PipelineError(
            f"src/tabular_mlops/core/contract.py: no rule for column(s) {', '.join(uncovered)} "
            "named in params.yaml `data`; add them to the contract"
        )


def expectations(params: Params) -> list[Any]:
    """The contract's expectations, in report order; see the module docstring for severities."""
    import great_expectations.expectations as gxe

    data, bounds = params.data, params.validate
    check_rules_cover(data)

    def meta(severity: str, reason: str) -> dict[str, str]:
        return {"severity": severity, "reason": reason}

    out: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=columns(data),
            exact_match=True,
            meta=meta(CRITICAL, "stages read columns by name: a missing, renamed or extra column"),
        ),
        gxe.ExpectTableRowCountToBeBetween(
            min_value=bounds.min_rows,
            max_value=bounds.max_rows,
            meta=meta(CRITICAL, "a truncated, partial or duplicated extract"),
        ),
    ]
    for column in columns(data):
        allowed = NULLABLE.get(column, 0.0)
        out.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                mostly=1.0 - allowed,
                meta=meta(
                    CRITICAL,
                    f"at most {allowed:.0%} missing values" if allowed else "no missing values",
                ),
            )
        )
    out += _id_rules(data)
    out += _target_rules(data, bounds)
    out += _numeric_rules(data)
    out += _category_rules(data)
    return out


def _id_rules(data: DataParams) -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInTypeList(
            column=data.id_column,
            type_list=INTEGER_TYPES,
            meta={"severity": CRITICAL, "reason": "ids are integers; text means a shifted column"},
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column=data.id_column,
            meta={
                "severity": CRITICAL,
                "reason": "one row per customer: duplicates leak rows across the train/test split",
            },
        ),
    ]


def _target_rules(data: DataParams, bounds: ValidateParams) -> list[Any]:
    import great_expectations.expectations as gxe

    labels = [data.positive_label, data.negative_label]
    low, high = bounds.min_positive_share, bounds.max_positive_share
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column=data.target,
            value_set=labels,
            meta={"severity": CRITICAL, "reason": f"the target is one of {labels}"},
        ),
        gxe.ExpectColumnDistinctValuesToEqualSet(
            column=data.target,
            value_set=labels,
            meta={"severity": CRITICAL, "reason": "both classes present, or nothing can be learnt"},
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column=data.target,
            value_set=[data.positive_label],
            mostly=low,
            meta={
                "severity": CRITICAL,
                "reason": f"class balance: at least {low:.0%} of rows are "
                f"'{data.positive_label}' (unexpected = the other class)",
            },
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column=data.target,
            value_set=[data.negative_label],
            mostly=1.0 - high,
            meta={
                "severity": CRITICAL,
                "reason": f"class balance: at most {high:.0%} of rows are "
                f"'{data.positive_label}' (unexpected = that class)",
            },
        ),
    ]


def _numeric_rules(data: DataParams) -> list[Any]:
    import great_expectations.expectations as gxe

    out: list[Any] = []
    for column in data.numeric:
        integer = column in BINARY or column in INTEGER
        out.append(
            gxe.ExpectColumnValuesToBeInTypeList(
                column=column,
                type_list=INTEGER_TYPES if integer else NUMBER_TYPES,
                meta={"severity": CRITICAL, "reason": "a number; text here breaks the model"},
            )
        )
        if column in BINARY:
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=column,
                    value_set=[0, 1],
                    meta={"severity": CRITICAL, "reason": "a 0/1 flag"},
                )
            )
            continue
        (low, high), (warn_low, warn_high) = RANGES[column]
        out.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column,
                min_value=low,
                max_value=high,
                meta={
                    "severity": CRITICAL,
                    "reason": "physically plausible values; outside means a unit or parsing error",
                },
            )
        )
        out.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column,
                min_value=warn_low,
                max_value=warn_high,
                meta={
                    "severity": WARNING,
                    "reason": "the range the model was trained on; "
                    "beyond it predictions extrapolate",
                },
            )
        )
        if column in MEDIANS:
            median_low, median_high = MEDIANS[column]
            out.append(
                gxe.ExpectColumnMedianToBeBetween(
                    column=column,
                    min_value=median_low,
                    max_value=median_high,
                    meta={
                        "severity": WARNING,
                        "reason": "the typical value moved: a pricing change or a unit error",
                    },
                )
            )
    return out


def _category_rules(data: DataParams) -> list[Any]:
    """The allowed labels; they also check the type, as no number is among them.

    (GX 1.24's type check does not recognise pandas 3's default `str` dtype.)
    """
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column=column,
            value_set=list(CATEGORIES[column]),
            meta={
                "severity": CRITICAL,
                "reason": "a label the model has never seen is silently encoded as all zeros",
            },
        )
        for column in data.categorical
    ]


def build_suite(params: Params, name: str = SUITE_NAME) -> ExpectationSuite:
    """The contract as a (not yet stored) GX ExpectationSuite."""
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=expectations(params))
