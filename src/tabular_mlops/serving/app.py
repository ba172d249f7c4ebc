"""The prediction service: the champion model behind a small ASGI app (Starlette on uvicorn).

The model is loaded and self-checked before the socket opens, so a service that answers at all
is ready. `python -m tabular_mlops.serving.app --help` lists the options; every option has an
environment variable, so the same command serves in a shell, `make serve` and the Docker image.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.params import load_params
from tabular_mlops.serving.answers import batch as batch_answer
from tabular_mlops.serving.answers import per_record
from tabular_mlops.serving.http import (
    ClientGone,
    content_type,
    dumps,
    gone,
    read_body,
    refuse,
    request_id,
    respond,
)
from tabular_mlops.serving.inputs import (
    InputError,
    check_records,
    check_rows,
    parse_csv,
    parse_json,
)
from tabular_mlops.serving.model import ServedModel, load_model

DEFAULT_MAX_BODY_BYTES = 10_000_000
DEFAULT_MAX_BATCH_ROWS = 100_000
DEFAULT_MAX_CONCURRENT_BATCHES = 1
#: Bodies up to this size are answered on the event loop (a thread hop costs more than them).
INLINE_BYTES = 64 * 1024


class PredictionLog:
    """JSON lines, one per scored record: what production saw and answered, for the drift watch
    (the answer's fields as serving/answers.py shapes them for the task). Batches are scored in
    worker threads, so a lock keeps each request's lines together."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("ab")
        self._lock = threading.Lock()

    def write(
        self,
        request_id: str,
        version: str,
        columns: dict[str, list[Any]],
        answers: list[dict[str, Any]],
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        names = list(columns)
        lines = [
            dumps(
                {
                    "request_id": request_id,
                    "time": now,
                    "model_version": version,
                    "inputs": {name: columns[name][row] for name in names},
                    **answer,
                }
            )
            for row, answer in enumerate(answers)
        ]
        with self._lock:
            self._file.write(b"\n".join(lines) + b"\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def create_app(
    model: ServedModel,
    *,
    ignored: frozenset[str] = frozenset(),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    max_concurrent_batches: int = DEFAULT_MAX_CONCURRENT_BATCHES,
    prediction_log: PredictionLog | None = None,
) -> Starlette:
    """The ASGI app around an already loaded model; fields in `ignored` (the id) may be sent.

    A body over INLINE_BYTES is parsed, checked and scored in a worker thread, at most
    `max_concurrent_batches` at once (the others wait), so the event loop keeps answering."""
    features = model.features
    version = model.version
    task, labels = model.task, model.labels
    gate = anyio.Semaphore(max_concurrent_batches)

    def score(
        request_id: str, records: list[Any], *, batch: bool
    ) -> tuple[np.ndarray, list[dict[str, Any]], list[str]]:
        columns, warnings = check_records(records, features, ignored, batch=batch)
        scores = model.predict(columns)
        answers = per_record(task, labels, scores)
        if prediction_log is not None:
            prediction_log.write(request_id, version, columns, answers)
        return scores, answers, warnings

    def one(request_id: str, body: bytes) -> Response:
        payload = parse_json(body)
        if isinstance(payload, list):
            raise InputError(422, "expected one JSON object; send a list to /predict/batch")
        _, answers, warnings = score(request_id, [payload], batch=False)
        return respond(
            {
                "request_id": request_id,
                "model_version": version,
                **answers[0],
                "warnings": warnings,
            },
            request_id=request_id,
        )

    def many(request_id: str, body: bytes, media: str) -> Response:
        if media == "text/csv":
            records: Any = parse_csv(body, features, max_batch_rows)
        else:
            records = parse_json(body)
            if not isinstance(records, list):
                raise InputError(
                    422, "expected a JSON list of records; send one object to /predict"
                )
            check_rows(len(records), max_batch_rows)
        scores, answers, warnings = score(request_id, records, batch=True)
        return respond(
            {
                "request_id": request_id,
                "model_version": version,
                **batch_answer(task, answers, scores),
                "warnings": warnings,
            },
            request_id=request_id,
        )

    async def answer(
        request: Request, accepted: tuple[str, ...], work: Callable[..., Response]
    ) -> Response:
        rid = request_id(request)
        try:
            media = content_type(request, accepted)
            body = await read_body(request, max_body_bytes)
            if len(body) <= INLINE_BYTES:
                return work(rid, body, media)
            async with gate:
                return await run_in_threadpool(work, rid, body, media)
        except InputError as err:
            return refuse(err, rid)
        except ClientGone as err:
            return gone(err, rid, request.url.path)

    async def predict(request: Request) -> Response:
        return await answer(request, ("application/json",), lambda rid, body, _: one(rid, body))

    async def predict_batch(request: Request) -> Response:
        return await answer(request, ("application/json", "text/csv"), many)

    async def health(request: Request) -> Response:
        return respond({"status": "ready", "model_version": version})

    async def version_info(request: Request) -> Response:
        return respond(
            {
                **model.info,
                "features": [
                    {
                        "name": f.name,
                        "type": "number" if f.numeric else "string",
                        "nullable": f.nullable,
                    }
                    for f in features
                ],
            }
        )

    async def on_error(request: Request, exc: Exception) -> Response:
        return respond({"error": f"internal error ({exc.__class__.__name__})"}, 500)

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/predict/batch", predict_batch, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/version", version_info, methods=["GET"]),
        ],
        exception_handlers={Exception: on_error},
    )


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise PipelineError(
            f"environment variable {name}: expected a positive integer, got {raw!r}"
        )
    return int(raw)


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {raw!r}")
    return int(raw)


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--model-uri",
        default=env("MODEL_URI") or None,
        help="MLflow model URI (env MODEL_URI; default models:/<track.registered_model>@champion)",
    )
    parser.add_argument(
        "--model-path",
        default=env("MODEL_PATH") or None,
        help="serve a joblib file such as models/model.pkl instead (env MODEL_PATH)",
    )
    parser.add_argument("--host", default=env("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="env PORT; default 8000")
    parser.add_argument(
        "--prediction-log",
        default=env("PREDICTION_LOG") or None,
        help="append one JSON line per scored record here (env PREDICTION_LOG; default off)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=None,
        help=f"larger bodies get 413 (env SERVE_MAX_BODY_BYTES; default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--max-batch-rows",
        type=_positive,
        default=None,
        help="batches of more records get 413 "
        f"(env SERVE_MAX_BATCH_ROWS; default {DEFAULT_MAX_BATCH_ROWS})",
    )
    parser.add_argument(
        "--max-concurrent-batches",
        type=_positive,
        default=None,
        help="large requests scored at once, the others wait "
        f"(env SERVE_MAX_CONCURRENT_BATCHES; default {DEFAULT_MAX_CONCURRENT_BATCHES})",
    )
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else _env_int("PORT", 8000)
    limit = args.max_body_bytes or _env_int("SERVE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    rows = args.max_batch_rows or _env_int("SERVE_MAX_BATCH_ROWS", DEFAULT_MAX_BATCH_ROWS)
    concurrent = args.max_concurrent_batches or _env_int(
        "SERVE_MAX_CONCURRENT_BATCHES", DEFAULT_MAX_CONCURRENT_BATCHES
    )
    params = load_params(args.params)
    model = load_model(params, model_uri=args.model_uri, model_path=args.model_path)
    log = PredictionLog(args.prediction_log) if args.prediction_log else None
    app = create_app(
        model,
        ignored=frozenset(
            [name for name, spec in params.data.columns.items() if spec.kind == "ignored"]
            + ([params.data.id_column] if params.data.id_column is not None else [])
        ),
        max_body_bytes=limit,
        max_batch_rows=rows,
        max_concurrent_batches=concurrent,
        prediction_log=log,
    )
    info = model.info
    print(
        f"serve: {info['model_name']} version {info['model_version']}"
        + (f" (alias {info['alias']})" if info["alias"] else "")
        + f" from {info['source']} on http://{args.host}:{port}"
        + (f", logging predictions to {log.path}" if log else ""),
        flush=True,
    )
    import uvicorn

    try:
        uvicorn.run(
            app, host=args.host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
    finally:
        if log is not None:
            log.close()


if __name__ == "__main__":
    sys.exit(main())
