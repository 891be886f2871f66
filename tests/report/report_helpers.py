"""Paths and the CLI in a subprocess, for report tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
MODELS = ["naive", "seasonal_naive", "ses", "theta"]


def run_cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COLUMNS": "250",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
