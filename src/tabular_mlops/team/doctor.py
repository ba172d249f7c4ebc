"""`make doctor`: is each store a team configures set, reachable and writable, and if not, why.

One line per part: OK, not set (the local default is in use, which works), or FAIL with the
reason and what to do. Writes are probed with something deleted at once (a registered model, a
tag, a small object), so a healthy store is left as it was. A store must answer within
DOCTOR_TIMEOUT seconds, so one that is down or silent cannot hang the doctor. The GitHub part
lists what the workflows read, so a fork knows what to set. Exit 1 when anything FAILs.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from tabular_mlops.core.errors import PipelineError, exits_cleanly, first_line
from tabular_mlops.team import remote as dvc_remote
from tabular_mlops.team import workflows
from tabular_mlops.team.failures import CREDENTIALS, bounded, kind, reason
from tabular_mlops.team.mlflow_check import PART_SECONDS, mlflow_lines
from tabular_mlops.team.report import FAIL, NOT_SET, OK, Line, render, summary, verdict

REMOTE = "DVC remote"
#: How long a store may take to give its first answer (DOCTOR_TIMEOUT): down or silent, it fails.
FIRST_ANSWER_SECONDS = 10.0


def _probe_remote(remote: dvc_remote.Remote, step: list[str], first: float) -> str:
    dvc_remote.reachable(remote, first)
    step.append("write")
    probe = remote.fs.join(remote.path, f"doctor-probe-{secrets.token_hex(4)}")
    payload = b"make doctor's write probe\n"
    remote.fs.pipe_file(probe, payload)
    if remote.fs.cat_file(probe) != payload:
        raise PipelineError(f"DVC remote {remote.url}: the probe {probe} read back different")
    try:
        remote.fs.rm_file(probe)
    except Exception as err:
        return f"wrote and read a probe, but cannot delete {probe} ({first_line(err)}): delete it"
    return "credentials accepted, wrote, read and deleted a probe object"


def remote_line(env: Mapping[str, str], first: float) -> Line:
    """The DVC remote `make dvc-push` would use: reachable, credentials taken, writable?"""
    try:
        repo = dvc_remote.open_repo()
        try:
            remote = dvc_remote.resolve(repo, env)
        finally:
            repo.close()
    except PipelineError as err:
        return Line(FAIL, REMOTE, str(err))
    if remote is None:
        return Line(
            NOT_SET,
            REMOTE,
            "DVC_REMOTE_URL is unset and no `dvc remote` is configured: every machine and CI "
            "run rebuilds the pipeline; set it to the team's bucket (s3://, gs://, azure://...)",
        )
    source = "DVC_REMOTE_URL" if dvc_remote.section(env) else f"dvc remote {remote.name}"
    endpoint = f", endpoint {remote.endpoint}" if remote.endpoint else ""
    where = f"{remote.url} ({source}{endpoint})"
    step = ["read"]
    try:
        said = bounded(PART_SECONDS, lambda: _probe_remote(remote, step, first), "the store")
    except PipelineError as err:
        return Line(FAIL, REMOTE, str(err))
    except Exception as err:
        if step[-1] == "write" and kind(err) == "credentials":
            hint = CREDENTIALS.get(remote.protocol, "the remote's credentials")
            return Line(
                FAIL,
                REMOTE,
                f"DVC remote {remote.url} can be read but not written with these credentials "
                f"({reason(err)}): `make dvc-pull` works, `make dvc-push` needs credentials "
                f"that may write (check {hint})",
            )
        return Line(FAIL, REMOTE, remote.problem(err))
    return Line(OK, REMOTE, f"{where}: {said}")


def run(env: Mapping[str, str], first: float) -> tuple[list[Line], list[str]]:
    """Every part's line (the DVC remote checked while MLflow is), and the GitHub list."""
    with ThreadPoolExecutor(1) as pool:
        remote = pool.submit(remote_line, env, first)
        lines = mlflow_lines(env, first)
        lines.append(remote.result())
    return lines, _checked(lambda: workflows.lines(env))


def _checked(call: Callable[[], list[str]]) -> list[str]:
    try:
        return call()
    except PipelineError as err:
        return [f"GitHub: {err}"]


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("DOCTOR_TIMEOUT") or FIRST_ANSWER_SECONDS),
        help="seconds a store may take to answer at all (DOCTOR_TIMEOUT)",
    )
    args = parser.parse_args(argv)
    import dvc.repo  # noqa: F401  (imported once, before the parts run side by side)
    import mlflow  # noqa: F401

    os.environ.setdefault("AWS_MAX_ATTEMPTS", "2")  # a store that is down: seconds, not minutes
    lines, github_lines = run(os.environ, args.timeout)
    for line in lines:
        print(render(line), flush=True)
    for text in github_lines:
        print(text)
    print(summary(lines))
    raise SystemExit(verdict(lines))


if __name__ == "__main__":
    main()
