"""Per-run results on disk, so a long reproduction resumes where it stopped.

One small parquet file per (task, model, training configuration, data, workbench version), written
atomically: a killed run leaves either a complete record or none, and a rerun skips what is done.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.atomic import atomic_write


def run_key(**parts: Any) -> str:
    """A stable hash of everything that determines a run's result."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


class RunStore:
    """A folder of one-row parquet files keyed by `run_key`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.parquet"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            return pd.read_parquet(path).iloc[0].to_dict()
        except Exception:  # a damaged file is recomputed, never trusted
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, record: dict[str, Any]) -> None:
        atomic_write(self.path(key), lambda tmp: pd.DataFrame([{**record, "run_key": key}]).to_parquet(tmp))

    def frame(self) -> pd.DataFrame:
        files = sorted(self.root.glob("*.parquet"))
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()
