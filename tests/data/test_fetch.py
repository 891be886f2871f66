"""Fetching: mirror → cache with hash checks; tampered bytes never reach the cache."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from workbench.data import get_card
from workbench.data.cards import FileSpec
from workbench.data.fetch import cached_path, fetch_file, mirror_relpath, verify_file
from workbench.data.hashing import git_blob_sha1_file
from workbench.errors import DataIntegrityError, SourceUnavailableError

HOURLY_TEST = "Dataset/Test/Hourly-test.csv"


def _spec(key: str) -> FileSpec:
    return next(f for f in get_card("m4").files if f.key == key)


def _files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_when_file_is_in_mirror_then_a_verified_copy_lands_in_cache(mirror, fresh_cache):
    spec = _spec(HOURLY_TEST)
    path = fetch_file(spec, progressbar=False)
    assert path == cached_path(spec) and path.is_relative_to(fresh_cache)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256


def test_when_mirror_url_has_spaces_then_the_path_rule_decodes_them():
    url = "https://raw.githubusercontent.com/o/r/" + "a" * 40 + "/Point%20Forecasts/x.rar"
    assert mirror_relpath(url) == "github/o/r/" + "a" * 40 + "/Point Forecasts/x.rar"


def _tampered_mirror(mirror: Path, tmp_path: Path, spec: FileSpec, content: bytes) -> Path:
    root = tmp_path / "tampered-mirror"
    target = root / mirror_relpath(spec.url)
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    return root


def test_when_mirror_file_is_tampered_then_it_is_refused_and_cache_stays_empty(
    mirror, tmp_path, fresh_cache, monkeypatch
):
    spec = _spec(HOURLY_TEST)
    original = (mirror / mirror_relpath(spec.url)).read_bytes()
    tampered = original.replace(b"619", b"620", 1)
    monkeypatch.setenv("WORKBENCH_DATA_MIRROR", str(_tampered_mirror(mirror, tmp_path, spec, tampered)))
    with pytest.raises(DataIntegrityError) as err:
        fetch_file(spec, progressbar=False)
    message = str(err.value)
    assert HOURLY_TEST in message
    assert spec.sha256 in message
    assert hashlib.sha256(tampered).hexdigest() in message
    assert _files_in(fresh_cache) == []


def test_when_mirror_file_is_truncated_then_it_is_refused(mirror, tmp_path, fresh_cache, monkeypatch):
    spec = _spec(HOURLY_TEST)
    original = (mirror / mirror_relpath(spec.url)).read_bytes()
    monkeypatch.setenv("WORKBENCH_DATA_MIRROR", str(_tampered_mirror(mirror, tmp_path, spec, original[:5000])))
    with pytest.raises(DataIntegrityError, match="sha256 mismatch"):
        fetch_file(spec, progressbar=False)
    assert _files_in(fresh_cache) == []


def test_when_cached_copy_is_corrupted_then_it_is_replaced_by_a_verified_one(mirror, fresh_cache):
    spec = _spec(HOURLY_TEST)
    path = fetch_file(spec, progressbar=False)
    path.write_bytes(b"garbage")
    assert verify_file(spec)[0] == "corrupt"
    assert not path.exists()
    path = fetch_file(spec, progressbar=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256
    # a silent edit after verification is caught too: the stamp no longer matches the file
    with open(path, "ab") as fh:
        fh.write(b"\n")
    path = fetch_file(spec, progressbar=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_when_url_is_unreachable_and_no_mirror_then_error_says_how_to_set_it(fresh_cache, monkeypatch):
    monkeypatch.delenv("WORKBENCH_DATA_MIRROR", raising=False)
    spec = FileSpec(url=f"http://127.0.0.1:{_closed_port()}/data/x.csv", sha256="a" * 64)
    with pytest.raises(SourceUnavailableError) as err:
        fetch_file(spec, progressbar=False)
    assert "WORKBENCH_DATA_MIRROR" in str(err.value)
    assert "unset" in str(err.value)
    assert _files_in(fresh_cache) == []


class _Server:
    """A loopback HTTP server over one folder, for download tests that need a real socket."""

    def __init__(self, folder: Path) -> None:
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_when_upstream_file_is_downloaded_then_its_git_blob_id_is_checked(mirror, tmp_path, fresh_cache, monkeypatch):
    monkeypatch.delenv("WORKBENCH_DATA_MIRROR", raising=False)
    served = tmp_path / "served"
    served.mkdir()
    src = mirror / mirror_relpath(_spec("Dataset/Train/Weekly-train.csv").url)
    shutil.copyfile(src, served / "Weekly-train.csv")
    blob = git_blob_sha1_file(src)
    with _Server(served) as base:
        good = FileSpec(url=f"{base}/Weekly-train.csv", git_blob_sha1=blob)
        assert git_blob_sha1_file(fetch_file(good, progressbar=False)) == blob
        (served / "Weekly-train.csv").write_bytes(src.read_bytes()[:-10])
        bad = FileSpec(url=f"{base}/Weekly-train.csv", key="tampered", git_blob_sha1=blob)
        bad_cache = tmp_path / "cache2"
        monkeypatch.setenv("WORKBENCH_CACHE", str(bad_cache))
        with pytest.raises(DataIntegrityError, match=f"git-blob-sha1 mismatch, expected {blob}"):
            fetch_file(bad, progressbar=False)
        assert _files_in(bad_cache) == []


def test_when_git_blob_id_is_computed_then_it_equals_gits_own(tmp_path):
    import subprocess

    f = tmp_path / "x.txt"
    f.write_bytes(b"hello workbench\n")
    git = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True, check=True).stdout.strip()
    assert git_blob_sha1_file(f) == git
