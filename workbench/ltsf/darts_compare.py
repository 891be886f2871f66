"""darts' `DLinearModel` and `NLinearModel` run under the same LTSF protocol, for comparison.

Same table, borders, train-only scaler, input length, horizon and scored windows as the native
models; darts trains with its own loop (PyTorch Lightning): windows of the training split, early
stopping on the validation split's loss, the same per-epoch learning-rate schedule. Its random
stream differs from the reference code's, so seed-for-seed equality is not expected, only
agreement within seed noise. darts' options that depart from the paper are set to the paper's
choice: weights shared by all channels, DLinear's constant initialisation, NLinear's last-value
normalisation, no static covariates, no reversible instance norm.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from workbench.errors import UnknownNameError
from workbench.ltsf.protocol import LTSFTask, Prepared, check_protocol, prepare
from workbench.ltsf.run import TrainConfig
from workbench.neural.trainer import pick_device

__all__ = ["DARTS_MODELS", "run_darts"]

DARTS_MODELS = ("DLinearModel", "NLinearModel")


def _series(values: torch.Tensor) -> Any:
    from darts import TimeSeries

    return TimeSeries.from_values(values.cpu().numpy().astype(np.float32))


def run_darts(task: LTSFTask, model_name: str, config: TrainConfig, prepared: Prepared | None = None) -> dict[str, Any]:
    """Fit darts' model on the training split, score every test window as the native run does."""
    if model_name not in DARTS_MODELS:
        raise UnknownNameError("darts LTSF model", model_name, list(DARTS_MODELS))
    import darts.models
    from pytorch_lightning.callbacks import EarlyStopping

    prepared = prepared if prepared is not None else prepare(task)
    findings = check_protocol(prepared)
    device = pick_device(config.device)
    schedule = config.schedule()
    common: dict[str, Any] = {
        "input_chunk_length": task.input_len,
        "output_chunk_length": task.horizon,
        "batch_size": config.batch_size,
        "n_epochs": config.epochs,
        "random_state": config.seed,
        "optimizer_kwargs": {"lr": config.lr},
        "pl_trainer_kwargs": {
            "accelerator": "gpu" if device.type == "cuda" else "cpu",
            "callbacks": [EarlyStopping("val_loss", patience=config.patience, mode="min")],
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
        },
    }
    if schedule is not None:
        common["lr_scheduler_cls"] = torch.optim.lr_scheduler.LambdaLR
        common["lr_scheduler_kwargs"] = {"lr_lambda": schedule}
    extra = {"shared_weights": True, "kernel_size": 25, "const_init": True}
    if model_name == "NLinearModel":
        extra = {"shared_weights": True, "normalize": True}
    model = getattr(darts.models, model_name)(**common, **extra, use_static_covariates=False)
    start = time.perf_counter()
    model.fit(_series(prepared.train.values), val_series=_series(prepared.val.values), verbose=False)
    seconds = time.perf_counter() - start
    forecasts = model.historical_forecasts(
        _series(prepared.test.values),
        start=task.input_len,
        start_format="position",
        forecast_horizon=task.horizon,
        stride=1,
        retrain=False,
        last_points_only=False,
        overlap_end=False,
        verbose=False,
    )
    pred = np.stack([f.values() for f in forecasts])  # [windows, H, C]
    truth = prepared.test.take(torch.arange(len(prepared.test)))[1].numpy()
    if pred.shape != truth.shape:
        raise RuntimeError(f"darts returned forecasts of shape {pred.shape}, expected {truth.shape}")
    err = pred.astype(np.float64) - truth
    kept = prepared.n_test_scored
    return {
        "dataset": task.dataset,
        "subset": task.subset,
        "model": f"darts.{model_name}",
        "horizon": task.horizon,
        "mse": float(np.mean(err[:kept] ** 2)),
        "mae": float(np.mean(np.abs(err[:kept]))),
        "mse_all": float(np.mean(err**2)),
        "mae_all": float(np.mean(np.abs(err))),
        "scored_windows": kept,
        "test_windows": len(truth),
        "seconds": seconds,
        "device": str(device),
        "protocol_findings": "; ".join(findings),
    }
