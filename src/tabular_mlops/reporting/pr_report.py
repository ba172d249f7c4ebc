"""The pull-request report: one Markdown comment with the metric diff, gates, data, slices, plots.

Built on DVC's own diff machinery (`metrics.diff`, `params.diff`, `plots.show`, `dvc.api.read`)
between a base revision and the workspace. The core (`build_report`, `render`) is pure: it takes
what DVC returned and the gate rules, and returns Markdown, so its layout is pinned by a golden
file. `main()` gathers the inputs, writes the report, and exits 1 with `--fail-on-regression`
when a gate fails, so a required check can block the merge.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.gates import (
    MetricGate,
    SliceRules,
    check_table,
    metric_gates_from_raw,
    number,
    slice_rules_from_raw,
)
from tabular_mlops.core.github import add_summary
from tabular_mlops.core.params import PathsParams, parse, read_yaml

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- tabular-mlops:pr-report"
CHART_POINTS = 11


@dataclass(frozen=True)
class MetricRow:
    source: str
    name: str
    old: float | None
    new: float | None
    rule: MetricGate | None = None

    @property
    def change(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def relative(self) -> float | None:
        if self.change is None or not self.old:
            return None
        return self.change / abs(self.old)

    @property
    def status(self) -> str:
        if self.old is None:
            return "new"
        if self.new is None:
            return "removed"
        return "changed" if self.change else "same"

    @property
    def regressed(self) -> bool:
        """Worse than base by more than the tolerance, in the direction the rule calls worse."""
        return self.rule is not None and self.rule.regressed(self.old, self.new)

    @property
    def below_floor(self) -> bool:
        return (
            self.rule is not None and self.new is not None and not self.rule.meets_floor(self.new)
        )


@dataclass(frozen=True)
class DataSide:
    rows: int | None
    md5: str | None


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, as plain values: what main() gathered from git and DVC."""

    base: str
    head: str
    metrics: Mapping[str, Mapping[str, Mapping[str, Any]]]
    params: Mapping[str, Mapping[str, Mapping[str, Any]]]
    plots: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, tuple[DataSide, DataSide]] = field(default_factory=dict)
    validation: Mapping[str, Any] | None = None
    promotion: Mapping[str, Any] | None = None
    pr_number: int | None = None
    links: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    inputs: ReportInputs
    metrics: tuple[MetricRow, ...]
    slices: tuple[MetricRow, ...]
    verdict: str
    failed: bool


def rows_from_diff(
    diff: Mapping[str, Mapping[str, Mapping[str, Any]]],
    rules: Mapping[str, MetricGate],
    skip_sources: tuple[str, ...] = (),
    slice_prefix: str = "slices.",
    slice_rules: SliceRules | None = None,
) -> tuple[tuple[MetricRow, ...], tuple[MetricRow, ...]]:
    """Split DVC's `metrics diff --all` into overall rows and slice rows, each with its rule.

    Gated metrics come first. A slice metric such as `slices.contract.Two year.roc_auc` is judged
    as the promotion gate judges it (`slice_rules`: slice floor and tolerance, enough rows);
    without slice rules it takes the rule of `roc_auc`. Sources in `skip_sources` (the
    validation summary) are shown elsewhere.
    """
    overall: list[MetricRow] = []
    slices: list[MetricRow] = []
    for source in sorted(set(diff) - set(skip_sources)):
        for name in sorted(diff[source]):
            values = diff[source][name]
            old, new = number(values.get("old")), number(values.get("new"))
            if old is None and new is None:
                continue
            is_slice = "slice" in Path(source).stem or name.startswith(slice_prefix)
            group, metric = name.rsplit(".", 1) if "." in name else ("", name)
            if is_slice and slice_rules is not None:
                rows = number(diff[source].get(f"{group}.rows", {}).get("new"))
                rule = slice_rules.rule_for(metric, rows)
            else:
                rule = rules.get(metric if is_slice else name)
            row = MetricRow(source, name, old, new, rule)
            (slices if is_slice else overall).append(row)
    overall.sort(key=lambda row: (row.rule is None, row.name))
    return tuple(overall), tuple(slices)


