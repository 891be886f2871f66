"""Ekambaram et al. 2024 (Tiny Time Mixers, NeurIPS): the Granite TTM-R2 zero-shot and 5%-few-shot table.

The published numbers (`combined_results-granite-r2.csv` of ibm-granite/granite-tsfm) come from
`ttm_full_benchmarking.py` over granite-tsfm's `load_dataset`; read from that code:

- **Splits** (`resources/data_config/etth1.yaml`): ETT-hour rows [0, 8640) / [8640, 11520) /
  [11520, 14400) (12/4/4 months of 30 days), validation and test starting `context_length` rows early
  (`get_split_params`): the LTSF borders (`workbench.ltsf.borders(..., "ett_hour")`) with the input
  length set to the context length, 512 here: test rows [11008, 14400), 2785 windows at horizon 96.
- **Scaling**: `TimeSeriesPreprocessor` standard-scales every channel with the statistics of the
  training split (sklearn's, population standard deviation), applied to all splits; the MSE is on
  that scale. The model then standardises each window by its own context inside (`scaling: std`)
  and undoes it, so its forecasts are handed the scaled data as they are (`scaling="model"` of the
  adapter).
- **Windows**: stride 1, no padding (`enable_padding=False`), all channels of the table, each
  forecast channel-independently.
- **Test loader**: the Hugging Face `Trainer.evaluate` at batch 64 for ETT with the default
  `dataloader_drop_last=False`: every test window counts, and its `eval_loss` (the batch MSEs
  weighted by batch size) is the MSE pooled over windows x steps x channels.
- **5% few-shot**: the first `int(0.05 (8640 - 512)) + 512 = 918` training rows (311 windows,
  `fewshot_location="first"`; the scaler is still fitted on the whole training split), head dropout
  0.7 for ETT, backbone frozen, AdamW with a one-cycle schedule at a learning rate chosen by
  `optimal_lr_finder`, 50 epochs, early stopping on the validation loss with patience 10, best
  weights restored. Here: the same rows, dropout, frozen backbone, epochs and patience through the
  workbench trainer (Adam, seeded; the one-cycle factors set per epoch; the learning rate the lr finder
  suggests on each split, found once: `FEWSHOT_LR`; see NOTES.md for what that changes).

Every run is an LTSF unit of the results store (its record in `ttm_runs`, its pooled scores in
`metrics`); a rerun with the same code, data, weights and settings reads it back instead. The loop over
the cells is the long-horizon driver's (`workbench.papers.long_horizon`), shared with LTSF-Linear.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from workbench.engine.runner import package_versions
from workbench.errors import SourceUnavailableError, UnknownNameError, WorkbenchError
from workbench.fingerprint import code_fingerprint, digest
from workbench.foundation import ttm as adapter
from workbench.ltsf import LTSFTask, Prepared, Table, Windows, check_protocol, scores
from workbench.neural.trainer import pick_device
from workbench.papers.long_horizon import (
    Cell,
    CellOutcome,
    CellUnavailable,
    LongHorizonPaper,
    PaperDataset,
    reproduced_frame,
    with_deviation,
)
from workbench.store.results_store import ResultsStore

__all__ = [
    "BENCHMARK_BATCH",
    "CONTEXT_LENGTH",
    "DATASETS",
    "FEWSHOT_FRACTION",
    "FEWSHOT_HEAD_DROPOUT",
    "FEWSHOT_LR",
    "LOCAL_WEIGHTS",
    "METHODS",
    "PAPER",
    "RUNS_TABLE",
    "SCORES",
    "Settings",
    "WindowForecaster",
    "default_model",
    "describe",
    "few_shot",
    "fewshot_rows",
    "load",
    "one_cycle",
    "paper_dataset",
    "reproduced",
    "run_cells",
    "run_one",
    "subset_name",
    "task_for",
    "versions",
    "weights_fingerprint",
    "with_deviation",
    "zero_shot",
]

# the paper's dataset names -> the card, subset and split rule (the input length is the context length)
DATASETS = {
    "ETTh1": PaperDataset("ett", "ETTh1", "ett_hour"),
    "ETTh2": PaperDataset("ett", "ETTh2", "ett_hour"),
}
METHODS = {"zero-shot": "TTM-R2 zero-shot", "few-shot 5%": "TTM-R2 5% few-shot"}
CONTEXT_LENGTH = 512
BENCHMARK_BATCH = 64  # ttm_full_benchmarking.py: batch 64 for every dataset but traffic and electricity
FEWSHOT_FRACTION = 0.05
FEWSHOT_HEAD_DROPOUT = 0.7  # ttm_full_benchmarking.py: "change head dropout to 0.7 for ett datasets"
# the learning rate granite-tsfm's `optimal_lr_finder` suggests for each few-shot split (valley, batch 64, seed 42,
# head dropout 0.7, backbone frozen), run once here with granite-tsfm 0.3.11 on one CPU thread
FEWSHOT_LR = {"ETTh1": 4.3288e-4, "ETTh2": 1.0975e-3}
RUNS_TABLE = "ttm_runs"
LOCAL_WEIGHTS = "granite-ttm-r2-512-96"  # the folder of ../shared/models/ holding this checkpoint
PAPER = LongHorizonPaper(DATASETS, "TTM benchmark dataset", RUNS_TABLE)


def subset_name(context_length: int, horizon: int) -> str:
    return f"CL{context_length}-FL{horizon}"


def task_for(dataset: str, horizon: int = 96, context_length: int = CONTEXT_LENGTH) -> LTSFTask:
    """The benchmark's task: LTSF borders with the context as input length, every test window scored."""
    return PAPER.task(dataset, horizon, input_len=context_length)


