"""The statistics of the drift watch: one test per column that fits its type, PSI, and one
Benjamini-Hochberg correction across every test (see ct/drift.py for why).

Per task, the target is compared as the column it is (classes by chi-squared; a regression
target's numbers as a numeric feature is) and the model's scores as numbers: the positive
probability (binary), each class's probability (multiclass), the predicted value (regression).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.core.features import label_codes, typed_features
from tabular_mlops.core.params import DataParams, DriftParams

MISSING = "<missing>"
PSI_FLOOR = 1e-4
PLOT_BINS = 20
PREDICTION = "prediction"
KIND_NAMES = {"target": "prior", PREDICTION: "prediction"}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison; `p_adjusted` and `drifted` are set after the correction."""

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float
    psi: float
    reference_rows: int
    current_rows: int
    p_adjusted: float = 1.0
    drifted: bool = False


@dataclass(frozen=True)
class DriftResult:
    columns: tuple[ColumnDrift, ...]
    alpha: float
    psi_threshold: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    methods: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def drift(self) -> bool:
        return any(column.drifted for column in self.columns)

    def of_kind(self, kind: str) -> list[ColumnDrift]:
        return [column for column in self.columns if column.kind == kind]

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.of_kind("feature") if c.drifted]

    def summary(self) -> dict[str, Any]:
        prior = self.of_kind("target")
        prediction = sorted(self.of_kind(PREDICTION), key=strongest)
        methods = dict(self.methods)
        return {
            "drift": self.drift,
            "drifted_features": self.drifted_features,
            "prior_shift": asdict(prior[0]) if prior else None,
            "prediction_drift": asdict(prediction[0]) if prediction else None,
            "prediction_drift_by_class": (
                [asdict(c) for c in self.of_kind(PREDICTION)] if len(prediction) > 1 else None
            ),
            "prior_test": methods.get("target"),
            "prediction_test": methods.get(PREDICTION),
            "alpha": self.alpha,
            "psi_threshold": self.psi_threshold,
            "correction": "benjamini-hochberg across all tests",
            "features": [asdict(column) for column in self.of_kind("feature")],
            "notes": list(self.notes),
        }


def strongest(column: ColumnDrift) -> tuple[bool, float, float]:
    """Sort key: drifted first, then the smallest adjusted p-value, then the largest PSI."""
    return (not column.drifted, column.p_adjusted, -column.psi)


def describe_tests(data: DataParams) -> tuple[tuple[str, str], ...]:
    """What the prior-shift and prediction-drift tests compare, in words, for the report."""
    if data.task == "regression":
        prior = f"KS and PSI on the target '{data.target}' (its values)"
        prediction = "KS and PSI on the predicted value"
    elif data.task == "binary":
        prior = f"chi-squared and PSI on the target '{data.target}' (its two classes)"
        prediction = f"KS and PSI on the probability of '{data.positive_label}'"
    else:
        prior = (
            f"chi-squared and PSI on the target '{data.target}' (its {len(data.classes)} classes)"
        )
        prediction = "KS and PSI on each class's probability, one test per class"
    return (("target", prior), (PREDICTION, prediction))


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index of two histograms on the same bins."""
    ref = np.maximum(reference_counts / max(reference_counts.sum(), 1), PSI_FLOOR)
    cur = np.maximum(current_counts / max(current_counts.sum(), 1), PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def quantile_counts(
    reference: np.ndarray, current: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts in the reference's quantile bins, with missing values as one more bin."""
    ref_ok, cur_ok = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(ref_ok) == 0:
        edges = np.array([])
    else:
        edges = np.unique(np.quantile(ref_ok, np.linspace(0, 1, bins + 1)[1:-1]))
    size = len(edges) + 1
    ref_counts = np.bincount(np.searchsorted(edges, ref_ok, side="right"), minlength=size)
    cur_counts = np.bincount(np.searchsorted(edges, cur_ok, side="right"), minlength=size)
    return (
        np.append(ref_counts, len(reference) - len(ref_ok)),
        np.append(cur_counts, len(current) - len(cur_ok)),
    )


def _value_counts(values: pd.Series) -> pd.Series:
    """Counts per value as text, missing values counted as one more value."""
    counts = values.value_counts(dropna=False)
    counts.index = pd.Index([MISSING if pd.isna(key) else str(key) for key in counts.index])
    return counts if counts.index.is_unique else counts.groupby(level=0).sum()


def category_counts(
    reference: pd.Series, current: pd.Series
) -> tuple[list[str], np.ndarray, np.ndarray]:
    ref_counts, cur_counts = _value_counts(reference), _value_counts(current)
    labels = sorted(set(ref_counts.index) | set(cur_counts.index))
    return (
        labels,
        ref_counts.reindex(labels, fill_value=0).to_numpy(),
        cur_counts.reindex(labels, fill_value=0).to_numpy(),
    )


