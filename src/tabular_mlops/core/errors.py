"""One error type for everything a user can get wrong, printed as one line with a non-zero exit."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

EXIT_USER_ERROR = 2


class PipelineError(Exception):
    """Bad input from the user (file, column, key); the message names what is wrong."""


def first_line(err: BaseException) -> str:
    """A library error's first line, so a wrapped message stays one line; its type when empty."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else err.__class__.__name__


def one_line(text: object) -> str:
    """`text` as it is when printable, else with its line breaks and other unprintable characters
    escaped: a file name holding a newline must not split a one-line message."""
    text = str(text)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def exits_cleanly(func: F) -> F:
    """Turn a PipelineError raised by a stage's main() into one line on stderr and exit 2.

    Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return func(*args, **kwargs)
        except PipelineError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None

    return wrapper  # type: ignore[return-value]
