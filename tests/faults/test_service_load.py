"""The real service on loopback under a few hundred mixed good and hostile requests from several
client threads at once: no 5xx, no traceback, the prediction log stays one valid JSON line per
scored record, and the server's memory stays flat after a warm-up round."""

from __future__ import annotations

import io
import json
import random
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest

from tabular_mlops.serving.smoke import HOST, free_port, request, start_service, stop, wait_ready
from tests.serve.conftest import (  # noqa: F401  (fixtures)
    CATEGORY,
    NUMBER,
    ROOT,
    model_path,
    store_env,
    test_split,
    unused_name,
)
from tests.support import typical_row

pytestmark = pytest.mark.pipeline
MAX_BODY = 200_000
MAX_ROWS = 300
CLIENTS = 4
PER_ROUND = 160
#: Growth of the server's RSS allowed between the end of the warm-up round and the end of the
#: measured rounds: far above allocator noise, far below what keeping requests would cost.
RSS_SLACK = 60 * 2**20


@dataclass(frozen=True)
class Sent:
    """One request: `scored` records when it must be answered 200, None when it must get a 4xx,
    and `hang_up` bytes of the body sent before the client disconnects."""

    kind: str
    path: str
    body: bytes
    content_type: str | None
    scored: int | None
    hang_up: int | None = None


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    log: Path
    out: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory, store_env) -> Iterator[Server]:  # noqa: F811
    work = tmp_path_factory.mktemp("load")
    port = free_port()
    args = ["--params", str(ROOT / "params.yaml"), "--prediction-log", str(work / "p.jsonl")]
    args += ["--max-body-bytes", str(MAX_BODY), "--max-batch-rows", str(MAX_ROWS)]
    process = start_service(
        [*args, "--max-concurrent-batches", "2"], port=port, env=store_env, log=work / "out"
    )
    try:
        wait_ready(port, process, timeout=120)
        yield Server(port, process.pid, work / "p.jsonl", work / "out")
    finally:
        stop(process)


@pytest.fixture(scope="module")
def rows(test_split, params) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # noqa: F811
    """A typical record and the test split's records, as JSON clients send them."""
    records = json.loads(test_split[list(params.data.features)].to_json(orient="records"))
    return json.loads(json.dumps(typical_row(test_split, params.data))), records