def one_cycle(epochs: int, steps_per_epoch: int, pct_start: float = 0.3, div: float = 25.0, final_div: float = 1e4):
    """Per-epoch factors of torch's `OneCycleLR` (cosine, its defaults), taken at each epoch's middle step:
    the benchmark steps it per batch, the workbench trainer sets the learning rate once per epoch."""
    total = epochs * steps_per_epoch
    up = pct_start * total - 1

    def cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    def factor(epoch: int) -> float:
        step = epoch * steps_per_epoch + steps_per_epoch // 2
        if step <= up:
            return cos(1 / div, 1.0, step / up)
        return cos(1.0, 1 / (div * final_div), (step - up) / (total - 1 - up))

    return factor


def paper_dataset(task: LTSFTask) -> str:
    return PAPER.name_of(task)


def fewshot_rows(n_train: int, context_length: int, fraction: float = FEWSHOT_FRACTION) -> int:
    """Rows of the training split a few-shot run sees (granite-tsfm's `select_by_fixed_fraction`, "first")."""
    return int(fraction * (n_train - context_length)) + context_length


class WindowForecaster(nn.Module):
    """A TTM as a window model `x [b, context, c] -> [b, h, c]` for the LTSF scorer (channel-independent)."""

    def __init__(self, ttm: Any, horizon: int, batch_size: int, scaling: Literal["context", "model"]) -> None:
        super().__init__()
        self.ttm, self.horizon, self.batch_size, self.scaling = ttm, horizon, batch_size, scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = adapter.forecast_windows(self.ttm, x, self.horizon, batch_size=self.batch_size, scaling=self.scaling)
        return y.to(device=x.device)


@dataclass(frozen=True)
class Settings:
    """How a cell is run (everything but the dataset and the method)."""

    model: str
    revision: str | None = None
    horizon: int = 96
    context_length: int = CONTEXT_LENGTH
    batch_size: int = BENCHMARK_BATCH  # windows per forward pass (x 7 channels)
    scaling: Literal["context", "model"] = "model"
    device: str | None = None
    dtype: Literal["float32", "float64", "bfloat16"] = "float32"
    # few-shot
    lr: float | None = None  # None: FEWSHOT_LR of the dataset
    one_cycle: bool = True  # the benchmark's OneCycleLR, per epoch
    epochs: int = 50
    patience: int = 10
    seed: int = 42  # ttm_args' default random_seed
    fraction: float = FEWSHOT_FRACTION

    def fewshot_lr(self, dataset: str) -> float:
        return self.lr if self.lr is not None else FEWSHOT_LR[dataset]

    def training(self, dataset: str) -> dict[str, Any]:
        keys = ("one_cycle", "epochs", "patience", "seed", "fraction", "batch_size")
        return {"lr": self.fewshot_lr(dataset), **{k: getattr(self, k) for k in keys}}


