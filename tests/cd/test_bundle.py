"""`make register`, `make bundle` and `make smoke` on a trained fork's copy: the registry version
holding the reviewed bytes is found rather than registered twice, a bundle from the local model
and one from the registry hold the same bytes, and the service serves only the bytes its
manifest lists, under the version it names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tabular_mlops.cd import bundle, manifest
from tabular_mlops.cd.links import HISTORY_COMMAND
from tabular_mlops.core.lineage import MD5_TAG, REVIEWED_ARTIFACT, file_md5
from tabular_mlops.ct import promote
from tabular_mlops.serving import smoke
from tabular_mlops.serving.smoke import free_port, request, stop, wait_ready
from tests.cd.conftest import Workspace, make, outputs, params_of, registry_client
from tests.e2e.warm_client import python_of
from tests.in_process import run_main

pytestmark = pytest.mark.pipeline
BUNDLE = "dist/serving"


def errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without make's own closing line."""
    return [line for line in done.stderr.splitlines() if line and not line.startswith("make")]


def in_process(
    workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    main: Callable[[list[str]], Any],
    *argv: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """What `make <target>` runs, as `main(argv)` in this process on the copy and its registry
    (the target's own process and Makefile wiring are each tested by a `make` call here)."""
    return run_main(
        main, argv, cwd=workspace.path, capsys=capsys, env=env, tracking_uri=workspace.tracking_uri
    )


def versions(workspace: Workspace) -> list[str]:
    name = params_of(workspace).track.registered_model
    found = registry_client(workspace).search_model_versions(f"name = '{name}'")
    return sorted(str(v.version) for v in found)


def bundled(workspace: Workspace, out: str = BUNDLE) -> dict:
    return json.loads((workspace.path / out / manifest.MANIFEST).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def local_bundle(registered: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`make bundle` of the reviewed model, with the step outputs and summary it wrote."""
    work = tmp_path_factory.mktemp("bundle-outputs")
    env = {"GITHUB_OUTPUT": str(work / "output"), "GITHUB_STEP_SUMMARY": str(work / "summary")}
    done = make(registered, "bundle", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        "manifest": bundled(registered),
        "outputs": outputs(work / "output"),
        "summary": (work / "summary").read_text(encoding="utf-8"),
        "stdout": done.stdout,
    }


def test_register_finds_the_version_holding_the_bytes_instead_of_a_second(
    registered: Workspace, run_info: dict
) -> None:
    params = params_of(registered)
    before = versions(registered)
    done = make(registered, "register")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(found)" in done.stdout
    assert versions(registered) == before == [run_info["model_version"]]
    again = json.loads((registered.path / params.paths.run_info).read_text(encoding="utf-8"))
    assert again == run_info
    model_md5 = file_md5(registered.path / params.paths.model)
    assert run_info["model_md5"] == model_md5
    version = registry_client(registered).get_model_version(
        params.track.registered_model, run_info["model_version"]
    )
    assert version.tags[MD5_TAG] == model_md5


def test_promote_gates_the_version_register_named(
    registered: Workspace, run_info: dict, capsys
) -> None:
    done = in_process(registered, capsys, promote.main, "--fail-on-reject")
    assert done.returncode == 0, done.stdout + done.stderr
    params = params_of(registered)
    model = registry_client(registered).get_registered_model(params.track.registered_model)
    assert str(model.aliases["champion"]) == run_info["model_version"]


def test_the_local_bundle_is_the_reviewed_model_with_its_manifest_and_summary(
    registered: Workspace, run_info: dict, local_bundle: dict
) -> None:
    params = params_of(registered)
    made = local_bundle["manifest"]
    model = registered.path / params.paths.model
    assert (registered.path / BUNDLE / manifest.MODEL).read_bytes() == model.read_bytes()
    assert tuple(made) == manifest.KEYS
    assert made["version"] == run_info["model_version"]
    assert made["md5"] == file_md5(model) == made["files"][manifest.MODEL]
    assert made["run_id"] == run_info["run_id"]
    assert made["git_commit"] == registered.git("rev-parse", "HEAD")
    assert made["task"] == params.data.task
    assert local_bundle["outputs"] == {"version": made["version"], "md5": made["md5"]}
    assert f"| Version | {made['version']} |" in local_bundle["summary"]
    record = json.loads((registered.path / BUNDLE / manifest.EXAMPLE).read_text("utf-8"))
    assert list(record) == list(params.data.features)


@pytest.mark.parametrize("chosen", ["VERSION", "ALIAS"])
def test_a_bundle_from_the_registry_holds_the_same_bytes(
    registered: Workspace, run_info: dict, local_bundle: dict, chosen: str
) -> None:
    out = f"dist/{chosen.lower()}"
    value = run_info["model_version"] if chosen == "VERSION" else "challenger"
    done = make(registered, "bundle", f"{chosen}={value}", f"BUNDLE={out}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert REVIEWED_ARTIFACT in done.stdout
    for name in (manifest.MODEL, manifest.EXAMPLE):
        assert (registered.path / out / name).read_bytes() == (
            registered.path / BUNDLE / name
        ).read_bytes()
    ignore = {"created_at": None}
    assert bundled(registered, out) | ignore == local_bundle["manifest"] | ignore


@pytest.fixture
def registry_file(registered: Workspace, run_info: dict) -> Iterator[Path]:
    """The registry's copy of the model file (the run artifact), put back after the test."""
    run = registry_client(registered).get_run(run_info["run_id"])
    path = Path(run.info.artifact_uri.removeprefix("file://")) / REVIEWED_ARTIFACT
    kept = path.read_bytes()
    yield path
    path.write_bytes(kept)


def test_a_damaged_registry_copy_is_refused_and_the_bundle_kept(
    registered: Workspace,
    run_info: dict,
    local_bundle: dict,
    registry_file: Path,
    capsys,
) -> None:
    registry_file.write_bytes(registry_file.read_bytes()[:-1])
    version = run_info["model_version"]
    done = in_process(registered, capsys, bundle.main, "--version", version)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = errors(done)
    assert file_md5(registry_file) in line
    assert run_info["model_md5"] in line
    assert bundled(registered) == local_bundle["manifest"]


def test_a_version_without_its_md5_tag_is_not_bundled(
    registered: Workspace,
    run_info: dict,
    local_bundle: dict,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    import mlflow

    # MLflow resolves a `models:/m-...` source through its global store, which an earlier test
    # in this process may have set: point it at this registry for the call.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.tracking_uri)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(registered.tracking_uri)
    client = registry_client(registered)
    name = params_of(registered).track.registered_model
    source = client.get_model_version(name, run_info["model_version"])
    try:
        by_hand = client.create_model_version(name, source.source, run_id=source.run_id)
    finally:
        mlflow.set_tracking_uri(before)
    try:
        done = in_process(registered, capsys, bundle.main, "--version", str(by_hand.version))
    finally:
        client.delete_model_version(name, by_hand.version)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = errors(done)
    assert MD5_TAG in line and f"version {by_hand.version}" in line
    assert bundled(registered) == local_bundle["manifest"]


def serve(workspace: Workspace, model: Path) -> subprocess.CompletedProcess[str]:
    """The service started on `model`, run until it exits (it must refuse to start)."""
    return subprocess.run(
        [python_of(workspace.env), "-m", "tabular_mlops.serving.app", "--port", str(free_port())],
        cwd=workspace.path,
        env={**workspace.env, "MODEL_PATH": str(model)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_service_refuses_a_tampered_bundle_in_one_line(
    registered: Workspace, local_bundle: dict, tmp_path: Path
) -> None:
    copy = tmp_path / "serving"
    shutil.copytree(registered.path / BUNDLE, copy)
    data = bytearray((copy / manifest.MODEL).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / manifest.MODEL).write_bytes(bytes(data))
    done = serve(registered, copy / manifest.MODEL)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {copy / manifest.MODEL}: md5 {file_md5(copy / manifest.MODEL)}")
    assert local_bundle["manifest"]["md5"] in line


@pytest.fixture
def without_test_split(registered: Workspace) -> Iterator[None]:
    """The checkout without its test split, as a deploy job that only downloaded a bundle."""
    split = registered.path / params_of(registered).paths.test
    aside = split.with_name(split.name + ".aside")
    split.rename(aside)
    yield
    aside.rename(split)


def test_smoke_on_the_bundle_passes_naming_its_version_from_its_own_example(
    registered: Workspace, local_bundle: dict, without_test_split: None
) -> None:
    version = local_bundle["manifest"]["version"]
    done = make(registered, "smoke", f"MODEL_PATH={BUNDLE}/{manifest.MODEL}", f"VERSION={version}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"naming version {version}" in done.stdout


def test_smoke_expecting_another_version_fails_naming_both(
    registered: Workspace, local_bundle: dict, capsys
) -> None:
    version = local_bundle["manifest"]["version"]
    other = str(int(version) + 1)
    model = {"MODEL_PATH": f"{BUNDLE}/{manifest.MODEL}"}
    done = in_process(registered, capsys, smoke.main, "--expect-version", other, env=model)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = errors(done)
    assert re.search(rf"model_version '{version}', expected '{other}'", line), line


def test_smoke_on_an_alias_uses_the_registry_example_and_names_the_alias(
    registered: Workspace, run_info: dict, without_test_split: None
) -> None:
    version = run_info["model_version"]
    done = make(registered, "smoke", "ALIAS=challenger", f"VERSION={version}")
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = make(registered, "smoke", "ALIAS=champion-nobody-set")
    assert wrong.returncode == 2
    assert "champion-nobody-set" in errors(wrong)[0]


def test_version_of_a_registry_model_names_its_md5_and_history(
    registered: Workspace, run_info: dict, tmp_path: Path
) -> None:
    port = free_port()
    name = params_of(registered).track.registered_model
    process = subprocess.Popen(
        [python_of(registered.env), "-m", "tabular_mlops.serving.app", "--port", str(port)],
        cwd=registered.path,
        env={**registered.env, "MODEL_URI": f"models:/{name}@challenger", "MODEL_PATH": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, process)
        status, answer = request(port, "GET", "/version")
    finally:
        stop(process)
    assert status == 200
    assert answer["model_version"] == run_info["model_version"]
    assert answer["model_md5"] == run_info["model_md5"]
    assert answer["history"] == HISTORY_COMMAND
