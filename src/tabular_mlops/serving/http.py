"""The HTTP edge of the service: body size, content type, request id and JSON encoding.

Everything a client sends reaches a message only through `inputs.shown`, and every answer is
encoded by `dumps`, which escapes what orjson refuses, so no client text can turn into a 500.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from tabular_mlops.serving.inputs import InputError, shown

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA = re.compile(rf"[ \t]*({_TOKEN})/({_TOKEN})(.*)", re.DOTALL)
_PARAMETER = re.compile(
    rf'[ \t]*;[ \t]*(?:({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*"))?[ \t]*', re.DOTALL
)
log = logging.getLogger("uvicorn.error")


class ClientGone(Exception):
    """The client hung up before its body was complete: nothing to answer, nothing to score."""


def _escaped(value: Any) -> Any:
    """`value` with every string orjson refuses (lone surrogates) backslash-escaped, and every
    other object it refuses (integers past 64 bits, unknown types) as its repr."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_escaped(str(key)): _escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else repr(value)
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError:
        return repr(value)


def dumps(value: Any) -> bytes:
    """JSON bytes of `value`; whatever orjson refuses is written escaped rather than raised."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return orjson.dumps(_escaped(value))


def respond(payload: dict[str, Any], status: int = 200, request_id: str | None = None) -> Response:
    headers = {"x-request-id": request_id} if request_id else None
    return Response(
        dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


def refuse(err: InputError, request_id: str) -> Response:
    return respond({"error": err.message, "request_id": request_id}, err.status, request_id)


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    return given if given and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` (lower case) and its parameters (names lower case, quotes removed), as
    RFC 9110 section 8.3.1 spells a media type; 415 when the header is not one."""
    match = _MEDIA.fullmatch(value)
    rest = match.group(3).rstrip(" \t") if match else ""
    parameters: dict[str, str] = {}
    position = 0
    while match and position < len(rest):
        parameter = _PARAMETER.match(rest, position)
        if parameter is None:
            match = None
            break
        name, given = parameter.groups()
        if name is not None:
            unquoted = (
                re.sub(r"\\(.)", r"\1", given[1:-1], flags=re.DOTALL)
                if given.startswith('"')
                else given
            )
            parameters[name.lower()] = unquoted
        position = parameter.end()
    if match is None:
        raise InputError(415, f"malformed Content-Type header {shown(value)}")
    return f"{match.group(1)}/{match.group(2)}".lower(), parameters


def content_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type, one of `accepted` (the first when the header is absent); 415
    naming what is accepted otherwise, or when a charset other than UTF-8 or a compressed body
    is declared."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise InputError(
            415, f"Content-Encoding {shown(encoding)} is not accepted; send the body uncompressed"
        )
    header = request.headers.get("content-type")
    if header is None or not header.strip():
        return accepted[0]
    expected = " or ".join(accepted)
    try:
        media, parameters = parse_media_type(header)
    except InputError as err:
        raise InputError(415, f"{err.message}; send {expected}") from None
    if media not in accepted:
        raise InputError(415, f"Content-Type {shown(media)} is not accepted; send {expected}")
    charset = parameters.get("charset")
    if charset is not None and charset.lower() != "utf-8":
        raise InputError(415, f"charset {shown(charset)} is not accepted; send UTF-8 {expected}")
    return media


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes; `ClientGone`
    when the client hangs up before it is complete."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError(400, f"invalid Content-Length header {shown(declared)}")
        if int(declared) > limit:
            raise InputError(
                413, f"body of {declared} bytes exceeds the limit of {limit} (SERVE_MAX_BODY_BYTES)"
            )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise InputError(
                    413, f"body exceeds the limit of {limit} bytes (SERVE_MAX_BODY_BYTES)"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone(f"client disconnected after {size} bytes of the body") from None
    return b"".join(chunks)


def gone(err: ClientGone, rid: str, path: str) -> Response:
    """One log line for a client that hung up; the answer goes nowhere, so it is a plain 400."""
    log.warning("%s request %s: %s", path, rid, err)
    return Response(status_code=400, headers={"x-request-id": rid})