def csv_of(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def kinds(record: dict[str, Any], records: list[dict[str, Any]]) -> list[Any]:
    """Makers of one request each, from a random generator; good ones carry their record count."""
    one = json.dumps(record).encode()
    typo = unused_name(next(iter(record)))
    number, category = (NUMBER or [None])[0], (CATEGORY or [None])[0]
    big = [records[i % len(records)] for i in range(MAX_ROWS)]
    big_json = json.dumps(big).encode()
    if len(big_json) > MAX_BODY:
        big = big[: len(big) * MAX_BODY // len(big_json) // 2]
        big_json = json.dumps(big).encode()
    json_type = "application/json"
    makers = [
        lambda r: Sent("single", "/predict", one, json_type, 1),
        lambda r: Sent("single, no type", "/predict", one, None, 1),
        lambda r: Sent(
            "batch", "/predict/batch", json.dumps(r.sample(records, 5)).encode(), json_type, 5
        ),
        lambda r: Sent(
            "csv batch",
            "/predict/batch",
            csv_of(r.sample(records, 7)),
            "text/csv; charset=utf-8",
            7,
        ),
        lambda r: Sent("big batch", "/predict/batch", big_json, json_type, len(big)),
        lambda r: Sent("bad JSON", "/predict", one[: r.randrange(1, len(one))], json_type, None),
        lambda r: Sent(
            "surrogate key",
            "/predict",
            json.dumps({**record, "\ud800": 1}).encode(),
            json_type,
            None,
        ),
        lambda r: Sent(
            "unknown field", "/predict", json.dumps({**record, typo: 1}).encode(), json_type, None
        ),
        lambda r: Sent("not a list", "/predict/batch", one, json_type, None),
        lambda r: Sent("look-alike type", "/predict", one, "application/notjson+json", None),
        lambda r: Sent("latin-1", "/predict", one, "application/json; charset=latin-1", None),
        lambda r: Sent(
            "oversized", "/predict/batch", b"[" + b" " * MAX_BODY + b"]", json_type, None
        ),
        lambda r: Sent(
            "too many rows",
            "/predict/batch",
            csv_of([records[i % len(records)] for i in range(MAX_ROWS + 1)]),
            "text/csv",
            None,
        ),
        lambda r: Sent(
            "random bytes",
            "/predict/batch",
            r.randbytes(r.randrange(1, 300)),
            r.choice([json_type, "text/csv"]),
            None,
        ),
        lambda r: Sent(
            "hang-up",
            "/predict/batch",
            big_json,
            json_type,
            None,
            hang_up=r.randrange(0, len(big_json)),
        ),
    ]
    if number is not None:
        makers.append(
            lambda r: Sent(
                "string for a number",
                "/predict",
                json.dumps({**record, number: "x"}).encode(),
                json_type,
                None,
            )
        )
    if category is not None:
        makers.append(
            lambda r: Sent(
                "surrogate category",
                "/predict",
                json.dumps({**record, category: "\udc80"}).encode(),
                json_type,
                1,
            )
        )
        makers.append(
            lambda r: Sent(
                "number for a category",
                "/predict",
                json.dumps({**record, category: 3}).encode(),
                json_type,
                None,
            )
        )
    return makers


def send(port: int, sent: Sent) -> int | None:
    """The answer's status; None for a client that hung up mid-body."""
    if sent.hang_up is not None:
        with socket.create_connection((HOST, port), timeout=30) as sock:
            sock.sendall(
                f"POST {sent.path} HTTP/1.1\r\nHost: x\r\nContent-Type: {sent.content_type}\r\n"
                f"Content-Length: {len(sent.body)}\r\n\r\n".encode()
                + sent.body[: sent.hang_up]
            )
        return None
    status, _ = request(
        port,
        "POST",
        sent.path,
        sent.body,
        **({"content_type": sent.content_type} if sent.content_type else {}),
        timeout=60,
    )
    return status


def run_round(server: Server, makers: list[Any], seed: int) -> tuple[int, list[str]]:
    """PER_ROUND requests from CLIENTS threads: records scored, and what went wrong."""
    rng = random.Random(seed)
    batch = [rng.choice(makers)(rng) for _ in range(PER_ROUND)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(lambda sent: send(server.port, sent), batch))
    problems = [
        f"{sent.kind}: HTTP {status}"
        for sent, status in zip(batch, statuses, strict=True)
        if sent.hang_up is None
        and (status != 200 if sent.scored is not None else not 400 <= status < 500)
    ]
    return sum(s.scored or 0 for s in batch), problems


def test_mixed_hostile_load_gets_no_5xx_keeps_the_log_valid_and_memory_flat(server, rows) -> None:
    makers = kinds(*rows)
    scored, problems = run_round(server, makers, seed=0)
    assert problems == []
    rss_warm = psutil.Process(server.pid).memory_info().rss
    for seed in (1, 2):
        more, problems = run_round(server, makers, seed=seed)
        assert problems == []
        scored += more
    rss_after = psutil.Process(server.pid).memory_info().rss
    assert request(server.port, "GET", "/health")[0] == 200
    lines = server.log.read_bytes().splitlines()
    assert len(lines) == scored
    assert all(isinstance(json.loads(line), dict) for line in lines)
    output = server.out.read_text(errors="replace")
    assert "Traceback" not in output and "Exception" not in output, output[-3000:]
    assert rss_after - rss_warm < RSS_SLACK, (rss_warm, rss_after)
