"""A real S3 endpoint for tests: moto's standalone server (`python -m moto.server`) in a process of
its own on 127.0.0.1, so that Dask worker processes and CLI subprocesses reach it as well as the
test process does.

`s3_server` (session) starts it on a free port, waits until it answers, creates a bucket and points
every S3 client at it: `AWS_ENDPOINT_URL` (read by botocore, so by s3fs, in this process and in every
process started after it) and fsspec's own `FSSPEC_S3_ENDPOINT_URL`, with throwaway credentials.
`s3_url` (per test) is a fresh prefix in that bucket.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BUCKET = "workbench-tests"
_RUNNING = re.compile(rb"Running on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    log: Path

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")


def _poll(predicate, timeout_s: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited ({proc.returncode}) before {what}:\n{log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout_s} s:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_moto(log: Path, timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    """A moto server on a port the OS picks; returns the process and its endpoint once it answers."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        port = _poll(
            lambda: (m := _RUNNING.search(log.read_bytes())) and m.group(1).decode(), timeout_s, "a port", proc, log
        )
        endpoint = f"http://127.0.0.1:{port}"
        _poll(lambda: _answers(endpoint), timeout_s, f"{endpoint} to answer", proc, log)
    except BaseException:
        stop(proc)
        raise
    return proc, endpoint


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def point_clients_at(endpoint: str, mp: pytest.MonkeyPatch) -> None:
    """This process and its children talk to `endpoint` for S3, with throwaway credentials."""
    import fsspec.config

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE"):
        mp.delenv(name, raising=False)
    mp.setenv("AWS_ENDPOINT_URL", endpoint)
    mp.setenv("FSSPEC_S3_ENDPOINT_URL", endpoint)  # read by fsspec when a child process imports it
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    mp.setitem(fsspec.config.conf, "s3", {**fsspec.config.conf.get("s3", {}), "endpoint_url": endpoint})


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc, endpoint = start_moto(log)
    try:
        with pytest.MonkeyPatch.context() as mp:
            point_clients_at(endpoint, mp)
            import s3fs

            fs = s3fs.S3FileSystem(endpoint_url=endpoint, use_listings_cache=False)
            fs.mkdir(BUCKET)
            yield S3Server(endpoint, BUCKET, log)
            s3fs.S3FileSystem.clear_instance_cache()
    finally:
        stop(proc)


@pytest.fixture
def s3_url(s3_server: S3Server) -> str:
    """A fresh, empty prefix of the test bucket, as an `s3://` URL."""
    return s3_server.url(f"t-{uuid.uuid4().hex[:12]}")
