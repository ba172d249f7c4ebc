"""A tracking server's failures as one line: down, refusing the credentials, or forbidding.

MLflow's client retries a failing request seven times with a growing back-off (minutes in all),
so a server that is down would look like a hang. Unless the user set them, the commands here
retry twice, a second apart, and the server is asked once before anything is written. Artifacts
come through the server (its proxy), never by presigned URLs straight from the object store:
clients then need neither the store's network nor its credentials.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

from tabular_mlops.core.errors import PipelineError, first_line

RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
HEALTH_TIMEOUT = 10.0
CREDENTIALS = "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def client_defaults() -> None:
    for key, value in RETRIES.items():
        os.environ.setdefault(key, value)


def answers(uri: str) -> str | None:
    """None when `<uri>/health` answers 200, else why not, in a few words."""
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT) as reply:
            return None if reply.status == 200 else f"HTTP {reply.status} from /health"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} from /health"
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        text = first_line(reason) if isinstance(reason, BaseException) else str(reason)
        return f"does not answer: {text}"


def check(client: Any, uri: str) -> None:
    """Raise one line naming `uri` when the server is down or refuses this client."""
    down = answers(uri)
    if down is not None:
        raise PipelineError(f"registry {uri}: the tracking server {down}")
    try:
        client.search_experiments(max_results=1)
    except Exception as err:
        raise PipelineError(refusal(uri, err)) from None


def refusal(uri: str, err: BaseException) -> str:
    code = str(getattr(err, "error_code", ""))
    if code == "UNAUTHENTICATED" or " 401 " in str(err):
        return f"registry {uri}: the server refused the credentials (HTTP 401): check {CREDENTIALS}"
    if code == "PERMISSION_DENIED" or " 403 " in str(err):
        return (
            f"registry {uri}: the server denied this user access (HTTP 403): "
            "ask its admin for EDIT or MANAGE permission"
        )
    return f"registry {uri}: {first_line(err)[:300]}"
