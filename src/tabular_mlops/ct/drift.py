"""Drift watch: compare the newest data with the data the model was trained on.

Per feature, the test that fits its type (Kolmogorov-Smirnov for continuous numbers, chi-squared
for categories and for numbers with few values) plus the population stability index (PSI); prior
shift as chi-squared on the target's classes; prediction drift as KS on the model's scores. One
Benjamini-Hochberg correction runs across all of them, so twenty features do not raise twenty
false alarms, and a column counts as drifted only if its adjusted p-value is below `drift.alpha`
*and* its PSI reaches `drift.psi_threshold`: with many rows any tiny change is significant, and
an alarm should mean a change worth a look. Writes JSON, Markdown and HTML; exits 0 either way.
"""

from __future__ import annotations

import argparse
import html
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tabular_mlops.core.batches import read_manifest, trained_raw, untrained
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.features import label_codes, typed_features
from tabular_mlops.core.github import add_summary, set_outputs
from tabular_mlops.core.io import atomic_path, read_csv, read_model, read_parquet, write_json
from tabular_mlops.core.lineage import file_md5
from tabular_mlops.core.params import DataParams, DriftParams, Params, load_params

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
        prediction = self.of_kind(PREDICTION)
        return {
            "drift": self.drift,
            "drifted_features": self.drifted_features,
            "prior_shift": asdict(prior[0]) if prior else None,
            "prediction_drift": asdict(prediction[0]) if prediction else None,
            "alpha": self.alpha,
            "psi_threshold": self.psi_threshold,
            "correction": "benjamini-hochberg across all tests",
            "features": [asdict(column) for column in self.of_kind("feature")],
            "notes": list(self.notes),
        }


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
    """The features typed as `prepare` types them, and the target as 0/1 when present."""
    out = typed_features(frame, data)
    if data.target in frame.columns:
        out[data.target] = label_codes(frame[data.target], data)
    return out


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
    results: list[ColumnDrift] = []
    for column in data.numeric:
        if ref[column].nunique(dropna=True) <= params.discrete_max_values:
            results.append(compare_categorical(column, "feature", ref[column], cur[column]))
        else:
            results.append(
                compare_numeric(
                    column,
                    "feature",
                    ref[column].to_numpy(),
                    cur[column].to_numpy(),
                    params.psi_bins,
                )
            )
    for column in data.categorical:
        results.append(compare_categorical(column, "feature", ref[column], cur[column]))
    found: list[str] = list(notes)
    if data.target in ref.columns and data.target in cur.columns:
        results.append(
            compare_categorical(data.target, "target", ref[data.target], cur[data.target])
        )
    else:
        found.append(f"prior shift not checked: the current window has no '{data.target}' column")
    if reference_scores is not None and current_scores is not None:
        if len(reference_scores) and len(current_scores):
            results.append(
                compare_numeric(
                    PREDICTION, PREDICTION, reference_scores, current_scores, params.psi_bins
                )
            )
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
    return DriftResult(judged, params.alpha, params.psi_threshold, tuple(found))


def histogram(
    reference: pd.Series, current: pd.Series, numeric: bool
) -> tuple[list[str], list[float], list[float]]:
    """Shares per bin (numbers: equal-width bins over both windows) or per category."""
    if numeric:
        ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype="float64")
        cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype="float64")
        both = np.concatenate([ref, cur])
        if len(both) == 0:
            return [], [], []
        edges = np.histogram_bin_edges(both, bins=PLOT_BINS)
        ref_counts = np.histogram(ref, edges)[0]
        cur_counts = np.histogram(cur, edges)[0]
        labels = [f"{edge:.3g}" for edge in edges[:-1]]
    else:
        labels, ref_counts, cur_counts = category_counts(reference, current)
    return (
        labels,
        (ref_counts / max(ref_counts.sum(), 1)).tolist(),
        (cur_counts / max(cur_counts.sum(), 1)).tolist(),
    )


def svg_bars(title: str, labels: list[str], reference: list[float], current: list[float]) -> str:
    """A grouped bar chart as plain SVG, for when matplotlib is not installed."""
    width, height, left, bottom = 640, 260, 40, 60
    top = max([*reference, *current, 1e-9])
    slot = (width - left - 10) / max(len(labels), 1)
    bars = []
    for i, label in enumerate(labels):
        for j, (share, colour) in enumerate(((reference[i], "#1f77b4"), (current[i], "#d62728"))):
            h = (height - bottom - 20) * share / top
            x = left + i * slot + j * slot * 0.45
            bars.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.4:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{share:.3f}</title></rect>'
            )
        bars.append(
            f'<text x="{left + (i + 0.45) * slot:.1f}" y="{height - bottom + 12}" '
            f'font-size="9" transform="rotate(45 {left + (i + 0.45) * slot:.1f} '
            f'{height - bottom + 12})">{html.escape(label)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<text x="{left}" y="14" font-size="12">{html.escape(title)} '
        f"(blue: reference, red: current; share of rows)</text>{''.join(bars)}</svg>"
    )


