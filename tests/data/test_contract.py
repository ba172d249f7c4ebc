"""The data contract, run by the same code as the validate stage, on good data and on a corpus
of bad inputs: committed files for faults in the bytes, mutations of the sample for the rest."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tabular_mlops.core import validation as validate
from tabular_mlops.core.contract import (
    CRITICAL,
    SEVERITIES,
    SUITE_NAME,
    WARNING,
    build_suite,
    columns,
)
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import load_params
from tabular_mlops.core.validation import ContractResult, run_suite, validate_csv, validate_frame
from tabular_mlops.stages import validate as validate_stage

from .conftest import CORPUS, FIXTURES


def failed(result: ContractResult) -> dict[tuple[str, str], validate.ContractFailure]:
    """Failures by (column, expectation); a critical one wins over a warning of the same kind."""
    ordered = sorted(result.failures, key=lambda f: f.severity == CRITICAL)
    return {(f.column, f.expectation): f for f in ordered}


def test_shipped_data_passes_with_no_warning_and_builds_data_docs(root, params, tmp_path):
    docs = tmp_path / "docs"
    result = validate_csv(root / params.paths.raw, params, docs_dir=docs)
    assert result.success, result.lines()
    assert result.failures == ()
    assert result.evaluated == result.passed == len(build_suite(params).expectations)
    # Every data line was checked; 7,043 as shipped, more once `make ingest` has appended batches.
    with (root / params.paths.raw).open("rb") as raw:
        assert result.rows == sum(1 for line in raw if line.strip()) - 1
    index = docs / "index.html"
    assert index.is_file()
    assert SUITE_NAME in index.read_text(encoding="utf-8")
    assert Path(params.paths.raw).name in index.read_text(encoding="utf-8")  # the run's name
    [run_page] = (docs / "validations" / SUITE_NAME).rglob("*.html")
    page = " ".join(re.sub(r"<[^>]+>", " ", run_page.read_text(encoding="utf-8")).split())
    assert "Status: Succeeded" in page
    assert f"Evaluated Expectations {result.evaluated} " in page


def test_every_expectation_has_a_severity_and_a_one_line_reason(params):
    suite = build_suite(params)
    for expectation in suite.expectations:
        assert expectation.meta["severity"] in SEVERITIES, expectation
        reason = expectation.meta["reason"]
        assert reason.strip() and "\n" not in reason, expectation
    assert {e.meta["severity"] for e in suite.expectations} == {CRITICAL, WARNING}


def test_suite_covers_every_column_and_the_contract_rules(params):
    suite = build_suite(params)
    kinds = {e.expectation_type for e in suite.expectations}
    assert {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_unique",
        "expect_column_distinct_values_to_equal_set",
    } <= kinds
    covered = {e.column for e in suite.expectations if getattr(e, "column", None)}
    assert covered == set(columns(params.data))


def test_the_sample_passes_under_the_sample_sized_contract(good_sample, check_frame):
    result = check_frame(good_sample)
    assert result.success, result.lines()
    assert result.failures == ()


def set_rows(column: str, value: object, rows: int = 3):
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        if value is None or isinstance(value, str):
            frame = frame.astype({column: object})
        frame.loc[frame.index[:rows], column] = value
        return frame

    return mutate


def balance(share: float):
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        positives = int(len(frame) * share)
        frame["churn"] = ["Yes"] * positives + ["No"] * (len(frame) - positives)
        return frame

    return mutate


def duplicate_id(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[1], "customer_id"] = frame.loc[frame.index[0], "customer_id"]
    return frame


# case: (mutation, failing column, failing expectation, text every printed line must contain)
MUTATIONS = {
    "missing-column": (
        lambda f: f.drop(columns=["tenure"]),
        "*",
        "expect_table_columns_to_match_set",
        "'missing': ['tenure']",
    ),
    "extra-column": (
        lambda f: f.assign(notes="x"),
        "*",
        "expect_table_columns_to_match_set",
        "'unexpected': ['notes']",
    ),
    "renamed-column": (
        lambda f: f.rename(columns={"tenure": "tenure_months"}),
        "*",
        "expect_table_columns_to_match_set",
        "'unexpected': ['tenure_months']",
    ),
    "wrong-type": (
        set_rows("monthly_charges", "twelve"),
        "monthly_charges",
        "expect_column_values_to_be_in_type_list",
        "e.g. ['twelve']",
    ),
    "null-not-allowed": (
        set_rows("contract", None),
        "contract",
        "expect_column_values_to_not_be_null",
        "3 of 202 rows",
    ),
    "too-many-nulls-where-some-allowed": (
        set_rows("total_charges", None, rows=10),
        "total_charges",
        "expect_column_values_to_not_be_null",
        "at most 2% missing values",
    ),
    "out-of-range": (
        set_rows("tenure", 500),
        "tenure",
        "expect_column_values_to_be_between",
        "e.g. [500]",
    ),
    "flag-not-0-or-1": (
        set_rows("female", 2),
        "female",
        "expect_column_values_to_be_in_set",
        "e.g. [2]",
    ),
    "unseen-category": (
        set_rows("contract", "Three year"),
        "contract",
        "expect_column_values_to_be_in_set",
        "e.g. ['Three year']",
    ),
    "duplicate-ids": (
        duplicate_id,
        "customer_id",
        "expect_column_values_to_be_unique",
        "2 of 202 rows unexpected (0.99%); e.g. [103]",
    ),
    "target-one-class": (
        balance(0.0),
        "churn",
        "expect_column_distinct_values_to_equal_set",
        "observed {'missing': ['Yes']}",
    ),
    "target-unknown-label": (
        set_rows("churn", "Maybe"),
        "churn",
        "expect_column_values_to_be_in_set",
        "e.g. ['Maybe']",
    ),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_bad_data_is_rejected_naming_column_rule_and_values(case, good_sample, check_frame):
    mutate, column, expectation, shown = MUTATIONS[case]
    result = check_frame(mutate(good_sample.copy()))
    assert not result.success
    failure = failed(result)[(column, expectation)]
    assert failure.severity == CRITICAL
    assert failure.reason
    line = failure.line()
    assert line.startswith(f"{column}: {expectation} [critical]: observed ")
    assert shown in line
    assert line in result.lines()


def test_class_balance_is_bounded(good_sample, check_frame):
    result = check_frame(balance(0.8)(good_sample.copy()))
    assert not result.success
    [failure] = result.failures
    assert failure.column == "churn"
    assert "at most 60%" in failure.reason


def test_row_count_below_the_floor_fails(good_sample, check_frame, params):
    result = check_frame(good_sample, params)
    assert not result.success
    [failure] = result.failures
    assert failure.expectation == "expect_table_row_count_to_be_between"
    assert failure.observed == "202 rows"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"min_rows": 5000, "max_rows": 1000}, "min_rows exceeds max_rows"),
        ({"min_positive_share": 0.7}, "min_positive_share exceeds max_positive_share"),
    ],
)
def test_contradictory_bounds_in_params_are_rejected(edit, message, root, tmp_path):
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    raw["validate"].update(edit)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PipelineError, match=f"key 'validate': value error, {message}"):
        load_params(path)


def test_a_warning_is_reported_but_does_not_fail(good_sample, check_frame):
    result = check_frame(set_rows("tenure", 100)(good_sample.copy()))
    assert result.success
    [failure] = result.failures
    assert (failure.column, failure.severity) == ("tenure", WARNING)
    summary = result.summary()
    assert (summary["warnings"], summary["warning_failed"], summary["critical_failed"]) == (1, 1, 0)


# file: text the single error line must contain besides the file's name
UNREADABLE = {
    "empty.csv": "file is empty",
    "header_only.csv": "no data rows (header only)",
    "undecodable.csv": "not valid UTF-8",
    "semicolons.csv": "the header looks ';'-separated",
    "truncated.csv": "last line has 11 of 21 fields (truncated file?)",
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_files_fail_with_one_line_naming_the_file(name, sample_params):
    path = CORPUS / name
    with pytest.raises(PipelineError) as raised:
        validate_csv(path, sample_params)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert UNREADABLE[name] in message
    assert "\n" not in message


def sample_bytes() -> bytes:
    return (FIXTURES / "churn_sample.csv").read_bytes()


ACCEPTED = {
    "reordered-columns": lambda path: (
        pd.read_csv(FIXTURES / "churn_sample.csv", dtype=str)
        .iloc[:, ::-1]
        .to_csv(path, index=False)
    ),
    "crlf-line-endings": lambda path: path.write_bytes(sample_bytes().replace(b"\n", b"\r\n")),
    "utf8-byte-order-mark": lambda path: path.write_bytes(b"\xef\xbb\xbf" + sample_bytes()),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepted_variants_pass(case, tmp_path, sample_params):
    path = tmp_path / "extract.csv"
    ACCEPTED[case](path)
    result = validate_csv(path, sample_params)
    assert result.success, result.lines()
    assert result.failures == ()


def test_empty_frame_fails_closed(good_sample, sample_params):
    result = validate_frame(good_sample.iloc[0:0], sample_params)
    assert not result.success
    assert result.lines() == [
        "*: guard: non-empty data [critical]: observed 0 rows "
        "(GX passes every expectation on no rows)"
    ]


def test_empty_suite_fails_closed(good_sample):
    import great_expectations as gx

    result = run_suite(good_sample, gx.ExpectationSuite(name="empty"))
    assert not result.success
    assert result.summary()["critical_failed"] == 1
    assert "guard: non-empty suite" in result.lines()[0]


def test_fewer_results_than_expectations_fails_closed(good_sample, sample_params, monkeypatch):
    judge = validate.judge

    def drop_last(frame, results, expected, suite):
        return judge(frame, results[:-1], expected, suite)

    monkeypatch.setattr(validate, "judge", drop_last)
    result = validate_frame(good_sample, sample_params)
    assert not result.success
    [failure] = result.failures
    expected = len(build_suite(sample_params).expectations)
    assert failure.observed == f"{expected - 1} results for {expected} expectations"


def test_unknown_or_missing_severity_counts_as_critical(good_sample):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(
        name="no-severity",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(column="tenure", max_value=1, meta={"reason": "x"}),
            gxe.ExpectColumnValuesToBeBetween(
                column="tenure", max_value=1, meta={"severity": "minor", "reason": "y"}
            ),
        ],
    )
    result = run_suite(good_sample, suite)
    assert not result.success
    assert [f.severity for f in result.failures] == [CRITICAL, CRITICAL]


def test_params_naming_a_column_without_a_rule_fail_closed(params):
    data = replace(params.data, numeric=(*params.data.numeric, "satisfaction"))
    with pytest.raises(PipelineError, match="no rule for column"):
        build_suite(replace(params, data=data))


def run_stage(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as raised:
        validate_stage.main(argv)
        raise SystemExit(0)
    return raised.value.code, capsys.readouterr().err


def write_params(tmp_path: Path, root: Path) -> Path:
    text = (root / "params.yaml").read_text(encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text(text.replace("min_rows: 1000", "min_rows: 100", 1), encoding="utf-8")
    return params


def test_stage_writes_report_and_docs_then_exits_2_on_bad_data(tmp_path, root, good_sample, capsys):
    bad = tmp_path / "bad.csv"
    set_rows("contract", "Three year")(good_sample.copy()).to_csv(bad, index=False)
    out, docs = tmp_path / "validation.json", tmp_path / "docs"
    argv = ["--params", str(write_params(tmp_path, root)), "--csv", str(bad)]
    code, err = run_stage([*argv, "--out", str(out), "--docs", str(docs)], capsys)
    assert code == 2
    assert f"{bad}: contract: expect_column_values_to_be_in_set [critical]" in err
    assert f"error: {bad}: 1 critical expectation(s) of the data contract failed" in err
    report = json.loads(out.read_text())
    assert {"success", "rows", "columns", "evaluated", "passed", "failed", "warnings"} <= set(
        report
    )
    assert report["success"] is False
    assert report["critical_failed"] == report["failed"] == 1
    assert report["failures"][0]["examples"] == ["Three year"]
    assert (docs / "index.html").is_file()


def test_stage_writes_a_report_for_an_unreadable_file(tmp_path, root, capsys):
    out = tmp_path / "validation.json"
    argv = ["--params", str(write_params(tmp_path, root)), "--csv", str(CORPUS / "empty.csv")]
    code, err = run_stage([*argv, "--out", str(out)], capsys)
    assert code == 2
    assert err.strip() == f"error: {CORPUS / 'empty.csv'}: file is empty"
    report = json.loads(out.read_text())
    assert report["success"] is False
    assert report["failures"][0]["expectation"] == "guard: readable CSV"
