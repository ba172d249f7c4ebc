"""The pull-request report: one Markdown comment with the metric diff, gates, data, slices, plots.

Built on DVC's own diff machinery (`metrics.diff`, `params.diff`, `plots.show`, `dvc.api.read`)
between a base revision and the workspace. This module only gathers those inputs from git and DVC;
the pure core (`rows.build_report`, `render.render`) turns them into Markdown. `main()` writes the
report, and exits 1 with `--fail-on-regression` when a gate fails, so a required check can block
the merge.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.gates import metric_gates_from_raw, slice_rules_from_raw
from tabular_mlops.core.github import add_summary
from tabular_mlops.core.io import atomic_path
from tabular_mlops.core.params import PathsParams, parse, read_yaml
from tabular_mlops.reporting.render import render
from tabular_mlops.reporting.rows import DataSide, ReportInputs, build_report


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


def _history(raw: dict[str, Any]) -> str | None:
    """The production history's link for params.yaml's registered model (cd/links.py)."""
    from tabular_mlops.cd.links import history_link
    from tabular_mlops.core.lineage import tracking_uri

    name = (raw.get("track") or {}).get("registered_model")
    return history_link(tracking_uri(), str(name)) if name else None


def _read_optional_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise PipelineError(f"{path}: not valid JSON") from None


def gather(
    base: str, paths: PathsParams, pr: int | None, history: str | None = None
) -> ReportInputs:
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
        history=history,
    )


def write_plots_html(base_commit: str, out_dir: str, titles: list[str]) -> None:
    """DVC's own HTML rendering of the plots named `titles`, base against workspace: only those
    with data, since another task's empty plot would be an empty spec that draws nothing."""
    command = [sys.executable, "-m", "dvc", "plots", "diff", base_commit, "--out", out_dir]
    done = subprocess.run(
        [*command, "--targets", *titles],
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
    inputs = gather(args.base or default_base(), paths, args.pr, _history(raw))
    report = build_report(
        inputs,
        rules,
        validation_source=paths.validation,
        slice_rules=slice_rules_from_raw(raw, Path(args.params)),
    )
    text = render(report)
    out = Path(args.out)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    add_summary(text)
    drawn = [title for title, spec in inputs.plots.items() if spec["base"] or spec["head"]]
    if args.plots_html and drawn:
        write_plots_html(resolve_base(args.base or default_base()), args.plots_html, drawn)
    print(f"report: {out} ({len(text):,} characters): {report.verdict}")
    if args.fail_on_regression and report.failed:
        print("report: failing because a gate failed (--fail-on-regression)", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
