"""One quick M4 reproduction per test session, shared by the tests that only read what it leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.config import papers_dir

WORKBENCH = [sys.executable, "-m", "workbench.cli"]
# one frequency, three benchmarks: their own forecasts and the organisers' files rescored
QUICK = ["-p", "frequencies=[Hourly]", "-p", "methods=[naive2, ses, theta]"]


def run_workbench(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 400
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*WORKBENCH, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@dataclass(frozen=True)
class QuickReproduction:
    store: Path
    output: Path
    result: subprocess.CompletedProcess
    papers_before: frozenset[Path]
    args: tuple[str, ...]


@pytest.fixture(scope="session")
def m4_quick(tmp_path_factory, mirror) -> QuickReproduction:
    """`workbench reproduce m4` on M4 Hourly into a fresh store named by WORKBENCH_RESULTS."""
    root = tmp_path_factory.mktemp("m4-quick")
    store, out = root / "store", root / "out"
    before = frozenset(p for p in papers_dir().rglob("*") if p.is_file())
    args = ("reproduce", "m4", "--output", str(out), "--no-html", *QUICK)
    result = run_workbench(list(args), env={"WORKBENCH_RESULTS": str(store)})
    return QuickReproduction(store, out, result, before, args)
