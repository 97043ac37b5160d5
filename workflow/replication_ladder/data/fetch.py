"""Fetch a source file by URL (or from a local mirror) and verify its sha256.

The bytes stream into a temporary file beside the destination while being hashed; only
a complete file with the expected hash is moved into place. Transient network errors
(refused or reset connections, timeouts, HTTP 429 and 5xx, short reads) are retried
with exponential backoff; anything else fails at once.
"""

import http.client
import logging
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from replication_ladder.base.atomic import atomic_path
from replication_ladder.base.errors import FetchError
from replication_ladder.base.hashing import CHUNK_BYTES, sha256_file

log = logging.getLogger(__name__)


class _Transient(Exception):
    """A failure worth another attempt."""


def url_file_name(url: str) -> str:
    return PurePosixPath(unquote(urlparse(url).path)).name


def _verify(tmp: Path, expected: str, origin: str, dest: Path) -> None:
    actual = sha256_file(tmp)
    if actual != expected:
        raise FetchError(
            f"{dest}: sha256 mismatch for {origin}: expected {expected}, got {actual} "
            f"({tmp.stat().st_size} bytes); the file was not kept"
        )


def _download_once(url: str, tmp: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "replication-ladder"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected_length = response.headers.get("Content-Length")
            received = 0
            with open(tmp, "wb") as out:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    received += len(chunk)
            if expected_length is not None and received != int(expected_length):
                raise _Transient(f"short read: {received} of {expected_length} bytes")
    except urllib.error.HTTPError as error:
        if error.code == 429 or error.code >= 500:
            raise _Transient(f"HTTP {error.code} {error.reason}") from None
        raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise _Transient(f"{type(err).__name__}: {reason}") from None


def download(
    url: str,
    sha256: str,
    dest: str | Path,
    *,
    timeout: float = 60,
    retries: int = 4,
    backoff: float = 1.0,
) -> None:
    """Download `url` to `dest`, retrying transient errors; verify `sha256`."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        for attempt in range(retries + 1):
            try:
                _download_once(url, tmp, timeout)
                break
            except _Transient as error:
                if attempt == retries:
                    raise FetchError(
                        f"{url}: giving up after {retries + 1} attempts: {error}"
                    ) from None
                wait = backoff * 2**attempt
                log.warning("%s: %s; retrying in %.1f s", url, error, wait)
                time.sleep(wait)
        _verify(tmp, sha256, url, dest)
    log.info("fetched %s to %s (sha256 verified)", url, dest)


def copy_verified(source: str | Path, sha256: str | None, dest: str | Path) -> None:
    """Copy a local file (a mirror or a `path` source) to `dest`, verifying `sha256`;
    a file without one is copied with a warning that the run is not pinned to it."""
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise FetchError(f"{source}: no such file (wanted for {dest})")
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
        if sha256 is not None:
            _verify(tmp, sha256, str(source), dest)
    if sha256 is None:
        log.warning(
            "%s has no sha256 in the config: this run is not pinned to its contents "
            "(sha256 %s); a change to the file reruns everything downstream",
            source,
            sha256_file(dest),
        )
    else:
        log.info("copied %s to %s (sha256 verified)", source, dest)


def fetch_source(
    source: dict, dest: str | Path, *, mirror: str | None, download_settings: dict
) -> None:
    """Bring a dataset's `url` or `path` source to `dest`, offline from `mirror` if set."""
    if "path" in source:
        copy_verified(source["path"], source.get("sha256"), dest)
    elif mirror is not None:
        copy_verified(Path(mirror) / url_file_name(source["url"]), source["sha256"], dest)
    else:
        download(
            source["url"],
            source["sha256"],
            dest,
            timeout=download_settings["timeout_seconds"],
            retries=download_settings["retries"],
            backoff=download_settings["backoff_seconds"],
        )
