"""Stable hashes: of files (data provenance) and of settings (canonical JSON)."""

import hashlib
import json
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1 << 16

# Settings that say where files come from or where compiled code is cached: they never
# change a result, so they stay out of the analysis hash.
OPERATIONAL_KEYS = frozenset({"mirror", "allow_http", "download", "compile_cache"})


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_hash(obj: Any) -> str:
    """SHA-256 of an object's canonical JSON (sorted keys): stable across runs."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def analysis_sha256(config: dict) -> str:
    """Hash of the analysis a config describes: every setting but the operational ones."""
    return canonical_hash({k: v for k, v in config.items() if k not in OPERATIONAL_KEYS})
