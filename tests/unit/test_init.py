"""`make init`: the drafting heuristics on tiny frames, the rendered YAML, and the command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import Params, load_params, parse
from tabular_mlops.init.cli import main
from tabular_mlops.init.columns import draft_column, missing_allowance
from tabular_mlops.init.draft import draft, find_id, looks_like_id
from tabular_mlops.init.render import render, scalar
from tabular_mlops.init.target import infer_task

SRC = Path(__file__).resolve().parents[2] / "src"


def frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "account_id": np.arange(1000, 1000 + rows),
            "age": rng.integers(18, 90, rows),
            "price": rng.normal(50, 10, rows).round(2),
            "flag": rng.integers(0, 2, rows),
            "colour": rng.choice(["red", "blue", "green"], rows),
            "answer": rng.choice(["Yes", "No"], rows),
            "active": rng.choice([True, False], rows),
            "comment": [f"customer {i} wrote a long note about the service" for i in range(rows)],
            "signup": pd.date_range("2024-01-01", periods=rows).strftime("%Y-%m-%d"),
            "left": np.where(rng.random(rows) < 0.3, "Yes", "No"),
        }
    )


def drafted(data: pd.DataFrame, target: str = "left", **kwargs):
    return draft(data, target, source="data.csv", csv_name="data.csv", name="My Shop", **kwargs)


def kinds(d) -> dict[str, str]:
    return {c.name: c.kind for c in d.columns}


def test_kinds_follow_dtype_and_cardinality() -> None:
    d = drafted(frame())
    assert kinds(d) == {
        "age": "integer",
        "price": "number",
        "flag": "integer",
        "colour": "category",
        "answer": "category",
        "active": "category",
        "comment": "ignored",
        "signup": "ignored",
    }
    by_name = {c.name: c for c in d.columns}
    assert by_name["colour"].values == ("blue", "green", "red")
    assert by_name["active"].values == (False, True)
    assert by_name["flag"].range == (0, 1) and by_name["flag"].warn is None
    assert "free text" in by_name["comment"].reason
    assert "dates" in by_name["signup"].reason


def test_nearly_unique_constant_and_empty_columns_are_ignored() -> None:
    data = pd.DataFrame(
        {
            "code": [f"C{i:03d}" for i in range(60)],
            "same": ["x"] * 60,
            "blank": [np.nan] * 60,
            "many": [f"v{i % 55}" for i in range(60) for _ in range(1)][:60],
        }
    )
    reasons = {name: draft_column(name, data[name]).reason for name in data}
    assert "nearly unique" in reasons["code"]
    assert "single value" in reasons["same"]
    assert "empty" in reasons["blank"]
    assert all(draft_column(n, data[n]).kind == "ignored" for n in data)


def test_whole_numbers_with_blanks_are_integers_with_a_missing_share() -> None:
    values = pd.Series([1.0, 2.0, np.nan, 4.0] * 25)
    column = draft_column("visits", values)
    assert column.kind == "integer"
    assert column.missing == missing_allowance(0.25)
    assert 0.25 < column.missing <= 0.5
    assert draft_column("visits", values.fillna(3)).missing == 0


def test_missing_allowance_rounds_up_with_headroom() -> None:
    assert missing_allowance(0.0) == 0
    assert missing_allowance(11 / 7000) == 0.02
    assert missing_allowance(0.1) >= 0.2
    assert missing_allowance(0.99) == 1


def test_ranges_widen_the_observed_span_and_stay_non_negative() -> None:
    positive = draft_column("amount", pd.Series(np.linspace(10.5, 110.25, 101)))
    assert positive.warn == (10.5, 110.25)
    assert positive.range[0] == 0 and positive.range[1] >= 110.25 + 99
    low, high = positive.median
    assert low <= 60.375 <= high
    signed = draft_column("delta", pd.Series(np.arange(-5, 11)))
    assert signed.kind == "integer"
    assert signed.warn == (-5, 10) and signed.range == (-20, 25)


def test_median_band_only_where_the_spread_is_real() -> None:
    assert draft_column("few", pd.Series([1, 2, 3] * 20)).median is None
    mostly_zero = pd.Series([0] * 90 + list(range(1, 11)))
    assert draft_column("gains", mostly_zero).median is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("id", True),
        ("ID", True),
        ("customer_id", True),
        ("id_customer", True),
        ("PassengerId", True),
        ("CustomerID", True),
        ("Unnamed: 0", True),
        ("paid", False),
        ("PAID", False),
        ("valid", False),
        ("identity", False),
        ("age", False),
    ],
)
def test_id_like_names(name: str, expected: bool) -> None:
    assert looks_like_id(name) is expected


def test_id_detection_needs_a_unique_complete_id_named_column() -> None:
    data = frame(50)
    assert drafted(data).id_column == "account_id"
    repeated = data.assign(account_id=[1, 2] * 25)
    d = drafted(repeated)
    assert d.id_column is None
    assert kinds(d)["account_id"] == "ignored"
    unnamed_unique = data.rename(columns={"account_id": "serial"})
    assert drafted(unnamed_unique).id_column is None
    assert drafted(data, id_column="none").id_column is None


@pytest.mark.parametrize(
    ("explicit", "message"),
    [
        ("nope", "ID column 'nope' is not a column"),
        ("colour", "ID column 'colour' is not unique"),
        ("left", "ID column 'left' is the target"),
    ],
)
def test_explicit_id_is_checked(explicit: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        find_id(frame(30), "left", explicit, "data.csv")


def test_positive_label_is_the_minority_unless_overridden() -> None:
    d = drafted(frame().replace({"left": {"Yes": "gone", "No": "stayed"}}))
    assert d.labels == ("stayed", "gone") and d.positive_label == "gone"
    assert "minority" in d.positive_reason
    d = drafted(frame())
    assert d.labels == ("No", "Yes") and d.positive_label == "Yes"
    flipped = drafted(frame(), positive="No")
    assert flipped.labels == ("Yes", "No") and flipped.positive_label == "No"
    with pytest.raises(PipelineError, match=r"data\.csv: POSITIVE='maybe' is not a target value"):
        drafted(frame(), positive="maybe")


def test_labels_keep_their_csv_types() -> None:
    data = frame().assign(left=lambda f: (f["left"] == "Yes").astype(int))
    assert drafted(data).labels == (0, 1)
    as_bool = drafted(frame().assign(left=lambda f: f["left"] == "Yes"), positive="true")
    assert as_bool.labels == (False, True) and as_bool.positive_label is True
    with_blank = frame().assign(left=lambda f: (f["left"] == "Yes").astype(float))
    with_blank.loc[0, "left"] = np.nan
    d = drafted(with_blank)
    assert d.labels == (0, 1) and isinstance(d.labels[0], int)
    assert any("no target" in note for note in d.notes)


def test_task_inference() -> None:
    assert infer_task(pd.Series(["a", "b", "a"])) == "binary"
    assert infer_task(pd.Series(["a", "b", "c"])) == "multiclass"
    assert infer_task(pd.Series([1, 2, 3, 1])) == "multiclass"
    assert infer_task(pd.Series(np.linspace(0, 1, 50))) == "regression"
    with pytest.raises(PipelineError, match="TASK='ranking'"):
        infer_task(pd.Series(["a", "b"]), "ranking")


def test_validate_bounds_and_class_shares() -> None:
    d = drafted(frame(1000))
    assert d.min_rows == 100 and d.max_rows >= 100_000
    low, high = d.class_shares["Yes"]
    assert low < d.positive_share < high
    assert drafted(frame(30)).min_rows == 30


def test_slices_and_bands() -> None:
    d = drafted(frame())
    assert 1 <= len(d.slice_columns) <= 3
    assert set(d.slice_columns) <= {"flag", "colour", "answer", "active"}
    for edges in d.bands.values():
        assert list(edges) == sorted(set(edges)) and len(edges) >= 2


def test_gates_ask_to_beat_the_baseline() -> None:
    d = drafted(frame())
    assert d.gate_floors["roc_auc"] == 0.5 + d.baseline_margin["roc_auc"]
    assert d.gate_floors["pr_auc"] > d.positive_share
    assert d.baseline_margin["pr_auc"] <= d.positive_share


@pytest.mark.parametrize("value", ["Yes", "No", "1", "null", "true", "on", "a: b", "x #y", ""])
def test_text_that_yaml_would_misread_is_quoted(value: str) -> None:
    assert yaml.safe_load(f"k: {scalar(value)}")["k"] == value


def test_rendered_params_load_and_keep_odd_names() -> None:
    data = frame().rename(columns={"price": "unit price (€)", "colour": "on"})
    data["answer"] = data["answer"].map({"Yes": "1", "No": "null"})
    text = render(drafted(data))
    params = parse(yaml.safe_load(text), Params)
    assert params.data.columns["unit price (€)"].kind == "number"
    assert params.data.columns["on"].values == ("blue", "green", "red")
    assert params.data.columns["answer"].values == ("1", "null")
    assert params.data.positive_label == "Yes"
    assert params.track.registered_model == "my-shop-model"
    assert params.behaviour.cases == () and params.simulate.linked == {}
    assert "# Drafted by `make init`" in text.splitlines()[0]


def test_a_regression_target_as_text_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Also the one run of `python -m tabular_mlops.init` as the Makefile runs it."""
    data = frame().assign(left=lambda f: f["colour"])
    csv = tmp_path / "multi.csv"
    data.to_csv(csv, index=False)
    result = run_init(tmp_path, "--csv", str(csv), "--target", "left", "--task", "regression")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {csv}: TASK=regression but target 'left' holds 200 values that are not "
        "numbers (e.g. 'blue', 'green', 'red')\n"
    )
    assert not (tmp_path / "params.yaml").exists()


