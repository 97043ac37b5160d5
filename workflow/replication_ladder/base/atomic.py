"""Atomic writes: an output path holds either nothing or a complete file.

Every artefact is written to a hidden temporary file beside its final path, flushed to
disk (fsync), moved into place with os.replace (atomic on POSIX), and the directory is
synced so that the rename itself survives a power cut. A job killed mid-write never
leaves a file that looks finished, and a power cut never leaves a zero-length file at a
final path.
"""

import contextlib
import json
import logging
import math
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PART_SUFFIX = ".part"


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{_PART_SUFFIX}")


def remove_stale_parts(path: Path) -> None:
    """Delete temporaries an interrupted earlier write of `path` left behind."""
    for stale in path.parent.glob(f".{path.name}.*{_PART_SUFFIX}"):
        stale.unlink(missing_ok=True)


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's) content and metadata to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place(tmp: Path, path: str | os.PathLike) -> None:
    """Move the complete file `tmp` (a sibling of `path`, or in its file system) to
    `path`: its content on disk first, then the rename."""
    fsync_path(tmp)  # the content is on disk before the name points at it
    os.replace(tmp, path)
    fsync_path(Path(path).parent)  # and the rename itself is on disk


@contextlib.contextmanager
def scratch_beside(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`, for a file built in several steps and
    moved into place (`place`) at the end; removed if the block ends without that."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    tmp = _temporary_sibling(path)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` only if the block succeeds.

    The temporary file is created by the writer, not here, so it gets the usual
    permissions (umask) rather than mkstemp's private 0600.
    """
    with scratch_beside(path) as tmp:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to {path}")
        place(tmp, path)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_safe(obj: Any, where: str = "") -> Any:
    """`obj` with every NaN or infinite number replaced by None (JSON has neither), each
    replacement logged with its key path."""
    if isinstance(obj, dict):
        return {
            key: json_safe(value, f"{where}.{key}" if where else str(key))
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [json_safe(value, f"{where}[{i}]") for i, value in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        log.warning("%s is %s; written as null", where or "a value", obj)
        return None
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # NumPy scalars
        return json_safe(obj.item(), where)
    return obj


def to_json(obj: Any) -> str:
    """Stable JSON: sorted keys; NaN and infinities become null (with a warning)."""
    return json.dumps(json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, to_json(obj))


def write_parquet(path: str | os.PathLike, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", compression="zstd")