def weights_fingerprint(model: str) -> str:
    """sha256 of a local checkpoint's weights (a hub id stands for itself)."""
    folder = Path(model)
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) if folder.is_dir() else []
    if not files:
        return model
    h = hashlib.sha256()
    for path in files:
        h.update(path.read_bytes())
    return h.hexdigest()


def load(settings: Settings) -> Any:
    """The checkpoint, checked against the cell's context and horizon."""
    model = adapter.load_model(settings.model, settings.revision, str(pick_device(settings.device)), settings.dtype)
    context_length, _ = adapter.checkpoint_lengths(model)
    if context_length != settings.context_length:
        raise WorkbenchError(
            f"ttm: the checkpoint {settings.model!r} has context length {context_length}, the cell asks for "
            f"{settings.context_length}; load the revision of that context length"
        )
    adapter.check_horizon(model, settings.horizon)
    return model


def zero_shot(prepared: Prepared, model: Any, settings: Settings) -> dict[str, Any]:
    """Pooled test scores of the checkpoint as it is."""
    window = WindowForecaster(model, settings.horizon, settings.batch_size * len(prepared.channels), settings.scaling)
    return scores(window, prepared, batch_size=settings.batch_size)


def few_shot(prepared: Prepared, model: Any, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune decoder and head on the first rows of the training split (backbone frozen), then score."""
    n_train = prepared.borders.train[1] - prepared.borders.train[0]
    rows = fewshot_rows(n_train, settings.context_length, settings.fraction)
    train = Windows(prepared.train.values[:rows], settings.context_length, settings.horizon, "few-shot train")
    steps = math.ceil(len(train) / settings.batch_size)
    schedule = one_cycle(settings.epochs, steps) if settings.one_cycle else None
    tuned, result = adapter.finetune(
        model,
        train,
        prepared.val,  # scored in one pass, its loss over all validation windows
        settings.horizon,
        epochs=settings.epochs,
        lr=settings.fewshot_lr(paper_dataset(prepared.task)),
        batch_size=settings.batch_size,
        patience=settings.patience,
        seed=settings.seed,
        freeze_backbone=True,
        head_dropout=FEWSHOT_HEAD_DROPOUT,
        device=str(next(model.parameters()).device),
        lr_schedule=schedule,
    )
    facts = {
        "fewshot_rows": rows,
        "fewshot_windows": len(train),
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch + 1,
        "best_val_loss": min(r["val_loss"] for r in result.history),
    }
    return zero_shot(prepared, tuned.to(dtype=adapter.DTYPES[settings.dtype]), settings), facts


def default_model() -> str:
    """The offline copy of the checkpoint beside the checkout (`../shared/models/`) where there is one,
    else its hub id (the `main` revision of TTM-R2 is the context-512, horizon-96 model)."""
    folder = Path(__file__).resolve().parents[2].parent / "shared" / "models" / LOCAL_WEIGHTS
    return str(folder) if folder.is_dir() else adapter.DEFAULT_MODEL


def run_cells(
    datasets: Iterable[str],
    methods: Iterable[str],
    settings: Settings,
    store: str | Path | ResultsStore | None = None,
    threads: int | None = None,
) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """Every (dataset, method) run, from the store or computed and stored; and, per (dataset, method)
    not run, why (data or weights unavailable, granite-tsfm not installed). The checkpoint is loaded
    once, when the first run not in the store needs it."""
    methods = list(methods)
    for method in methods:
        if method not in METHODS:
            raise UnknownNameError("TTM method", method, list(METHODS))
    code = digest({"workbench": code_fingerprint(__name__), "packages": versions()}, 24)
    weights = weights_fingerprint(settings.model)
    loaded: dict[str, Any] = {}  # the checkpoint, or why it cannot be loaded

    def cells(dataset: str, table: Table) -> Iterable[Cell]:
        task = task_for(dataset, settings.horizon, settings.context_length)
        for method in methods:
            spec = {"method": method, "weights": weights, "revision": settings.revision, "scaling": settings.scaling}
            spec |= {"dtype": settings.dtype, "training": settings.training(dataset) if method != "zero-shot" else None}
            seed = settings.seed if method != "zero-shot" else 0  # zero-shot draws nothing
            yield Cell(dataset, method, seed, task, spec)

    def compute(cell: Cell, prepared: Prepared, key: str) -> dict[str, Any]:
        if not loaded:
            try:
                loaded["model"] = load(settings)
            except (SourceUnavailableError, WorkbenchError) as exc:
                loaded["cannot"] = f"model unavailable: {exc}"
        if "cannot" in loaded:
            raise CellUnavailable(loaded["cannot"])
        return run_one(key, cell.task, prepared, loaded["model"], cell.method, settings)

    return PAPER.run_cells(
        datasets, methods, cells=cells, compute=compute, describe=describe, code=code, store=store, threads=threads
    )


def run_one(
    key: str, task: LTSFTask, prepared: Prepared, model: Any, method: str, settings: Settings
) -> dict[str, Any]:
    """Score one cell and return its record (`key`: its unit's)."""
    findings = check_protocol(prepared)
    start = time.perf_counter()
    facts: dict[str, Any] = {}
    if method == "zero-shot":
        scored = zero_shot(prepared, model, settings)
    else:
        scored, facts = few_shot(prepared, model, settings)
    device = next(model.parameters()).device
    record = {
        "paper_dataset": paper_dataset(task),
        "dataset": task.dataset,
        "subset": task.subset,
        "method": method,
        "context_length": settings.context_length,
        "horizon": settings.horizon,
        **scored,
        "test_windows": len(prepared.test),
        "scored_windows": prepared.n_test_scored,
        "channels": len(prepared.channels),
        "seconds": time.perf_counter() - start,
        "device": str(device) if device.type == "cpu" else f"{device} ({torch.cuda.get_device_name(device)})",
        "threads": torch.get_num_threads(),
        "scaling": settings.scaling,
        "dtype": settings.dtype,
        "batch_size": settings.batch_size,
        "weights": weights_fingerprint(settings.model),
        "model": settings.model,
        "protocol_findings": "; ".join(findings),
        "task_key": task.key(),
        "data_hash": prepared.table.data_hash,
        "run_key": key,
        "fewshot_lr": settings.fewshot_lr(paper_dataset(task)) if method != "zero-shot" else None,
        **{k: facts.get(k) for k in ("fewshot_rows", "fewshot_windows", "epochs_run", "best_epoch", "best_val_loss")},
        **{f"pkg_{k}": v for k, v in versions().items() if k in ("torch", "transformers", "granite-tsfm")},
    }
    return record


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = dict(package_versions())
    for name in ("transformers", "granite-tsfm"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# the pooled scores a run stores as metric rows (name -> the run record's field)
SCORES = {"mse": "mse_all", "mae": "mae_all", "mse_original": "mse_original_all", "mae_original": "mae_original_all"}


def describe(cell: Cell, record: dict[str, Any]) -> CellOutcome:
    """What a run's `ltsf` unit says of its model beside its record (`ttm_runs`): the method's label,
    the settings that change the numbers, and the pooled scores as `metrics` rows."""

    def how(name: str) -> str:
        scale = " (original scale)" if "original" in name else " (scaled with the training split's statistics)"
        return "pooled over test windows x steps x channels" + scale

    return CellOutcome(
        model=METHODS[cell.method],
        model_name="ttm",
        params={k: record[k] for k in ("scaling", "dtype", "batch_size", "weights")},
        seed=0,
        n_series=int(record["channels"]),
        scores={name: (record[field], how(name)) for name, field in SCORES.items()},
    )


def reproduced(runs: pd.DataFrame, skipped: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Rows for `compare`: the MSE of every run on all test windows, with the window count in the note."""
    rows = []
    for _, r in runs.iterrows():
        note = f"{int(r['scored_windows'])} test windows x {int(r['channels'])} channels, {r['scaling']} scaling"
        if r["method"] != "zero-shot":
            note += f"; tuned on {int(r['fewshot_windows'])} windows, best epoch {int(r['best_epoch'])}"
        subset = subset_name(int(r["context_length"]), int(r["horizon"]))
        rows.append((r["paper_dataset"], subset, METHODS[r["method"]], "MSE", "", float(r["mse_all"]), note))
    for (dataset, method), why in skipped.items():
        rows.append((dataset, subset_name(CONTEXT_LENGTH, 96), METHODS[method], "MSE", "", np.nan, why))
    return reproduced_frame(rows)
