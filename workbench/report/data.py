"""What the report reads: the results store's numbers with their provenance, detection scoreboards,
and the papers' claimed-vs-reproduced rows (from the store, and from CSVs).

Every table is per task (key and readable description): numbers of different protocols never share
a mean, and each mean says how many undefined values it left out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.errors import DataFormatError
from workbench.storage import sha256_file
from workbench.store.results_store import ResultsStore
from workbench.store.sql import detection_leaderboard, leaderboard

__all__ = [
    "claims_in_store",
    "detections_with_provenance",
    "leaderboard_with_provenance",
    "paper_reports",
    "runs_table",
    "units_table",
]


def leaderboard_with_provenance(store: ResultsStore, records: pd.DataFrame | None = None) -> pd.DataFrame:
    """The store's leaderboard (one row per task, model and metric; undefined values counted, rows
    stored twice counted in `n_duplicates` rather than refused, so the report can show them), with
    the runs and the number of units behind each row."""
    board = leaderboard(store, allow_duplicates=True)
    records = store.records() if records is None else records
    if board.empty or records.empty:
        return board
    units = records[~records["superseded"]] if "superseded" in records else records
    units = units[units["kind"].isin(["forecast", "ltsf"])] if "kind" in units else units
    facts = units.groupby(["task_key", "model"]).agg(
        n_units=("key", "nunique"), runs=("run_id", lambda r: " ".join(sorted(set(map(str, r)))))
    )
    return board.join(facts, on=["task_key", "model"])


def detections_with_provenance(store: ResultsStore) -> pd.DataFrame:
    """The detection leaderboard (higher is better where the rows say so), or empty."""
    if not store.files("detection_metrics"):
        return pd.DataFrame()
    return detection_leaderboard(store, allow_duplicates=True)


def claims_in_store(store: ResultsStore) -> pd.DataFrame:
    """Claimed-vs-reproduced rows committed by `workbench reproduce` (kind `paper`)."""
    return store.read_table("claims")


def runs_table(store: ResultsStore) -> pd.DataFrame:
    """One row per run: when, which code (git commit, versions), which data, which models."""
    runs = store.runs()
    if runs.empty:
        return runs
    keep = [
        c
        for c in ("run_id", "started_at", "seconds", "workbench_version", "git_commit", "python", "host", "models")
        if c in runs
    ]
    out = runs[keep].copy()
    if "packages" in runs:
        out["packages"] = runs["packages"].map(
            lambda p: ", ".join(f"{k} {v}" for k, v in p.items() if v) if isinstance(p, dict) else ""
        )
    if "data_hashes" in runs:
        short = lambda h: " ".join(x[:12] for x in h) if isinstance(h, list) else ""  # noqa: E731
        out["data_hashes"] = runs["data_hashes"].map(short)
    if "models" in out:
        out["models"] = out["models"].map(lambda m: ", ".join(m) if isinstance(m, list) else m)
    return out.sort_values("started_at", ignore_index=True) if "started_at" in out else out


def units_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per unit of work: its key, run, data hash, status and cost."""
    if records.empty:
        return records
    columns = ("key", "kind", "run_id", "task_description", "model", "seed", "status", "n_series", "duration_s")
    keep = [c for c in (*columns, "superseded", "code", "git_commit", "git_dirty", "worker", "error") if c in records]
    out = records[keep].copy()
    if "code" in out:
        out["code"] = out["code"].map(lambda c: str(c)[:12] if isinstance(c, str) else "")
    if "git_commit" in out:
        out["git_commit"] = out["git_commit"].map(lambda c: str(c)[:12] if isinstance(c, str) else "")
    if "data_hash" in records:
        out["data_hash"] = records["data_hash"].map(
            lambda h: " ".join(str(x)[:12] for x in h) if isinstance(h, list | tuple) else ""
        )
    order = [c for c in ("kind", "task_description", "model") if c in out]
    return out.sort_values(order, ignore_index=True, na_position="last") if order else out


def paper_reports(folder: str | Path | None) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
    """Every claimed-vs-reproduced CSV in `folder`: (paper, table, provenance of the CSV)."""
    from workbench.papers.contract import read_report

    if folder is None or not Path(folder).is_dir():
        return []
    out = []
    for csv in sorted(Path(folder).glob("*.csv")):
        try:
            frame = read_report(csv)
        except DataFormatError:
            continue  # other CSVs (a dataset summary) may live beside the reports
        notebook = csv.with_suffix(".ipynb")
        provenance = {
            "csv": str(csv),
            "csv_sha256": sha256_file(csv),
            "notebook": str(notebook) if notebook.exists() else "",
            "modified": pd.Timestamp(csv.stat().st_mtime, unit="s", tz="UTC").isoformat(timespec="seconds"),
        }
        out.append((csv.stem, frame, provenance))
    return out
