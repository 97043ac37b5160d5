"""Atomic writes: an output path holds either nothing or a complete file.

Every artefact is written to a hidden temporary file beside its final path and moved
into place with os.replace (atomic on POSIX) only once it is complete, so a job killed
mid-write never leaves a file that looks finished.
"""

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_PART_SUFFIX = ".part"


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{_PART_SUFFIX}")


def remove_stale_parts(path: Path) -> None:
    """Delete temporaries an interrupted earlier write of `path` left behind."""
    for stale in path.parent.glob(f".{path.name}.*{_PART_SUFFIX}"):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` only if the block succeeds.

    The temporary file is created by the writer, not here, so it gets the usual
    permissions (umask) rather than mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    tmp = _temporary_sibling(path)
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to {path}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def to_json(obj: Any) -> str:
    """Stable JSON: sorted keys, no NaN (invalid JSON; callers map it to None)."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, to_json(obj))


def write_parquet(path: str | os.PathLike, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", compression="zstd")
