"""A bundle's manifest: what `make bundle` writes, and the service's check of the file beside it."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest

from tabular_mlops.cd import manifest
from tabular_mlops.cd.links import HISTORY_COMMAND
from tabular_mlops.core.errors import PipelineError
from tabular_mlops.serving.model import load_file
from tabular_mlops.stages.prepare import clean
from tabular_mlops.stages.train import fit
from tests.serve.synthetic import train_params

RUN = "a" * 32
COMMIT = "b" * 40


def built(folder: Path, name: str = "model-x", version: str = "7", uri: str = "sqlite:///m.db"):
    files = {p.name: manifest.md5_of(p) for p in folder.iterdir()}
    return manifest.build(
        name=name,
        version=version,
        md5=files[manifest.MODEL],
        run_id=RUN,
        git_commit=COMMIT,
        tracking_uri=uri,
        task="binary",
        files=files,
    )


def write_bundle(folder: Path, model_bytes: bytes, **kwargs) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / manifest.MODEL).write_bytes(model_bytes)
    (folder / manifest.EXAMPLE).write_text("{}", encoding="utf-8")
    made = built(folder, **kwargs)
    (folder / manifest.MANIFEST).write_text(json.dumps(made), encoding="utf-8")
    return made


def test_a_manifest_holds_every_key_and_each_file_md5(tmp_path: Path) -> None:
    made = write_bundle(tmp_path, b"model bytes")
    assert tuple(made) == manifest.KEYS
    assert made["files"] == {
        manifest.EXAMPLE: manifest.md5_of(tmp_path / manifest.EXAMPLE),
        manifest.MODEL: manifest.md5_of(tmp_path / manifest.MODEL),
    }
    assert made["md5"] == made["files"][manifest.MODEL]
    assert made["history"] == HISTORY_COMMAND
    assert manifest.read(tmp_path) == made


def test_a_server_uri_loses_its_credentials_and_links_the_model_page(tmp_path: Path) -> None:
    uri = "https://bot:s3cret@mlflow.example.com:8443/base"
    made = write_bundle(tmp_path, b"model", name="my model", uri=uri)
    assert made["tracking_uri"] == "https://mlflow.example.com:8443/base"
    assert "s3cret" not in json.dumps(made)
    assert made["history"] == "https://mlflow.example.com:8443/base/#/models/my%20model"


def test_a_model_md5_that_is_not_the_listed_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=manifest.MODEL):
        manifest.build(
            name="m",
            version="1",
            md5="c" * 32,
            run_id=None,
            git_commit=None,
            tracking_uri="sqlite:///m.db",
            task="binary",
            files={manifest.MODEL: "d" * 32},
        )


def test_a_tampered_model_file_is_refused_in_one_line_naming_both_md5s(tmp_path: Path) -> None:
    made = write_bundle(tmp_path, b"reviewed bytes")
    (tmp_path / manifest.MODEL).write_bytes(b"other bytes")
    with pytest.raises(PipelineError) as err:
        manifest.checked(tmp_path / manifest.MODEL)
    message = str(err.value)
    assert made["md5"] in message
    assert manifest.md5_of(tmp_path / manifest.MODEL) in message
    assert "\n" not in message


def test_no_manifest_is_no_bundle_and_a_broken_one_is_one_line(tmp_path: Path) -> None:
    (tmp_path / manifest.MODEL).write_bytes(b"bytes")
    assert manifest.checked(tmp_path / manifest.MODEL) is None
    (tmp_path / manifest.MANIFEST).write_text("{", encoding="utf-8")
    with pytest.raises(PipelineError, match=manifest.MANIFEST):
        manifest.checked(tmp_path / manifest.MODEL)
    (tmp_path / manifest.MANIFEST).write_text('{"version": "1"}', encoding="utf-8")
    with pytest.raises(PipelineError, match="not a bundle manifest"):
        manifest.checked(tmp_path / manifest.MODEL)


def test_the_summary_lists_the_version_and_every_file(tmp_path: Path) -> None:
    made = write_bundle(tmp_path, b"model")
    text = manifest.summary(made, Path("dist/serving"))
    assert "| Version | 7 |" in text
    for name, md5 in made["files"].items():
        assert f"| `{name}` | `{md5}` |" in text


@pytest.fixture(scope="module")
def small_model(params, sample_csv) -> object:
    import pandas as pd

    return fit(clean(pd.read_csv(sample_csv), params.data), params.data, train_params("linear"))


def test_the_service_reports_the_bundle_version_and_refuses_a_changed_file(
    params, small_model, tmp_path: Path
) -> None:
    path = tmp_path / manifest.MODEL
    joblib.dump(small_model, path)
    made = write_bundle(tmp_path, path.read_bytes(), name=params.track.registered_model)
    info = load_file(path, params).info
    assert info["model_version"] == made["version"]
    assert (info["run_id"], info["git_commit"]) == (RUN, COMMIT)
    assert info["history"] == made["history"]
    assert info["model_md5"] == made["md5"]
    path.write_bytes(b"not a pickle: refused before it is unpickled")
    with pytest.raises(PipelineError, match="refusing to serve it"):
        load_file(path, params)


def test_a_file_without_a_manifest_is_served_under_its_md5(
    params, small_model, tmp_path: Path
) -> None:
    path = tmp_path / "model.pkl"
    joblib.dump(small_model, path)
    info = load_file(path, params).info
    assert info["model_version"] == f"file-{manifest.md5_of(path)[:12]}"
    assert info["history"] == HISTORY_COMMAND
