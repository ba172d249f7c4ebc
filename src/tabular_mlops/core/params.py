"""Typed, frozen views of params.yaml: one dataclass per section, unknown or missing keys rejected.

pydantic does the type checking; this module only turns its errors into one line that names the
file and the dotted key, so a typo in params.yaml never silently falls back to a default.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from tabular_mlops.core.errors import PipelineError

DEFAULT_PARAMS = Path("params.yaml")

_STRICT = ConfigDict(extra="forbid", frozen=True)
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Str = Annotated[str, Strict()]

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


Number = Annotated[float, Strict()] | Annotated[int, Strict()]
#: A target label or a category value as the CSV holds it: text, a whole number or a boolean.
Value = Annotated[str, Strict()] | Annotated[bool, Strict()] | Annotated[int, Strict()]
Bounds = tuple[Number, Number]
ColumnKind = Literal["number", "integer", "category", "ignored"]
NUMERIC_KINDS = ("number", "integer")


@dataclass(config=_STRICT)
class ColumnSpec:
    """One column of the dataset: its kind and what the data contract allows in it.

    `range` is critical (physically plausible values), `warn` and `median` are warnings (the
    range and the typical value seen when the config was drafted), `values` are a category's
    allowed values, `missing` the largest share of empty cells. `ignored` columns are checked for
    presence only and never reach the model (free text, dates, leaks).
    """

    kind: ColumnKind
    range: Bounds | None = None
    warn: Bounds | None = None
    median: Bounds | None = None
    values: tuple[Value, ...] | None = None
    missing: Annotated[Float, Field(ge=0, le=1)] = 0.0

    def __post_init__(self) -> None:
        numeric = self.kind in NUMERIC_KINDS
        for name in ("range", "warn", "median"):
            bounds = getattr(self, name)
            if bounds is not None and not numeric:
                raise ValueError(f"'{name}' applies to number and integer columns only")
            if bounds is not None and bounds[0] > bounds[1]:
                raise ValueError(f"'{name}' low bound exceeds the high bound")
        if self.kind == "category" and not self.values:
            raise ValueError("a category column lists its allowed 'values'")
        if self.kind != "category" and self.values is not None:
            raise ValueError("'values' applies to category columns only")


@dataclass(config=_STRICT)
class DataParams:
    """The dataset, described once: the contract, the model's features and the tests read this.

    `make init` drafts it from a CSV. `columns` lists every column but the target and the id.
    """

    task: Literal["binary"]
    target: Str
    labels: tuple[Value, ...]
    positive_label: Value
    id_column: Str | None
    columns: dict[Str, ColumnSpec]

    def __post_init__(self) -> None:
        if len(set(map(str, self.labels))) != len(self.labels) or len(self.labels) != 2:
            raise ValueError("a binary task has exactly two distinct labels")
        if self.positive_label not in self.labels:
            raise ValueError(f"positive_label {self.positive_label!r} is not one of the labels")
        for name in (self.target, self.id_column):
            if name is not None and name in self.columns:
                raise ValueError(f"'{name}' is the target or the id, so not one of the columns")
        if self.id_column is not None and self.id_column == self.target:
            raise ValueError("the id column cannot be the target")
        if not self.features:
            raise ValueError("no feature columns: every column is ignored")

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(n for n, spec in self.columns.items() if spec.kind in NUMERIC_KINDS)

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(n for n, spec in self.columns.items() if spec.kind == "category")

    @property
    def features(self) -> tuple[str, ...]:
        """The model's input columns, numeric first: what training, serving and drift use."""
        return (*self.numeric, *self.categorical)

    @property
    def negative_label(self) -> Value:
        return next(label for label in self.labels if label != self.positive_label)

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Every column the raw CSV holds, in the order the contract reports them."""
        head = (self.id_column,) if self.id_column is not None else ()
        return (*head, self.target, *self.columns)


@dataclass(config=_STRICT)
class PrepareParams:
    test_size: Annotated[Float, Field(gt=0, lt=1)]
    seed: Annotated[Int, Field(ge=0)]


@dataclass(config=_STRICT)
class ValidateParams:
    """Row-count bounds and, per label, the [min, max] share of rows the contract allows."""

    min_rows: Annotated[Int, Field(ge=1)]
    max_rows: Annotated[Int, Field(ge=1)]
    class_shares: dict[Value, tuple[Float, Float]]

    def __post_init__(self) -> None:
        if self.min_rows > self.max_rows:
            raise ValueError("min_rows exceeds max_rows")
        for label, (low, high) in self.class_shares.items():
            if not 0 <= low <= high <= 1:
                raise ValueError(f"class_shares[{label!r}]: need 0 <= min <= max <= 1")


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
class CaseParams:
    """A minimum-functionality case: a row (unlisted columns take typical training values) and
    the label the model must give it."""

    expect: Value
    row: dict[Str, Value | Float]


@dataclass(config=_STRICT)
class BehaviourParams:
    """What the model must do beyond its metrics, checked by tests/model on the produced model.

    Each rule is first checked against the training data, so a rule the data disagree with fails
    with that reason instead of blaming the model.
    """

    invariant: tuple[Str, ...] = ()
    invariant_tolerance: Annotated[Float, Field(gt=0, le=1)] = 0.02
    monotonic: dict[Str, Literal["increasing", "decreasing"]] = field(default_factory=dict)
    category_order: dict[Str, tuple[Value, ...]] = field(default_factory=dict)
    cases: tuple[CaseParams, ...] = ()


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
