"""A store's failure as one line: who refused, why, and what to check.

The libraries behind DVC's remotes (botocore, gcsfs, adlfs, asyncssh) and MLflow raise their own
errors; what a user needs is the same three answers whatever the backend: the credentials were
refused, the store cannot be reached, or the bucket (folder) is missing. Errors are told apart
by their type's name along the exception chain, so no backend has to be imported to be
recognised. Calls that could hang on a silent network run under a deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

from tabular_mlops.core.errors import first_line, one_line

T = TypeVar("T")
Kind = Literal["credentials", "unreachable", "missing", "other"]

CREDENTIAL_ERRORS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "DefaultCredentialsError",
    "RefreshError",
    "ClientAuthenticationError",
    "PermissionDenied",
}
CONNECTION_ERRORS = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "ServiceRequestError",
    "gaierror",
    "DisconnectError",
}
#: Error codes S3 (and the stores that mimic it) answer for a key it refuses.
CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "ExpiredToken",
    "InvalidToken",
    "InvalidClientTokenId",
    "403",
    "401",
}
MISSING_CODES = {"NoSuchBucket", "ContainerNotFound", "404"}

#: Where each DVC remote type takes its credentials from, for the "check ..." advice.
CREDENTIALS = {
    "s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS (a service account's key file)",
    "gcs": "GOOGLE_APPLICATION_CREDENTIALS (a service account's key file)",
    "azure": "AZURE_STORAGE_CONNECTION_STRING (or the remote's account_name and account_key)",
    "ssh": "the remote's user and keyfile (dvc remote modify --local <remote> user|keyfile)",
    "local": "this user's permissions on the folder",
}


def bounded(seconds: float, call: Callable[[], T], what: str) -> T:
    """`call()`'s result, or TimeoutError after `seconds`: the call is left to finish in a daemon
    thread, so a store that never answers cannot hold the process."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # handed to the caller's thread below
            box["error"] = err

    thread = threading.Thread(target=run, name=f"bounded: {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _code(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def kind(err: BaseException) -> Kind:
    """Which of the three usual failures `err` is, looking through its causes."""
    for link in chain(err):
        names = {cls.__name__ for cls in type(link).__mro__}
        code = _code(link)
        if isinstance(link, PermissionError) or names & CREDENTIAL_ERRORS:
            return "credentials"
        if code in CREDENTIAL_CODES:
            return "credentials"
        if code in MISSING_CODES or isinstance(link, FileNotFoundError):
            return "missing"
        if isinstance(link, ConnectionError | TimeoutError) or names & CONNECTION_ERRORS:
            return "unreachable"
    return "other"


def reason(err: BaseException) -> str:
    return one_line(first_line(err))[:300]


def remote_problem(url: str, protocol: str, err: BaseException, endpoint: str | None) -> str:
    """One line: the DVC remote at `url` failed with `err`; what to check."""
    why = reason(err)
    found = kind(err)
    if found == "credentials":
        hint = CREDENTIALS.get(protocol, "the remote's credentials (see `dvc remote modify`)")
        return f"DVC remote {url} refused the credentials ({why}): check {hint}"
    if found == "unreachable":
        where = f" at {endpoint}" if endpoint else ""
        check = "AWS_ENDPOINT_URL, " if endpoint else ""
        return (
            f"DVC remote {url} is unreachable{where} ({why}): check {check}the URL and that "
            "the store runs and this machine can reach it"
        )
    if found == "missing":
        return f"DVC remote {url} does not exist ({why}): create the bucket, or fix the URL"
    return f"DVC remote {url}: {why}"
