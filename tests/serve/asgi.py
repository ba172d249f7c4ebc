"""Calling the ASGI app in-process, byte for byte: any body, any headers, a body cut short by a
client that hangs up, and several requests at once on one event loop."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """What the app sent: the status (None when it started no response) and the JSON body."""

    status: int | None
    body: Any
    raised: BaseException | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


def scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def acall(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    hang_up_after: int | None = None,
) -> Answer:
    """One request; with `hang_up_after`, the client sends that many bytes of the body, then
    disconnects (as uvicorn reports it: an `http.disconnect` message)."""
    sent_body = body if hang_up_after is None else body[:hang_up_after]
    incoming = [{"type": "http.request", "body": sent_body, "more_body": hang_up_after is not None}]
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    raised = None
    try:
        await app(scope(method, path, headers or {}), receive, send)
    except Exception as err:  # the test asserts on it
        raised = err
    status = next((m["status"] for m in messages if m["type"] == "http.response.start"), None)
    raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw
    return Answer(status, decoded, raised, messages)


def call(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Answer:
    return asyncio.run(acall(app, method, path, body, headers, **kwargs))


def post_json(app: Any, path: str, payload: Any, content_type: str = "application/json") -> Answer:
    """`payload` as JSON text; json.dumps escapes a lone surrogate as the legal `\\ud800`."""
    return call(app, "POST", path, json.dumps(payload).encode(), {"content-type": content_type})
