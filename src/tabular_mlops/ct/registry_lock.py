"""One writer at a time on a shared MLflow store, across machines: a lock held in the registry.

A file lock only serializes the processes of one machine. Against a tracking server the lock is
a registered model named `<model>.lock`: creating a registered model whose name exists fails in
the server's database (a unique key), so exactly one `create` wins, whichever machine sent it.
The holder deletes it when done. The lock carries its owner (host, pid, process start time), so
a lock left by a killed process on this host is released at once, and one from another host
after `FOREIGN_AFTER_MINUTES`; deleting the registered model by hand releases it too.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tabular_mlops.core.errors import PipelineError, first_line
from tabular_mlops.ct import runs

#: A lock whose owner this machine cannot check is abandoned after this long.
FOREIGN_AFTER_MINUTES = 60
POLL_SECONDS = 0.5
COMMAND_TAG = "tabular_mlops.command"
DESCRIPTION = (
    "Held while `make {command}` writes to this registry (tabular-mlops). "
    "Delete it only if that process is gone."
)


def lock_name(model: str) -> str:
    return f"{model}.lock"


def _code(err: BaseException) -> str:
    return str(getattr(err, "error_code", ""))


def _holder(client: Any, name: str) -> Any | None:
    try:
        return client.get_registered_model(name)
    except Exception as err:
        if _code(err) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _abandoned(holder: Any, now: float) -> bool:
    tags = dict(holder.tags or {})
    created_ms = int(holder.creation_timestamp or 0)
    if tags.get(runs.HOST_TAG) == runs.socket.gethostname():
        return runs.is_dead(tags, created_ms, now)
    return now - created_ms / 1000 > FOREIGN_AFTER_MINUTES * 60


def _describe(holder: Any) -> str:
    tags = dict(holder.tags or {})
    return (
        f"{tags.get(COMMAND_TAG, 'a command')} pid {tags.get(runs.PID_TAG, '?')} "
        f"on {tags.get(runs.HOST_TAG, 'an unknown host')}"
    )


@contextmanager
def registry_lock(client: Any, model: str, command: str, uri: str, wait: float) -> Iterator[str]:
    """Hold `<model>.lock` in the registry at `uri` for the block (see the module docstring)."""
    name = lock_name(model)
    tags = runs.owner_tags() | {COMMAND_TAG: command}
    deadline = time.monotonic() + wait
    said = False
    while True:
        try:
            client.create_registered_model(
                name, tags=tags, description=DESCRIPTION.format(command=command)
            )
            break
        except Exception as err:
            if _code(err) != "RESOURCE_ALREADY_EXISTS":
                raise PipelineError(
                    f"registry {uri}: cannot take {name}: {first_line(err)[:300]}"
                ) from None
        try:
            holder = _holder(client, name)
        except Exception as err:
            raise PipelineError(
                f"registry {uri}: cannot read {name}: {first_line(err)[:300]}"
            ) from None
        if holder is None:
            continue
        if _abandoned(holder, time.time()):
            with contextlib.suppress(Exception):
                client.delete_registered_model(name)
            print(
                f"{command}: released {name} in {uri}, left by {_describe(holder)}, which is gone"
            )
            continue
        if time.monotonic() > deadline:
            raise PipelineError(
                f"registry {uri}: {name} still held after {wait:.0f} s by {_describe(holder)}; "
                "if that process is gone, delete the registered model"
            )
        if not said:
            print(f"{command}: waiting for {name} in {uri} (held by {_describe(holder)})")
            sys.stdout.flush()
            said = True
        time.sleep(POLL_SECONDS)
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            client.delete_registered_model(name)
