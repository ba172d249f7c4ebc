"""Running the data contract: a Great Expectations 1.x validation definition on an ephemeral
context, with GX's results turned into one ContractResult.

The core returns a result instead of raising, so a report and Data Docs can be written even when
the data fails. GX passes an empty frame or an empty suite and never raises on failure, so both,
and a result count that differs from the suite, fail closed here.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tabular_mlops.core.contract import CRITICAL, SEVERITIES, SUITE_NAME, WARNING, build_suite
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.gx_batch import compact, configurations_built_once, unfingerprinted
from tabular_mlops.core.io import read_csv
from tabular_mlops.core.params import Params

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

EXAMPLES = 5
# BASIC: counts and a few unexpected values, without SUMMARY's index lists (two more passes).
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 20}


@dataclass(frozen=True)
class ContractFailure:
    """One failed expectation, as printed and as written to the report."""

    column: str
    expectation: str
    severity: str
    observed: Any
    examples: list[Any]
    reason: str

    def line(self) -> str:
        shown = f"; e.g. {self.examples}" if self.examples else ""
        return (
            f"{self.column}: {self.expectation} [{self.severity}]: "
            f"observed {self.observed}{shown} ({self.reason})"
        )


@dataclass(frozen=True)
class ContractResult:
    """The outcome of one run of the contract; `success` means no critical failure."""

    rows: int
    columns: int
    evaluated: int
    passed: int
    failures: tuple[ContractFailure, ...] = field(default_factory=tuple)
    suite: str = SUITE_NAME

    def _failed(self, severity: str) -> int:
        return sum(failure.severity == severity for failure in self.failures)

    @property
    def success(self) -> bool:
        return self._failed(CRITICAL) == 0

    def summary(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "suite": self.suite,
            "rows": self.rows,
            "columns": self.columns,
            "evaluated": self.evaluated,
            "passed": self.passed,
            "failed": len(self.failures),
            "warnings": self._failed(WARNING),
            "critical_failed": self._failed(CRITICAL),
            "warning_failed": self._failed(WARNING),
            "failures": [vars(failure) for failure in self.failures],
        }

    def lines(self) -> list[str]:
        """Critical failures first: they are why the stage stopped."""
        ordered = sorted(self.failures, key=lambda f: f.severity != CRITICAL)
        return [failure.line() for failure in ordered]


def guard(expectation: str, observed: Any, reason: str) -> ContractFailure:
    """A critical failure raised by this module, not by GX: the gate fails closed."""
    return ContractFailure("*", f"guard: {expectation}", CRITICAL, observed, [], reason)


def read_extract(path: Path | str) -> pd.DataFrame:
    """Read a CSV with the pipeline's reader, then reject the shapes pandas accepts silently.

    A wrong delimiter parses as one wide column, and a truncated last line is padded with
    missing values; both get one line naming the file instead of a wall of contract failures.
    """
    path = Path(path)
    frame = read_csv(path)
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        found = [sep for sep in (";", "\t", "|") if sep in header]
        hint = f"; the header looks {found[0]!r}-separated" if found else ""
        raise PipelineError(f"{path}: only one column found, expected comma-separated{hint}")
    last = _last_line(path)
    if last is not None:
        fields = next(csv.reader([last]), [])
        if len(fields) < len(frame.columns):
            raise PipelineError(
                f"{path}: last line has {len(fields)} of {len(frame.columns)} fields "
                "(truncated file?)"
            )
    return frame


def _last_line(path: Path) -> str | None:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return lines[-1] if len(lines) > 1 or size <= 65536 else None


def run_suite(
    frame: pd.DataFrame,
    suite: ExpectationSuite,
    docs_dir: Path | None = None,
    run_name: str | None = None,
) -> ContractResult:
    """Run `suite` on `frame` with a GX validation definition; build Data Docs into `docs_dir`.

    `run_name` (the checked file's name: GX keys forbid a slash) is what Data Docs list the run
    under, instead of `__none__`.
    """
    expected = len(suite.expectations)
    if expected == 0:
        empty = guard("non-empty suite", "0 expectations", "an empty suite checks nothing")
        return ContractResult(len(frame), len(frame.columns), 0, 0, (empty,), suite.name)
    if frame.empty:
        empty = guard("non-empty data", "0 rows", "GX passes every expectation on no rows")
        return ContractResult(0, len(frame.columns), 0, 0, (empty,), suite.name)
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="contract",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    batch = (
        context.data_sources.add_pandas("extract")
        .add_dataframe_asset("raw")
        .add_batch_definition_whole_dataframe("whole")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=context.suites.add(suite))
    )
    with unfingerprinted(), configurations_built_once():
        outcome = definition.run(
            batch_parameters={"dataframe": compact(frame)},
            result_format=RESULT_FORMAT,
            run_id=RunIdentifier(run_name=run_name) if run_name else None,
        )
    if docs_dir is not None:
        _build_docs(context, Path(docs_dir))
    return judge(frame, list(outcome.results), expected, suite.name)


def _build_docs(context: Any, docs_dir: Path) -> None:
    """Replace the folder, so it shows this run only and no stale pages."""
    shutil.rmtree(docs_dir, ignore_errors=True)
    docs_dir.mkdir(parents=True)
    context.build_data_docs(site_names=["contract"])


def judge(frame: pd.DataFrame, results: list[Any], expected: int, suite: str) -> ContractResult:
    """Turn GX's results into a ContractResult; anything unexpected counts as a critical failure."""
    failures: list[ContractFailure] = []
    if len(results) != expected:
        failures.append(
            guard(
                "one result per expectation",
                f"{len(results)} results for {expected} expectations",
                "an expectation that was not run cannot pass",
            )
        )
    passed = 0
    for result in results:
        if result.success:
            passed += 1
            continue
        failures.append(_failure(frame, result))
    return ContractResult(
        len(frame), len(frame.columns), len(results), passed, tuple(failures), suite
    )


def _failure(frame: pd.DataFrame, result: Any) -> ContractFailure:
    config = result.expectation_config
    meta = config.meta or {}
    severity = meta.get("severity")
    column = config.kwargs.get("column")
    reason = str(meta.get("reason", "no reason given in the suite"))
    if severity not in SEVERITIES:
        severity, reason = CRITICAL, f"{reason}; severity {severity!r} unknown, so critical"
    observed, examples = _observed(frame, column, result)
    return ContractFailure(column or "*", config.type, severity, observed, examples, reason)


def _observed(frame: pd.DataFrame, column: str | None, result: Any) -> tuple[Any, list[Any]]:
    details = result.result or {}
    if column is not None and column not in frame.columns:
        return "column not in the data", []
    raised = (result.exception_info or {}).get("raised_exception")
    if raised:
        message = str(result.exception_info.get("exception_message", "")).strip()
        return f"not evaluated: {message.splitlines()[0] if message else 'error'}", []
    mismatched = (details.get("details") or {}).get("mismatched")
    if mismatched:
        return {k: _plain(v) for k, v in mismatched.items() if v}, []
    if "unexpected_count" in details and "observed_value" not in details:
        count, total = details["unexpected_count"], details.get("element_count")
        percent = details.get("unexpected_percent")
        observed = f"{count} of {total} rows unexpected"
        if percent is not None:
            observed += f" ({percent:.2f}%)"
        examples = _plain(details.get("partial_unexpected_list") or [])
        distinct = [v for i, v in enumerate(examples) if v not in examples[:i] and v is not None]
        return observed, distinct[:EXAMPLES]
    if result.expectation_config.type == "expect_column_values_to_be_in_type_list" and column:
        return f"dtype {frame[column].dtype}", _non_numbers(frame[column])
    if result.expectation_config.type == "expect_table_row_count_to_be_between":
        return f"{details.get('observed_value')} rows", []
    observed = _plain(details.get("observed_value"))
    if observed is None:
        listed = {"missing": "partial_missing_list", "unexpected": "partial_unexpected_list"}
        observed = {k: _plain(details[key]) for k, key in listed.items() if details.get(key)}
    return observed, []


def _non_numbers(values: pd.Series) -> list[Any]:
    """A few values that do not parse as numbers: why a numeric column was read as text."""
    present = values.dropna()
    bad = present[pd.to_numeric(present, errors="coerce").isna()]
    return _plain(bad.drop_duplicates().head(EXAMPLES).tolist())


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def validate_frame(frame: pd.DataFrame, params: Params) -> ContractResult:
    """Run the contract on a frame already read (no Data Docs)."""
    return run_suite(frame, build_suite(params))


def validate_csv(path: Path | str, params: Params, docs_dir: Path | None = None) -> ContractResult:
    """Read `path` as the stage does (PipelineError if unreadable) and run the contract on it."""
    return run_suite(read_extract(path), build_suite(params), docs_dir, run_name=Path(path).name)