def run_init(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(
        [sys.executable, "-m", "tabular_mlops.init", "--root", str(cwd), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


BAD_INPUTS = {
    "missing.csv": (None, "missing.csv: file not found"),
    "garbage.csv": (bytes(range(256)) * 8, "garbage.csv: not valid UTF-8"),
    "empty.csv": (b"", "empty.csv: file is empty"),
    "latin1.csv": (b"a,left\ncaf\xe9,x\nthe,y\n", "latin1.csv: not valid UTF-8"),
    "ragged.csv": (b"a,left\n1,x\n2,y,3,4\n", "ragged.csv: cannot parse as CSV"),
    "header.csv": (b"a,b,left\n", "header.csv: no data rows"),
    "notarget.csv": (b"a,b,c\n1,2,3\n4,5,6\n", "notarget.csv: no column 'left' (columns: a, b, c)"),
    "case.csv": (b"a,Left\n1,x\n2,y\n", "case.csv: no column 'left' (did you mean 'Left'?)"),
    "single.csv": (b"a,left\n1,Yes\n2,Yes\n", "single.csv: target 'left' has a single value"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, name: str, capsys) -> None:
    content, message = BAD_INPUTS[name]
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(SystemExit) as exit_:
        main(["--csv", str(tmp_path / name), "--target", "left", "--root", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert message in err
    assert not (tmp_path / "params.yaml").exists()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with a committed, hand-written example params.yaml and a user's CSV."""
    root = tmp_path / "shop"
    root.mkdir()
    (root / "params.yaml").write_text("# the template's example\npaths: {raw: x.csv}\n")
    git(root, "init", "-q")
    git(root, "add", "params.yaml")
    git(root, "commit", "-qm", "example")
    frame(120).to_csv(tmp_path / "sales.csv", index=False)
    return root


def init(project: Path, *args: str) -> int:
    csv = str(project.parent / "sales.csv")
    argv = ["--csv", csv, "--target", "left", "--root", str(project), *args]
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(main(argv))
    return exit_.value.code


def test_init_replaces_the_committed_example_and_copies_the_csv(project: Path, capsys) -> None:
    assert init(project) == 0
    params = load_params(project / "params.yaml")
    assert params.paths.raw == "data/raw/sales.csv"
    assert params.track.experiment == "shop"
    copied = project / "data/raw/sales.csv"
    assert copied.read_bytes() == (project.parent / "sales.csv").read_bytes()
    out = capsys.readouterr().out
    assert "positive label: 'Yes' (the conventional positive value" in out
    assert "id column: account_id" in out
    assert "ignored 'comment': looks like free text" in out
    assert init(project) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_rerun_with_a_different_draft_shows_a_diff_until_forced(project: Path, capsys) -> None:
    init(project)
    before = (project / "params.yaml").read_text()
    capsys.readouterr()
    assert init(project, "--positive", "No") == 1
    out = capsys.readouterr().out
    assert '-  positive_label: "Yes"' in out and '+  positive_label: "No"' in out
    assert "FORCE=1" in out
    assert (project / "params.yaml").read_text() == before
    assert init(project, "--positive", "No", "--force") == 0
    assert load_params(project / "params.yaml").data.positive_label == "No"


def test_uncommitted_edits_or_no_git_need_force(project: Path, capsys) -> None:
    path = project / "params.yaml"
    path.write_text(path.read_text() + "# my edit\n")
    assert init(project) == 1
    assert "not committed" in capsys.readouterr().out
    assert path.read_text().endswith("# my edit\n")
    shutil.rmtree(project / ".git")
    git(project, "init", "-q")
    assert init(project) == 1
    shutil.rmtree(project / ".git")
    assert init(project) == 1
    assert path.read_text().endswith("# my edit\n")


def test_make_passes_force_only_when_set(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]

    def dry(*args: str) -> str:
        result = subprocess.run(
            ["make", "-n", "-s", "-C", str(root), "init", "CSV=x.csv", "TARGET=y", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "python -m tabular_mlops.init" in result.stdout
        return result.stdout

    assert "--force" not in dry()
    assert "--force" not in dry("FORCE=false")
    assert "--force" in dry("FORCE=1")
    assert '--id "key"' in dry("ID=key")


def test_rare_positives_keep_a_non_zero_lower_share() -> None:
    data = frame(1000)
    data["left"] = np.where(np.arange(1000) < 60, "Yes", "No")
    low, high = drafted(data).class_shares["Yes"]
    assert 0 < low < 0.06 < high


def test_a_csv_already_under_data_raw_is_not_copied(project: Path, monkeypatch) -> None:
    raw = project / "data" / "raw"
    raw.mkdir(parents=True)
    frame(120).to_csv(raw / "sales.csv", index=False)
    argv = ["--csv", "data/raw/sales.csv", "--target", "left", "--root", str(project)]
    monkeypatch.chdir(project)
    assert main(argv) == 0
    assert load_params(project / "params.yaml").paths.raw == "data/raw/sales.csv"


def test_a_different_file_under_data_raw_is_not_overwritten(project: Path, capsys) -> None:
    raw = project / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "sales.csv").write_text("older,data\n1,2\n")
    assert init(project) == 1
    assert "data/raw/sales.csv exists and differs" in capsys.readouterr().out
    assert (raw / "sales.csv").read_text() == "older,data\n1,2\n"
    assert not (project / "params.yaml").read_text().startswith("# Drafted")
    assert init(project, "--force") == 0
    assert (raw / "sales.csv").read_bytes() == (project.parent / "sales.csv").read_bytes()


def test_unusable_targets_and_featureless_frames_name_the_file() -> None:
    data = pd.DataFrame({"x": [1, 2, 3, 4], "left": [0.5, 1.5, 0.5, 1.5]})
    with pytest.raises(PipelineError, match=r"data\.csv: target 'left' holds fractions"):
        drafted(data)
    only_text = pd.DataFrame({"note": ["a b c d e f"] * 4, "left": ["a", "b", "a", "b"]})
    with pytest.raises(PipelineError, match=r"data\.csv: no column can be a feature \(note:"):
        drafted(only_text)


@pytest.mark.parametrize(
    ("values", "positive"),
    [([0, 1], 1), ([True, False], True), (["yes", "no"], "yes"), (["N", "Y"], "Y")],
)
def test_a_conventional_pair_makes_its_positive_member_positive_even_when_common(
    values, positive
) -> None:
    other = next(value for value in values if value != positive)
    data = frame().assign(left=[positive] * (len(frame()) - 25) + [other] * 25)
    d = drafted(data)
    assert d.positive_label == positive
    assert "conventional" in d.positive_reason
