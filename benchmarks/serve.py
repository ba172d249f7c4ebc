"""The service's speed: single-record latency for a model of every task and family, and this
project's service vs `mlflow models serve` on the configured model, one run.

Every task and family (benchmarks/_tasks.py): a model fitted on synthetic data with the configured
hyper-parameters, served by this project's app, one-record requests one after another: p50 and
p99 (ms), and whether the compiled path serves it. Target: p50 <= 1 ms.

The comparison: both servers serve the same registered model version (paths.model logged and
registered as `<track.registered_model>@champion` in a scratch MLflow store, as `track` logs it),
one worker each, on loopback; this script is the client, a second process, over one keep-alive
connection per server.

  single   one-record requests, one after another: latency p50 and p99 (ms)
  batch    1,000-record requests: rows per second

Targets: at least 2x MLflow's server on p50 latency and on batch throughput.
Usage: python benchmarks/serve.py [--single N] [--batches N] [--skip-tasks] [--skip-mlflow]
(the comparison needs `make repro` first)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, scratch
from _tasks import FAMILIES, records

from tabular_mlops.core.params import Params, load_params
from tabular_mlops.core.task import TASKS
from tabular_mlops.serving.smoke import (
    HOST,
    free_port,
    request,
    start_service,
    stop,
    wait_ready,
)
from tabular_mlops.stages.track import (
    input_example,
    model_metadata,
    model_signature,
    predict_function,
)


def register(params: Params, store: str, model_path: Path, split: pd.DataFrame) -> None:
    """Log the pipeline's model as `track` does and make it the champion of a scratch store."""
    import mlflow
    from mlflow import MlflowClient

    model = joblib.load(model_path)
    task, name = params.data.task, params.track.registered_model
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("bench-serve")
    with mlflow.start_run():
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=model_signature(model, split, params),
            input_example=input_example(split, params),
            pyfunc_predict_fn=predict_function(task),
            metadata=model_metadata(params),
            serialization_format="cloudpickle",
            registered_model_name=name,
        )
    MlflowClient(store).set_registered_model_alias(
        name, "champion", str(logged.registered_model_version)
    )


def start_mlflow(port: int, name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{name}@champion",
                "--env-manager",
                "local",
                "-h",
                HOST,
                "-p",
                str(port),
            ],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def timings(port: int, path: str, bodies: list[bytes]) -> list[float]:
    """Seconds per request, sent one after another on one keep-alive connection."""
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    headers = {"Content-Type": "application/json"}
    seconds = []
    try:
        for body in bodies:
            start = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            seconds.append(time.perf_counter() - start)
            if response.status != 200:
                sys.exit(f"{path} on port {port}: HTTP {response.status} {payload[:300]!r}")
    finally:
        connection.close()
    return seconds


def measure(port: int, one, many, records: list[dict], single: int, batches: int) -> dict:
    """`one`/`many`: (path, record(s) -> body) for one-record and 1,000-record requests."""
    (one_path, one_body), (many_path, many_body) = one, many
    timings(port, one_path, [one_body(records[i % len(records)]) for i in range(50)])
    ones = [one_body(records[i % len(records)]) for i in range(single)]
    latencies = sorted(timings(port, one_path, ones))
    chunk = [records[i % len(records)] for i in range(1000)]
    bodies = [many_body(chunk) for _ in range(batches)]
    timings(port, many_path, bodies[:2])
    batch_seconds = sum(timings(port, many_path, bodies))
    return {
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        "rows_per_s": 1000 * batches / batch_seconds,
    }


def single_latency(port: int, rows: list[dict], single: int) -> dict:
    """p50 and p99 (ms) of one-record /predict requests, after a warm-up."""
    body = [json.dumps(rows[i % len(rows)]).encode() for i in range(single)]
    timings(port, "/predict", body[:50])
    latencies = sorted(timings(port, "/predict", body))
    return {
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
    }


