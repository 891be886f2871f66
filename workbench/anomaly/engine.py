"""Detection on the Dask engine, with the forecasting engine's connection and results store.

A unit is (detection task, detector spec, chunk of items). A worker cuts the task's items into
parquet chunks once; each unit reads its own chunk, scores its items and commits to the store the
per-row scores (the store's `forecasts/<unit>.parquet`) and per-item facts (`metrics/<unit>.parquet`,
with the forecasting columns `task_key, dataset, subset, model, unit`), its record last. A rerun
skips complete units, so a killed run resumes. Scoring the corpus (NAB's corpus-wide threshold,
the point-wise metrics) needs every item and happens on the client from the stored scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench import __version__
from workbench.anomaly.run import Detection, as_detector, score_item
from workbench.anomaly.task import DetectionData, DetectionTask
from workbench.atomic import atomic_write
from workbench.config import cache_dir
from workbench.data.hashing import sha256_file
from workbench.engine.runner import connect
from workbench.engine.store import ResultsStore
from workbench.engine.units import ModelSpec, new_run_id
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class ItemChunk:
    """Some items of a detection task, on disk (item, unique_id, y in row order)."""

    index: int
    items: tuple[str, ...]
    path: str
    data_hash: str


@dataclass(frozen=True)
class DetectionUnit:
    task: DetectionTask
    detector: ModelSpec
    chunk: ItemChunk
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        payload = {
            "kind": "detection",
            "task": self.task.key(),
            "detector": self.detector.key(),
            "data": self.chunk.data_hash,
            "items": list(self.chunk.items),
            "version": __version__,
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def prepare_item_chunks(task: DetectionTask, chunk_size: int) -> list[ItemChunk]:
    """Cut the task's items into parquet chunks (on a worker: the client never holds the series)."""
    data = task.load()
    folder = cache_dir() / "detection-chunks" / task.key()
    chunks = []
    for index, start in enumerate(range(0, len(data.items), chunk_size)):
        items = tuple(data.items[start : start + chunk_size])
        frame = data.frame.loc[data.frame["item"].isin(items), ["item", "unique_id", "y"]]
        path = folder / f"chunk-{index:05d}.parquet"
        atomic_write(path, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
        chunks.append(ItemChunk(index, items, str(path), sha256_file(path)))
    return chunks


def compute_detection_unit(unit: DetectionUnit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-item facts, per-row scores) of one unit, computed in this process."""
    detector = as_detector(unit.detector.model_dump())
    frame = pd.read_parquet(unit.chunk.path)
    facts, scores = [], []
    for item in unit.chunk.items:
        sub = frame[frame["item"] == item]
        channels = {uid: g["y"].to_numpy(float) for uid, g in sub.groupby("unique_id", sort=False)}
        start = time.perf_counter()
        s = score_item(detector, channels, item, unit.task.probationary_percent)
        facts.append({"unique_id": item, "metric": "seconds", "value": time.perf_counter() - start})
        facts.append({"unique_id": item, "metric": "mean_score", "value": float(np.mean(s)) if len(s) else np.nan})
        scores.append(pd.DataFrame({"unique_id": item, "row": np.arange(len(s)), "anomaly_score": s}))
    metrics, out = pd.DataFrame(facts), pd.concat(scores, ignore_index=True)
    for f in (metrics, out):
        f.insert(0, "model", unit.detector.label)
        f.insert(0, "subset", "+".join(unit.task.subsets))
        f.insert(0, "dataset", unit.task.dataset)
        f.insert(0, "task_key", unit.task.key())
        f["unit"] = unit.key
    return metrics, out


def run_detection_unit(unit: DetectionUnit, store_root: str, run_id: str) -> dict:
    """Compute one unit and commit it; a detector's failure is recorded, never raised."""
    start = time.perf_counter()
    record = {
        "key": unit.key,
        "kind": "detection",
        "run_id": run_id,
        "task_key": unit.task.key(),
        "task": unit.task.model_dump(mode="json"),
        "dataset": unit.task.dataset,
        "subset": "+".join(unit.task.subsets),
        "model": unit.detector.label,
        "model_name": unit.detector.name,
        "params": unit.detector.params,
        "chunks": [unit.chunk.index],
        "n_series": len(unit.chunk.items),
        "window": None,
        "seed": unit.seed,
        "data_hash": [unit.chunk.data_hash],
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "error": "",
    }
    metrics, scores = pd.DataFrame(), None
    try:
        metrics, scores = compute_detection_unit(unit)
        record["status"] = "ok"
    except Exception as exc:
        record["status"] = "error"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["trace"] = traceback.format_exc(limit=6)
    record["duration_s"] = round(time.perf_counter() - start, 4)
    return ResultsStore(store_root).write_unit(unit.key, metrics, scores, record)


@dataclass
class EngineDetections:
    data: DetectionData
    detections: list[Detection]
    records: pd.DataFrame
    failures: dict[str, str]
    store: ResultsStore


def detect_on_engine(
    task: DetectionTask,
    detectors: list[str | dict | ModelSpec],
    *,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    store: str | Path | ResultsStore | None = None,
    chunk_size: int = 8,
    seed: int = 0,
    progress: bool = True,
    data: DetectionData | None = None,
) -> EngineDetections:
    """Every detector on every item of `task`, one Dask task per (detector, chunk of items)."""
    specs = [ModelSpec.of(d) for d in detectors]
    for spec in specs:  # unknown names fail before any work
        as_detector(spec.model_dump())
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    data = data if data is not None else task.load()
    run_id = new_run_id()
    with connect(client, scheduler, n_workers) as c:
        chunks = c.submit(prepare_item_chunks, task, chunk_size, pure=False).result()
        units = [DetectionUnit(task, spec, chunk, seed) for spec in specs for chunk in chunks]
        done = store.complete([u.key for u in units])
        todo = [u for u in units if u.key not in done]
        if todo:
            futures = c.map(run_detection_unit, todo, store_root=str(store.root), run_id=run_id,
                            key=[f"detect-{u.key}-{run_id}" for u in todo], pure=False)  # fmt: skip
            from distributed import as_completed

            bar = tqdm(total=len(todo), desc="detection units", unit="unit", disable=not progress)
            for _ in as_completed(futures):
                bar.update()
            bar.close()
    records = pd.DataFrame([store.record(u.key) for u in units])
    detections, failures = [], {}
    for spec in specs:
        mine = records[records["model"] == spec.label]
        failed = mine[mine["status"] != "ok"]
        if len(failed):
            failures[spec.label] = str(failed["error"].iloc[0])
            continue
        frames = [pd.read_parquet(store.forecasts_path(k)) for k in mine["key"]]
        scores = pd.concat(frames, ignore_index=True)
        per_item = {item: g.sort_values("row")["anomaly_score"].to_numpy() for item, g in scores.groupby("unique_id")}
        detector = as_detector(spec.model_dump())
        detections.append(
            Detection(
                spec.label, detector.fitted_on, data.corpus.align(per_item, spec.label), float(mine["duration_s"].sum())
            )
        )
    if failures and not detections:
        raise WorkbenchError(f"{task.name}: every detector failed: {failures}")
    return EngineDetections(data, detections, records, failures, store)
