"""The results store: a folder of parquet and JSON files that many workers write at once.

Layout (root = `WORKBENCH_RESULTS`, default `./results`):

    metrics/<unit>.parquet    per-series metric rows of one unit
    forecasts/<unit>.parquet  its forecasts, when asked for
    units/<unit>.json         the unit's record: status, error, duration, worker, memory, file hashes
    runs/<run_id>.json        one record per run: provenance, counts, timings

Every file is written under a temporary name and renamed, and a unit's record is written last with
the sha256 of its parquet files. A unit is complete only when its record exists and the files still
hash to what it says, so a half-written or corrupted unit is recomputed, never read as valid. One
file per unit key means a rerun can never duplicate rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.atomic import atomic_write
from workbench.data.hashing import sha256_file

RESULTS_ENV = "WORKBENCH_RESULTS"
DONE = ("ok", "error", "timeout")


def results_root(root: str | Path | None = None) -> Path:
    return Path(root or os.environ.get(RESULTS_ENV) or "results").expanduser().resolve()


class ResultsStore:
    """Read and write units and runs under one root folder."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = results_root(root)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # ---- paths -------------------------------------------------------------------------------
    def metrics_path(self, key: str) -> Path:
        return self.root / "metrics" / f"{key}.parquet"

    def forecasts_path(self, key: str) -> Path:
        return self.root / "forecasts" / f"{key}.parquet"

    def record_path(self, key: str) -> Path:
        return self.root / "units" / f"{key}.json"

    # ---- writing (on workers) --------------------------------------------------------------------
    def write_unit(self, key: str, metrics: pd.DataFrame, forecasts: pd.DataFrame | None, record: dict) -> dict:
        """Parquet files first, the record (with their hashes) last: the record is the commit."""
        record = dict(record)
        mpath = self.metrics_path(key)
        atomic_write(mpath, lambda tmp: metrics.to_parquet(tmp, index=False))
        record["metrics_sha256"] = sha256_file(mpath)
        record["n_rows"] = len(metrics)
        if forecasts is not None:
            fpath = self.forecasts_path(key)
            atomic_write(fpath, lambda tmp: forecasts.to_parquet(tmp, index=False))
            record["forecasts_sha256"] = sha256_file(fpath)
        text = json.dumps(record, default=str, sort_keys=True)
        atomic_write(self.record_path(key), lambda tmp: Path(tmp).write_text(text))
        return record

    def write_run(self, record: dict) -> Path:
        path = self.root / "runs" / f"{record['run_id']}.json"
        text = json.dumps(record, default=str, sort_keys=True, indent=1)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        return path

    # ---- reading -------------------------------------------------------------------------------
    def record(self, key: str) -> dict | None:
        """The unit's record if the unit is complete and intact, else None."""
        path = self.record_path(key)
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if record.get("status") not in DONE:
            return None
        for kind, path_of in (("metrics", self.metrics_path), ("forecasts", self.forecasts_path)):
            expected = record.get(f"{kind}_sha256")
            if expected is None:
                continue
            try:
                if sha256_file(path_of(key)) != expected:
                    return None
            except OSError:
                return None
        return record

    def complete(self, keys: list[str], retry_failed: bool = False) -> set[str]:
        """The keys among `keys` whose units are complete and intact (errors too, unless retried)."""
        done = set()
        for key in keys:
            record = self.record(key)
            if record and (record["status"] == "ok" or not retry_failed):
                done.add(key)
        return done

    def records(self) -> pd.DataFrame:
        """Every intact unit record."""
        rows = []
        for path in sorted((self.root / "units").glob("*.json")):
            record = self.record(path.stem)
            if record:
                rows.append(record)
        return pd.DataFrame(rows)

    def runs(self) -> pd.DataFrame:
        rows = []
        for path in sorted((self.root / "runs").glob("*.json")):
            try:
                rows.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):
                continue
        return pd.DataFrame(rows)

    def valid_files(self, kind: str = "metrics", records: pd.DataFrame | None = None) -> list[Path]:
        """Parquet files of intact units only: what SQL queries read. Pass `records` already read
        to spare re-hashing every unit."""
        records = self.records() if records is None else records
        if records.empty:
            return []
        sha = f"{kind}_sha256"
        if sha not in records:
            return []
        keys = records.loc[records[sha].notna(), "key"]
        return [self.root / kind / f"{k}.parquet" for k in keys]

    def metrics(self) -> pd.DataFrame:
        files = self.valid_files("metrics")
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()

    def forecasts(self, task_key: str | None = None, model: str | None = None) -> Any:
        """Stored forecasts as a Panel (`y` = the forecast), optionally for one task and model label."""
        from workbench.data import Panel

        files = self.valid_files("forecasts")
        if not files:
            raise FileNotFoundError(f"{self.root}: no stored forecasts (run with save_forecasts=True)")
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        if task_key is not None:
            frame = frame[frame["task_key"] == task_key]
        if model is not None:
            frame = frame[frame["model"] == model]
        if frame.empty:
            raise KeyError(f"no stored forecasts for task {task_key!r} and model {model!r}")
        if frame[["task_key", "model", "window"]].drop_duplicates().shape[0] > 1:
            raise ValueError("several tasks, models or windows match: name one task_key and model (and filter window)")
        df = frame.rename(columns={"y_hat": "y"})[["unique_id", "ds", "y"]]
        return Panel.from_long(df, name=f"forecasts:{model or ''}")
