"""`make smoke`: start the real service on a free loopback port, ask it a few things, stop it.

The deploy workflow runs this on each environment's model (a bundle, or a registry alias): health,
one good and one bad prediction, and a version naming the expected alias and registry version.
The record it sends: the test split's first row when the checkout has one, else the bundle's
example.json beside MODEL_PATH, else the input example logged with the registry's model.
The helpers (free port, start, wait, request) are shared with the tests and the benchmark.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabular_mlops.cd import example
from tabular_mlops.core.dataset import DataParams
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import read_parquet
from tabular_mlops.core.params import Params, load_params

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_service(
    args: Sequence[str], *, port: int, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """The service (`python -m tabular_mlops.serving.app ARGS`) on HOST:port as a child process;
    output to `log` if given."""
    out = log.open("wb") if log is not None else None
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tabular_mlops.serving.app",
                "--host",
                HOST,
                "--port",
                str(port),
                *args,
            ],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
        )
    finally:
        if out is not None:
            out.close()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | str | None = None,
    content_type: str = "application/json",
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request on loopback; the JSON answer decoded (text when it is not JSON)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        sent = {"Content-Type": content_type} if body is not None else {}
        connection.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


def wait_ready(
    port: int, process: subprocess.Popen[bytes], timeout: float = 120.0, path: str = "/health"
) -> None:
    """Poll `path` until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PipelineError(f"the service exited with code {process.returncode} at startup")
        try:
            status, _ = request(port, "GET", path, timeout=2.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise PipelineError(f"the service did not answer {path} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _probability(value: object) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


def answer_problem(answer: object, data: DataParams) -> str | None:
    """What is wrong with a /predict answer for the task (serving/answers.py), or None."""
    if not isinstance(answer, dict):
        return "not a JSON object"
    if data.task == "binary":
        return None if _probability(answer.get("probability")) else "no probability in [0, 1]"
    if data.task == "regression":
        value = answer.get("prediction")
        ok = isinstance(value, float | int) and math.isfinite(value)
        return None if ok else "no finite prediction"
    probabilities, label = answer.get("probabilities"), answer.get("label")
    if not isinstance(probabilities, dict) or list(probabilities) != list(data.class_names):
        return f"probabilities not named by the labels {list(data.class_names)}"
    if not all(_probability(p) for p in probabilities.values()):
        return "a probability outside [0, 1]"
    if abs(sum(probabilities.values()) - 1.0) > 1e-6:
        return "probabilities do not sum to 1"
    if label not in probabilities or probabilities[label] != max(probabilities.values()):
        return f"label {label!r} is not the most probable class"
    return None


def run_checks(
    port: int,
    record: dict[str, Any],
    expect_alias: str | None,
    data: DataParams,
    expect_version: str | None = None,
) -> list[str]:
    """The smoke test's checks; returns one line per failure (empty when all passed)."""
    failures: list[str] = []
    status, answer = request(port, "POST", "/predict", json.dumps(record))
    problem = answer_problem(answer, data)
    if status != 200 or problem is not None:
        failures.append(f"good request ({problem or 'error'}): HTTP {status} {answer}")
    bad = {key: value for key, value in record.items() if key != next(iter(record))}
    status, answer = request(port, "POST", "/predict", json.dumps(bad))
    if status != 422 or next(iter(record)) not in str(answer):
        failures.append(
            f"bad request (field missing): expected 422 naming it, got {status} {answer}"
        )
    status, answer = request(port, "GET", "/version")
    if status != 200 or not isinstance(answer, dict) or not answer.get("model_version"):
        failures.append(f"version: HTTP {status} {answer}")
    else:
        if expect_alias and answer.get("alias") != expect_alias:
            failures.append(f"version: alias {answer.get('alias')!r}, expected {expect_alias!r}")
        served = str(answer.get("model_version"))
        if expect_version and served != expect_version:
            failures.append(f"version: model_version {served!r}, expected {expect_version!r}")
    return failures


def _option(args: Sequence[str], name: str) -> str | None:
    """The value of `name` among the service's arguments (`--name value` or `--name=value`)."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def example_record(params: Params, model_path: str | None, model_uri: str) -> dict[str, Any]:
    """The record to send: from the test split, the bundle's example.json, or the registry."""
    features = list(params.data.features)
    if Path(params.paths.test).is_file():
        return example.from_split(read_parquet(params.paths.test), features)
    if model_path and example.beside(Path(model_path)).is_file():
        return example.from_file(example.beside(Path(model_path)), features)
    if model_path:
        raise PipelineError(
            f"no example record: neither {params.paths.test} nor "
            f"{example.beside(Path(model_path))} exists (run `make repro` or `make bundle`)"
        )
    return example.from_registry(model_uri, features)


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--alias", help="serve models:/<track.registered_model>@ALIAS, expect it")
    parser.add_argument("--expect-version", help="the model_version /version must name")
    args, serve_args = parser.parse_known_args(argv)
    params = load_params(args.params)
    env: dict[str, str] = {}
    name = params.track.registered_model
    if args.alias:
        serve_args = [*serve_args, "--model-uri", f"models:/{name}@{args.alias}"]
        env["MODEL_PATH"] = ""  # the service serves a file over a URI
    from_env = None if args.alias else os.environ.get("MODEL_PATH")
    model_path = _option(serve_args, "--model-path") or from_env or None
    model_uri = _option(serve_args, "--model-uri") or os.environ.get("MODEL_URI") or None
    default_source = not model_path and not model_uri
    uri = model_uri or f"models:/{name}@champion"
    record = example_record(params, model_path, uri)
    expect_alias = args.alias or ("champion" if default_source else None)
    port = free_port()
    process = start_service(serve_args, port=port, env=env)
    try:
        wait_ready(port, process, args.timeout)
        failures = run_checks(port, record, expect_alias, params.data, args.expect_version)
    finally:
        stop(process)
    if failures:
        raise PipelineError("smoke test failed: " + "; ".join(failures))
    named = f" naming version {args.expect_version}" if args.expect_version else ""
    print(
        f"smoke: the service answered health, predict (good and bad, a {params.data.task} "
        f"answer) and version{named} on port {port}"
    )


if __name__ == "__main__":
    main()
