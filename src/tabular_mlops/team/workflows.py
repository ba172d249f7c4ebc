"""The secrets and variables a fork must set for its workflows, read from the workflows themselves.

Every `${{ secrets.X }}` and `${{ vars.X }}` (and the bare expressions of `if:`) in
.github/workflows/*.yml is found with its workflow, its job and the job's GitHub environment (an
environment's secrets are set in that environment, not the repository), so the list never lags
behind an edited workflow. `gh`, when installed and logged in, says which are already set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tabular_mlops.core.errors import PipelineError, first_line

WORKFLOWS = Path(".github/workflows")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
REFERENCE = re.compile(
    r"(?<![\w.])(secrets|vars)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([A-Za-z_][A-Za-z0-9_]*)'\s*\])"
)
DEFAULT = re.compile(r"^\s*\|\|\s*'([^']*)'")
#: A string compared with something in an expression: a condition, never a chosen name.
COMPARED = re.compile(r"(?:==|!=)\s*'[^']*'|'[^']*'\s*(?:==|!=)")
#: A job's keys GitHub evaluates before the job enters its environment: the variables they read
#: are the repository's (or the organization's), never the environment's.
BEFORE_ENVIRONMENT = ("runs-on", "if", "environment", "concurrency", "strategy")
#: Set by GitHub itself, never by a fork.
AUTOMATIC = {"GITHUB_TOKEN"}
KINDS = {"secrets": "secret", "vars": "variable"}
GH_SECONDS = 10.0


@dataclass(frozen=True)
class Reference:
    """One use of a secret or variable in one job (job None: the workflow's own keys)."""

    kind: str
    name: str
    workflow: str
    job: str | None
    environment: str | None
    feeds: str | None = None
    default: str | None = None


@dataclass
class Setting:
    """A secret or variable to set once, in the repository or in one GitHub environment."""

    kind: str
    name: str
    environment: str | None
    uses: list[str] = field(default_factory=list)
    feeds: set[str] = field(default_factory=set)
    defaults: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        return f"environment {self.environment}" if self.environment else "repository"


def _found(text: str, whole: bool) -> Iterator[tuple[str, str, str | None]]:
    """(kind, name, default) of each reference in `text`: inside `${{ }}`, or anywhere when the
    value is an expression already (`if:`)."""
    parts = [text] if whole else EXPRESSION.findall(text)
    for part in parts:
        for match in REFERENCE.finditer(part):
            name = match.group(2) or match.group(3)
            default = DEFAULT.match(part[match.end() :])
            yield match.group(1), name, default.group(1) if default else None


def _walk(node: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    """(the mapping key holding it, string) for every string in a workflow's tree."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from _walk(child, str(child_key))
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child, key)
    elif isinstance(node, str):
        yield key, node


def _environment(job: dict[str, Any]) -> str | None:
    """The environment a job enters; of a chosen one (`${{ cond && 'training' || '' }}`), the
    name it can choose, which is where its secrets are set."""
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    if not environment:
        return None
    text = str(environment)
    if EXPRESSION.search(text):
        chosen = re.findall(r"'([^']+)'", COMPARED.sub("", text))
        return " or ".join(dict.fromkeys(chosen)) or None
    return text


def _references(
    node: Any, workflow: str, job: str | None, environment: str | None
) -> Iterator[Reference]:
    for key, text in _walk(node):
        for kind, name, default in _found(text, whole=key == "if"):
            if kind == "secrets" and name in AUTOMATIC:
                continue
            whole = EXPRESSION.fullmatch(text.strip()) is not None
            feeds = key if whole and key and key.isupper() else None
            yield Reference(KINDS[kind], name, workflow, job, environment, feeds, default)


def references(folder: Path = WORKFLOWS) -> list[Reference]:
    """Every secret and variable each workflow under `folder` reads, job by job."""
    found: list[Reference] = []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        try:
            workflow = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise PipelineError(f"{path}: cannot read the workflow ({first_line(err)})") from None
        if not isinstance(workflow, dict):
            raise PipelineError(f"{path}: not a workflow (a mapping with jobs)")
        jobs = workflow.get("jobs") or {}
        top = {key: value for key, value in workflow.items() if key != "jobs"}
        found += _references(top, path.name, None, None)
        for job_id, job in jobs.items():
            if isinstance(job, dict):
                early = {key: value for key, value in job.items() if key in BEFORE_ENVIRONMENT}
                rest = {key: value for key, value in job.items() if key not in BEFORE_ENVIRONMENT}
                found += _references(early, path.name, str(job_id), None)
                found += _references(rest, path.name, str(job_id), _environment(job))
    return found


def settings(found: Iterable[Reference]) -> list[Setting]:
    """One entry per secret or variable and place to set it, with every job that reads it."""
    merged: dict[tuple[str, str, str | None], Setting] = {}
    for ref in found:
        key = (ref.kind, ref.name, ref.environment)
        setting = merged.setdefault(key, Setting(ref.kind, ref.name, ref.environment))
        use = f"{ref.workflow}/{ref.job}" if ref.job else ref.workflow
        if use not in setting.uses:
            setting.uses.append(use)
        if ref.feeds:
            setting.feeds.add(ref.feeds)
        if ref.default is not None:
            setting.defaults.add(ref.default)
    return sorted(merged.values(), key=lambda s: (s.environment or "", s.kind, s.name))


def _gh_names(kind: str, environment: str | None) -> set[str] | None:
    command = ["gh", "secret" if kind == "secret" else "variable", "list", "--json", "name"]
    if environment:
        command += ["--env", environment]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=GH_SECONDS,
            env=os.environ | {"GH_PROMPT_DISABLED": "1"},
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            return None
        return {str(item["name"]) for item in json.loads(done.stdout or "[]")}
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None


def on_github(wanted: Iterable[Setting]) -> dict[tuple[str, str, str | None], bool] | None:
    """Which settings the fork's GitHub repository has, through `gh`; None when gh cannot say
    (not installed, not logged in, no GitHub remote)."""
    if shutil.which("gh") is None:
        return None
    answers: dict[tuple[str, str, str | None], bool] = {}
    cache: dict[tuple[str, str | None], set[str] | None] = {}
    for setting in wanted:
        scopes = [setting.environment, None] if setting.environment else [None]
        present = False
        for scope in scopes:
            if (setting.kind, scope) not in cache:
                cache[(setting.kind, scope)] = _gh_names(setting.kind, scope)
            names = cache[(setting.kind, scope)]
            if names is None:
                return None
            present = present or setting.name in names
        answers[(setting.kind, setting.name, setting.environment)] = present
    return answers


def lines(env: Mapping[str, str], folder: Path = WORKFLOWS) -> list[str]:
    """What a fork sets on GitHub for its workflows, and whether gh says it is set."""
    wanted = settings(references(folder))
    if not wanted:
        return [f"GitHub: the workflows in {folder} read no secrets or variables"]
    known = on_github(wanted)
    said = [
        f"GitHub: the workflows read {len(wanted)} setting(s); a fork sets them under Settings > "
        "Secrets and variables > Actions"
        + ("" if known is not None else " (`gh`, logged in, would say which are set)")
    ]
    for setting in wanted:
        notes = [", ".join(setting.uses)]
        notes += [f"default {default!r}" for default in sorted(setting.defaults)]
        for variable in sorted(setting.feeds):
            notes.append(f"this shell's {variable}: {'set' if env.get(variable) else 'unset'}")
        if known is not None:
            present = known[(setting.kind, setting.name, setting.environment)]
            notes.append("set on GitHub" if present else "NOT set on GitHub")
        said.append(f"  {setting.kind:<8} {setting.name} ({setting.where}): {'; '.join(notes)}")
    return said
