"""Where a reader finds a registered model's production history: the MLflow server's page of the
model when the store is a server, else the command that prints it."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

HISTORY_COMMAND = "make history"


def history_link(tracking_uri: str, name: str) -> str:
    """The registered model's page on a tracking server (credentials dropped), or `make history`."""
    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https"):
        return HISTORY_COMMAND
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return f"{base}/#/models/{quote(name, safe='')}"
