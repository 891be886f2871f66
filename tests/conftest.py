"""Shared fixtures: the real offline mirror and a throwaway cache per test session."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

# a real S3 endpoint for the store's object-storage tests: moto's server on 127.0.0.1 (tests/s3_server.py)
from s3_server import s3_server, s3_url  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
_DEFAULT_MIRROR = REPO.parent / "shared" / "datasets"

# Tests read the real mirror; point at the checkout's sibling when the caller did not.
if not os.environ.get("WORKBENCH_DATA_MIRROR") and _DEFAULT_MIRROR.is_dir():
    os.environ["WORKBENCH_DATA_MIRROR"] = str(_DEFAULT_MIRROR)


@pytest.fixture(scope="session")
def mirror() -> Path:
    root = os.environ.get("WORKBENCH_DATA_MIRROR")
    if not root or not Path(root, "MANIFEST.csv").is_file():
        pytest.skip("WORKBENCH_DATA_MIRROR does not point at the offline dataset mirror")
    return Path(root)


@pytest.fixture(scope="session")
def manifest(mirror: Path) -> dict[str, dict[str, str]]:
    with open(mirror / "MANIFEST.csv", newline="") as fh:
        return {row["canonical_url"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def upstream_blobs(mirror: Path) -> dict[str, str]:
    with open(mirror / "UPSTREAM_BLOBS.csv", newline="") as fh:
        return {row["canonical_url"]: row["git_blob_sha1"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: loads share parsed panels, the user's cache is never touched."""
    path = tmp_path_factory.mktemp("workbench-cache")
    os.environ["WORKBENCH_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def session_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results store for whatever a test runs without naming one: never ./results of the checkout."""
    path = tmp_path_factory.mktemp("workbench-results")
    os.environ["WORKBENCH_RESULTS"] = str(path)
    return path


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache for tests that look at what a fetch leaves behind."""
    path = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE", str(path))
    return path
