"""A fork points the template at its own CSV with `make init`, and still merges the template's
next release without a conflict: init writes only files the fork owns (params.yaml, data/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tabular_mlops.core.params import load_params

from .conftest import copy_project

TEMPLATE_OWNED = ("src/", "tests/", ".github/", "benchmarks/", "Makefile", "dvc.yaml", ".ci/")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def python(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def own_csv(path: Path, rows: int = 600) -> Path:
    """A dataset unlike the shipped one: no id, missing values, text labels, a category."""
    rng = np.random.default_rng(7)
    size = rng.normal(50, 15, rows).round(1)
    colour = rng.choice(["red", "green", "blue"], rows)
    score = size / 20 + (colour == "red") + rng.normal(0, 1, rows)
    frame = pd.DataFrame(
        {
            "size cm": np.where(rng.random(rows) < 0.05, np.nan, size),
            "colour": colour,
            "count": rng.integers(0, 9, rows),
            "outcome": np.where(score > np.quantile(score, 0.7), "kept", "lost"),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_init_touches_only_what_the_fork_owns_and_a_release_merges_cleanly(tmp_path):
    template = tmp_path / "template"
    template.mkdir()
    copy_project(template)
    git(template, "init", "-q", "-b", "main")
    git(template, "add", "-A")
    git(template, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "Template")
    fork = tmp_path / "fork"
    git(tmp_path, "clone", "-q", str(template), str(fork))
    example = load_params(template / "params.yaml")

    done = python(
        fork,
        "-m",
        "tabular_mlops.init",
        "--csv",
        str(own_csv(tmp_path / "own.csv")),
        "--target",
        "outcome",
        "--force",
    )
    assert done.returncode == 0, done.stderr
    changed = git(fork, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(line.split(maxsplit=1)[1] for line in changed) == [
        "data/raw/own.csv",
        "params.yaml",
    ]
    mine = load_params(fork / "params.yaml")
    assert mine.data.target == "outcome" and mine.data.id_column is None
    assert set(mine.data.columns) == {"size cm", "colour", "count"}
    text = (fork / "params.yaml").read_text(encoding="utf-8")
    example_names = [example.paths.raw, example.track.registered_model, example.track.experiment]
    assert not [name for name in example_names if name in text]
    assert not set(example.data.columns) & set(mine.data.columns)
    assert mine.evaluate.slice_columns and set(mine.evaluate.slice_columns) <= set(
        mine.data.columns
    )

    validated = python(fork, "-m", "tabular_mlops.stages.validate")
    assert validated.returncode == 0, validated.stderr

    git(fork, "add", "-A")
    git(fork, "-c", "user.name=f", "-c", "user.email=f@x", "commit", "-qm", "Our data")
    for name in ("src/tabular_mlops/core/io.py", "Makefile", "dvc.yaml"):
        with (template / name).open("a", encoding="utf-8") as handle:
            handle.write("\n# the next release\n")
    raw = yaml.safe_load((template / ".github/dependabot.yml").read_text(encoding="utf-8"))
    (template / ".github/dependabot.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    git(template, "add", "-A")
    git(template, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "Release 2")

    merged = subprocess.run(
        [
            "git",
            "-c",
            "user.name=f",
            "-c",
            "user.email=f@x",
            "pull",
            "-q",
            "--no-rebase",
            "--no-edit",
            "origin",
            "main",
        ],
        cwd=fork,
        capture_output=True,
        text=True,
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert (fork / "Makefile").read_text(encoding="utf-8").endswith("# the next release\n")
    assert load_params(fork / "params.yaml").data.target == "outcome"
    assert not [
        p for p in TEMPLATE_OWNED if git(fork, "diff", "--name-only", "origin/main", "--", p)
    ]
