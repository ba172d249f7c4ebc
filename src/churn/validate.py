"""Stage `validate`: check the raw extract against the data contract before anything trusts it.

The core returns a report instead of raising, so the report is written even when the data fails;
main() then exits non-zero and `dvc repro` stops before prepare and train.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import pandas as pd

from churn.errors import PipelineError, exits_cleanly
from churn.io import read_csv, write_json
from churn.params import DataParams, ValidateParams, load_params


@dataclass(frozen=True)
class Failure:
    column: str
    rule: str
    detail: str

    def line(self) -> str:
        return f"{self.column}: {self.rule}: {self.detail}"


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    columns: int
    checks: int
    failures: tuple[Failure, ...] = field(default_factory=tuple)

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, object]:
        return {
            "success": self.success,
            "rows": self.rows,
            "columns": self.columns,
            "evaluated": self.checks,
            "passed": self.checks - len(self.failures),
            "failed": len(self.failures),
            "failures": [vars(failure) for failure in self.failures],
        }


def validate_frame(
    frame: pd.DataFrame, data: DataParams, params: ValidateParams
) -> ValidationReport:
    """Check the columns the pipeline needs, the target's labels, id uniqueness and row count."""
    failures: list[Failure] = []
    checks = 0
    required = [data.id_column, data.target, *data.numeric, *data.categorical]
    for column in required:
        checks += 1
        if column not in frame.columns:
            failures.append(Failure(column, "column present", "missing from the file"))
    checks += 1
    if len(frame) < params.min_rows:
        failures.append(
            Failure("*", "row count", f"{len(frame)} rows, at least {params.min_rows} required")
        )
    if data.target in frame.columns:
        labels = {data.positive_label, data.negative_label}
        target = frame[data.target]
        checks += 2
        unexpected = sorted({str(v) for v in target.dropna().unique()} - labels)
        if unexpected or target.isna().any():
            shown = unexpected[:5] + (["<null>"] if target.isna().any() else [])
            failures.append(Failure(data.target, "target labels", f"unexpected values {shown}"))
        present = labels & {str(v) for v in target.dropna().unique()}
        if len(present) < 2:
            failures.append(Failure(data.target, "both classes", f"only {sorted(present)} present"))
    if data.id_column in frame.columns:
        checks += 1
        duplicated = frame[data.id_column][frame[data.id_column].duplicated()]
        if not duplicated.empty:
            failures.append(
                Failure(
                    data.id_column,
                    "unique",
                    f"{len(duplicated)} duplicated ids, e.g. {duplicated.head(3).tolist()}",
                )
            )
    return ValidationReport(
        rows=len(frame), columns=len(frame.columns), checks=checks, failures=tuple(failures)
    )


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data", help="CSV to validate (default: paths.raw)")
    parser.add_argument("--out", help="JSON report (default: paths.validation)")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    source = args.data or params.paths.raw
    report = validate_frame(read_csv(source), params.data, params.validate)
    write_json(args.out or params.paths.validation, {"source": str(source), **report.summary()})
    if not report.success:
        for failure in report.failures:
            print(f"{source}: {failure.line()}", file=sys.stderr)
        raise PipelineError(f"{source}: {len(report.failures)} data check(s) failed")
    print(f"{source}: {report.checks} checks passed on {report.rows} rows")


if __name__ == "__main__":
    main()
