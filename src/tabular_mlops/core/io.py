"""Reading and writing the pipeline's files, with errors that name the file.

Only stage `main()` functions call this module; the cores take and return frames.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from tabular_mlops.core.errors import PipelineError, first_line


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV extract as strings-first pandas would, failing with one line naming the file.

    A UTF-8 byte-order mark and CRLF line endings are accepted; anything that is not UTF-8,
    not comma-separated, or has no rows is rejected here, before any stage trusts it.
    """
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: file not found")
    if not path.is_file():
        raise PipelineError(f"{path}: not a file")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", na_values=["", " "], keep_default_na=True)
    except PermissionError:
        raise PipelineError(f"{path}: permission denied") from None
    except UnicodeDecodeError as err:
        raise PipelineError(
            f"{path}: not valid UTF-8 (byte {err.object[err.start]:#04x} at offset {err.start})"
        ) from None
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, csv.Error) as err:
        raise PipelineError(f"{path}: cannot parse as CSV ({first_line(err)})") from None
    if frame.empty:
        raise PipelineError(f"{path}: no data rows (header only)")
    return frame


def read_parquet(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: file not found (run `make repro` to produce it)")
    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
        raise PipelineError(f"{path}: cannot read parquet ({first_line(err)})") from None


def read_model(path: str | Path) -> Any:
    """The joblib model file `train` writes; a missing or damaged file is one line naming it."""
    import joblib

    try:
        return joblib.load(path)
    except FileNotFoundError:
        raise PipelineError(f"{path}: model file not found (run `make repro`)") from None
    except Exception as err:  # unpickling a damaged file raises many unrelated types
        raise PipelineError(f"{path}: cannot load model ({err.__class__.__name__})") from None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: file not found (run `make repro` to produce it)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PipelineError(f"{path}: not valid JSON ({first_line(err)})") from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` and move it into place only if the block succeeds.

    A stage that fails halfway therefore never leaves a truncated output behind. The new file
    keeps the mode of the file it replaces (a new file gets 0o666 less the umask, as `open`
    would), so a group-shared checkout stays shared; it is flushed to disk before the rename.
    A kill can leave the temporary file (`.<name>.<random>`); `temp_files` finds them.
    """
    path = Path(path)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    mode = _kept_mode(path)
    tmp = _new_temp(path)
    try:
        yield tmp
        if mode is not None and stat.S_IMODE(tmp.stat().st_mode) != mode:
            tmp.chmod(mode)
        _sync(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync(path.parent)


def temp_files(path: str | Path) -> list[Path]:
    """Temporary files `atomic_path(path)` left behind when its process was killed."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*"))


def _kept_mode(path: Path) -> int | None:
    """The permission bits of the regular file `path` replaces; None for a new file (or a link,
    whose target is not the file written)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _new_temp(path: Path) -> Path:
    """An empty file beside `path` created with mode 0o666, so the umask applies as for `open`."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path}: no free temporary name beside it")


def _sync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk; a no-op where the OS cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