def build_report(
    inputs: ReportInputs,
    rules: Mapping[str, MetricGate],
    validation_source: str = "",
    slice_rules: SliceRules | None = None,
) -> Report:
    """Compare head with base under the gate rules and decide the one-line verdict."""
    overall, slices = rows_from_diff(
        inputs.metrics, rules, skip_sources=(validation_source,), slice_rules=slice_rules
    )
    validation_failed = inputs.validation is not None and not inputs.validation.get("success", True)
    regressions = [row for row in (*overall, *slices) if row.regressed or row.below_floor]
    if validation_failed:
        verdict = "⛔ **Validation failed**: the data broke its contract; nothing was trained."
    elif regressions:
        names = ", ".join(f"`{row.name}`" for row in regressions[:5])
        more = f" and {len(regressions) - 5} more" if len(regressions) > 5 else ""
        verdict = f"❌ **Regression**: {names}{more} worse than the gates allow."
    elif not overall:
        verdict = "⚠️ **No metrics**: the pipeline produced no metrics to compare."
    else:
        verdict = "✅ **Gates pass**: no metric is worse than its tolerance allows."
    return Report(
        inputs=inputs,
        metrics=overall,
        slices=slices,
        verdict=verdict,
        failed=validation_failed or bool(regressions),
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4f}"


def _signed(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value:+.2%}"
    if float(value).is_integer():
        return f"{int(value):+,}" if value else "0"
    return f"{value:+.4f}"


def _arrow(row: MetricRow) -> str:
    if row.status == "new":
        return "🆕 new"
    if row.status == "removed":
        return "🗑️ removed"
    if not row.change:
        return "="
    arrow = "↑" if row.change > 0 else "↓"
    if row.regressed or row.below_floor:
        return f"{arrow} ❌"
    if row.rule is None:
        return arrow
    better = row.change > 0 if row.rule.direction == "higher" else row.change < 0
    return f"{arrow} ✅" if better else f"{arrow} ⚠️ within tolerance"


def metrics_table(rows: tuple[MetricRow, ...], show_source: bool = False) -> list[str]:
    header = "| metric | base | head | change | relative | |"
    lines = [header, "|---|---:|---:|---:|---:|---|"]
    for row in rows:
        name = f"`{row.name}`" + (f" ({row.source})" if show_source else "")
        floor = ""
        if row.below_floor and row.rule is not None:
            floor = f" below floor {_fmt(row.rule.floor)}"
        lines.append(
            f"| {name} | {_fmt(row.old)} | {_fmt(row.new)} | {_signed(row.change)} "
            f"| {_signed(row.relative, percent=True)} | {_arrow(row)}{floor} |"
        )
    return lines


def metrics_body(rows: tuple[MetricRow, ...]) -> list[str]:
    """Gated and moved metrics in the table; unchanged ungated ones folded away below it."""
    if not rows:
        return ["No metrics on either side."]
    shown = tuple(row for row in rows if row.rule is not None or row.status != "same")
    folded = tuple(row for row in rows if row not in shown)
    lines = metrics_table(shown) if shown else ["No metric changed."]
    if folded:
        lines += [
            "",
            f"<details><summary>{len(folded)} unchanged metrics</summary>",
            "",
            *metrics_table(folded),
            "",
            "</details>",
        ]
    return lines


def _section(title: str, body: list[str]) -> list[str]:
    return [f"### {title}", "", *body, ""]


