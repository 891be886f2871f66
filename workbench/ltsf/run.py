"""Train and score one LTSF model on one task: the glue between protocol, models and trainer.

`TrainConfig.reference_rng` follows the random stream of the reference LTSF-Linear code: the seed
is set once, the model's initial weights are drawn, and every epoch the train and validation
loaders shuffle from torch's global generator while the test loader (evaluated each epoch there,
for its log) draws its base seed. With the same seed the same batches are seen in the same order,
which is what lets single-seed published numbers be matched closely.

Scores: MSE and MAE pooled over test windows x horizon steps x channels on the scaled data (the
papers' convention), for the windows the task's rule scores and for all windows, optionally on the
original scale too. Everything needed to say how a number was made travels with it.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

import workbench
from workbench.ltsf.models import MODELS, build_model
from workbench.ltsf.protocol import LTSFConfigError, LTSFTask, Prepared, check_protocol, prepare
from workbench.ltsf.windows import Windows
from workbench.neural.trainer import Trainer, pick_device, seed_everything

__all__ = ["TrainConfig", "run", "scores"]


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained (the reference defaults: Adam, 10 epochs, patience 3, lr halving)."""

    batch_size: int = 32
    lr: float = 1e-3
    epochs: int = 10
    patience: int = 3
    seed: int = 2021
    lradj: Literal["type1", "constant"] = "type1"
    dlinear_init: Literal["default", "v1"] = "default"
    reference_rng: bool = True
    device: str | None = None
    threads: int | None = None  # torch CPU threads (None: leave as is)

    def schedule(self) -> Any:
        """type1 (reference `adjust_learning_rate`): epochs 1 and 2 at lr, then halving each epoch."""
        return (lambda e: 0.5 ** max(e - 1, 0)) if self.lradj == "type1" else None


def scores(model: torch.nn.Module, prepared: Prepared, batch_size: int = 256) -> dict[str, float]:
    """MSE / MAE on the task's scored windows and on all windows, scaled and original scale."""
    test: Windows = prepared.test
    device = next(iter(model.parameters()), torch.empty(0)).device
    test = test.to(device)
    n, kept, h = len(test), prepared.n_test_scored, test.horizon
    scale = torch.as_tensor(prepared.scaler.scale, dtype=torch.float64, device=device)
    keys = ("se", "ae", "se_k", "ae_k", "se_o", "ae_o")
    sums = {k: torch.zeros((), dtype=torch.float64, device=device) for k in keys}
    model.eval()
    with torch.no_grad():
        for start in range(0, n, batch_size):
            index = torch.arange(start, min(start + batch_size, n), device=device)
            x, y = test.take(index)
            err = (model(x) - y).double()
            se, ae = (err**2).sum(dim=(1, 2)), err.abs().sum(dim=(1, 2))
            keep = index < kept
            sums["se"] += se.sum()
            sums["ae"] += ae.sum()
            sums["se_k"] += se[keep].sum()
            sums["ae_k"] += ae[keep].sum()
            err_o = err * scale  # the mean cancels in a difference
            sums["se_o"] += (err_o**2).sum()
            sums["ae_o"] += err_o.abs().sum()
    c = test.channels
    v = {k: float(t) for k, t in sums.items()}
    return {
        "mse": v["se_k"] / (kept * h * c),
        "mae": v["ae_k"] / (kept * h * c),
        "mse_all": v["se"] / (n * h * c),
        "mae_all": v["ae"] / (n * h * c),
        "mse_original_all": v["se_o"] / (n * h * c),
        "mae_original_all": v["ae_o"] / (n * h * c),
    }


def run(task: LTSFTask, model_name: str, config: TrainConfig, prepared: Prepared | None = None) -> dict[str, Any]:
    """Train (unless Repeat) and score; one flat record with the result and its provenance."""
    if model_name not in MODELS:
        from workbench.errors import UnknownNameError

        raise UnknownNameError("LTSF model", model_name, list(MODELS))
    if config.threads:
        torch.set_num_threads(config.threads)
    prepared = prepared if prepared is not None else prepare(task)
    findings = check_protocol(prepared)
    device = pick_device(config.device)
    start = time.perf_counter()
    seed_everything(config.seed)
    options = {"init": config.dlinear_init} if model_name == "DLinear" else {}
    model = build_model(model_name, task.input_len, task.horizon, **options)
    history: list[dict] = []
    best_epoch = -1
    if model_name != "Repeat":
        if len(prepared.train) < config.batch_size:
            raise LTSFConfigError(
                f"{prepared.table.name}: {len(prepared.train)} training windows, fewer than one batch of "
                f"{config.batch_size} (the last incomplete batch is dropped)"
            )
        trainer = Trainer(
            max_epochs=config.epochs,
            batch_size=config.batch_size,
            lr=config.lr,
            patience=config.patience,
            seed=config.seed,
            device=str(device),
            progress=False,
            drop_last=True,
            lr_schedule=config.schedule(),
            shuffle_rng="global" if config.reference_rng else "generator",
            val_batch_size=config.batch_size,
            after_epoch=_test_loader_draw if config.reference_rng else None,
        )
        result = trainer.fit_batches(model, prepared.train.to(device), prepared.val.to(device))
        model, history, best_epoch = result.model, result.history, result.best_epoch
    else:
        model = model.to(device)
    seconds = time.perf_counter() - start
    record: dict[str, Any] = {
        "dataset": task.dataset,
        "subset": task.subset,
        "model": model_name,
        "input_len": task.input_len,
        "horizon": task.horizon,
        "features": task.features,
        **scores(model, prepared),
        "test_windows": len(prepared.test),
        "scored_windows": prepared.n_test_scored,
        "test_rule": task.test_windows_rule,
        "epochs_run": len(history),
        "best_epoch": best_epoch + 1 if history else 0,
        "seconds": seconds,
        "device": str(device) if device.type == "cpu" else f"{device} ({torch.cuda.get_device_name(device)})",
        "protocol_findings": "; ".join(findings),
        "task_key": task.key(),
        "data_hash": prepared.table.data_hash,
        "torch": torch.__version__,
        "workbench": workbench.__version__,
        "python": platform.python_version(),
        **{f"cfg_{k}": v for k, v in asdict(config).items() if k != "device"},
    }
    return record


def _test_loader_draw(epoch: int) -> None:
    """The reference loop scores the test loader every epoch; a loader pass draws one base seed."""
    torch.empty((), dtype=torch.int64).random_()
