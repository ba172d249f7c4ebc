"""Reading the workflow files for the static tests: jobs, their secrets, and the few GitHub
expressions the workflows use to choose an environment or a step."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflows.conftest import WORKFLOWS

FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    on = workflow.get("on", workflow.get(True))
    return on if isinstance(on, dict) else {name: None for name in ([on] if on else [])}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def jobs_of_every_workflow() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.stem, name, job) for path in FILES for name, job in load(path)["jobs"].items()]


EVERY_JOB = pytest.mark.parametrize(
    ("workflow", "name", "job"),
    jobs_of_every_workflow(),
    ids=lambda value: value if isinstance(value, str) else "",
)


def runs_project_code(job: dict[str, Any]) -> bool:
    return any(
        "make " in step.get("run", "") or "python" in step.get("run", "")
        for step in job.get("steps", [])
    )


def runs_of(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def secrets_of(job: dict[str, Any]) -> set[str]:
    return set(re.findall(r"\bsecrets\.(\w+)", yaml.safe_dump(job)))


def evaluate(expression: str, event: str, ref: str) -> object:
    """A job's `environment:` or a step's `if:` as GitHub would evaluate it for an event and a
    ref: a literal, or `${{ }}` with ==, !=, &&, || over github.event_name and github.ref."""
    match = re.fullmatch(r"\$\{\{(.*)\}\}", expression.strip(), flags=re.DOTALL)
    if not match:
        return expression
    source = re.sub(r"\bgithub\.event_name\b", "event_name", match[1])
    source = re.sub(r"\bgithub\.ref\b", "ref", source).replace("&&", " and ").replace("||", " or ")
    names = {"event_name": event, "ref": ref}

    def value(node: ast.expr) -> object:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.BoolOp):
            result = value(node.values[0])
            for operand in node.values[1:]:
                if bool(result) == isinstance(node.op, ast.Or):
                    break
                result = value(operand)
            return result
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = value(node.left), value(node.comparators[0])
            if isinstance(node.ops[0], ast.Eq | ast.NotEq):
                return (left == right) == isinstance(node.ops[0], ast.Eq)
        raise AssertionError(f"cannot evaluate {expression!r}")

    return value(ast.parse(source.strip(), mode="eval").body)


def environment_names(job: dict[str, Any]) -> set[str]:
    """The environment a job enters on a push to main (its only event with one, see below)."""
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment["name"]
    return {str(evaluate(environment, "push", "refs/heads/main"))} if environment else set()