def params_section(params: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    rows = [
        f"| `{name}` | {json.dumps(values.get('old'))} | {json.dumps(values.get('new'))} |"
        for source in sorted(params)
        for name, values in sorted(params[source].items())
    ]
    if not rows:
        return ["No parameter changed."]
    return ["| param | base | head |", "|---|---|---|", *rows]


def data_section(inputs: ReportInputs) -> list[str]:
    lines = []
    for path, (base, head) in sorted(inputs.data.items()):
        changed = "changed" if base.md5 != head.md5 else "unchanged"
        lines += [
            f"`{path}` ({changed})",
            "",
            "| | base | head |",
            "|---|---:|---:|",
            f"| rows | {_fmt(base.rows)} | {_fmt(head.rows)} |",
            f"| md5 | `{(base.md5 or '—')[:12]}` | `{(head.md5 or '—')[:12]}` |",
            "",
        ]
    if inputs.validation is not None:
        summary = inputs.validation
        verdict = "passed" if summary.get("success") else "**failed**"
        counts = ", ".join(
            f"{key} {summary[key]}"
            for key in ("evaluated", "passed", "failed", "warnings")
            if key in summary
        )
        lines.append(f"Data contract {verdict} ({counts}).")
        for failure in summary.get("failures", [])[:10]:
            column = failure.get("column", "*")
            rule = failure.get("expectation", failure.get("rule", ""))
            detail = failure.get("observed", failure.get("detail", ""))
            lines.append(f"- `{column}`: {rule}: {detail}")
    return lines or ["No data change recorded."]


def promotion_section(promotion: Mapping[str, Any] | None) -> list[str]:
    if promotion is None:
        return ["No promotion decision for this run (promotion runs on the default branch)."]
    lines = [f"Decision: **{promotion.get('decision', 'unknown')}**"]
    if promotion.get("reason"):
        lines.append(f"{promotion['reason']}")
    checks = promotion.get("checks", [])
    if checks:
        lines += ["", *check_table(checks, lambda value: _fmt(number(value)))]
    return lines


def _series(rows: list[dict[str, Any]], x: str, y: str, grid: list[float]) -> list[float] | None:
    points = sorted(
        (float(r[x]), float(r[y]))
        for r in rows
        if number(r.get(x)) is not None and number(r.get(y)) is not None
    )
    if len(points) < 2:
        return None
    values = []
    for target in grid:
        values.append(_interpolate(points, target))
    return values


def _interpolate(points: list[tuple[float, float]], target: float) -> float:
    if target <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= target <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (target - x0) / (x1 - x0)
    return points[-1][1]


def plots_section(plots: Mapping[str, Any]) -> list[str]:
    """Line plots as Mermaid xy-charts (GitHub renders them inline, no image host needed);
    confusion matrices as count tables."""
    lines: list[str] = []
    for title, spec in plots.items():
        base_rows, head_rows = spec.get("base") or [], spec.get("head") or []
        x, y = spec["x"], spec["y"]
        if spec.get("template") == "confusion":
            if base_rows or head_rows:
                lines += [f"#### {title}", "", *_confusion_table(base_rows, head_rows, x, y), ""]
            continue
        if str(spec.get("template", "")).startswith("bar"):
            if base_rows or head_rows:
                lines += [f"#### {title}", "", *_bar_table(base_rows, head_rows, x, y), ""]
            continue
        values = [number(r.get(x)) for r in (*base_rows, *head_rows)]
        xs = [v for v in values if v is not None]
        if not xs:
            continue
        low, high = min(xs), max(xs)
        grid = [low + (high - low) * i / (CHART_POINTS - 1) for i in range(CHART_POINTS)]
        series = [
            ("base", _series(base_rows, x, y, grid)),
            ("head", _series(head_rows, x, y, grid)),
        ]
        drawn = [(name, s) for name, s in series if s is not None]
        if not drawn:
            continue
        legend = " then ".join(name for name, _ in drawn)
        chart = [
            "```mermaid",
            "xychart-beta",
            f'  title "{title}"',
            f'  x-axis "{x}" [{", ".join(f"{g:.2f}" for g in grid)}]',
            f'  y-axis "{y}"',
            *(f"  line [{', '.join(f'{v:.3f}' for v in s)}]" for _, s in drawn),
            "```",
            f"Lines: {legend}.",
        ]
        lines += [f"#### {title}", "", *chart, ""]
    return lines


def _bar_table(base_rows: list, head_rows: list, x: str, y: str, top: int = 10) -> list[str]:
    """A bar plot (one value per label, e.g. feature importance) as a table, largest first."""

    def values(rows: list) -> dict[str, float]:
        return {str(r.get(y)): v for r in rows if (v := number(r.get(x))) is not None}

    base, head = values(base_rows), values(head_rows)
    labels = sorted(set(base) | set(head), key=lambda k: -(head.get(k, base.get(k)) or 0.0))
    lines = [f"| {y} | base {x} | head {x} | change |", "|---|---:|---:|---:|"]
    for label in labels[:top]:
        old, new = base.get(label), head.get(label)
        change = _signed(new - old) if old is not None and new is not None else "new"
        lines.append(f"| {label} | {_fmt(old)} | {_fmt(new)} | {change} |")
    if len(labels) > top:
        lines.append(f"| … {len(labels) - top} more | | | |")
    return lines


def _confusion_table(base_rows: list, head_rows: list, x: str, y: str) -> list[str]:
    def counts(rows: list) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (str(row.get(y)), str(row.get(x)))
            out[key] = out.get(key, 0) + 1
        return out

    base, head = counts(base_rows), counts(head_rows)
    keys = sorted(set(base) | set(head))
    lines = [f"| {y} | {x} | base | head |", "|---|---|---:|---:|"]
    lines += [f"| {a} | {p} | {base.get((a, p), 0)} | {head.get((a, p), 0)} |" for a, p in keys]
    return lines


def render(report: Report, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The Markdown comment, shortened (plots, then slices, then rows) to fit `limit`."""
    inputs = report.inputs
    pr = inputs.pr_number if inputs.pr_number is not None else "none"
    head = [
        f"{MARKER} pr={pr} -->",
        "## Model report",
        "",
        report.verdict,
        "",
        f"Base `{inputs.base}` → head `{inputs.head}`.",
        "",
    ]
    moved_slices = tuple(
        r for r in report.slices if r.regressed or r.below_floor or r.status != "same"
    )
    sections = {
        "metrics": _section("Metrics", metrics_body(report.metrics)),
        "params": _section("Params changed", params_section(inputs.params)),
        "data": _section("Data", data_section(inputs)),
        "slices": _section(
            "Slices beyond tolerance",
            metrics_table(tuple(r for r in report.slices if r.regressed or r.below_floor))
            if any(r.regressed or r.below_floor for r in report.slices)
            else [f"No slice moved beyond tolerance ({len(moved_slices)} slice metrics changed)."],
        ),
        "promotion": _section("Champion / challenger", promotion_section(inputs.promotion)),
        "plots": _section("Plots", plots_section(inputs.plots) or ["No plots."]),
        "links": _section("Links", [f"- [{k}]({v})" for k, v in inputs.links.items()])
        if inputs.links
        else [],
    }
    order = ["metrics", "params", "data", "slices", "promotion", "plots", "links"]
    text = "\n".join(head + [line for key in order for line in sections[key]])
    for drop in ("plots", "slices", "data", "params"):
        if len(text) <= limit:
            break
        sections[drop] = _section(
            sections[drop][0].removeprefix("### "),
            ["_Left out to fit GitHub's comment limit; see the full report artifact._"],
        )
        text = "\n".join(head + [line for key in order for line in sections[key]])
    if len(text) > limit:
        note = "\n\n_Report shortened to fit GitHub's 65,536-character comment limit._\n"
        text = text[: limit - len(note)] + note
    return text


# ---------------------------------------------------------------------- gathering (main only)


def _git(*args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise PipelineError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout.strip()


def default_base() -> str:
    """The merge base with origin's default branch, as a pull request would compare."""
    remote_head = _git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
    for candidate in filter(None, [remote_head, "refs/remotes/origin/main", "main"]):
        if _git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False):
            return _git("merge-base", "HEAD", candidate)
    raise PipelineError("no base given and no origin/main or main to compare with: pass BASE=")


def resolve_base(base: str) -> str:
    """The base as a commit id, or a clear message; a shallow clone is the usual cause in CI."""
    commit = _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False)
    shallow = _git("rev-parse", "--is-shallow-repository", check=False) == "true"
    if not commit:
        if shallow:
            raise PipelineError(
                f"base '{base}' is not in this shallow clone: fetch full history "
                "(`git fetch --unshallow`, or actions/checkout with fetch-depth: 0)"
            )
        raise PipelineError(f"base '{base}' is not a known git revision")
    if shallow and not _git("merge-base", commit, "HEAD", check=False):
        raise PipelineError(
            f"base '{base}' and HEAD share no history in this shallow clone: fetch full history "
            "(`git fetch --unshallow`, or actions/checkout with fetch-depth: 0)"
        )
    return commit


