"""`make doctor`'s pure parts: the workflows' secrets and variables, failures as one line, the
verdict; and the DVC remote wrapper on a remote that is a local folder."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tabular_mlops.core.errors import PipelineError
from tabular_mlops.team import doctor, failures, mlflow_check, remote, report, workflows
from tabular_mlops.team.report import FAIL, NOT_SET, OK, SKIPPED, Line

ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = """
name: Example
on: [push]
env:
  SHARED: ${{ vars.SHARED_SETTING }}
jobs:
  build:
    runs-on: ${{ vars.BUILD_RUNNER || 'ubuntu-latest' }}
    if: vars.ENABLED != ''
    env:
      STORE_URL: ${{ vars.STORE_URL }}
    steps:
      - run: echo "secrets.NOT_AN_EXPRESSION is only text" && echo "${{ github.token }}"
      - env:
          TOKEN: ${{ secrets.GITHUB_TOKEN }}
          BRACKETED: ${{ secrets['BRACKETED_KEY'] }}
        run: echo "$TOKEN"
  ship:
    runs-on: ubuntu-latest
    environment:
      name: production
      url: https://example.invalid
    env:
      STORE_URL: ${{ vars.STORE_URL }}
      STORE_PASSWORD: ${{ secrets.STORE_PASSWORD }}
    steps:
      - run: echo "login ${{ secrets.STORE_PASSWORD }}"
"""


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "example.yml").write_text(WORKFLOW, encoding="utf-8")
    return folder


def by_name(found: list[workflows.Setting]) -> dict[tuple[str, str | None], workflows.Setting]:
    return {(setting.name, setting.environment): setting for setting in found}


def test_references_are_found_with_their_job_environment_and_default(workflow_dir) -> None:
    found = by_name(workflows.settings(workflows.references(workflow_dir)))
    assert set(found) == {
        ("SHARED_SETTING", None),
        ("BUILD_RUNNER", None),
        ("ENABLED", None),
        ("STORE_URL", None),
        ("BRACKETED_KEY", None),
        ("STORE_URL", "production"),
        ("STORE_PASSWORD", "production"),
    }
    assert found[("BUILD_RUNNER", None)].defaults == {"ubuntu-latest"}
    assert found[("STORE_PASSWORD", "production")].kind == "secret"
    assert found[("STORE_PASSWORD", "production")].feeds == {"STORE_PASSWORD"}
    assert found[("STORE_PASSWORD", "production")].uses == ["example.yml/ship"]
    assert found[("SHARED_SETTING", None)].uses == ["example.yml"]
    assert found[("STORE_URL", None)].where == "repository"
    assert found[("STORE_URL", "production")].where == "environment production"


CHOSEN_ENVIRONMENT = """
name: Chosen
on: [push, pull_request]
jobs:
  test:
    runs-on: ${{ vars.BIG_RUNNER || 'ubuntu-latest' }}
    environment: ${{ github.ref == 'refs/heads/main' && 'training' || '' }}
    env:
      STORE_PASSWORD: ${{ secrets.STORE_PASSWORD }}
    steps:
      - run: echo
