"""The one unit record and its one writer: what every kind of unit (forecast, score, detection, ltsf,
paper, published) records, committed by `commit_unit`.

A record says what the unit is (key, kind, identity), what made it (the code fingerprint, the git
commit and dirty flag, the run, the worker process) and what it evaluated (the resolved task with
its description, the model and its parameters, the seed); writers add their own facts (chunks,
timings, errors) and `commit_unit` hands it with the unit's tables to `ResultsStore.write_unit`,
which adds the files and commits it.

A pretrained forecaster's record says whether the evaluated data is in its pretraining corpus
(`workbench.models.leakage.record_facts`: leakage true / false / unknown and the corpus entry), whichever
writer builds it. Every record also says what it ran on (`hardware`: CPU model, cores, torch threads, GPU), so a
timing read from the store can be told apart from one measured on other hardware; forecast units
add their runtime (`RuntimeLog`: seconds fitting and predicting, and what the model reports of
itself through `runtime_info()`: device, dtype, batch size, seconds of its forward passes, weights
loaded or shared) and the Dask resources they were routed by.
"""

from __future__ import annotations

import functools
import os
import platform
import resource
import socket
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.fingerprint import git_state

if TYPE_CHECKING:
    import pandas as pd

    from workbench.store.results_store import ResultsStore

__all__ = [
    "RUNTIME_COLUMNS",
    "RuntimeLog",
    "commit_unit",
    "cpu_seconds",
    "first_in_process",
    "hardware",
    "new_run_id",
    "unit_record",
]


def new_run_id() -> str:
    """A run's id: its UTC start time (sortable) and a random suffix (unique across processes)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


# runtime facts a unit record also carries as top-level fields (columns of the `units` view); `cpu_s`,
# `load_s`, `load_cpu_s` and `first_in_process` are what a unit's cost is derived from (`workbench.store.cost`)
RUNTIME_COLUMNS = (
    *("device", "dtype", "batch_size", "fit_s", "predict_s", "inference_s", "train_s"),
    *("cpu_s", "load_s", "load_cpu_s", "first_in_process"),
)


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all its threads (torch's intra-op threads
    included), plus those of its child processes that have ended and been waited for.

    Wall time says what a unit took on a machine shared with other work; CPU time says what it cost,
    which is what a deployment pays for. Differences of two calls bracket a piece of work; in a
    process that runs one unit at a time (the engine's single-threaded workers, a unit's own child
    process) the difference is that unit's CPU."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# the models and detectors (spec keys) this process has computed a unit of (`first_in_process`)
_COMPUTED: set[str] = set()


def first_in_process(spec_key: str) -> bool:
    """Whether this is the first unit of this model or detector (its spec key) in this process, and
    remember it: that unit's CPU also paid for what a process does once (imports, numba's
    compilation), so `workbench.store.cost` sets it apart from the warm units.

    Parameters
    ----------
    spec_key
        The model's or detector's `ModelSpec.key()`.
    """
    first = spec_key not in _COMPUTED
    _COMPUTED.add(spec_key)
    return first


@functools.cache
def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """What this process computes on: CPU model, logical cores (and those it may use), torch's
    intra-op threads and the GPU's name when torch is loaded and sees CUDA. Torch is only asked
    when already imported, so a classic model's unit pays no torch import for it."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    out: dict[str, Any] = {"cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": usable}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
        try:
            if torch.cuda.is_available():
                out["gpu"] = torch.cuda.get_device_name(torch.cuda.current_device())
                out["gpu_count"] = torch.cuda.device_count()
        except Exception:  # a broken driver is no reason to lose the unit
            out["gpu"] = None
    return out


