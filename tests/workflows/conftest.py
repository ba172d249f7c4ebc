"""Run the repository's GitHub Actions workflows for real with act, on this machine.

act runs each job's steps on the host (`-P ubuntu-latest=-self-hosted`) in a copy of a fork of
this template. Marketplace actions cannot be downloaded here, so each pinned action is mapped
(`--local-repository owner/repo@sha=DIR`) to a stand-in under stand_ins/ that does the local
equivalent and records what it was given; `gh` and `docker` are recording stand-ins too. The make
targets the steps call are the real ones, sharing this test run's installed environment (VENV=...).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import copy_project
from tests.e2e.warm_client import SOCKET_ENV, venv_of
from tests.trained import built_once
from tests.workflows.act_run import COLLECT_ONLY, ActRun
from tests.workflows.settings import runner_labels

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
ENV_DIR = Path(sys.prefix)
ACT = Path(sys.executable).parent / "act"
UV = Path(shutil.which("uv") or ROOT / ".tools" / "bin" / "uv")

#: Which stand-in replaces which action (any pinned ref of it in the workflows).
STAND_IN_FOR = {
    "astral-sh/setup-uv": "setup-uv",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "marocchino/sticky-pull-request-comment": "sticky-comment",
    "peter-evans/create-pull-request": "create-pull-request",
    "docker/setup-buildx-action": "setup-buildx",
    "docker/build-push-action": "build-push",
    "docker/login-action": "login",
    "actions/attest-build-provenance": "attest",
    "actions/create-github-app-token": "app-token",
}
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
REPOSITORY = "acme/tabular-fork"


def set_param(path: Path, section: str, key: str, value: object) -> None:
    """Change the one `key: value` line of a params.yaml section in place, keeping comments."""
    text = path.read_text(encoding="utf-8")
    block = re.search(rf"^{re.escape(section)}:.*?(?=^\S|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert block, f"{path}: no section '{section}'"
    written = yaml.safe_dump(value).split("\n", 1)[0]
    body, count = re.subn(
        rf"^(\s+{re.escape(key)}:\s*)[^\s#]+",
        lambda match: match[1] + written,
        block[0],
        flags=re.MULTILINE,
    )
    assert count == 1, f"{path}: expected one '{section}.{key}' line, found {count}"
    path.write_text(text[: block.start()] + body + text[block.end() :], encoding="utf-8")


def pinned_actions() -> set[tuple[str, str]]:
    return {
        match.groups()
        for path in WORKFLOWS.glob("*.yml")
        for match in USES.finditer(path.read_text(encoding="utf-8"))
    }


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=GIT_ENV)
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


GIT_ENV = os.environ | {
    "GIT_AUTHOR_NAME": "fork",
    "GIT_AUTHOR_EMAIL": "fork@example.com",
    "GIT_COMMITTER_NAME": "fork",
    "GIT_COMMITTER_EMAIL": "fork@example.com",
}


class Fork:
    """A user's fork: a clone of an upstream repository holding this template."""

    def __init__(self, path: Path, scratch: Path, warm: dict[str, str]) -> None:
        self.path = path
        self.scratch = scratch
        #: Where its `make` runs and act's steps find the warm server (tests/e2e/warm.py).
        self.warm = {SOCKET_ENV: warm[SOCKET_ENV]}
        self.venv = venv_of(self.warm)

    def git(self, *args: str) -> str:
        return git(self.path, *args)

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        return self.git("rev-parse", "HEAD")

    def make(self, *targets: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["make", *targets, f"VENV={self.venv}"],
            cwd=self.path,
            capture_output=True,
            text=True,
            env=clean_env() | self.warm,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    def act(
        self,
        event: str,
        workflow: str,
        payload: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        artifacts: Path | None = None,
        gh_api: dict[str, Any] | None = None,
        variables: dict[str, str] | None = None,
        timeout: int = 600,
    ) -> ActRun:
        run_dir = Path(self.scratch) / f"act-{len(list(self.scratch.glob('act-*')))}"
        run_dir.mkdir(parents=True)
        artifacts = artifacts or run_dir / "artifacts"
        artifacts.mkdir(exist_ok=True)
        record, fake_gh = run_dir / "record.jsonl", run_dir / "gh"
        (fake_gh / "api").mkdir(parents=True)
        record.touch()
        (fake_gh / "calls.jsonl").touch()
        for endpoint, answer in (gh_api or {}).items():
            name = re.sub(r"[/?&=]", "_", endpoint) + ".json"
            (fake_gh / "api" / name).write_text(json.dumps(answer))
        event_file = run_dir / "event.json"
        event_file.write_text(json.dumps(payload or {}))
        command = [
            str(ACT),
            event,
            "-W",
            f".github/workflows/{workflow}",
            "-e",
            str(event_file),
            "--action-cache-path",
            str(run_dir / "cache"),
            "--no-cache-server",
            "--defaultbranch",
            "main",
            "--env",
            f"VENV={self.venv}",
            "--env",
            f"{SOCKET_ENV}={self.warm[SOCKET_ENV]}",
            "--env",
            f"PYTEST_ADDOPTS={COLLECT_ONLY}",
            "--env",
            f"STANDIN_RECORD={record}",
            "--env",
            f"ARTIFACT_DIR={artifacts}",
            "--env",
            f"FAKE_GH_DIR={fake_gh}",
            "--env",
            f"STANDINS={STAND_INS}",
            "--env",
            f"UV_BIN={uv_only_dir() / 'uv'}",
            "-s",
            "GITHUB_TOKEN=test-token",
        ]
        for key, value in (secrets or {}).items():
            command += ["-s", f"{key}={value}"]
        for key, value in (variables or {}).items():
            command += ["--var", f"{key}={value}"]
        for label in runner_labels(variables or {}):
            command += ["-P", f"{label}=-self-hosted"]
        for action, sha in pinned_actions():
            if action in STAND_IN_FOR:
                command += [
                    "--local-repository",
                    f"{action}@{sha}={STAND_INS / STAND_IN_FOR[action]}",
                ]
        env = clean_env()
        env["PATH"] = f"{STAND_INS / 'bin'}{os.pathsep}{env['PATH']}"
        started = time.monotonic()
        done = subprocess.run(
            command, cwd=self.path, capture_output=True, text=True, env=env, timeout=timeout
        )
        (run_dir / "act.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        (run_dir / "seconds").write_text(f"{time.monotonic() - started:.1f}\n")
        return ActRun(
            returncode=done.returncode,
            output=done.stdout + done.stderr,
            records=[json.loads(line) for line in record.read_text().splitlines()],
            gh_calls=[
                json.loads(line) for line in (fake_gh / "calls.jsonl").read_text().splitlines()
            ],
            artifacts=artifacts,
        )


def clean_env() -> dict[str, str]:
    """The test process's environment without what would leak into a workflow run, with the uv
    that built this environment on PATH (as setup-uv would put it there). The outer make's
    MAKEFLAGS go too: `make test VAR=...` would otherwise set VAR in every make the run starts."""
    drop = ("MLFLOW_", "GITHUB_", "DVC_", "AWS_", "VIRTUAL_ENV", "PYTHONPATH", "ACT")
    drop += ("MAKE", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({k: v for k, v in GIT_ENV.items() if k.startswith("GIT_")})
    env["PATH"] = f"{uv_only_dir()}{os.pathsep}{env['PATH']}"
    return env


def uv_only_dir() -> Path:
    """A folder holding only `uv`: uv's own folder may hold a python that must not shadow PATH's."""
    folder = ENV_DIR / ".uv-bin"
    link = folder / "uv"
    if not link.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # Made aside and renamed: atomic beside another test process, and it replaces a link
        # left pointing at the uv of a deleted checkout.
        aside = folder / f"uv.{os.getpid()}"
        aside.unlink(missing_ok=True)
        aside.symlink_to(UV)
        aside.replace(link)
    return folder


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as a bare repository with `main`, as GitHub would hold it."""
    seed = tmp_path_factory.mktemp("seed") / "repo"
    seed.mkdir()
    copy_project(seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "Template")
    bare = tmp_path_factory.mktemp("upstream") / "repo.git"
    git(seed.parent, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def clone_fork(upstream: Path, dest: Path, warm: dict[str, str]) -> Fork:
    git(dest.parent, "clone", "-q", str(upstream), str(dest))
    fork = Fork(dest, dest.parent / f"{dest.name}-scratch", warm)
    fork.scratch.mkdir()
    # act names the repository from origin's URL; the refs fetched above stay usable.
    fork.git("remote", "set-url", "origin", f"https://github.com/{REPOSITORY}.git")
    return fork


@pytest.fixture
def fork(upstream: Path, tmp_path: Path, warm_python: dict[str, str]) -> Fork:
    return clone_fork(upstream, tmp_path / "fork", warm_python)


@dataclass(frozen=True)
class Results:
    """An upstream whose main holds a first `make repro`'s dvc.lock and metrics, as a fork that
    followed the README would, and the DVC remote that run pushed its cache and run-cache to."""

    upstream: Path
    dvc_remote: Path


@pytest.fixture(scope="session")
def results(
    upstream: Path, tmp_path_factory: pytest.TempPathFactory, warm_python: dict[str, str]
) -> Results:
    """Built once per test session by whichever worker asks first (`built_once`). No test may
    change it: a test whose run pushes to the remote uses `own_remote`."""

    def build(folder: Path) -> None:
        work = folder / "work" / "fork"
        work.parent.mkdir(parents=True)
        fork = clone_fork(upstream, work, warm_python)
        # `make test` reproduced this checkout first: its run-cache spares the fork's training.
        if (ROOT / ".dvc" / "cache").is_dir():
            shutil.copytree(ROOT / ".dvc" / "cache", work / ".dvc" / "cache")
        fork.make("repro")
        fork.commit_all("First repro: dvc.lock and metrics")
        fork.make("dvc-push", f"DVC_REMOTE_URL={folder / 'dvc-remote'}")
        (folder / "upstream").mkdir()
        git(work.parent, "clone", "-q", "--bare", str(work), str(folder / "upstream" / "repo.git"))
        shutil.rmtree(work.parent, ignore_errors=True)

    folder = built_once(tmp_path_factory, "results", build)
    return Results(upstream=folder / "upstream" / "repo.git", dvc_remote=folder / "dvc-remote")


@pytest.fixture
def own_remote(results: Results, tmp_path: Path) -> Path:
    """A copy of the results' DVC remote that a run may push to."""
    return shutil.copytree(results.dvc_remote, tmp_path / "dvc-remote")


@pytest.fixture
def fork_with_results(results: Results, tmp_path: Path, warm_python: dict[str, str]) -> Fork:
    return clone_fork(results.upstream, tmp_path / "fork", warm_python)
