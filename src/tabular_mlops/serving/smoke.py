"""`make smoke`: start the real service on a free loopback port, ask it a few things, stop it.

The deploy workflow runs this after `make promote`, so the image it then builds is known to serve
the new champion: health, one good and one bad prediction, and a version naming the champion.
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

from tabular_mlops.core.dataset import DataParams
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import read_parquet
from tabular_mlops.core.params import load_params

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
    port: int, record: dict[str, Any], expect_alias: str | None, data: DataParams
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
    elif expect_alias and answer.get("alias") != expect_alias:
        failures.append(f"version: alias {answer.get('alias')!r}, expected {expect_alias!r}")
    return failures


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--timeout", type=float, default=120.0)
    args, serve_args = parser.parse_known_args(argv)
    params = load_params(args.params)
    test = read_parquet(params.paths.test)
    features = list(params.data.features)
    record = json.loads(test.loc[:0, features].to_json(orient="records"))[0]
    chosen = {"--model-path", "--model-uri"} & {arg.split("=")[0] for arg in serve_args}
    default_source = (
        not chosen and not os.environ.get("MODEL_PATH") and not os.environ.get("MODEL_URI")
    )
    port = free_port()
    process = start_service(serve_args, port=port)
    try:
        wait_ready(port, process, args.timeout)
        failures = run_checks(port, record, "champion" if default_source else None, params.data)
    finally:
        stop(process)
    if failures:
        raise PipelineError("smoke test failed: " + "; ".join(failures))
    print(
        f"smoke: the service answered health, predict (good and bad, a {params.data.task} "
        f"answer) and version on port {port}"
    )


if __name__ == "__main__":
    main()
