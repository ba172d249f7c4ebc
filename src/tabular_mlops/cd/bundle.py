"""`make bundle`: the folder the serving image is built from: model.pkl, manifest, example.

Default source: the local reviewed model (paths.model) and the registry version paths.run_info
names (`make register` wrote it, with the file's md5). `--version N` or `--alias A`: the registry's
byte-identical copy of that version's model file (the run artifact reviewed-model/model.pkl), its
md5 checked against the version's `model.md5` tag; that is how a rollback ships an earlier model.
The folder is built beside `--out` and renamed into place, so a failed or killed bundle leaves
the previous one whole.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabular_mlops.cd import example, manifest
from tabular_mlops.core.errors import PipelineError, exits_cleanly, first_line
from tabular_mlops.core.github import add_summary, set_outputs
from tabular_mlops.core.io import read_json
from tabular_mlops.core.lineage import MD5_TAG, REVIEWED_ARTIFACT, file_md5, git_tags, tracking_uri
from tabular_mlops.core.params import Params, load_params


@dataclass(frozen=True)
class Source:
    """A model file and the registry version it is."""

    path: Path
    name: str
    version: str
    md5: str
    run_id: str | None
    git_commit: str | None
    tracking_uri: str
    described: str


def local(params: Params) -> Source:
    """paths.model, as the version paths.run_info names; one line when they disagree."""
    model, info_path = Path(params.paths.model), Path(params.paths.run_info)
    if not model.is_file():
        raise PipelineError(f"{model}: model file not found (run `make reviewed-model`)")
    if not info_path.is_file():
        raise PipelineError(f"{info_path}: not found, so no version is known (run `make register`)")
    info = read_json(info_path)
    name = params.track.registered_model
    md5 = file_md5(model)
    if info.get("registered_model") != name or not info.get("model_version"):
        raise PipelineError(f"{info_path}: names no version of {name} (run `make register`)")
    if info.get("model_md5") != md5:
        raise PipelineError(
            f"{info_path}: names version {info['model_version']} of model md5 "
            f"{info.get('model_md5')}, but {model} is {md5} (run `make register`)"
        )
    return Source(
        path=model,
        name=name,
        version=str(info["model_version"]),
        md5=md5,
        run_id=info.get("run_id"),
        git_commit=git_tags()["git.commit"],
        tracking_uri=str(info.get("tracking_uri") or tracking_uri()),
        described=str(model),
    )


def from_registry(params: Params, version: str | None, alias: str | None, into: Path) -> Source:
    """The exact model file of a registry version (by number or alias), downloaded into `into`
    and checked against the version's `model.md5` tag."""
    import mlflow

    from tabular_mlops.ct import registry

    client = registry.connect()
    name = params.track.registered_model
    asked = f"{name}@{alias}" if alias else f"{name} version {version}"
    try:
        found = (
            client.get_model_version_by_alias(name, alias)
            if alias
            else client.get_model_version(name, version)
        )
    except Exception as err:
        raise PipelineError(
            f"registry {tracking_uri()}: no {asked} ({first_line(err)[:200]})"
        ) from None
    number = str(found.version)
    tagged = (found.tags or {}).get(MD5_TAG)
    if not tagged:
        raise PipelineError(
            f"{name} version {number}: no {MD5_TAG} tag, so its exact model bytes are unknown "
            "(registered before delivery tagged versions, or by hand); nothing bundled"
        )
    try:
        path = Path(
            mlflow.artifacts.download_artifacts(
                run_id=found.run_id, artifact_path=REVIEWED_ARTIFACT, dst_path=str(into)
            )
        )
        run = client.get_run(found.run_id)
    except Exception as err:
        raise PipelineError(
            f"{name} version {number}: cannot download run artifact {REVIEWED_ARTIFACT} "
            f"({first_line(err)[:200]}); nothing bundled"
        ) from None
    got = file_md5(path)
    if got != tagged:
        raise PipelineError(
            f"{name} version {number}: run artifact {REVIEWED_ARTIFACT} has md5 {got}, not "
            f"{tagged} that its {MD5_TAG} tag records (a damaged artifact store); nothing bundled"
        )
    return Source(
        path=path,
        name=name,
        version=number,
        md5=got,
        run_id=found.run_id,
        git_commit=run.data.tags.get("git.commit"),
        tracking_uri=tracking_uri(),
        described=f"registry run {found.run_id} artifact {REVIEWED_ARTIFACT}",
    )


def example_record(params: Params, source: Source) -> dict[str, Any]:
    """The test split's first row when the checkout has it, else the version's input example."""
    test = Path(params.paths.test)
    features = list(params.data.features)
    if test.is_file():
        import pandas as pd

        return example.from_split(pd.read_parquet(test), features)
    return example.from_registry(f"models:/{source.name}/{source.version}", features)


def clean_leftovers(out: Path) -> None:
    """What a killed bundle left: a half-built folder is removed, and the previous bundle is put
    back when the kill came between the two renames."""
    for old in sorted(out.parent.glob(f".{out.name}.old-*")):
        if not out.exists():
            old.rename(out)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def write(out: Path, source: Source, record: dict[str, Any], task: str) -> dict[str, Any]:
    """Build the bundle beside `out`, then swap it in; returns its manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    tmp = out.parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
    old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        shutil.copyfile(source.path, tmp / manifest.MODEL)
        (tmp / manifest.EXAMPLE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        files = {p.name: file_md5(p) for p in (tmp / manifest.MODEL, tmp / manifest.EXAMPLE)}
        built = manifest.build(
            name=source.name,
            version=source.version,
            md5=source.md5,
            run_id=source.run_id,
            git_commit=source.git_commit,
            tracking_uri=source.tracking_uri,
            task=task,
            files=files,
        )
        text = json.dumps(built, indent=2) + "\n"
        (tmp / manifest.MANIFEST).write_text(text, encoding="utf-8")
        for path in tmp.iterdir():  # readable by the image's non-root user, whatever the umask
            path.chmod(0o644)
        tmp.chmod(0o755)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return built


def bundle(params: Params, out: Path, version: str | None, alias: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bundle-") as download:
        if version or alias:
            source = from_registry(params, version, alias, Path(download))
        else:
            source = local(params)
        built = write(out, source, example_record(params, source), params.data.task)
    print(
        f"bundle: {built['registered_model']} version {built['version']} (md5 {built['md5']}) "
        f"from {source.described} in {out}: {', '.join(built['files'])}, {manifest.MANIFEST}"
    )
    return built


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="dist/serving")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--version", help="a registry version of track.registered_model")
    chosen.add_argument("--alias", help="a registry alias of track.registered_model")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    out = Path(args.out)
    built = bundle(params, out, args.version, args.alias)
    add_summary(manifest.summary(built, out))
    set_outputs(version=built["version"], md5=built["md5"])


if __name__ == "__main__":
    main()
