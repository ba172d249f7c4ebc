"""The prediction service: the champion model behind a small ASGI app (Starlette on uvicorn).

The model is loaded and self-checked before the socket opens, so a service that answers at all
is ready. `python -m tabular_mlops.serving.app --help` lists the options; every option has an
environment variable, so the same command serves in a shell, `make serve` and the Docker image.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.params import load_params
from tabular_mlops.serving.answers import batch as batch_answer
from tabular_mlops.serving.answers import per_record
from tabular_mlops.serving.inputs import InputError, check_records, parse_csv, parse_json
from tabular_mlops.serving.model import ServedModel, load_model

DEFAULT_MAX_BODY_BYTES = 10_000_000
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class PredictionLog:
    """JSON lines, one per scored record: what production saw and answered, for the drift watch
    (the answer's fields as serving/answers.py shapes them for the task)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("ab")

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
            orjson.dumps(
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
        self._file.write(b"\n".join(lines) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _json(payload: dict[str, Any], status: int = 200, request_id: str | None = None) -> Response:
    headers = {"x-request-id": request_id} if request_id else None
    return Response(
        orjson.dumps(payload),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(err: InputError, request_id: str) -> Response:
    return _json({"error": err.message, "request_id": request_id}, err.status, request_id)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError(400, f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise InputError(
                413, f"body of {declared} bytes exceeds the limit of {limit} (SERVE_MAX_BODY_BYTES)"
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, f"body exceeds the limit of {limit} bytes (SERVE_MAX_BODY_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    return given if given and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def create_app(
    model: ServedModel,
    *,
    ignored: frozenset[str] = frozenset(),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    prediction_log: PredictionLog | None = None,
) -> Starlette:
    """The ASGI app around an already loaded model; fields in `ignored` (the id) may be sent."""
    features = model.features
    version = model.version
    task, labels = model.task, model.labels

    def score(
        request_id: str, records: list[Any], *, batch: bool
    ) -> tuple[np.ndarray, list[dict[str, Any]], list[str]]:
        columns, warnings = check_records(records, features, ignored, batch=batch)
        scores = model.predict(columns)
        answers = per_record(task, labels, scores)
        if prediction_log is not None:
            prediction_log.write(request_id, version, columns, answers)
        return scores, answers, warnings

    async def predict(request: Request) -> Response:
        request_id = _request_id(request)
        try:
            media = _media_type(request)
            if media and "json" not in media:
                raise InputError(415, f"expected Content-Type application/json, got {media!r}")
            payload = parse_json(await _read_body(request, max_body_bytes))
            if isinstance(payload, list):
                raise InputError(422, "expected one JSON object; send a list to /predict/batch")
            _, answers, warnings = score(request_id, [payload], batch=False)
        except InputError as err:
            return _error(err, request_id)
        body = {
            "request_id": request_id,
            "model_version": version,
            **answers[0],
            "warnings": warnings,
        }
        return _json(body, request_id=request_id)

    async def predict_batch(request: Request) -> Response:
        request_id = _request_id(request)
        try:
            media = _media_type(request)
            body = await _read_body(request, max_body_bytes)
            if media == "text/csv":
                records: Any = parse_csv(body, features)
            elif not media or "json" in media:
                records = parse_json(body)
            else:
                raise InputError(415, f"expected application/json or text/csv, got {media!r}")
            if not isinstance(records, list):
                raise InputError(
                    422, "expected a JSON list of records; send one object to /predict"
                )
            scores, answers, warnings = score(request_id, records, batch=True)
        except InputError as err:
            return _error(err, request_id)
        body = {
            "request_id": request_id,
            "model_version": version,
            **batch_answer(task, answers, scores),
            "warnings": warnings,
        }
        return _json(body, request_id=request_id)

    async def health(request: Request) -> Response:
        return _json({"status": "ready", "model_version": version})

    async def version_info(request: Request) -> Response:
        return _json(
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
        return _json({"error": f"internal error ({exc.__class__.__name__})"}, 500)

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
        type=int,
        default=None,
        help=f"larger bodies get 413 (env SERVE_MAX_BODY_BYTES; default {DEFAULT_MAX_BODY_BYTES})",
    )
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else _env_int("PORT", 8000)
    limit = args.max_body_bytes or _env_int("SERVE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
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
