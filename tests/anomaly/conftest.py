"""Fixtures for the anomaly tests: NAB's corpus and committed results (real mirror files). The
engine tests' real Dask cluster (`shared_cluster`) is in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def nab(mirror):
    """The corpus, profiles, committed thresholds, scoreboard and raw results, loaded once."""
    from workbench.papers import nab

    return nab.load()
