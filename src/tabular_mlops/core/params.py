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


ClassWeight = Literal["balanced"] | None
Depth = Annotated[Int, Field(ge=1)] | None


@dataclass(config=_STRICT)
class RandomForestParams:
    """sklearn's RandomForestClassifier or RandomForestRegressor."""

    n_estimators: Annotated[Int, Field(ge=1)]
    max_depth: Depth
    min_samples_leaf: Annotated[Int, Field(ge=1)]
    class_weight: ClassWeight = None


@dataclass(config=_STRICT)
class HistGradientBoostingParams:
    """sklearn's HistGradientBoostingClassifier or HistGradientBoostingRegressor."""

    max_iter: Annotated[Int, Field(ge=1)]
    max_depth: Depth
    min_samples_leaf: Annotated[Int, Field(ge=1)]
    learning_rate: Annotated[Float, Field(gt=0)]
    class_weight: ClassWeight = None


@dataclass(config=_STRICT)
class LinearParams:
    """LogisticRegression (C = 1 / alpha) or Ridge (alpha): `alpha` is the regularization."""

    alpha: Annotated[Float, Field(gt=0)]
    class_weight: ClassWeight = None


Family = Literal["random_forest", "hist_gradient_boosting", "linear"]
FamilyParams = RandomForestParams | HistGradientBoostingParams | LinearParams


@dataclass(config=_STRICT)
class TrainParams:
    """`model` picks one family of the table below it; each family has only its own keys, so
    every family's settings survive switching between them (`dvc exp run -S train.model=...`)."""

    model: Family
    seed: Annotated[Int, Field(ge=0)]
    random_forest: RandomForestParams | None = None
    hist_gradient_boosting: HistGradientBoostingParams | None = None
    linear: LinearParams | None = None

    def __post_init__(self) -> None:
        if self.chosen is None:
            raise ValueError(f"model '{self.model}' has no settings: add a '{self.model}' block")

    @property
    def chosen(self) -> FamilyParams:
        """The settings of the family `model` names."""
        return getattr(self, self.model)


@dataclass(config=_STRICT)
class EvaluateParams:
    """Slices metrics are broken down by, plot settings, and (binary) the scoring threshold."""

    slice_columns: tuple[Str, ...]
    bands: dict[Str, tuple[Float, ...]]
    importance_repeats: Annotated[Int, Field(ge=1)]
    seed: Annotated[Int, Field(ge=0)]
    threshold: Annotated[Float, Field(gt=0, lt=1)] | None = None
    calibration_bins: Annotated[Int, Field(ge=2)] = 10
    #: Permutation importance scores a seeded sample of this many test rows (null: all of them).
    importance_rows: Annotated[Int, Field(ge=100)] | None = 5_000

    @property
    def cutoff(self) -> float:
        """The binary threshold; 0.5 when not set."""
        return 0.5 if self.threshold is None else self.threshold


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


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, or fail with one line naming the file. Every command reads
    params.yaml, so the safe loader is libyaml's (C) where PyYAML was built with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None
    try:
        loaded = yaml.load(text, Loader=SAFE_LOADER)
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
    from tabular_mlops.core.consistency import first_inconsistency

    params = parse(read_yaml(path), Params, path=path)
    problem = first_inconsistency(params)
    if problem is not None:
        raise PipelineError(f"{path}: {problem}")
    return params


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
