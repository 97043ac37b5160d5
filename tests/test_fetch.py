"""Fetching the RRR file: mirror, real HTTP downloads, corruption, retries, timeouts."""

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from replication_ladder.base.errors import FetchError
from replication_ladder.data.fetch import copy_verified, download, fetch_source

from conftest import RRR_SHA256, snakemake

SOURCE = {
    "url": "https://github.com/bambinos/bambi/raw/main/docs/notebooks/data/rrr_long.csv",
    "sha256": RRR_SHA256,
}
DOWNLOAD = {"timeout_seconds": 5, "retries": 2, "backoff_seconds": 0.05}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; the first `failures` requests get 503, a stalling server waits."""

    def do_GET(self):
        server = self.server
        server.requests += 1
        if server.stall_seconds:
            server.release.wait(server.stall_seconds)
            return
        if server.requests <= server.failures:
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def serve():
    """Start a real HTTP server on 127.0.0.1 serving a directory; yields its base URL."""
    servers = []

    def start(directory: Path, failures: int = 0, stall_seconds: float = 0) -> str:
        handler = lambda *a, **k: _Handler(*a, directory=str(directory), **k)  # noqa: E731
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.requests, server.failures = 0, failures
        server.stall_seconds, server.release = stall_seconds, threading.Event()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def test_mirror_copy_is_verified(rrr_mirror, tmp_path):
    dest = tmp_path / "data" / "raw" / "rrr.csv"
    fetch_source(SOURCE, dest, mirror=str(rrr_mirror), download_settings=DOWNLOAD)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == RRR_SHA256
    assert dest.stat().st_size == 281_297
    assert list(dest.parent.iterdir()) == [dest]  # no temporaries left


def test_real_http_download(rrr_mirror, serve, tmp_path):
    base = serve(rrr_mirror)
    dest = tmp_path / "rrr.csv"
    download(f"{base}/rrr_long.csv", RRR_SHA256, dest, timeout=5, retries=0)
    assert dest.read_bytes() == (rrr_mirror / "rrr_long.csv").read_bytes()


def test_corrupted_download_names_both_hashes_and_keeps_nothing(rrr_mirror, serve, tmp_path):
    corrupt = tmp_path / "served"
    corrupt.mkdir()
    data = bytearray((rrr_mirror / "rrr_long.csv").read_bytes())
    data[1000] ^= 0x01  # one flipped bit
    (corrupt / "rrr_long.csv").write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    dest = tmp_path / "out" / "rrr.csv"
    with pytest.raises(FetchError) as error:
        download(f"{serve(corrupt)}/rrr_long.csv", RRR_SHA256, dest, timeout=5, retries=0)
    message = str(error.value)
    assert f"expected {RRR_SHA256}" in message and f"got {actual}" in message
    assert str(dest) in message
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_transient_errors_are_retried(rrr_mirror, serve, tmp_path):
    base = serve(rrr_mirror, failures=2)
    dest = tmp_path / "rrr.csv"
    download(f"{base}/rrr_long.csv", RRR_SHA256, dest, timeout=5, retries=2, backoff=0.01)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == RRR_SHA256


def test_persistent_errors_give_up_after_the_retries(rrr_mirror, serve, tmp_path):
    base = serve(rrr_mirror, failures=10)
    dest = tmp_path / "rrr.csv"
    with pytest.raises(FetchError, match=r"giving up after 3 attempts: HTTP 503"):
        download(f"{base}/rrr_long.csv", RRR_SHA256, dest, timeout=5, retries=2, backoff=0.01)
    assert not dest.exists()


def test_a_stalled_server_times_out(rrr_mirror, serve, tmp_path):
    base = serve(rrr_mirror, stall_seconds=30)
    dest = tmp_path / "rrr.csv"
    with pytest.raises(FetchError, match=r"giving up after 2 attempts: .*timed out"):
        download(f"{base}/rrr_long.csv", RRR_SHA256, dest, timeout=0.5, retries=1, backoff=0)
    assert not dest.exists()


def test_not_found_is_not_retried(rrr_mirror, serve, tmp_path):
    base = serve(rrr_mirror)
    with pytest.raises(FetchError, match=r"HTTP 404"):
        download(f"{base}/missing.csv", RRR_SHA256, tmp_path / "x.csv", retries=3, backoff=5)


def test_missing_mirror_file_is_named(tmp_path):
    with pytest.raises(FetchError, match=r"no_such_dir/rrr_long\.csv: no such file"):
        copy_verified(tmp_path / "no_such_dir" / "rrr_long.csv", RRR_SHA256, tmp_path / "x.csv")


@pytest.mark.workflow
def test_fetch_rule_downloads_over_http(rrr_mirror, serve, workflow_copy):
    base = serve(rrr_mirror)
    config = {
        "allow_http": "true",
        "datasets": f"{{rrr: {{source: {{url: '{base}/rrr_long.csv', sha256: {RRR_SHA256}}}}}}}",
    }
    snakemake(workflow_copy, "data/raw/rrr.csv", config=config)
    assert hashlib.sha256((workflow_copy / "data/raw/rrr.csv").read_bytes()).hexdigest() == (
        RRR_SHA256
    )


@pytest.mark.workflow
def test_fetch_rule_fails_on_a_corrupt_file_and_keeps_nothing(
    rrr_mirror, serve, workflow_copy, tmp_path
):
    served = tmp_path / "served"
    served.mkdir()
    (served / "rrr_long.csv").write_bytes((rrr_mirror / "rrr_long.csv").read_bytes()[:-10])
    config = {
        "allow_http": "true",
        "datasets": f"{{rrr: {{source: {{url: '{serve(served)}/rrr_long.csv', "
        f"sha256: {RRR_SHA256}}}}}}}",
    }
    result = snakemake(workflow_copy, "data/raw/rrr.csv", config=config, check=False)
    assert result.returncode != 0
    assert "sha256 mismatch" in result.stderr and f"expected {RRR_SHA256}" in result.stderr
    assert not (workflow_copy / "data/raw/rrr.csv").exists()