def compare_numeric(
    name: str, kind: str, reference: np.ndarray, current: np.ndarray, bins: int
) -> ColumnDrift:
    reference = np.asarray(reference, dtype="float64")
    current = np.asarray(current, dtype="float64")
    ref_ok, cur_ok = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(ref_ok) and len(cur_ok):
        test = stats.ks_2samp(ref_ok, cur_ok, method="asymp")
        statistic, p_value = float(test.statistic), float(test.pvalue)
    else:
        statistic, p_value = 0.0, 1.0
    ref_counts, cur_counts = quantile_counts(reference, current, bins)
    return ColumnDrift(
        name, kind, "ks", statistic, p_value, psi(ref_counts, cur_counts), len(ref_ok), len(cur_ok)
    )


def compare_categorical(
    name: str, kind: str, reference: pd.Series, current: pd.Series
) -> ColumnDrift:
    _, ref_counts, cur_counts = category_counts(reference, current)
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or min(ref_counts.sum(), cur_counts.sum()) == 0:
        statistic, p_value = 0.0, 1.0
    else:
        test = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(test.statistic), float(test.pvalue)
    return ColumnDrift(
        name,
        kind,
        "chi2",
        statistic,
        p_value,
        psi(ref_counts, cur_counts),
        int(ref_counts.sum()),
        int(cur_counts.sum()),
    )


def typed(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """The features typed as `prepare` types them, and the target when present: a regression
    target as numbers; a class as its label's name however the CSV wrote it (`1.0` is `1`), a
    label the config does not list as itself, so it shows up as a new category."""
    out = typed_features(frame, data)
    if data.target in frame.columns:
        codes = label_codes(frame[data.target], data)
        if data.task == "regression":
            out[data.target] = codes
        else:
            names = codes.map(dict(enumerate(data.class_names)))
            text = frame[data.target].astype("string").str.strip().astype(object)
            out[data.target] = names.where(codes.notna(), text.where(text.notna(), None))
    return out


def compare_number_column(
    name: str, kind: str, reference: pd.Series, current: pd.Series, params: DriftParams
) -> ColumnDrift:
    """KS for a continuous column; chi-squared when it has few values (0/1 flags, counts)."""
    if reference.nunique(dropna=True) <= params.discrete_max_values:
        return compare_categorical(name, kind, reference, current)
    return compare_numeric(name, kind, reference.to_numpy(), current.to_numpy(), params.psi_bins)


def compare_scores(
    reference: np.ndarray, current: np.ndarray, data: DataParams, params: DriftParams
) -> list[ColumnDrift]:
    """The model's scores: one column of numbers (binary, regression), or one per class."""
    reference, current = np.asarray(reference, "float64"), np.asarray(current, "float64")
    if reference.ndim == 1 and current.ndim == 1:
        return [compare_numeric(PREDICTION, PREDICTION, reference, current, params.psi_bins)]
    names = data.class_names
    for what, scores in (("reference", reference), ("current", current)):
        if scores.ndim != 2 or scores.shape[1] != len(names):
            raise PipelineError(
                f"{what} scores have shape {scores.shape}: expected one column per class "
                f"({len(names)}: {', '.join(names)})"
            )
    return [
        compare_numeric(
            f"{PREDICTION}:{name}", PREDICTION, reference[:, i], current[:, i], params.psi_bins
        )
        for i, name in enumerate(names)
    ]


def check_columns(frame: pd.DataFrame, data: DataParams, what: str) -> None:
    missing = [c for c in data.features if c not in frame.columns]
    if missing:
        raise PipelineError(f"{what}: column(s) not found: {', '.join(missing)}")


def detect(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    data: DataParams,
    params: DriftParams,
    reference_scores: np.ndarray | None = None,
    current_scores: np.ndarray | None = None,
    notes: tuple[str, ...] = (),
) -> DriftResult:
    """Compare every feature, the target (if both windows have it) and the model's scores."""
    check_columns(reference, data, "reference window")
    check_columns(current, data, "current window")
    ref, cur = typed(reference, data), typed(current, data)
    results: list[ColumnDrift] = [
        compare_number_column(column, "feature", ref[column], cur[column], params)
        for column in data.numeric
    ]
    for column in data.categorical:
        results.append(compare_categorical(column, "feature", ref[column], cur[column]))
    found: list[str] = list(notes)
    if data.target in ref.columns and data.target in cur.columns:
        if data.task == "regression":
            target = compare_number_column(
                data.target, "target", ref[data.target], cur[data.target], params
            )
        else:
            target = compare_categorical(data.target, "target", ref[data.target], cur[data.target])
        results.append(target)
    else:
        found.append(f"prior shift not checked: the current window has no '{data.target}' column")
    if reference_scores is not None and current_scores is not None:
        if len(reference_scores) and len(current_scores):
            results.extend(compare_scores(reference_scores, current_scores, data, params))
        else:
            found.append("prediction drift not checked: no scores in one of the windows")
    adjusted = stats.false_discovery_control([c.p_value for c in results], method="bh")
    judged = tuple(
        ColumnDrift(
            **{
                **asdict(column),
                "p_adjusted": float(p),
                "drifted": bool(p < params.alpha and column.psi >= params.psi_threshold),
            }
        )
        for column, p in zip(results, adjusted, strict=True)
    )
    return DriftResult(
        judged, params.alpha, params.psi_threshold, tuple(found), describe_tests(data)
    )