"""


def test_a_chosen_environment_is_named_and_a_runner_is_the_repositorys(tmp_path: Path) -> None:
    """A job's runner is chosen before it enters its environment, so RUNNER-like variables are
    set on the repository; the secrets of a job that enters an environment on some runs only
    are set in that environment."""
    (tmp_path / "chosen.yml").write_text(CHOSEN_ENVIRONMENT, encoding="utf-8")
    found = by_name(workflows.settings(workflows.references(tmp_path)))
    assert set(found) == {("BIG_RUNNER", None), ("STORE_PASSWORD", "training")}


def test_the_project_workflows_list_every_secret_and_variable_they_name() -> None:
    folder = ROOT / ".github/workflows"
    text = "\n".join(path.read_text(encoding="utf-8") for path in folder.glob("*.yml"))
    named = set(re.findall(r"\b(?:secrets|vars)\.([A-Za-z_]\w*)", text)) - {"GITHUB_TOKEN"}
    listed = {setting.name for setting in workflows.settings(workflows.references(folder))}
    assert listed == named


def test_a_workflow_that_is_not_yaml_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("jobs: [unclosed\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"broken\.yml: cannot read the workflow"):
        workflows.references(tmp_path)


def write_gh(folder: Path, body: str) -> None:
    """A stand-in `gh` that answers `secret|variable list --json name [--env NAME]`."""
    script = folder / "gh"
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n", encoding="utf-8")
    script.chmod(0o755)


def test_gh_says_which_settings_are_set(workflow_dir, tmp_path: Path, monkeypatch) -> None:
    write_gh(
        tmp_path,
        "kind, env = sys.argv[1], (sys.argv[sys.argv.index('--env') + 1] "
        "if '--env' in sys.argv else None)\n"
        "names = {('variable', None): ['STORE_URL'], ('secret', 'production'): "
        "['STORE_PASSWORD']}.get((kind, env), [])\n"
        "print('[' + ','.join('{\"name\": \"%s\"}' % n for n in names) + ']')",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    lines = workflows.lines({"STORE_PASSWORD": "x"}, workflow_dir)
    password = next(line for line in lines if "STORE_PASSWORD" in line)
    assert "set on GitHub" in password and "this shell's STORE_PASSWORD: set" in password
    assert "NOT set on GitHub" in next(line for line in lines if "BUILD_RUNNER" in line)
    production_url = next(line for line in lines if "STORE_URL (environment" in line)
    assert "NOT set" not in production_url  # the repository's variable reaches the job too


def test_without_a_working_gh_the_list_still_shows(workflow_dir, tmp_path, monkeypatch) -> None:
    write_gh(tmp_path, "sys.exit('not logged in')")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    lines = workflows.lines({}, workflow_dir)
    assert "`gh`, logged in, would say which are set" in lines[0]
    assert len(lines) == 1 + 7
    assert not any("on GitHub" in line for line in lines[1:])


class EndpointConnectionError(Exception):
    """Named like botocore's: recognised by its name, without importing botocore."""


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"An error occurred ({code})")
        self.response = {"Error": {"Code": code}}


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as err:
            raise outer from err
    except BaseException as err:
        return err


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (PermissionError("Forbidden"), "credentials"),
        (ClientError("SignatureDoesNotMatch"), "credentials"),
        (ClientError("NoSuchBucket"), "missing"),
        (FileNotFoundError("The specified bucket does not exist"), "missing"),
        (EndpointConnectionError("Could not connect"), "unreachable"),
        (ConnectionRefusedError(111, "Connection refused"), "unreachable"),
        (TimeoutError("did not answer"), "unreachable"),
        (chained(RuntimeError("upload failed"), PermissionError("denied")), "credentials"),
        (ValueError("something else"), "other"),
    ],
)
def test_failures_are_told_apart_by_type_code_and_cause(err, expected) -> None:
    assert failures.kind(err) == expected


def test_a_refused_s3_key_names_the_url_and_the_variables() -> None:
    line = failures.remote_problem(
        "s3://bucket/dvc", "s3", PermissionError("The request signature\ndoes not match"), None
    )
    assert "\n" not in line
    assert line.startswith("DVC remote s3://bucket/dvc refused the credentials")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in line


def test_an_unreachable_store_names_its_endpoint() -> None:
    line = failures.remote_problem(
        "s3://bucket/dvc", "s3", EndpointConnectionError("no"), "http://127.0.0.1:9"
    )
    assert "unreachable at http://127.0.0.1:9" in line and "AWS_ENDPOINT_URL" in line


def test_bounded_returns_raises_and_gives_up_on_a_silent_call() -> None:
    assert failures.bounded(5, lambda: 42, "answer") == 42
    with pytest.raises(KeyError):
        failures.bounded(5, lambda: {}["missing"], "lookup")
    release = threading.Event()
    with pytest.raises(TimeoutError, match=r"silent store did not answer within 0\.05 s"):
        failures.bounded(0.05, release.wait, "silent store")
    release.set()


def test_the_verdict_fails_only_on_fail() -> None:
    ready = [Line(OK, "a", "x"), Line(OK, "b", "y")]
    local = [Line(NOT_SET, "a", "x"), Line(OK, "b", "y")]
    broken = [Line(FAIL, "a", "x"), Line(SKIPPED, "b", "y"), Line(NOT_SET, "c", "z")]
    assert [report.verdict(lines) for lines in (ready, local, broken)] == [0, 0, 1]
    assert report.summary(ready) == "doctor: 2 OK, 0 not set, 0 FAIL: every part is ready"
    assert "1 OK, 1 not set, 0 FAIL: the parts not set use" in report.summary(local)
    assert report.summary(broken).startswith("doctor: 0 OK, 1 not set, 1 FAIL, 1 skipped: fix")
    assert report.render(Line(FAIL, "DVC remote", "why")) == "FAIL     DVC remote       why"