@dataclass
class RuntimeLog:
    """A unit's runtime over its windows: wall seconds of `fit` and `predict` summed, their CPU
    seconds (`cpu_seconds`), the seconds (wall and CPU) of weights loaded for it (a foundation
    model's first unit in a process: set apart from the per-series work), whether it was the first
    unit of its model in its process (`first_in_process`: numba's compilation and the like land
    there), and what the model reports of itself (`runtime_info()`; its seconds summed, the rest
    from the last window)."""

    fit_s: float = 0.0
    predict_s: float = 0.0
    windows: int = 0
    reported: dict[str, Any] = field(default_factory=dict)
    hardware: dict[str, Any] | None = None  # of the process that computed (a unit's child, with a timeout)
    cpu_s: float = 0.0
    load_s: float = 0.0
    load_cpu_s: float = 0.0
    first_in_process: bool | None = None
    cpu_clock: str = "process"  # `process` or `thread` (`workbench.engine.worker.CpuMeter`)

    def add(self, model: Any, fit_s: float, predict_s: float, cpu_s: float = 0.0) -> None:
        """One window's fit and predict: wall seconds, CPU seconds, and the model's own report."""
        if self.hardware is None:  # asked once per unit (of the process that computes it)
            self.hardware = hardware()
        self.fit_s += fit_s
        self.predict_s += predict_s
        self.cpu_s += cpu_s
        self.windows += 1
        report = getattr(model, "runtime_info", None)
        info = dict(report() or {}) if callable(report) else {}
        weights = info.get("weights")
        if isinstance(weights, dict) and weights.get("cache_hit") is False:  # loaded for this window
            self.load_s += float(weights.get("load_s") or 0.0)
            self.load_cpu_s += float(weights.get("load_cpu_s") or 0.0)
        for name, value in info.items():
            if name.endswith("_s") and isinstance(value, int | float) and name in self.reported:
                self.reported[name] = self.reported[name] + value
            else:
                self.reported[name] = value

    def facts(self, routed: str = "") -> dict[str, Any]:
        """The record's fields: `runtime` (everything, hardware included), `routed` (the resources
        the unit was submitted with, e.g. `GPU`; empty for none), and the flat runtime columns."""
        runtime = {
            "fit_s": round(self.fit_s, 4),
            "predict_s": round(self.predict_s, 4),
            "cpu_s": round(self.cpu_s, 6),  # a cheap model's unit takes milliseconds
            "load_s": round(self.load_s, 4),
            "load_cpu_s": round(self.load_cpu_s, 6),
            "first_in_process": self.first_in_process,
            "cpu_clock": self.cpu_clock,
            "windows": self.windows,
            **{k: round(v, 4) if k.endswith("_s") and isinstance(v, float) else v for k, v in self.reported.items()},
        }
        runtime.setdefault("device", "cpu")  # a model that does not say computes in this process on the CPU
        runtime["hardware"] = self.hardware or hardware()
        return {"runtime": runtime, "routed": routed, **{c: runtime.get(c) for c in RUNTIME_COLUMNS}}


def unit_record(
    *,
    key: str,
    kind: str,
    identity: str,
    code: str,
    run_id: str,
    task: Any,
    model: str,
    model_name: str,
    params: dict[str, Any],
    seed: int,
    **facts: Any,
) -> dict[str, Any]:
    """A unit's record as `commit_unit` commits it; `task` is any task (`Task`, `LTSFTask`,
    `DetectionTask`) or, for a paper's reproduction or published results, a `{key, description,
    fields, dataset, subset}` mapping."""
    if isinstance(task, dict):
        described = {
            "task_key": task["key"],
            "task": task.get("fields", {}),
            "task_description": task["description"],
            "dataset": task.get("dataset", ""),
            "subset": task.get("subset", ""),
        }
    else:
        subset = "+".join(task.subsets)
        described = {
            "task_key": task.key(),
            "task": task.resolved(),
            "task_description": task.describe(),
            "dataset": task.dataset,
            "subset": subset,
        }
    from workbench.models.leakage import record_facts

    return {
        "key": key,
        "kind": kind,
        "identity": identity,
        "code": code,
        **git_state(),
        "run_id": run_id,
        **described,
        "model": model,
        "model_name": model_name,
        "params": params,
        "seed": seed,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "hardware": hardware(),
        "error": "",
        **record_facts(kind, model_name, params, task),  # a pretrained model's: is the data in its corpus?
        **facts,
    }


def commit_unit(store: ResultsStore, *, tables: dict[str, pd.DataFrame | None], **fields: Any) -> dict[str, Any]:
    """Build a unit's record (`unit_record`) and commit it with its tables; the one writer of every
    result kind (forecast, detection, ltsf, paper claims, published results). Returns the committed
    record as `ResultsStore.write_unit` does.

    Every record carries the same core, so any unit read back from the store can be told apart,
    reproduced and trusted without knowing which writer made it: what the unit is (`key`, `kind`,
    `identity`: the key minus the code fingerprint, so a rerun under new code is recognised as the
    same work), what made it (`code`, the git commit and dirty flag, `run_id`, the worker process
    and its `hardware`), what it evaluated (the resolved task with its description, dataset and
    subset; the model's label, name and parameters; the seed), `error` (empty unless a fault is
    recorded) and, for a pretrained model, whether the data is in its pretraining corpus. The writer
    adds its own facts (chunks, timings, `status`, errors); the store adds the tables' files and the
    commit time, and seals the record.

    Parameters
    ----------
    store
        The results store to commit into.
    tables
        Table name to frame; None or a frame without columns means "no such table for this unit".
    **fields
        `unit_record`'s keyword arguments: the core fields (`key`, `kind` — one of the store's
        kinds —, `identity`, `code`, `run_id`, `task`, `model`, `model_name`, `params`, `seed`,
        all required) and the writer's own facts, which override core fields of the same name.
    """
    record = unit_record(**fields)
    return store.write_unit(record["key"], tables, record)
