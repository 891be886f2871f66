"""Pretrained models as engine citizens: weights loaded once per worker process, runtime recorded on
every unit and queryable from the store, units of accelerator models routed to a worker that
advertises a GPU (real worker processes; without CUDA the model still runs on that worker's CPU)."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.data import Panel
from workbench.errors import WorkbenchError
from workbench.foundation import loading
from workbench.store import sql as results

WEIGHTS = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "granite-ttm-r2-512-96"
needs_ttm = pytest.mark.skipif(
    importlib.util.find_spec("tsfm_public") is None or not WEIGHTS.is_dir(),
    reason="needs granite-tsfm and the TTM-R2 weights in ../shared/models",
)
TTM = {"name": "ttm", "params": {"model": str(WEIGHTS), "batch_size": 3}}


def panel(n_series: int = 4, length: int = 560, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        t = np.arange(length)
        y = 5 + np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 0.2, length)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": t, "y": y}))
    return Panel.from_long(pd.concat(frames, ignore_index=True), name="runtime_toy")


@pytest.fixture(scope="module")
def two_workers():
    """A scheduler and two single-threaded worker processes: `gpu` advertises the resource GPU=1,
    `cpu` advertises nothing."""
    from distributed import Client, Nanny, Scheduler, SpecCluster

    workers = {
        "gpu": {"cls": Nanny, "options": {"nthreads": 1, "resources": {"GPU": 1}}},
        "cpu": {"cls": Nanny, "options": {"nthreads": 1}},
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        yield client


def _worker_named(client, name: str) -> tuple[str, str]:
    """(address, `host:pid` as unit records name it) of the worker called `name`."""
    import os
    import socket

    info = client.scheduler_info(n_workers=-1)["workers"]
    address = next(a for a, w in info.items() if w["name"] == name)
    ident = client.run(lambda: f"{socket.gethostname()}:{os.getpid()}", workers=[address])[address]
    return address, ident


def test_when_one_process_asks_for_a_checkpoint_from_many_threads_then_it_is_loaded_once(tmp_path):
    loading.clear()
    calls = []
    barrier = threading.Barrier(4)

    def read():
        calls.append(1)
        return object()

    def ask():
        barrier.wait()
        return loading.load("toy", str(tmp_path), read, device="cpu").value

    threads, got = [], []
    for _ in range(4):
        t = threading.Thread(target=lambda: got.append(ask()))
        threads.append(t)
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(v) for v in got}) == 1
    stats = loading.stats()
    assert (stats["loads"], stats["hits"]) == (1, 3)
    other = loading.load("toy", str(tmp_path), read, device="cuda:0")  # another device is another model
    assert other.hit is False and loading.stats()["loads"] == 2
    (tmp_path / "model.safetensors").write_bytes(b"new weights")  # changed in place: loaded again
    assert loading.load("toy", str(tmp_path), read, device="cpu").hit is False
    loading.clear()


@needs_ttm
def test_when_ttm_and_a_classic_model_run_on_two_workers_then_ttm_is_routed_loaded_once_and_runtime_recorded(
    two_workers, tmp_path
):
    import torch

    client = two_workers
    gpu_address, gpu_worker = _worker_named(client, "gpu")
    client.run(loading.clear)
    store = tmp_path / "store"
    summary = workbench.evaluate(
        panel(), [TTM, "naive"], client=client, store=store, chunk_size=2, horizon=24, season_length=24, progress=False
    )
    assert summary.counts() == {"ok": 4}
    records = summary.store.records().set_index("key")
    records = records[records["kind"] == "forecast"]  # the units that ran the models (not their score units)
    ttm = records[records["model_name"] == "ttm"]
    naive = records[records["model_name"] == "naive"]
    assert len(ttm) == 2 and len(naive) == 2

    # routed: both TTM units ran on the worker with the GPU resource, and say so
    assert set(ttm["worker"]) == {gpu_worker}
    assert set(ttm["routed"]) == {"GPU"}
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"  # this machine's answer, not the worker's
    assert all(str(d).startswith(expected_device) for d in ttm["device"])
    assert set(naive["routed"]) == {""} and set(naive["device"]) == {"cpu"}

    # weights once per worker: the GPU worker's cache loaded TTM once and served the second unit
    stats = client.run(loading.stats, workers=[gpu_address])[gpu_address]
    ttm_keys = [k for k in stats["keys"] if k["family"] == "ttm"]
    assert len(ttm_keys) == 1 and (ttm_keys[0]["loads"], ttm_keys[0]["hits"]) == (1, 1)
    assert ttm_keys[0]["fingerprint"].startswith("sha256:")
    hits = sorted(r["weights"]["cache_hit"] for r in ttm["runtime"])
    assert hits == [False, True]

    # runtime of every unit: TTM's batching and seconds, the hardware of the process that computed
    for runtime in ttm["runtime"]:
        assert runtime["batch_size"] == 3 and runtime["n_series"] == 2 and runtime["n_batches"] == 1
        assert runtime["inference_s"] > 0 and runtime["predict_s"] >= runtime["inference_s"]
        assert runtime["dtype"] == "float32"
        assert runtime["hardware"]["cpu"] and runtime["hardware"]["torch_threads"] >= 1
    for runtime in naive["runtime"]:
        assert runtime["fit_s"] >= 0 and runtime["predict_s"] > 0
        assert runtime["hardware"]["cpu"] and runtime["hardware"]["cores"] >= 1

    # queryable: flat columns and JSON objects of the units view
    rows = results.sql(
        "select model_name, routed, device, batch_size, inference_s, predict_s, hardware, leakage, leakage_entry "
        "from units where kind = 'forecast' order by model_name",
        store,
    )
    assert rows.loc[rows["model_name"] == "ttm", "batch_size"].tolist() == [3, 3]
    assert rows.loc[rows["model_name"] == "naive", "batch_size"].isna().all()  # a classic model has no batches
    assert (rows.loc[rows["model_name"] == "ttm", "inference_s"] > 0).all()
    assert rows["predict_s"].notna().all()
    assert all(json.loads(h)["cpu"] for h in rows["hardware"])
    # a pretrained model's unit says whether the data was in its corpus: data in memory has no provenance
    assert set(rows.loc[rows["model_name"] == "ttm", "leakage"]) == {"unknown"}
    assert rows.loc[rows["model_name"] == "naive", "leakage"].isna().all()

    # a rerun computes nothing; the run record names the routed models
    again = workbench.evaluate(
        panel(), [TTM, "naive"], client=client, store=store, chunk_size=2, horizon=24, season_length=24, progress=False
    )
    assert again.n_computed == 0
    runs = summary.store.runs()
    first = runs[runs["run_id"] == summary.run_id].iloc[0]
    assert first["routed"] == "GPU=1" and "ttm" in first["accelerated_models"][0]


@needs_ttm
def test_when_resources_are_asked_that_no_worker_has_then_the_run_is_refused_naming_them(two_workers, tmp_path):
    with pytest.raises(WorkbenchError, match=r"TPU.*no worker"):
        workbench.evaluate(
            panel(2),
            [TTM],
            client=two_workers,
            store=tmp_path / "store",
            horizon=24,
            season_length=24,
            resources={"TPU": 1},
            progress=False,
        )


@needs_ttm
def test_when_routing_is_asked_for_or_turned_off_then_the_resources_follow_the_cluster(two_workers):
    from workbench.engine.runner import accelerator_resources, advertised_resources, wants_accelerator
    from workbench.models.spec import ModelSpec

    assert advertised_resources(two_workers) == {"GPU": 1.0}
    assert accelerator_resources(two_workers, None) == {"GPU": 1}  # the default: a GPU where one is advertised
    assert accelerator_resources(two_workers, {"GPU": 1}) == {"GPU": 1}
    assert accelerator_resources(two_workers, False) is None
    assert wants_accelerator(ModelSpec.of(TTM)) is True
    assert wants_accelerator(ModelSpec(name="ttm", params={"model": str(WEIGHTS), "device": "cpu"})) is False
    assert wants_accelerator(ModelSpec(name="naive")) is False