def every_task(single: int, env: dict[str, str], work: Path) -> list[tuple[str, str, bool, dict]]:
    """A synthetic model of each task and family, served and timed one after another."""
    results = []
    for task in TASKS:
        rows = records(task)
        for family in FAMILIES:
            port = free_port()
            log = work / f"{task}-{family}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        str(Path(__file__).resolve().parent / "_tasks.py"),
                        task,
                        family,
                        str(port),
                        str(ROOT / "params.yaml"),
                    ],
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                wait_ready(port, process, timeout=600)
                compiled = bool(request(port, "GET", "/version")[1]["compiled"])
                results.append((task, family, compiled, single_latency(port, rows, single)))
            except Exception:
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            finally:
                stop(process)
            row = results[-1][3]
            print(f"  {task} {family}: p50 {row['p50_ms']:.2f} ms", file=sys.stderr, flush=True)
    return results


def compare(args: argparse.Namespace, params: Params, env: dict[str, str], work: Path) -> dict:
    """This service and `mlflow models serve` on the configured model, one after the other."""
    features = list(params.data.features)
    name = params.track.registered_model
    test = pd.read_parquet(ROOT / params.paths.test)
    rows = json.loads(test[features].to_json(orient="records"))
    register(params, env["MLFLOW_TRACKING_URI"], ROOT / params.paths.model, test)
    ours_port, mlflow_port = free_port(), free_port()
    ours = start_service(
        ["--params", str(ROOT / "params.yaml")], port=ours_port, log=work / "ours.log"
    )
    theirs = start_mlflow(mlflow_port, name, env, work / "mlflow.log")
    try:
        wait_ready(ours_port, ours)
        wait_ready(mlflow_port, theirs, timeout=180, path="/ping")
        return {
            "mlflow models serve": measure(
                mlflow_port,
                ("/invocations", lambda row: json.dumps({"dataframe_records": [row]}).encode()),
                ("/invocations", lambda rows: json.dumps({"dataframe_records": rows}).encode()),
                rows,
                args.single,
                args.batches,
            ),
            "this service": measure(
                ours_port,
                ("/predict", lambda row: json.dumps(row).encode()),
                ("/predict/batch", lambda rows: json.dumps(rows).encode()),
                rows,
                args.single,
                args.batches,
            ),
        }
    except Exception:
        for log in ("ours.log", "mlflow.log"):
            tail = (work / log).read_text(errors="replace")[-3000:]
            print(f"--- {log}\n{tail}", file=sys.stderr)
        raise
    finally:
        stop(ours)
        stop(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="one-record requests")
    parser.add_argument("--batches", type=int, default=30, help="1,000-record requests")
    parser.add_argument("--skip-tasks", action="store_true", help="no per-task models")
    parser.add_argument("--skip-mlflow", action="store_true", help="no MLflow comparison")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    work = scratch()
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    os.environ.update(env)
    os.chdir(work)  # the scratch store keeps its artifacts (mlruns/) beside itself
    try:
        tasks = [] if args.skip_tasks else every_task(args.single, env, work)
        results = {} if args.skip_mlflow else compare(args, params, env, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if tasks:
        print(
            f"every task and family: {args.single} single-record requests each (target p50 <= 1 ms)"
        )
        print("| task | family | compiled | p50 ms | p99 ms |")
        print("|---|---|---|---:|---:|")
        for task, family, compiled, row in tasks:
            print(
                f"| {task} | {family} | {'yes' if compiled else 'no'} | "
                f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
            )
    if not results:
        return
    mine, base = results["this service"], results["mlflow models serve"]
    print(
        f"the configured model ({params.data.task}, {params.train.model}) vs mlflow models serve: "
        f"single-record requests: {args.single}; batches: {args.batches} x 1,000 rows"
    )
    print("| server | p50 ms | p99 ms | batch rows/s |")
    print("|---|---:|---:|---:|")
    for name, row in results.items():
        print(f"| {name} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['rows_per_s']:,.0f} |")
    print(
        f"| ratio (MLflow / this service) | {base['p50_ms'] / mine['p50_ms']:.1f}x | "
        f"{base['p99_ms'] / mine['p99_ms']:.1f}x | "
        f"{mine['rows_per_s'] / base['rows_per_s']:.1f}x |"
    )


if __name__ == "__main__":
    main()