def matplotlib_svg(
    title: str, labels: list[str], reference: list[float], current: list[float]
) -> str:
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    positions = np.arange(len(labels))
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.bar(positions - 0.2, reference, width=0.4, label="reference")
    axes.bar(positions + 0.2, current, width=0.4, label="current")
    axes.set_xticks(positions, labels, rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("share of rows")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def drift_plots(
    result: DriftResult, reference: pd.DataFrame, current: pd.DataFrame, data: DataParams
) -> list[tuple[str, str]]:
    """One SVG per drifted column: matplotlib if installed (MLflow brings it), else plain SVG."""
    try:
        import matplotlib  # noqa: F401

        draw = matplotlib_svg
    except ImportError:
        draw = svg_bars
    ref_values, cur_values = typed(reference, data), typed(current, data)
    plots = []
    for column in result.columns:
        if not column.drifted or column.kind == PREDICTION:
            continue
        labels, ref_share, cur_share = histogram(
            ref_values[column.column], cur_values[column.column], column.test == "ks"
        )
        title = (
            f"{column.column}: {column.test} {column.statistic:.3g}, "
            f"adjusted p {column.p_adjusted:.2g}, PSI {column.psi:.2f}"
        )
        plots.append((column.column, draw(title, labels, ref_share, cur_share)))
    return plots


def render_markdown(result: DriftResult, context: dict[str, Any]) -> str:
    verdict = "**Drift detected**" if result.drift else "No drift"
    named = ", ".join(f"`{name}`" for name in result.drifted_features) or "none"
    lines = [
        "## Drift watch",
        "",
        f"{verdict}. Drifted features: {named}.",
        "",
        f"- current window: {context['current']}",
        f"- reference window: {context['reference']}",
        f"- a column drifts when its Benjamini-Hochberg adjusted p-value < {result.alpha} "
        f"and its PSI >= {result.psi_threshold}",
        "",
        "| column | kind | test | statistic | p-value | adjusted p | PSI | drifted |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    ordered = sorted(result.columns, key=lambda c: (not c.drifted, c.kind != "feature", c.column))
    for c in ordered:
        lines.append(
            f"| `{c.column}` | {c.kind} | {c.test} | {c.statistic:.4g} | {c.p_value:.3g} | "
            f"{c.p_adjusted:.3g} | {c.psi:.3f} | {'**yes**' if c.drifted else 'no'} |"
        )
    lines += ["", *[f"- note: {note}" for note in result.notes]]
    return "\n".join(lines).rstrip() + "\n"


def render_html(markdown_table: str, plots: list[tuple[str, str]]) -> str:
    sections = (
        "".join(f"<section><h2>{html.escape(name)}</h2>{svg}</section>" for name, svg in plots)
        or "<p>No drifted column: nothing to plot.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title></head>"
        f"<body><pre>{html.escape(markdown_table)}</pre>{sections}</body></html>\n"
    )


def read_prediction_log(path: str | Path, data: DataParams) -> tuple[pd.DataFrame, np.ndarray]:
    """The serving log (one JSON object a line, with `inputs` and `probability`) as a window."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: prediction log not found")
    rows, scores = [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                inputs, probability = record["inputs"], record["probability"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise PipelineError(
                    f"{path}: line {number}: not a prediction record ({err.__class__.__name__})"
                ) from None
            if isinstance(inputs, list):
                rows.extend(inputs)
                scores.extend(probability if isinstance(probability, list) else [probability])
            else:
                rows.append(inputs)
                scores.append(probability)
    if not rows:
        raise PipelineError(f"{path}: prediction log has no records")
    frame = pd.DataFrame(rows)
    check_columns(frame, data, str(path))
    return frame, np.asarray(scores, dtype="float64")


def model_input(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """The feature columns typed as `prepare` types them, which is what the model was fitted on."""
    features = typed_features(frame, data).loc[:, list(data.features)]
    return features.reset_index(drop=True)


def windows(
    params: Params, current_path: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None, dict[str, Any]]:
    """Read the current and reference windows (and logged scores) as params and CURRENT say."""
    paths, settings, data = params.paths, params.drift, params.data
    raw = read_csv(paths.raw)
    logged: np.ndarray | None = None
    context: dict[str, Any] = {}
    new = untrained(
        read_manifest(paths.batches), trained_raw(Path("dvc.lock"), paths.raw), file_md5(paths.raw)
    )
    start = min((int(batch["first_row"]) for batch in new or []), default=len(raw))
    log_path = current_path if current_path else None
    if log_path is None and settings.current == "prediction_log":
        if not settings.prediction_log:
            raise PipelineError(
                "params.yaml: drift.current is prediction_log but drift.prediction_log is null"
            )
        log_path = settings.prediction_log
    if log_path and Path(log_path).suffix in (".jsonl", ".ndjson", ".log"):
        current, logged = read_prediction_log(log_path, data)
        context["current"] = f"prediction log {log_path} ({len(current)} rows)"
    elif log_path:
        current = read_csv(log_path)
        check_columns(current, data, str(log_path))
        context["current"] = f"{log_path} ({len(current)} rows)"
    else:
        if not new:
            return raw, raw.iloc[:0], None, {"current": "none", "reference": paths.raw}
        current = raw.iloc[start:]
        names = ", ".join(batch["name"] for batch in new)
        context["current"] = f"batch(es) ingested since the last training: {names}"
    if settings.reference == "train":
        reference = read_parquet(paths.train)
        context["reference"] = f"the train split {paths.train} ({len(reference)} rows)"
    else:
        reference = raw.iloc[:start]
        context["reference"] = f"{paths.raw}, the {len(reference)} rows trained on"
    if data.id_column is not None and {data.id_column} <= {*reference.columns} & {*current.columns}:
        reference = reference[~reference[data.id_column].isin(current[data.id_column])]
    if reference.empty and not current.empty:
        raise PipelineError(
            f"reference window is empty: every row of it is also in the current window "
            f"({context['current']})"
        )
    return reference, current, logged, context


def model_scores(
    params: Params, current: pd.DataFrame, logged: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Scores on held-out reference rows (the test split) and on the current window.

    Rows the model was trained on score more confidently than new rows, so the reference is
    the test split and current rows that are in the train split are left out.
    """
    model_path, test_path = Path(params.paths.model), Path(params.paths.test)
    if not model_path.is_file() or not test_path.is_file():
        return None, None, f"prediction drift not checked: run `make repro` for {model_path}"
    model = read_model(model_path)
    data = params.data
    held_out = read_parquet(test_path)
    trained_ids: pd.Series = pd.Series([], dtype=object)
    has_ids = data.id_column is not None and data.id_column in current.columns
    if has_ids and Path(params.paths.train).is_file():
        trained_ids = read_parquet(params.paths.train)[data.id_column]
    if has_ids:
        held_out = held_out[~held_out[data.id_column].isin(current[data.id_column])]
    if held_out.empty:
        return (
            None,
            None,
            "prediction drift not checked: every held-out row is in the current window",
        )
    reference_scores = model.predict_proba(model_input(held_out, data))[:, 1]
    if logged is not None:
        return reference_scores, logged, None
    if has_ids:
        current = current[~current[data.id_column].isin(trained_ids)]
    if current.empty:
        return reference_scores, np.array([]), None
    return reference_scores, model.predict_proba(model_input(current, data))[:, 1], None


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--current", help="CSV or prediction log (.jsonl) to check (default: drift.current)"
    )
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    reference, current, logged, context = windows(params, args.current)
    out = Path(params.paths.drift)
    if current.empty:
        result = DriftResult(
            (),
            params.drift.alpha,
            params.drift.psi_threshold,
            ("nothing to compare: no batch ingested since the last training and no CURRENT",),
        )
    else:
        ref_scores, cur_scores, note = model_scores(params, current, logged)
        result = detect(
            reference,
            current,
            params.data,
            params.drift,
            ref_scores,
            cur_scores,
            (note,) if note else (),
        )
    payload = {
        **result.summary(),
        "current": context["current"],
        "reference": context["reference"],
        "raw_md5": file_md5(params.paths.raw),
        "trained_raw_md5": (trained_raw(Path("dvc.lock"), params.paths.raw) or {}).get("md5"),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(out, payload)
    markdown = render_markdown(result, context)
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    plots = drift_plots(result, reference, current, params.data) if result.drift else []
    with atomic_path(out.with_suffix(".html")) as tmp:
        tmp.write_text(render_html(markdown, plots), encoding="utf-8")
    set_outputs(drift=result.drift)
    add_summary(markdown)
    named = ", ".join(result.drifted_features) or "none"
    extra = [KIND_NAMES[c.kind] for c in result.columns if c.drifted and c.kind != "feature"]
    print(
        f"drift={str(result.drift).lower()}: drifted features: {named}"
        + (f"; also {', '.join(extra)} shift" if extra else "")
        + f" ({out}, {out.with_suffix('.md')}, {out.with_suffix('.html')})"
    )


if __name__ == "__main__":
    main()
