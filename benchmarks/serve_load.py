"""/health while big batches are scored, and the service's memory, one run.

The service serves the configured model file (paths.model, `--model-path`) with its default
limits. A client thread asks GET /health one request after another, first with the service
idle, then while BATCHES client threads each POST a ~6 MB CSV batch (the test split repeated) at
once. Reported: /health p50 and p99 idle and under load, their ratio, each batch's time, and the
server's RSS before, at its peak and after the batches (psutil, sampled every 20 ms).

Target: /health p99 <= 100 ms under load; RSS back near where it started afterwards.
Usage: python benchmarks/serve_load.py [--batches 4] [--megabytes 6] [--rounds 1]
(needs `make repro` first)
"""

from __future__ import annotations

import argparse
import http.client
import io
import statistics
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT

from tabular_mlops.core.params import load_params
from tabular_mlops.serving.smoke import HOST, free_port, start_service, stop, wait_ready


def csv_batch(test: pd.DataFrame, features: list[str], megabytes: float) -> bytes:
    """The test split's features as CSV, repeated to about `megabytes` MB."""
    buffer = io.StringIO()
    test[features].to_csv(buffer, index=False)
    header, _, rows = buffer.getvalue().partition("\n")
    repeat = max(1, round(megabytes * 1e6 / len(rows)))
    return (header + "\n" + rows * repeat).encode()


def health_latencies(port: int, stop_when: threading.Event | None, count: int) -> list[float]:
    """Seconds per GET /health on one keep-alive connection: `count` of them, or until
    `stop_when` is set."""
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    seconds: list[float] = []
    try:
        while (stop_when is None and len(seconds) < count) or (
            stop_when is not None and not stop_when.is_set()
        ):
            start = time.perf_counter()
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            seconds.append(time.perf_counter() - start)
            if response.status != 200:
                sys.exit(f"/health: HTTP {response.status}")
            time.sleep(0.005)
    finally:
        connection.close()
    return seconds


def post_batch(port: int, body: bytes, out: list[float]) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    start = time.perf_counter()
    connection.request("POST", "/predict/batch", body=body, headers={"Content-Type": "text/csv"})
    response = connection.getresponse()
    payload = response.read()
    out.append(time.perf_counter() - start)
    connection.close()
    if response.status != 200:
        sys.exit(f"/predict/batch: HTTP {response.status} {payload[:300]!r}")


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e3, p99 * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4, help="batches posted at once")
    parser.add_argument("--megabytes", type=float, default=6.0, help="size of each CSV batch")
    parser.add_argument("--rounds", type=int, default=1, help="times the batches are posted")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    test = pd.read_parquet(ROOT / params.paths.test)
    body = csv_batch(test, list(params.data.features), args.megabytes)
    rows = body.count(b"\n") - 1
    port = free_port()
    process = start_service(
        ["--params", str(ROOT / "params.yaml"), "--model-path", str(ROOT / params.paths.model)],
        port=port,
    )
    try:
        wait_ready(port, process)
        server = psutil.Process(process.pid)
        small = csv_batch(test.head(200), list(params.data.features), 0.01)
        post_batch(port, small, [])
        idle = health_latencies(port, None, 500)
        rss_before = server.memory_info().rss
        peak = [rss_before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], server.memory_info().rss)
                time.sleep(0.02)

        batch_seconds: list[float] = []
        loaded: list[float] = []
        sampler = threading.Thread(target=sample)
        prober = threading.Thread(target=lambda: loaded.extend(health_latencies(port, done, 0)))
        sampler.start()
        prober.start()
        start = time.perf_counter()
        for _ in range(args.rounds):
            clients = [
                threading.Thread(target=post_batch, args=(port, body, batch_seconds))
                for _ in range(args.batches)
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
        wall = time.perf_counter() - start
        done.set()
        prober.join()
        sampler.join()
        time.sleep(1.0)
        rss_after = server.memory_info().rss
    finally:
        stop(process)
    idle_p50, idle_p99 = percentiles(idle)
    load_p50, load_p99 = percentiles(loaded)
    mb = 2**20
    print(
        f"{args.rounds} x {args.batches} CSV batches of {len(body) / 1e6:.1f} MB "
        f"({rows:,} rows each) posted at once; {wall:.1f} s in all, each batch "
        f"{min(batch_seconds):.1f}-{max(batch_seconds):.1f} s (queueing included)"
    )
    print("| /health | requests | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(f"| idle | {len(idle)} | {idle_p50:.2f} | {idle_p99:.2f} |")
    print(f"| while batches are scored | {len(loaded)} | {load_p50:.2f} | {load_p99:.2f} |")
    print(
        f"| ratio (under load / idle) | | {load_p50 / idle_p50:.1f}x | {load_p99 / idle_p99:.1f}x |"
    )
    print(
        f"target /health p99 <= 100 ms under load: "
        f"{'met' if load_p99 <= 100 else 'NOT met'} ({load_p99:.1f} ms)"
    )
    print(
        f"server RSS: {rss_before / mb:.0f} MB before, {peak[0] / mb:.0f} MB at the peak, "
        f"{rss_after / mb:.0f} MB after"
    )


if __name__ == "__main__":
    main()
