"""`make reviewed-model`: the model file whose md5 dvc.lock records on HEAD, or a one-line stop.

What ships must be what the pull request reviewed, and dvc.lock as committed records that model's
md5. With a DVC remote (DVC_REMOTE_URL) the model is pulled; without one the pipeline rebuilds
it, which also proves the pipeline reproducible. Either way the file's md5 must equal the
recorded one. Only the stage that writes the model (with what it depends on) runs before the
check, so a model that differs is never logged or registered; once it passes, `dvc repro` brings
the rest (metrics, the track stage) up to date.

A failed check leaves the checkout as it found it: the working dvc.lock and the model file are
put back byte for byte and no report is written. The expected md5 is read from git, never from
the working file, so a run killed midway cannot change the next run's verdict.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from tabular_mlops.core import lockfile
from tabular_mlops.core.errors import PipelineError, exits_cleanly, first_line
from tabular_mlops.core.github import set_outputs
from tabular_mlops.core.io import atomic_path, write_json
from tabular_mlops.core.lineage import file_md5, git_tags
from tabular_mlops.core.params import load_params

REPORT = "reports/reviewed_model.json"
ON_HEAD = "dvc.lock records on HEAD"
UNCOMMITTED = "the working dvc.lock records (it is not committed)"


@dataclass(frozen=True)
class Expected:
    """The stage that writes the model, the md5 dvc.lock records for it, and which lock said so."""

    stage: str
    md5: str
    where: str


def locked_md5(text: str | bytes, model: str, where: str = ON_HEAD) -> Expected:
    """The md5 a dvc.lock's text records for the out `model`; one line when it records none."""
    try:
        lock = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PipelineError(f"dvc.lock: not valid YAML ({first_line(err)})") from None
    wanted = posixpath.normpath(model)
    stages = lock.get("stages") if isinstance(lock, dict) else None
    for stage, entry in (stages or {}).items():
        for out in (entry or {}).get("outs") or []:
            if posixpath.normpath(str(out.get("path", ""))) == wanted and out.get("md5"):
                return Expected(str(stage), str(out["md5"]), where)
    raise PipelineError(
        f"dvc.lock: no stage records the out {model} (params.yaml paths.model): run `make repro` "
        "and commit dvc.lock, so deploy knows which model was reviewed"
    )


def expected(lock: Path, model: str) -> Expected:
    """From dvc.lock as HEAD holds it; outside git or when uncommitted, the working file."""
    committed = lockfile.committed(lock)
    if committed is not None:
        return locked_md5(committed, model, ON_HEAD)
    if lock.is_file():
        return locked_md5(lock.read_bytes(), model, UNCOMMITTED)
    raise PipelineError(
        f"{lock}: not found, so no model was reviewed: run `make repro` and commit dvc.lock"
    )


class Kept:
    """The working dvc.lock and model file as they were before, to put back on failure."""

    def __init__(self, lock: Path, model: Path) -> None:
        self.lock, self.model = lock, model
        self.lock_bytes = lock.read_bytes() if lock.is_file() else None
        self.copy: Path | None = None
        if model.is_file():
            fd, name = tempfile.mkstemp(prefix=f".{model.name}.", dir=model.parent)
            os.close(fd)
            self.copy = Path(name)
            shutil.copy2(model, self.copy)

    def restore(self) -> None:
        if self.lock_bytes is not None and self._read(self.lock) != self.lock_bytes:
            with atomic_path(self.lock) as tmp:
                tmp.write_bytes(self.lock_bytes)
        if self.copy is not None:
            self.copy.replace(self.model)
            self.copy = None
        else:
            self.model.unlink(missing_ok=True)

    def discard(self) -> None:
        if self.copy is not None:
            self.copy.unlink(missing_ok=True)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        return path.read_bytes() if path.is_file() else None


def repro(*stages: str) -> None:
    """`dvc repro [stage]`, its output shown as it comes."""
    sys.stdout.flush()
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", *stages], check=False)
    if done.returncode != 0:
        command = " ".join(["dvc repro", *stages])
        raise PipelineError(f"`{command}` failed (exit {done.returncode}); nothing deployed")


def pull() -> None:
    from tabular_mlops.team import remote

    for line in remote.run("pull", os.environ):
        print(line)


def mismatch(model: Path, source: str, got: str | None, want: Expected) -> PipelineError:
    found = f"{source} md5 {got}" if got else "no file after the rebuild, not md5"
    return PipelineError(
        f"{model}: {found} differs from {want.md5} that {want.where} (the pipeline is not "
        "reproducible, or params/code changed without a dvc.lock change); nothing deployed"
    )


def review(lock: Path, model: Path, report: Path) -> dict[str, str]:
    """Pull or rebuild the model, check its md5, then bring the pipeline up to date."""
    dvc_dir = lock.parent / ".dvc"
    for line in (lockfile.repair(lock, dvc_dir / "tmp"), lockfile.release_dead_holders(dvc_dir)):
        if line:
            print(line)
    want = expected(lock, model.as_posix())
    report.unlink(missing_ok=True)
    kept = Kept(lock, model)
    try:
        source = "rebuilt"
        if os.environ.get("DVC_REMOTE_URL", "").strip():
            pull()
            if model.is_file() and file_md5(model) == want.md5:
                source = "pulled"
        repro(want.stage)
        got = file_md5(model) if model.is_file() else None
        if got != want.md5:
            raise mismatch(model, source, got, want)
        repro()
    except BaseException:
        kept.restore()
        raise
    finally:
        kept.discard()
    result = {
        "path": model.as_posix(),
        "md5": got,
        "expected": want.md5,
        "source": source,
        "commit": git_tags()["git.commit"],
    }
    write_json(report, result)
    return result


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--lock", default="dvc.lock")
    parser.add_argument("--report", default=REPORT)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    result = review(Path(args.lock), Path(params.paths.model), Path(args.report))
    set_outputs(md5=result["md5"], source=result["source"])
    print(
        f"reviewed-model: {result['path']} md5 {result['md5']} is the model dvc.lock records "
        f"({result['source']}, commit {result['commit'][:12]}); {args.report}"
    )


if __name__ == "__main__":
    main()
