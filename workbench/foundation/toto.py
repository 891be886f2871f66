"""Toto (Datadog, `toto-ts`): zero-shot probabilistic forecasts for observability metrics.

`toto-ts` pins old releases of torch, numpy, pandas and transformers, so it is never a dependency of
the main environment. It is imported lazily here and lives in an environment of its own: `make
toto-env` builds `.venv-toto`, which sees the main environment's packages and adds `toto-ts` and its
few inference-time modules without their pins (`docs`: README, "Foundation models").

`make_forecaster("toto", model="Datadog/Toto-Open-Base-1.0")` loads weights from a hub id or a local
folder holding `model.safetensors` and `config.json`; a ready `Toto` module can be passed as
`module=`. Toto decodes autoregressively and samples trajectories; quantiles are taken over
`num_samples` trajectories (seeded with `random_state`, else the run's seed, else 0, so a forecast
is repeatable; torch's global generator is restored afterwards) and `y_hat` is their median;
`num_samples=0` asks for Toto's mean path only (a point forecast, no quantiles, no sampling).
Each series is one univariate batch item, left-padded to the longest context with the padding mask
off, so no series sees another. The module is loaded once per process and shared by the units a
worker computes (`workbench.foundation.loading`); without a `device` it runs on a GPU when the
process has one. Its pretraining corpus is not typed here, so its units record leakage `unknown`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.errors import WorkbenchError
from workbench.foundation import loading
from workbench.foundation.base import PretrainedForecaster, weights_unavailable
from workbench.registry import ModelParams, Quantile, resolve_seed

__all__ = ["DEFAULT_MODEL", "DEFAULT_QUANTILES", "NEEDS", "TotoModel", "TotoParams", "load_weights"]

DEFAULT_MODEL = "Datadog/Toto-Open-Base-1.0"
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
NEEDS = (
    "toto needs `toto-ts` in an environment of its own (it pins torch 2.7, numpy 1.26 and pandas 2.2): "
    "run `make toto-env` and use .venv-toto/bin/python"
)


def _toto_modules() -> tuple[Any, Any, Any]:
    try:
        from toto.data.util.dataset import MaskedTimeseries
        from toto.inference.forecaster import TotoForecaster
        from toto.model.toto import Toto
    except ImportError as exc:
        raise WorkbenchError(f"{NEEDS} ({type(exc).__name__}: {exc})") from exc
    return Toto, TotoForecaster, MaskedTimeseries


def load_weights(model: str, device: str | None = None) -> loading.Loaded:
    """The module on `device` (default: a GPU when there is one) through the process's cache.

    Goes through `Toto.load_from_checkpoint` on a folder rather than `Toto.from_pretrained`: the
    latter passes keyword arguments that huggingface_hub 1.0 and later no longer accept."""
    toto_cls, _, _ = _toto_modules()
    from workbench.neural.trainer import pick_device

    where = str(pick_device(device))

    def read() -> Any:
        try:
            folder = Path(model)
            if not folder.is_dir():
                from huggingface_hub import snapshot_download

                folder = Path(snapshot_download(model, allow_patterns=["model.safetensors", "config.json"]))
            module = toto_cls.load_from_checkpoint(str(folder), map_location=where, strict=False)
        except Exception as exc:
            raise weights_unavailable("toto", model, exc, "the model folder (model.safetensors + config.json)") from exc
        return module.eval()

    return loading.load("toto", model, read, device=where, dtype="float32")


def _interval_seconds(freq: str | None) -> int:
    """Seconds between observations; Toto takes it as an input feature, 1 h when unknown."""
    if not freq:
        return 3600
    try:
        return max(int(pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).total_seconds()), 1)
    except (ValueError, TypeError):
        return 86400 * 30 if freq.upper().startswith(("M", "Q", "Y", "A")) else 3600


class TotoParams(ModelParams):
    """Parameters of the Toto adapter."""

    model: str = Field(DEFAULT_MODEL, description="hub id or local folder (model.safetensors + config.json)")
    quantiles: list[Quantile] = Field(list(DEFAULT_QUANTILES), description="quantile levels (0.5 is always added)")
    num_samples: int = Field(256, ge=0, description="sampled trajectories; 0 = Toto's mean path only")
    samples_per_batch: int | None = Field(None, ge=1, description="trajectories per pass; default min(num_samples, 64)")
    context_length: int = Field(4096, ge=1, description="most recent values given as context (Toto's training context)")
    batch_size: int = Field(32, ge=1, description="series per forward pass")
    random_state: int | None = Field(
        None, description="seed of the sampled trajectories; default: the run's seed, else 0"
    )
    device: str | None = Field(None, description="torch device; default: a GPU when there is one, else the CPU")
    module: Any = Field(None, description="a loaded `toto.model.toto.Toto` (e.g. a small test model)")


class TotoModel(PretrainedForecaster):
    """Toto (Datadog) zero-shot probabilistic forecasts; needs its own environment (`make toto-env`)."""

    name = "toto"
    Params = TotoParams
    ready = "module"

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.quantiles = sorted({*self.params.quantiles, 0.5})
        _toto_modules()  # fail at construction, not inside a worker, when toto-ts is absent

    def load_weights(self) -> loading.Loaded:
        return load_weights(self.params.model, self.params.device)

    def torch_module(self) -> Any:
        return self._loaded

    def runtime_facts(self) -> dict[str, Any]:
        return {"batch_size": self.params.batch_size, "num_samples": self.params.num_samples}

    def predict(self, h: int) -> pd.DataFrame:
        import torch

        _, forecaster_cls, masked_cls = _toto_modules()
        values, lengths, _ = self.past_.to_numpy(pad="left")
        context = self.params.context_length
        batch = self.params.batch_size
        num_samples = self.params.num_samples
        samples_per_batch = self.params.samples_per_batch or min(num_samples, 64) or 1
        interval = _interval_seconds(self.past_.freq)
        module = self.loaded()
        device = next(module.parameters()).device
        forecaster = forecaster_cls(module.model)
        with self.timed(len(values)), torch.random.fork_rng():  # the caller's generator state is left as it was
            torch.manual_seed(resolve_seed(self.params.random_state, self.seed, 0))
            parts = []
            for start in range(0, len(values), batch):
                rows = values[start : start + batch, -context:]
                n = np.minimum(lengths[start : start + batch], rows.shape[1])
                mask = np.arange(rows.shape[1])[None, :] >= (rows.shape[1] - n)[:, None]
                series = torch.tensor(np.where(mask, rows, 0.0), dtype=torch.float32, device=device)[:, None, :]
                inputs = masked_cls(
                    series=series,
                    padding_mask=torch.tensor(mask, device=device)[:, None, :],
                    id_mask=torch.zeros_like(series, dtype=torch.int),
                    timestamp_seconds=torch.zeros_like(series, dtype=torch.int),
                    time_interval_seconds=torch.full((len(rows), 1), interval, dtype=torch.int, device=device),
                )
                with torch.no_grad():
                    out = forecaster.forecast(
                        inputs,
                        prediction_length=h,
                        num_samples=num_samples or None,
                        samples_per_batch=samples_per_batch,
                    )
                if not num_samples:
                    parts.append(out.mean[:, 0, :, None].float().cpu().numpy())
                    continue
                levels = torch.tensor(self.quantiles, dtype=out.samples.dtype, device=out.samples.device)
                q = out.samples[:, 0].quantile(levels, dim=-1)  # (quantiles, series, h)
                parts.append(q.permute(1, 2, 0).float().cpu().numpy())
        q = np.concatenate(parts, axis=0)
        if not num_samples:  # Toto's mean path: a point forecast, no quantiles
            return self.forecast_frame(h, q[:, :, :0], [], point=q[:, :, 0])
        return self.forecast_frame(h, q, self.quantiles)