def _plots(repo: Any, base: str) -> dict[str, Any]:
    shown = repo.plots.show(revs=[base, "workspace"])
    definitions: dict[str, Any] = {}
    for rev_data in shown.values():
        for config in rev_data.get("definitions", {}).get("data", {}).values():
            for title, spec in config.get("data", {}).items():
                if isinstance(spec, dict) and isinstance(spec.get("y"), dict):
                    definitions.setdefault(title, spec)
    out = {}
    for title, spec in definitions.items():
        [(path, y)] = list(spec["y"].items())[:1]
        sides = {}
        for side, rev in (("base", base), ("head", "workspace")):
            source = shown.get(rev, {}).get("sources", {}).get("data", {}).get(path, {})
            rows = source.get("data")
            sides[side] = rows if isinstance(rows, list) else None
        out[title] = {"x": spec.get("x"), "y": y, "template": spec.get("template"), **sides}
    return out


def _data_side(path: str, rev: str | None) -> DataSide:
    import hashlib

    import dvc.api

    try:
        content = dvc.api.read(path, rev=rev, mode="rb") if rev else Path(path).read_bytes()
    except Exception:  # absent at that revision: DVC raises several path-not-found types
        return DataSide(None, None)
    rows = max(content.count(b"\n") - 1 + (0 if content.endswith(b"\n") else 1), 0)
    return DataSide(rows, hashlib.md5(content, usedforsecurity=False).hexdigest())


