"""Fixtures for the anomaly tests: NAB's corpus and committed results (real mirror files), and the
engine tests' real Dask cluster (scheduler and two worker processes)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("engine_conftest", Path(__file__).parents[1] / "engine" / "conftest.py")
_engine = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules[_spec.name] = _engine  # type: ignore[union-attr]
_spec.loader.exec_module(_engine)  # type: ignore[union-attr]
cluster = _engine.cluster


@pytest.fixture(scope="session")
def nab(mirror):
    """The corpus, profiles, committed thresholds, scoreboard and raw results, loaded once."""
    from workbench.papers import nab

    return nab.load()