def test_the_remote_section_comes_from_the_variables(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert remote.section({}) is None
    endpoint = "http://127.0.0.1:9000"
    assert remote.section({"DVC_REMOTE_URL": "s3://b/p", "AWS_ENDPOINT_URL": endpoint}) == {
        "url": "s3://b/p",
        "endpointurl": endpoint,
    }
    assert remote.section({"DVC_REMOTE_URL": "gs://b/p", "AWS_ENDPOINT_URL": endpoint}) == {
        "url": "gs://b/p"
    }
    assert remote.section({"DVC_REMOTE_URL": "store"}) == {"url": str(tmp_path / "store")}


@pytest.fixture(scope="module")
def dvc_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC project (no git) tracking one file: two `dvc` starts, so made once and copied."""
    folder = tmp_path_factory.mktemp("dvc") / "project"
    folder.mkdir()
    run = {"cwd": folder, "check": True, "capture_output": True}
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], **run)
    (folder / "probe.txt").write_text("tracked by DVC\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "probe.txt"], **run)
    return folder


@pytest.fixture
def dvc_project(dvc_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the DVC project."""
    return shutil.copytree(dvc_template, tmp_path / "project", symlinks=True)


def wrapper(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "tabular_mlops.team.remote", command],
        cwd=cwd,
        env=clean | {"PYTHONPATH": str(ROOT / "src")} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_push_and_pull_through_a_folder_remote(dvc_project: Path, tmp_path: Path) -> None:
    project = dvc_project
    store = tmp_path / "store"
    done = wrapper("push", project)
    assert (done.returncode, done.stdout.strip()) == (
        0,
        "dvc-push: no DVC remote configured; nothing to push",
    )
    done = wrapper("push", project, DVC_REMOTE_URL=str(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"1 file pushed ({store})")
    (project / "probe.txt").unlink()
    done = wrapper("pull", project)  # the remote recorded by the push, without the variable
    assert done.returncode == 0, done.stderr
    assert (project / "probe.txt").read_text(encoding="utf-8") == "tracked by DVC\n"


def test_the_doctor_writes_and_removes_a_probe_on_a_folder_remote(
    dvc_project, tmp_path, monkeypatch
) -> None:
    project = dvc_project
    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.chdir(project)
    line = doctor.remote_line({"DVC_REMOTE_URL": str(store)}, first=30)
    assert (line.status, line.part) == (OK, "DVC remote")
    assert line.text.startswith(f"{store} (DVC_REMOTE_URL): ")
    assert list(store.iterdir()) == []
    assert not (project / ".dvc/config.local").exists()
    assert doctor.remote_line({}, first=30).status == NOT_SET


def test_a_remote_whose_plugin_is_missing_is_one_fail_line(dvc_project, monkeypatch) -> None:
    monkeypatch.chdir(dvc_project)
    line = doctor.remote_line({"DVC_REMOTE_URL": "nosuchscheme://bucket/path"}, first=30)
    assert line.status == FAIL
    assert line.text.startswith("DVC remote nosuchscheme://bucket/path: ")


def test_a_transfer_that_fails_after_the_remote_answered_is_one_line(
    dvc_project: Path, tmp_path: Path
) -> None:
    project = dvc_project
    store = tmp_path / "store"
    store.mkdir()
    (store / "files").write_text("a file where DVC needs a folder\n", encoding="utf-8")
    done = wrapper("push", project, DVC_REMOTE_URL=str(store))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"error: dvc-push: DVC remote {store}: ")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a server hung or behind a black hole."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_a_silent_tracking_server_fails_within_the_first_answer_deadline(
    params, silent_port
) -> None:
    uri = f"http://127.0.0.1:{silent_port}"
    line, client = mlflow_check.tracking({"MLFLOW_TRACKING_URI": uri}, params.track, first=0.2)
    assert (line.status, client) == (FAIL, None)
    assert line.text.startswith(f"{uri}: the tracking server did not answer within 0.2 s")


def test_a_silent_object_store_fails_within_the_first_answer_deadline(
    dvc_project, monkeypatch, silent_port
) -> None:
    monkeypatch.chdir(dvc_project)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    endpoint = f"http://127.0.0.1:{silent_port}"
    env = {"DVC_REMOTE_URL": "s3://bucket/dvc", "AWS_ENDPOINT_URL": endpoint}
    line = doctor.remote_line(env, first=0.2)
    assert line.status == FAIL
    assert line.text.startswith(f"DVC remote s3://bucket/dvc is unreachable at {endpoint}")
    assert "did not answer within 0.2 s" in line.text
