from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.params import Params, flatten, load_params
from tabular_mlops.core.task import METRICS, PRIMARY

from ..support import TASKS, load_params_at_root, synthetic_params

CONFIGURED_TASK = load_params_at_root().data.task


def first_column(raw: dict) -> dict:
    return next(iter(raw["data"]["columns"].values()))


def replace_first_column(raw: dict, spec: dict) -> None:
    columns = raw["data"]["columns"]
    columns[next(iter(columns))] = spec


def write_params(tmp_path: Path, root: Path, edit) -> Path:
    return write_raw(
        tmp_path, yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")), edit
    )


def write_raw(tmp_path: Path, raw: dict, edit) -> Path:
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_shipped_params_load_into_frozen_objects(params: Params) -> None:
    assert params.train.chosen is getattr(params.train, params.train.model)
    assert params.data.features
    assert set(params.data.features) <= set(params.data.columns)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.train.seed = 1  # type: ignore[misc]


FOREST = {"n_estimators": 20, "max_depth": 3, "min_samples_leaf": 1}


def forest(**edit) -> dict:
    """A random_forest block with `edit` applied: a bad value in a family's own settings."""
    return {**FOREST, **edit}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["train"].update(n_trees=5), "unknown key 'train.n_trees'"),
        (lambda p: p.update(extra={"a": 1}), "unknown key 'extra'"),
        (lambda p: p["prepare"].pop("seed"), "missing key 'prepare.seed'"),
        (lambda p: p.pop("track"), "missing key 'track'"),
        (
            lambda p: p["train"].update(random_forest=forest(n_estimators="many")),
            "key 'train.random_forest.n_estimators'",
        ),
        (
            lambda p: p["train"].update(random_forest=forest(n_estimators=2.5)),
            "key 'train.random_forest.n_estimators'",
        ),
        (
            lambda p: p["train"].update(random_forest=forest(n_estimators=True)),
            "key 'train.random_forest.n_estimators'",
        ),
        (lambda p: p["prepare"].update(test_size=1.5), "key 'prepare.test_size'"),
        (lambda p: p["evaluate"].update(importance_rows=10), "key 'evaluate.importance_rows'"),
        (lambda p: p["evaluate"].update(importance_rows="all"), "key 'evaluate.importance_rows'"),
        (lambda p: p["train"].update(model="xgboost"), "key 'train.model'"),
        (lambda p: p["data"].update(columns="all"), "key 'data.columns'"),
        (lambda p: p.update(train=[1, 2]), "key 'train'"),
        (lambda p: first_column(p).update(kind="text"), "key 'data.columns."),
        (
            lambda p: replace_first_column(p, {"kind": "number", "values": ["a"]}),
            "'values' applies",
        ),
        (
            lambda p: replace_first_column(p, {"kind": "number", "range": [5, 1]}),
            "low bound exceeds",
        ),
        (lambda p: replace_first_column(p, {"kind": "category"}), "lists its allowed"),
        (lambda p: first_column(p).update(missing=1.5), "key 'data.columns."),
        (lambda p: first_column(p).update(unit="cm"), "unknown key 'data.columns."),
        (lambda p: p["data"].update(task="ranking"), "key 'data.task'"),
        (lambda p: p["data"].pop("id_column"), "missing key 'data.id_column'"),
        (
            lambda p: p["data"]["columns"].update({p["data"]["target"]: {"kind": "number"}}),
            "not one of the columns",
        ),
        (lambda p: p["validate"].update(class_shares={"x": [0.9, 0.1]}), "need 0 <= min"),
        (lambda p: p["behaviour"].update(monotonic={"x": "up"}), "key 'behaviour.monotonic"),
    ],
    ids=[
        "unknown-key",
        "unknown-section",
        "missing-key",
        "missing-section",
        "str-for-int",
        "float-for-int",
        "bool-for-int",
        "out-of-range",
        "importance-sample-too-small",
        "importance-sample-not-a-number",
        "unknown-model",
        "str-for-mapping",
        "list-for-section",
        "unknown-column-kind",
        "values-on-a-number",
        "inverted-range",
        "category-without-values",
        "missing-share-above-1",
        "unknown-column-key",
        "unknown-task",
        "id-column-missing",
        "target-listed-as-column",
        "inverted-class-share",
        "unknown-direction",
    ],
)
def test_bad_params_give_one_line_naming_file_and_key(tmp_path, root, edit, message) -> None:
    path = write_params(tmp_path, root, edit)
    with pytest.raises(PipelineError) as caught:
        load_params(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text
    assert len(text) < 300


def test_int_is_accepted_where_a_float_is_expected(tmp_path, root) -> None:
    path = write_params(tmp_path, root, lambda p: p["train"].update(linear={"alpha": 2}))
    assert load_params(path).train.linear.alpha == 2.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("train: [unclosed", "not valid YAML"),
        ("train:\n  model: x\n\tseed: 1\n", r"params\.yaml: line 3 not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_unreadable_params_file(tmp_path, content, message) -> None:
    path = tmp_path / "params.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PipelineError, match=message):
        load_params(path)


def test_flatten_gives_dotted_names_and_joins_lists(params: Params) -> None:
    flat = flatten(params)
    assert flat["train.model"] == params.train.model
    assert flat["train.seed"] == params.train.seed
    if params.data.labels is not None:
        assert flat["data.labels"].split(",") == [str(label) for label in params.data.labels]
    assert all(not isinstance(value, dict) for value in flat.values())


def a_case(raw: dict) -> dict:
    """What a case of the configured task expects: a label, or a range of values."""
    labels = raw["data"].get("labels")
    return {"expect": labels[0]} if labels else {"expect_between": [0, 1]}


def a_category(raw: dict) -> str | None:
    return next((n for n, s in raw["data"]["columns"].items() if s["kind"] == "category"), None)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p["evaluate"].update(slice_columns=["no_such_column"]),
            "key 'evaluate.slice_columns': 'no_such_column' is not a feature column",
        ),
        (
            lambda p: p["evaluate"].update(bands={"no_such_column": [0, 1]}),
            "key 'evaluate.bands': 'no_such_column' is not a numeric feature",
        ),
        (
            lambda p: p["simulate"].update(linked={"no_such_column": []}),
            "key 'simulate.linked': 'no_such_column'",
        ),
        (
            lambda p: p["behaviour"].update(invariant=["no_such_column"]),
            "key 'behaviour.invariant': 'no_such_column'",
        ),
        (
            lambda p: p["behaviour"].update(monotonic={"no_such_column": "increasing"}),
            "no single score to order"
            if CONFIGURED_TASK == "multiclass"
            else "key 'behaviour.monotonic': 'no_such_column'",
        ),
        (
            lambda p: p["behaviour"].update(cases=[{**a_case(p), "row": {"x": 1}}]),
            "key 'behaviour.cases': 'x'",
        ),
        (
            lambda p: p["behaviour"].update(cases=[{"expect": "no-such-label", "row": {}}]),
            "a regression case names 'expect_between'"
            if CONFIGURED_TASK == "regression"
            else "label 'no-such-label'",
        ),
        (
            lambda p: p["validate"].update(class_shares={"no-such-label": [0.1, 0.2]}),
            "applies to classification only"
            if CONFIGURED_TASK == "regression"
            else "label 'no-such-label'",
        ),
    ],
    ids=[
        "slice-column",
        "band-column",
        "linked-column",
        "invariant-column",
        "monotonic-column",
        "case-column",
        "case-label",
        "class-share-label",
    ],
)
def test_a_key_naming_what_data_does_not_describe_is_one_line(tmp_path, root, edit, message):
    path = write_params(tmp_path, root, edit)
    with pytest.raises(PipelineError) as caught:
        load_params(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_a_category_order_value_must_be_one_of_the_columns_values(tmp_path, root) -> None:
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    column = a_category(raw)
    if column is None:
        raw["data"]["columns"]["added_category"] = {"kind": "category", "values": ["a", "b"]}
        column = "added_category"
    raw["behaviour"]["category_order"] = {column: ["never-a-value"]}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    expected = f"behaviour.category_order.{column}': 'never-a-value'"
    if raw["data"]["task"] == "multiclass":
        expected = "no single score to order"
    with pytest.raises(PipelineError, match=expected):
        load_params(path)


# Each task's own rules, on params `make init` drafts for a small synthetic frame of that task.
TASK_EDITS = [
    ("binary", lambda p: p["data"].update(positive_label="x"), "is not one of the labels"),
    ("binary", lambda p: p["data"].update(labels=["a", "b", "c"]), "exactly two distinct"),
    ("binary", lambda p: p["data"].update(target_range=[0, 1]), "regression task only"),
    ("multiclass", lambda p: p["data"].update(positive_label="low"), "binary task only"),
    ("multiclass", lambda p: p["data"].update(labels=["low", "mid"]), "at least three"),
    ("multiclass", lambda p: p["evaluate"].update(threshold=0.4), "'evaluate.threshold'"),
    (
        "multiclass",
        lambda p: p["behaviour"].update(monotonic={"x": "increasing"}),
        "no single score to order",
    ),
    (
        "multiclass",
        lambda p: p["behaviour"].update(cases=[{"expect_between": [0, 1], "row": {"x": 1}}]),
        "names the label it 'expect's",
    ),
    ("regression", lambda p: p["data"].update(labels=["a", "b"]), "no 'labels'"),
    ("regression", lambda p: p["data"].update(target_range=[5, 1]), "low bound exceeds"),
    ("regression", lambda p: p["evaluate"].update(threshold=0.4), "'evaluate.threshold'"),
    (
        "regression",
        lambda p: p["train"]["random_forest"].update(class_weight="balanced"),
        "'train.random_forest.class_weight': applies to classification only",
    ),
    (
        "regression",
        lambda p: p["validate"].update(class_shares={"1": [0.1, 0.2]}),
        "'validate.class_shares': applies to classification only",
    ),
    (
        "regression",
        lambda p: p["behaviour"].update(cases=[{"expect": 1, "row": {"x": 1}}]),
        "a regression case names 'expect_between'",
    ),
    *(
        (
            task,
            lambda p, other=other: p["gates"]["metrics"].update(
                {
                    other: {
                        "direction": "higher",
                        "floor": None,
                        "abs_tolerance": 0.0,
                        "rel_tolerance": 0.0,
                    }
                }
            ),
            f"key 'gates.metrics.{other}': a {task} task does not produce '{other}'",
        )
        for task, other in (("binary", "rmse"), ("multiclass", "roc_auc"), ("regression", "f1"))
    ),
    (
        "regression",
        lambda p: p["gates"]["baseline_margin"].update(accuracy=0.1),
        "key 'gates.baseline_margin.accuracy': a regression task does not produce",
    ),
    *(
        (
            task,
            lambda p: p["train"].update(random_forest={**FOREST, "learning_rate": 0.1}),
            "unknown key 'train.random_forest.learning_rate'",
        )
        for task in TASKS
    ),
    (
        "multiclass",
        lambda p: p["train"].update(linear={"alpha": 1.0, "max_iter": 5}),
        "unknown key 'train.linear.max_iter'",
    ),
    (
        "binary",
        lambda p: p["train"].update(model="linear", linear=None),
        "model 'linear' has no settings",
    ),
]


@pytest.mark.parametrize(
    ("task", "edit", "message"),
    TASK_EDITS,
    ids=[f"{task}-{message[:40]}" for task, _, message in TASK_EDITS],
)
def test_a_key_of_another_task_or_family_is_one_line(tmp_path, task, edit, message) -> None:
    path = write_raw(tmp_path, synthetic_params(task), edit)
    with pytest.raises(PipelineError) as caught:
        load_params(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text


@pytest.mark.parametrize("task", TASKS)
def test_drafted_params_of_every_task_load_and_gate_only_its_metrics(tmp_path, task) -> None:
    params = load_params(write_raw(tmp_path, synthetic_params(task), lambda p: None))
    assert params.data.task == task
    assert PRIMARY[task] in params.gates.metrics
    assert set(params.gates.metrics) <= set(METRICS[task])
    assert set(params.gates.baseline_margin) <= set(METRICS[task])
