"""The dataset, described once: per column its kind and what the data contract allows, the
target's labels, the id column, the contract's row and class bounds, and the behaviour the model
must show. `make init` drafts these sections of params.yaml; core/params.py loads them."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, Strict
from pydantic.dataclasses import dataclass

from tabular_mlops.core.task import Task

_STRICT = ConfigDict(extra="forbid", frozen=True)
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Str = Annotated[str, Strict()]


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

    `make init` drafts it from a CSV. `columns` lists every column but the target and the id. A
    classification task lists its `labels` (binary: two, and which one is `positive_label`); a
    regression target is a number, within `target_range` when one is given.
    """

    task: Task
    target: Str
    id_column: Str | None
    columns: dict[Str, ColumnSpec]
    labels: tuple[Value, ...] | None = None
    positive_label: Value | None = None
    target_range: Bounds | None = None

    def __post_init__(self) -> None:
        self._check_target()
        for name in (self.target, self.id_column):
            if name is not None and name in self.columns:
                raise ValueError(f"'{name}' is the target or the id, so not one of the columns")
        if self.id_column is not None and self.id_column == self.target:
            raise ValueError("the id column cannot be the target")
        if not self.features:
            raise ValueError("no feature columns: every column is ignored")

    def _check_target(self) -> None:
        if self.task == "regression":
            if self.labels is not None or self.positive_label is not None:
                raise ValueError("a regression task has no 'labels' or 'positive_label'")
            if self.target_range is not None and self.target_range[0] > self.target_range[1]:
                raise ValueError("'target_range' low bound exceeds the high bound")
            return
        if self.target_range is not None:
            raise ValueError("'target_range' applies to a regression task only")
        if not self.labels or len(set(map(str, self.labels))) != len(self.labels):
            raise ValueError(f"a {self.task} task lists its distinct 'labels'")
        if self.task == "binary":
            if len(self.labels) != 2:
                raise ValueError("a binary task has exactly two distinct labels")
            if self.positive_label is None:
                raise ValueError("a binary task names its 'positive_label'")
            if self.positive_label not in self.labels:
                raise ValueError(f"positive_label {self.positive_label!r} is not one of the labels")
        else:
            if len(self.labels) < 3:
                raise ValueError("a multiclass task has at least three labels (two: binary)")
            if self.positive_label is not None:
                raise ValueError("'positive_label' applies to a binary task only")

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
        return next(label for label in self.classes if label != self.positive_label)

    @property
    def classes(self) -> tuple[Value, ...]:
        """The labels in the order of the model's classes: the target's codes 0, 1, ...

        Binary puts the positive label last (code 1); regression has none.
        """
        if self.task == "binary":
            labels = self.labels or ()
            return (*(x for x in labels if x != self.positive_label), self.positive_label)
        return tuple(self.labels or ())

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(str(label) for label in self.classes)

    @property
    def target_spec(self) -> ColumnSpec:
        """A regression target, checked by the contract as a number column that is never empty."""
        return ColumnSpec(kind="number", range=self.target_range)

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Every column the raw CSV holds, in the order the contract reports them."""
        head = (self.id_column,) if self.id_column is not None else ()
        return (*head, self.target, *self.columns)


@dataclass(config=_STRICT)
class ValidateParams:
    """Row-count bounds and, per label, the [min, max] share of rows the contract allows."""

    min_rows: Annotated[Int, Field(ge=1)]
    max_rows: Annotated[Int, Field(ge=1)]
    class_shares: dict[Value, tuple[Float, Float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.min_rows > self.max_rows:
            raise ValueError("min_rows exceeds max_rows")
        for label, (low, high) in self.class_shares.items():
            if not 0 <= low <= high <= 1:
                raise ValueError(f"class_shares[{label!r}]: need 0 <= min <= max <= 1")


@dataclass(config=_STRICT)
class CaseParams:
    """A minimum-functionality case: a row (unlisted columns take typical training values) and
    the label the model must give it (`expect`), or for regression the range its prediction
    must fall in (`expect_between`)."""

    row: dict[Str, Value | Float]
    expect: Value | None = None
    expect_between: Bounds | None = None

    def __post_init__(self) -> None:
        if (self.expect is None) == (self.expect_between is None):
            raise ValueError("a case names either 'expect' (a label) or 'expect_between'")


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