def _pr_number(explicit: int | None) -> int | None:
    if explicit is not None:
        return explicit
    event_path = os.environ.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        number = (event.get("pull_request") or {}).get("number") or event.get("number")
        if isinstance(number, int):
            return number
    return None


def _links(run_info_path: str) -> dict[str, str]:
    links = {}
    server, repo, run_id = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run_id:
        links["Workflow run and its artifacts (full report, dvc plots diff HTML)"] = (
            f"{server}/{repo}/actions/runs/{run_id}"
        )
    ui = os.environ.get("MLFLOW_UI_URL")
    if ui and Path(run_info_path).is_file():
        info = json.loads(Path(run_info_path).read_text(encoding="utf-8"))
        links["MLflow run"] = (
            f"{ui.rstrip('/')}/#/experiments/{info['experiment_id']}/runs/{info['run_id']}"
        )
    return links


def _read_optional_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise PipelineError(f"{path}: not valid JSON") from None


def gather(base: str, paths: PathsParams, pr: int | None) -> ReportInputs:
    from dvc.repo import Repo

    commit = resolve_base(base)
    with Repo(".") as repo:
        metrics = repo.metrics.diff(a_rev=commit, b_rev="workspace", all=True).get("diff", {})
        changed_params = repo.params.diff(a_rev=commit, b_rev="workspace").get("diff", {})
        plots = _plots(repo, commit)
    data = {paths.raw: (_data_side(paths.raw, commit), _data_side(paths.raw, None))}
    return ReportInputs(
        base=f"{base} ({commit[:8]})" if not commit.startswith(base) else commit[:8],
        head=_git("rev-parse", "--short=8", "HEAD")
        + (" + workspace" if _git("status", "--porcelain", "--untracked-files=no") else ""),
        metrics=metrics,
        params=changed_params,
        plots=plots,
        data=data,
        validation=_read_optional_json(Path(paths.validation)),
        promotion=_read_optional_json(Path(paths.validation).with_name("promotion.json")),
        pr_number=_pr_number(pr),
        links=_links(paths.run_info),
    )


def write_plots_html(base_commit: str, out_dir: str) -> None:
    """DVC's own HTML rendering of every plot, base against workspace."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "diff", base_commit, "--out", out_dir],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise PipelineError(f"dvc plots diff {base_commit[:8]}: {last}")


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base",
        help="git revision to compare with (default: merge base with origin's default branch)",
    )
    parser.add_argument("--out", default="reports/pr-report.md")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--pr", type=int, help="pull request number (default: from the GitHub event)"
    )
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a gate fails"
    )
    parser.add_argument(
        "--plots-html",
        metavar="DIR",
        help="also write `dvc plots diff` HTML (base vs workspace) into DIR, for an artifact",
    )
    args = parser.parse_args(argv)
    raw = read_yaml(Path(args.params))
    paths = parse(raw.get("paths"), PathsParams, path=Path(args.params), prefix="paths")
    rules = metric_gates_from_raw(raw, Path(args.params))
    inputs = gather(args.base or default_base(), paths, args.pr)
    report = build_report(
        inputs,
        rules,
        validation_source=paths.validation,
        slice_rules=slice_rules_from_raw(raw, Path(args.params)),
    )
    text = render(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    add_summary(text)
    if args.plots_html:
        write_plots_html(resolve_base(args.base or default_base()), args.plots_html)
    print(f"report: {out} ({len(text):,} characters): {report.verdict}")
    if args.fail_on_regression and report.failed:
        print("report: failing because a gate failed (--fail-on-regression)", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
