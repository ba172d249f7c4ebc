"""The data contract, run by the same code as the validate stage, on good data and on a corpus
of bad inputs: committed files for faults in the bytes, mutations of the sample for the rest."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
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
from tabular_mlops.core.task import is_classification
from tabular_mlops.core.validation import ContractResult, run_suite, validate_csv, validate_frame
from tabular_mlops.stages import validate as validate_stage

from ..support import SAMPLE_ROWS, columns_of, first, load_params_at_root, outside

DATA = load_params_at_root().data


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
    expected = {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
    }
    if CLASSIFICATION:
        expected |= {
            "expect_column_values_to_be_in_set",
            "expect_column_distinct_values_to_equal_set",
        }
    if params.data.categorical:
        expected.add("expect_column_values_to_be_in_set")
    if params.data.numeric or not CLASSIFICATION:
        expected.add("expect_column_values_to_be_in_type_list")
    if RANGED or params.data.target_range is not None:
        expected.add("expect_column_values_to_be_between")
    if params.data.id_column is not None:
        expected.add("expect_column_values_to_be_unique")
    assert expected <= kinds
    covered = {e.column for e in suite.expectations if getattr(e, "column", None)}
    assert covered == set(columns(params.data))


def test_the_sample_passes_under_the_sample_sized_contract(good_sample, check_frame):
    result = check_frame(good_sample)
    assert result.success, result.lines()
    assert result.failures == ()


def set_rows(column: str, value: object, rows: int = 3):
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        if value is None or isinstance(value, str) or frame[column].dtype == object:
            frame = frame.astype({column: object})
        elif isinstance(value, float):
            frame = frame.astype({column: "float64"})
        frame.loc[frame.index[:rows], column] = value
        return frame

    return mutate


def balance(label: object, share: float):
    """Give `label` that share of rows and the other labels the rest, in their own proportions."""

    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        target = frame[DATA.target]
        others = target[target.astype(str) != str(label)].to_numpy()
        count = int(len(frame) * share)
        frame = frame.astype({DATA.target: object})
        spread = np.linspace(0, len(others) - 1, len(frame) - count).round().astype(int)
        frame[DATA.target] = [label] * count + list(others[spread])
        return frame

    return mutate


def duplicate_id(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[1], DATA.id_column] = frame.loc[frame.index[0], DATA.id_column]
    return frame


def plain(value: float, spec) -> float | int:
    return int(value) if spec.kind == "integer" and float(value).is_integer() else value


FEATURE = DATA.features[0]
RANGED = columns_of(DATA, "number", "integer", where=lambda s: s.range is not None)
COMPLETE = columns_of(DATA, "number", "integer", "category", where=lambda s: s.missing == 0)
NULLABLE = columns_of(DATA, where=lambda s: 0 < s.missing < 0.5)
CLASSIFICATION = is_classification(DATA.task)

# case: (mutation, failing column, failing expectation, text every printed line must contain)
MUTATIONS = {
    "missing-column": (
        lambda f: f.drop(columns=[FEATURE]),
        "*",
        "expect_table_columns_to_match_set",
        f"'missing': [{FEATURE!r}]",
    ),
    "extra-column": (
        lambda f: f.assign(unlisted_extra="x"),
        "*",
        "expect_table_columns_to_match_set",
        "'unexpected': ['unlisted_extra']",
    ),
    "renamed-column": (
        lambda f: f.rename(columns={FEATURE: f"{FEATURE}_renamed"}),
        "*",
        "expect_table_columns_to_match_set",
        f"'unexpected': ['{FEATURE}_renamed']",
    ),
}
#: The rule a text value in the target breaks: not a label, or not a number.
TARGET_RULE = (
    "expect_column_values_to_be_in_set"
    if CLASSIFICATION
    else "expect_column_values_to_be_in_type_list"
)
MUTATIONS["target-unknown-value"] = (
    set_rows(DATA.target, "Maybe-not-a-label"),
    DATA.target,
    TARGET_RULE,
    "e.g. ['Maybe-not-a-label']",
)
if CLASSIFICATION:
    MUTATIONS["target-one-class"] = (
        balance(DATA.classes[0], 1.0),
        DATA.target,
        "expect_column_distinct_values_to_equal_set",
        f"{DATA.classes[-1]!r}]}}" if DATA.task == "binary" else repr(DATA.classes[-1]),
    )
else:
    MUTATIONS["target-empty"] = (
        set_rows(DATA.target, None),
        DATA.target,
        "expect_column_values_to_not_be_null",
        "3 of ",
    )
if DATA.target_range is not None:
    beyond = outside(DATA.target_spec)
    MUTATIONS["target-out-of-range"] = (
        set_rows(DATA.target, beyond),
        DATA.target,
        "expect_column_values_to_be_between",
        f"e.g. [{beyond!r}]",
    )
for name in first(DATA.numeric):
    MUTATIONS[f"wrong-type:{name}"] = (
        set_rows(name, "twelve"),
        name,
        "expect_column_values_to_be_in_type_list",
        "e.g. ['twelve']",
    )
for name in first(COMPLETE):
    MUTATIONS[f"null-not-allowed:{name}"] = (
        set_rows(name, None),
        name,
        "expect_column_values_to_not_be_null",
        "3 of ",
    )
for name in first(NULLABLE):
    allowed = DATA.columns[name].missing
    MUTATIONS[f"too-many-nulls:{name}"] = (
        set_rows(name, None, rows=int(SAMPLE_ROWS * (allowed + 0.1)) + 1),
        name,
        "expect_column_values_to_not_be_null",
        f"at most {allowed:.0%} missing values",
    )
for name in first(RANGED):
    value = plain(outside(DATA.columns[name]), DATA.columns[name])
    MUTATIONS[f"out-of-range:{name}"] = (
        set_rows(name, value),
        name,
        "expect_column_values_to_be_between",
        f"e.g. [{value!r}]",
    )
for name in first(DATA.categorical):
    MUTATIONS[f"unseen-category:{name}"] = (
        set_rows(name, "never-seen-value"),
        name,
        "expect_column_values_to_be_in_set",
        "e.g. ['never-seen-value']",
    )
if DATA.id_column is not None:
    MUTATIONS["duplicate-ids"] = (
        duplicate_id,
        DATA.id_column,
        "expect_column_values_to_be_unique",
        "2 of ",
    )


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


@pytest.mark.parametrize(
    ("label", "share"),
    [
        (label, min(0.99, (high + 1) / 2) if high < 0.98 else max(0.01, low / 2))
        for label, (low, high) in load_params_at_root().validate.class_shares.items()
        if high < 0.98 or low > 0.02
    ],
)
def test_class_balance_is_bounded(good_sample, check_frame, label, share):
    result = check_frame(balance(label, share)(good_sample.copy()))
    assert not result.success
    assert {failure.column for failure in result.failures} == {DATA.target}
    assert all("class balance" in failure.reason for failure in result.failures)
    assert any(repr(label) in failure.reason for failure in result.failures)
    if DATA.task == "binary":
        assert len(result.failures) == 1


def test_row_count_below_the_floor_fails(good_sample, check_frame, sample_params):
    floor = replace(sample_params.validate, min_rows=len(good_sample) + 1)
    result = check_frame(good_sample, replace(sample_params, validate=floor))
    assert not result.success
    [failure] = result.failures
    assert failure.expectation == "expect_table_row_count_to_be_between"
    assert failure.observed == f"{len(good_sample)} rows"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"min_rows": 5000, "max_rows": 1000}, "min_rows exceeds max_rows"),
        ({"class_shares": {"any": [0.7, 0.2]}}, "need 0 <= min <= max <= 1"),
    ],
)
def test_contradictory_bounds_in_params_are_rejected(edit, message, root, tmp_path):
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    raw["validate"].update(edit)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PipelineError, match="key 'validate': ") as raised:
        load_params(path)
    assert message in str(raised.value)


WARNED = columns_of(
    DATA,
    "number",
    "integer",
    where=lambda s: s.warn is not None and s.range is not None and s.warn[1] < s.range[1],
)


@pytest.mark.parametrize("column", first(WARNED))
def test_a_warning_is_reported_but_does_not_fail(good_sample, check_frame, column):
    spec = DATA.columns[column]
    value = plain((spec.warn[1] + spec.range[1]) / 2, spec)
    if spec.kind == "integer":
        value = int(value)
    result = check_frame(set_rows(column, value)(good_sample.copy()))
    assert result.success
    [failure] = result.failures
    assert (failure.column, failure.severity) == (column, WARNING)
    summary = result.summary()
    assert (summary["warnings"], summary["warning_failed"], summary["critical_failed"]) == (1, 1, 0)


def unreadable(sample: bytes) -> dict[str, tuple[bytes, str]]:
    """file: (its bytes, text the single error line must contain besides the file's name)."""
    lines = sample.decode("utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    last = next(csv.reader([lines[-1]]))
    cut = max(1, len(header) // 2)
    truncated = "".join(lines[:-1]) + ",".join(last[:cut])
    undecodable = "".join(lines[:3]).encode() + b"\xff\xfe" + "".join(lines[3:]).encode()
    semicolons = pd.read_csv(io.BytesIO(sample)).to_csv(sep=";", index=False)
    return {
        "empty.csv": (b"", "file is empty"),
        "header_only.csv": (lines[0].encode(), "no data rows (header only)"),
        "undecodable.csv": (undecodable, "not valid UTF-8"),
        "semicolons.csv": (semicolons.encode(), "the header looks ';'-separated"),
        "truncated.csv": (
            truncated.encode(),
            f"last line has {cut} of {len(header)} fields (truncated file?)",
        ),
    }


@pytest.mark.parametrize(
    "name", ["empty.csv", "header_only.csv", "undecodable.csv", "semicolons.csv", "truncated.csv"]
)
def test_unreadable_files_fail_with_one_line_naming_the_file(
    name, sample_params, sample_csv, tmp_path
):
    content, expected = unreadable(sample_csv.read_bytes())[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PipelineError) as raised:
        validate_csv(path, sample_params)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


ACCEPTED = {
    "reordered-columns": lambda sample, path: (
        pd.read_csv(sample, dtype=str).iloc[:, ::-1].to_csv(path, index=False)
    ),
    "crlf-line-endings": lambda sample, path: path.write_bytes(
        sample.read_bytes().replace(b"\n", b"\r\n")
    ),
    "utf8-byte-order-mark": lambda sample, path: path.write_bytes(
        b"\xef\xbb\xbf" + sample.read_bytes()
    ),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepted_variants_pass(case, tmp_path, sample_params, sample_csv):
    path = tmp_path / "extract.csv"
    ACCEPTED[case](sample_csv, path)
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
            gxe.ExpectColumnValuesToBeInSet(column=DATA.target, value_set=[], meta={"reason": "x"}),
            gxe.ExpectColumnValuesToBeInSet(
                column=DATA.target, value_set=[], meta={"severity": "minor", "reason": "y"}
            ),
        ],
    )
    result = run_suite(good_sample, suite)
    assert not result.success
    assert [f.severity for f in result.failures] == [CRITICAL, CRITICAL]


def test_every_described_column_has_rules_and_ignored_ones_only_presence(params):
    suite = build_suite(params)
    by_column: dict[str, set[str]] = {}
    for expectation in suite.expectations:
        column = getattr(expectation, "column", None)
        if column:
            by_column.setdefault(column, set()).add(expectation.expectation_type)
    for name, spec in params.data.columns.items():
        rules = by_column[name] - {"expect_column_values_to_not_be_null"}
        assert bool(rules) == (spec.kind != "ignored"), (name, rules)


def run_stage(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as raised:
        validate_stage.main(argv)
        raise SystemExit(0)
    return raised.value.code, capsys.readouterr().err


def write_params(tmp_path: Path, root: Path) -> Path:
    """params.yaml with the row floor lowered to the sample's size."""
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    raw["validate"]["min_rows"] = 50
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return params


def test_stage_writes_report_and_docs_then_exits_2_on_bad_data(tmp_path, root, good_sample, capsys):
    bad = tmp_path / "bad.csv"
    set_rows(DATA.target, "Maybe-not-a-label")(good_sample.copy()).to_csv(bad, index=False)
    out, docs = tmp_path / "validation.json", tmp_path / "docs"
    argv = ["--params", str(write_params(tmp_path, root)), "--csv", str(bad)]
    code, err = run_stage([*argv, "--out", str(out), "--docs", str(docs)], capsys)
    assert code == 2
    assert f"{bad}: {DATA.target}: {TARGET_RULE} [critical]" in err
    report = json.loads(out.read_text())
    failed_count = report["critical_failed"]
    assert (
        f"error: {bad}: {failed_count} critical expectation(s) of the data contract failed" in err
    )
    assert {"success", "rows", "columns", "evaluated", "passed", "failed", "warnings"} <= set(
        report
    )
    assert report["success"] is False
    assert report["critical_failed"] == report["failed"] >= 1
    [target_failure] = [f for f in report["failures"] if f["expectation"] == TARGET_RULE]
    assert target_failure["examples"] == ["Maybe-not-a-label"]
    assert (docs / "index.html").is_file()


def test_stage_writes_a_report_for_an_unreadable_file(tmp_path, root, capsys):
    out, empty = tmp_path / "validation.json", tmp_path / "empty.csv"
    empty.write_bytes(b"")
    argv = ["--params", str(write_params(tmp_path, root)), "--csv", str(empty)]
    code, err = run_stage([*argv, "--out", str(out)], capsys)
    assert code == 2
    assert err.strip() == f"error: {empty}: file is empty"
    report = json.loads(out.read_text())
    assert report["success"] is False
    assert report["failures"][0]["expectation"] == "guard: readable CSV"
