"""Typed, frozen views of params.yaml: one dataclass per section, unknown or missing keys rejected.

pydantic does the type checking; this module only turns its errors into one line that names the
file and the dotted key, so a typo in params.yaml never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from tabular_mlops.core.dataset import (
    _STRICT,
    BehaviourParams,
    DataParams,
    Float,
    Int,
    Str,
    ValidateParams,
)
from tabular_mlops.core.errors import PipelineError

DEFAULT_PARAMS = Path("params.yaml")

T = TypeVar("T")


@dataclass(config=_STRICT)
class PathsParams:
    """Every file the pipeline reads or writes, named once; dvc.yaml templates from here."""

    raw: Str
    train: Str
    test: Str
    validation: Str
    data_docs: Str
    model: Str
    metrics: Str
    plots: Str
    run_info: Str
    incoming: Str
    quarantine: Str
    batches: Str
    drift: Str
    decision: Str
    slices: Str
    promotion: Str
    promotion_report: Str


@dataclass(config=_STRICT)
class PrepareParams:
    test_size: Annotated[Float, Field(gt=0, lt=1)]
    seed: Annotated[Int, Field(ge=0)]


@dataclass(config=_STRICT)
class TrainParams:
    model: Literal["random_forest", "hist_gradient_boosting", "logistic_regression"]
    n_estimators: Annotated[Int, Field(ge=1)]
    max_depth: Annotated[Int, Field(ge=1)] | None
    min_samples_leaf: Annotated[Int, Field(ge=1)]
    learning_rate: Annotated[Float, Field(gt=0)]
    C: Annotated[Float, Field(gt=0)]
    class_weight: Literal["balanced"] | None
    seed: Annotated[Int, Field(ge=0)]


@dataclass(config=_STRICT)
class EvaluateParams:
    """Scoring threshold, the slices metrics are broken down by, and the plot settings."""

    threshold: Annotated[Float, Field(gt=0, lt=1)]
    slice_columns: tuple[Str, ...]
    bands: dict[Str, tuple[Float, ...]]
    calibration_bins: Annotated[Int, Field(ge=2)]
    importance_repeats: Annotated[Int, Field(ge=1)]
    seed: Annotated[Int, Field(ge=0)]


@dataclass(config=_STRICT)
class TrackParams:
    experiment: Str
    registered_model: Str


@dataclass(config=_STRICT)
class MetricGateParams:
    """One metric's gate: which way is better, the floor (null: none), the regression tolerance."""

    direction: Literal["higher", "lower"]
    floor: Float | None
    abs_tolerance: Annotated[Float, Field(ge=0)]
    rel_tolerance: Annotated[Float, Field(ge=0)]


@dataclass(config=_STRICT)
class SliceGateParams:
    """Slices with at least `min_rows` rows must meet `floors` and not regress by more than
    `abs_tolerance` against the champion on the same slice."""

    min_rows: Annotated[Int, Field(ge=1)]
    floors: dict[Str, Float]
    abs_tolerance: Annotated[Float, Field(ge=0)]


@dataclass(config=_STRICT)
class GatesParams:
    """What a challenger must pass before `make promote` makes it the champion."""

    metrics: dict[Str, MetricGateParams]
    baseline_margin: dict[Str, Float]
    slices: SliceGateParams


@dataclass(config=_STRICT)
class IngestParams:
    """Which files in paths.incoming are batches, and the smallest batch accepted."""

    pattern: Str
    min_rows: Annotated[Int, Field(ge=1)]
    update_imports: bool


@dataclass(config=_STRICT)
class SimulateParams:
    """Columns scaled together with a shifted column, so simulated rows stay consistent."""

    linked: dict[Str, tuple[Str, ...]]


@dataclass(config=_STRICT)
class DriftParams:
    """The current and reference windows, and when a column counts as drifted."""

    current: Literal["batches", "prediction_log"]
    reference: Literal["raw", "train"]
    prediction_log: Str | None
    alpha: Annotated[Float, Field(gt=0, lt=1)]
    psi_threshold: Annotated[Float, Field(ge=0)]
    psi_bins: Annotated[Int, Field(ge=2)]
    discrete_max_values: Annotated[Int, Field(ge=2)]


@dataclass(config=_STRICT)
class Params:
    paths: PathsParams
    data: DataParams
    prepare: PrepareParams
    validate: ValidateParams
    train: TrainParams
    evaluate: EvaluateParams
    track: TrackParams
    ingest: IngestParams
    simulate: SimulateParams
    drift: DriftParams
    gates: GatesParams
    behaviour: BehaviourParams


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, or fail with one line naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PipelineError(f"{path}:{where} not valid YAML") from None
    if not isinstance(loaded, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top level")
    return loaded


def _describe(error: dict[str, Any], path: Path, prefix: str) -> str:
    loc = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
    kind = error["type"]
    if kind == "unexpected_keyword_argument":
        return f"{path}: unknown key '{key}'"
    if kind == "missing_argument" or kind == "missing":
        return f"{path}: missing key '{key}'"
    if kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
        return f"{path}: key '{key}': {message}"
    got = error.get("input")
    shown = repr(got) if len(repr(got)) <= 80 else repr(got)[:77] + "..."
    return f"{path}: key '{key}': {error['msg'].lower()} (got {shown})"


def parse(raw: Any, cls: type[T], *, path: Path = DEFAULT_PARAMS, prefix: str = "") -> T:
    """Validate a plain mapping into the frozen dataclass `cls`, or raise one PipelineError."""
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: key '{prefix}' must be a mapping, got {type(raw).__name__}")
    try:
        return TypeAdapter(cls).validate_python(_lists_to_tuples(raw))
    except ValidationError as err:
        raise PipelineError(_describe(err.errors()[0], path, prefix)) from None


def _lists_to_tuples(value: Any) -> Any:
    """YAML gives lists; the frozen dataclasses hold tuples so a loaded config stays immutable."""
    if isinstance(value, dict):
        return {key: _lists_to_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


def load_params(path: Path = DEFAULT_PARAMS) -> Params:
    """Load and check the whole of params.yaml, including that its sections agree."""
    params = parse(read_yaml(path), Params, path=path)
    problem = _first_dangling_reference(params)
    if problem is not None:
        raise PipelineError(f"{path}: {problem}")
    return params


def _first_dangling_reference(params: Params) -> str | None:
    """A key that names a column, a label or a value that `data` does not describe."""
    data = params.data
    labels = {str(label) for label in data.labels}
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
    for label in [*params.validate.class_shares, *(case.expect for case in behaviour.cases)]:
        if str(label) not in labels:
            return (
                f"label {label!r} (validate.class_shares or behaviour.cases) is not in data.labels"
            )
    return None


def flatten(params: object, prefix: str = "") -> dict[str, object]:
    """`{"train.n_estimators": 300, ...}`: the form MLflow and DVC use for params."""
    from dataclasses import asdict, is_dataclass

    mapping = asdict(params) if is_dataclass(params) else params  # type: ignore[arg-type]
    flat: dict[str, object] = {}
    for key, value in mapping.items():  # type: ignore[union-attr]
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, tuple | list):
            flat[name] = ",".join(str(item) for item in value)
        else:
            flat[name] = value
    return flat
