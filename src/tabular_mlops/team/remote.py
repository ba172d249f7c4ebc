"""`make dvc-pull` and `make dvc-push`: the DVC cache and run-cache from and to the team's remote.

The remote is `DVC_REMOTE_URL` when set (recorded in .dvc/config.local as `ci`, with
`AWS_ENDPOINT_URL` as its endpoint for an S3-compatible store), else the checkout's own default
`dvc remote`. It is asked once, through DVC's filesystem for its scheme, before anything moves:
a refused key, a store that is down or a missing bucket is then one line naming the URL and what
to check, where DVC would print an error per file and a stack of retries.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tabular_mlops.core.errors import PipelineError, exits_cleanly, first_line
from tabular_mlops.team.failures import bounded, kind, remote_problem

NAME = "ci"
PREFLIGHT_SECONDS = 20.0
#: Where DVC and its data libraries log a transfer's warnings and per-file errors.
LOGGERS = ("dvc", "dvc_data", "dvc_objects")
NO_REMOTE = {
    "pull": "dvc-pull: no DVC remote configured; the pipeline runs from scratch",
    "push": "dvc-push: no DVC remote configured; nothing to push",
}


@dataclass
class Remote:
    """A DVC remote as a command uses it: its URL, its filesystem and the path on it."""

    name: str
    url: str
    endpoint: str | None
    fs: Any
    path: str

    @property
    def protocol(self) -> str:
        protocol = self.fs.protocol
        return str(protocol[0] if isinstance(protocol, tuple | list) else protocol)

    def root(self) -> str:
        """The bucket (container, or the filesystem's root) the remote's path lives in."""
        if self.path.startswith("/"):  # a filesystem: local, ssh, hdfs
            return "/"
        return self.path.split("/", 1)[0] or self.fs.root_marker

    def problem(self, err: BaseException) -> str:
        return remote_problem(self.url, self.protocol, err, self.endpoint)


def section(env: Mapping[str, str]) -> dict[str, str] | None:
    """The `ci` remote's settings that DVC_REMOTE_URL (and AWS_ENDPOINT_URL) ask for, or None."""
    url = env.get("DVC_REMOTE_URL", "").strip()
    if not url:
        return None
    scheme = urlparse(url).scheme
    if not scheme or len(scheme) == 1:  # a path (C: on Windows): relative to where make runs
        url = str(Path(url).resolve())
    settings = {"url": url}
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip()
    if scheme == "s3" and endpoint:
        settings["endpointurl"] = endpoint
    return settings


def open_repo() -> Any:
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        return Repo()
    except NotDvcRepoError as err:
        raise PipelineError(f"{Path.cwd()}: not in a DVC project ({first_line(err)})") from None


def configure(repo: Any, env: Mapping[str, str]) -> None:
    """Record DVC_REMOTE_URL as the checkout's default remote, as `dvc remote add --local
    --force --default` would; nothing changes when it is unset."""
    settings = section(env)
    if settings is None:
        return
    with repo.config.edit("local") as conf:
        conf["remote"][NAME] = settings
        conf["core"]["remote"] = NAME


def in_memory(repo: Any, env: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """The repo's config with DVC_REMOTE_URL applied, without writing it, and the remote's name."""
    config = {key: dict(value) for key, value in repo.config.items()}
    settings = section(env)
    if settings is not None:
        config["remote"] = config.get("remote", {}) | {NAME: settings}
        config["core"] = config.get("core", {}) | {"remote": NAME}
    return config, config.get("core", {}).get("remote")


def resolve(repo: Any, env: Mapping[str, str]) -> Remote | None:
    """The remote the command would use, or None when the checkout has none at all."""
    config, name = in_memory(repo, env)
    if not config.get("remote"):
        return None
    if not name:
        names = ", ".join(sorted(config["remote"]))
        raise PipelineError(
            f"DVC remotes {names} are configured but none is the default: "
            "run `dvc remote default <name>` or set DVC_REMOTE_URL"
        )
    from dvc.fs import get_cloud_fs

    settings = config["remote"].get(name, {})
    url = str(settings.get("url", name))
    try:
        cls, fs_config, path = get_cloud_fs(config, name=name)
        fs = cls(**fs_config)
    except Exception as err:  # an unknown scheme, a missing plugin (dvc-gs, dvc-azure), bad keys
        raise PipelineError(f"DVC remote {url}: {first_line(err)[:300]}") from None
    return Remote(name, url, settings.get("endpointurl"), fs, path)


def reachable(remote: Remote, seconds: float = PREFLIGHT_SECONDS) -> None:
    """Raise one line when the remote refuses, cannot be reached, or lacks its bucket. An empty
    path on an existing bucket is fine: the first push creates it."""
    what = "the store"
    try:
        try:
            bounded(seconds, lambda: remote.fs.ls(remote.path), what)
        except FileNotFoundError as missing:
            if not bounded(seconds, lambda: remote.fs.exists(remote.root()), what):
                raise missing from None
    except Exception as err:
        raise PipelineError(remote.problem(err)) from None


class _Collect(logging.Handler):
    """DVC's log during a transfer: warnings pass through, errors are kept for the one line."""

    def __init__(self, command: str) -> None:
        super().__init__(logging.WARNING)
        self.command = command
        self.errors: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors.append(record)
        else:
            print(f"dvc-{self.command}: {record.getMessage()}", file=sys.stderr)

    def cause(self) -> BaseException | None:
        for record in self.errors:
            if record.exc_info and record.exc_info[1] is not None:
                return record.exc_info[1]
        return None


@contextmanager
def _collected(command: str) -> Iterator[_Collect]:
    """DVC's console handlers (set up when dvc is imported) swapped for `_Collect` meanwhile."""
    handler = _Collect(command)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    for logger in loggers:
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
            logger.handlers = handlers
            logger.propagate, logger.level = propagate, level


def transfer(repo: Any, remote: Remote, command: str) -> list[str]:
    """Run DVC's push or pull (with the run-cache); what it did, as DVC's CLI says it."""
    from dvc.exceptions import DvcException
    from dvc.utils.humanize import get_summary

    with _collected(command) as log:
        try:
            if command == "push":
                pushed = repo.push(remote=remote.name, run_cache=True)
                stats: dict[str, Any] = {"pushed": pushed}
                changes: dict[str, Any] = {}
            else:
                changes = repo.pull(remote=remote.name, run_cache=True, allow_missing=True)
                stats = changes.pop("stats", {})
        except Exception as err:
            if not isinstance(err, DvcException | OSError) and kind(err) == "other":
                raise  # not the store failing: a bug, with its traceback
            cause = log.cause()
            count = f" ({first_line(err)})" if cause is not None else ""
            raise PipelineError(f"dvc-{command}: {remote.problem(cause or err)}{count}") from None
    said = [
        f"{state[0].upper()}\t{entry}"
        for state in ("modified", "added", "deleted")
        for entry in changes.get(state, [])
    ]
    summary = get_summary(stats.items()) or "Everything is up to date."
    return [*said, f"dvc-{command}: {summary} ({remote.url})"]


def run(command: str, env: Mapping[str, str]) -> list[str]:
    repo = open_repo()
    try:
        configure(repo, env)
        if section(env) is not None:
            repo = _reopened(repo)
        remote = resolve(repo, env)
        if remote is None:
            return [NO_REMOTE[command]]
        try:
            reachable(remote)
        except PipelineError as err:
            raise PipelineError(f"dvc-{command}: {err}") from None
        return transfer(repo, remote, command)
    finally:
        repo.close()


def _reopened(repo: Any) -> Any:
    """A Repo reads its config once: open it again to see the remote just recorded."""
    repo.close()
    return open_repo()


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pull", "push"))
    args = parser.parse_args(argv)
    for line in run(args.command, os.environ):
        print(line)


if __name__ == "__main__":
    main()
