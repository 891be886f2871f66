"""IBM Granite TinyTimeMixer (TTM) as a forecaster: zero-shot point forecasts, optional few-shot tuning.

`make_forecaster("ttm", model="ibm-granite/granite-timeseries-ttm-r2")` loads granite-tsfm's
`TinyTimeMixerForPrediction` from a hub id (with `revision`) or a local folder; a loaded model can be
passed as `model_object=` (a small test model). The weights are loaded once per process and shared
by the units it computes (`workbench.foundation.loading`: keyed by model, revision, the checkpoint's
content hash, device and dtype). Each unit records its runtime (`runtime_info`: device, dtype,
batch size, seconds of the forward passes, whether the weights came from the cache) and whether the
evaluated dataset is in the R2 pretraining corpus (`TRAINING_CORPUS`, `workbench.leakage`).

What the model is given, and why:
- **Context**: the last `context_length` points of each series (the checkpoint's, 512 for the
  `main` revision of TTM-R2). A shorter series (`short_series="pad"`, the default) is left-padded and
  the padding marked unobserved (`past_observed_mask`), so the model's scaler sees only the observed
  points: how fev's TTM-R2 run (`examples/ttm-r2/evaluate_model.py`) treats short series. Each unit
  records how many series were padded (`n_padded` in its runtime). `short_series="refuse"` names the
  first short series and stops instead.
- **Missing values** in the context: refused by default (`missing="refuse"`); `last_value` carries
  the last observation forward, a leading gap taking the first observation (gluonts'
  `LastValueImputation`, which fev's run applies before padding).
- **Horizon**: at most the checkpoint's `prediction_length`. A shorter horizon takes the first `h`
  steps of the head, which is exactly what the checkpoint's `prediction_filter_length=h` does (the
  head slices its output); a longer one is refused (TTM does not roll forecasts forward).
- **Channels**: one series is one channel (`[series, context, 1]`); the checkpoint mixes no channels
  (`mode: common_channel`, no forecast channel mixing), so this is what it does with a multivariate
  table as well, and series of a unit are simply stacked into batches of `batch_size`.
- **Scaling**: the checkpoint standardises every window by its own context (`scaling: std`, a
  RevIN-like mean / standard deviation over the context, with 1e-5 added to the variance), and
  undoes it on the forecast. With `scaling="context"` (the default) the adapter z-scores each
  context in float64 itself before the float32 model sees it and inverts the forecast in float64:
  the same forecast, but independent of the series' level and unit (the model's 1e-5 variance floor
  then acts on unit variance, never on a series measured in small units). `scaling="model"` hands
  the values over as they are (what granite-tsfm's benchmark does with data it has already
  standardised with the training split's statistics). Either way only the context is used: nothing
  after the forecast origin reaches the model.
- **Determinism**: evaluation mode (no dropout), no sampling; the same inputs give the same forecasts.

Few-shot tuning (`finetune_epochs > 0`): the head (and the decoder) are trained on windows of the
series' own past through the workbench trainer (Adam, seeded by `random_state`, else the run's seed,
else 0; early stopping on the last `val_fraction` of each series' windows), the backbone frozen as in
the TTM paper. The model then learns across the series it is given, so it is a global model in the
engine's sense; zero-shot it learns nothing and is local (the engine may chunk the series freely).

granite-tsfm (imports as `tsfm_public`) pins `torch<2.12`: install it without its pins beside the
workbench's torch (see `INSTALL`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import nn

from workbench.data.panel import MissingPolicy
from workbench.errors import DataFormatError, SourceUnavailableError, WorkbenchError
from workbench.forecasters import Forecaster
from workbench.foundation import loading
from workbench.foundation.loading import Loaded
from workbench.leakage import CorpusEntry, TrainingCorpus
from workbench.registry import ModelParams, resolve_seed
from workbench.tasks import future_ds

__all__ = [
    "DEFAULT_MODEL",
    "DTYPES",
    "INSTALL",
    "R2_WEIGHTS_SHA256",
    "TRAINING_CORPUS",
    "TTM",
    "HorizonError",
    "TTMParams",
    "check_horizon",
    "checkpoint_lengths",
    "finetune",
    "forecast_contexts",
    "forecast_windows",
    "import_ttm",
    "load_model",
    "load_weights",
    "training_corpus",
]

DEFAULT_MODEL = "ibm-granite/granite-timeseries-ttm-r2"
# granite-tsfm 0.3.11 pins torch<2.12 and scikit-learn<1.8: installed without its pins, with what it imports
INSTALL = "pip install --no-deps granite-tsfm==0.3.11 datasets deprecated wrapt einops dill multiprocess xxhash"
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
# sha256 of model.safetensors of the R2 `main` revision (512/96), as ../shared/models/README.md records it
R2_WEIGHTS_SHA256 = frozenset({"a706726a7eb01bbcb42994b7dcb3c06ea9557898dbae8d480eb04fe8ccb89710"})
# The TTM-R2 model card's pretraining data (as listed in ../shared/models/README.md, which quotes it): the
# Monash archive versions of twelve sets and LibCity's six traffic sets. The card states none of ETT, M1, M3,
# M4, Tourism, NAB or the cloud monitoring data is in it, so the list is taken as complete.
TRAINING_CORPUS = TrainingCorpus(
    model="granite-timeseries-ttm-r2",
    entries=tuple(
        CorpusEntry(identifier, name)
        for identifier, name in (
            ("monash:australian_electricity_demand", "Australian Electricity Demand"),
            ("monash:australian_weather", "Australian Weather"),
            ("monash:bitcoin", "Bitcoin"),
            ("monash:kdd_cup_2018", "KDD Cup 2018"),
            ("monash:london_smart_meters", "London Smart Meters"),
            ("monash:saugeen_river_flow", "Saugeen River Flow"),
            ("monash:solar_power", "Solar Power"),
            ("monash:sunspot", "Sunspots"),
            ("monash:solar", "Solar"),
            ("monash:us_births", "US Births"),
            ("monash:wind_farms_production", "Wind Farms Production"),
            ("monash:wind_power", "Wind Power"),
            ("pems:pemsd3", "PEMSD3"),
            ("pems:pemsd4", "PEMSD4"),
            ("pems:pemsd7", "PEMSD7"),
            ("pems:pemsd8", "PEMSD8"),
            ("pems:pems_bay", "PEMS_BAY"),
            ("libcity:los_loop", "LOS_LOOP"),
        )
    ),
    source="ibm-granite/granite-timeseries-ttm-r2 model card, pretraining data (quoted in ../shared/models/README.md)",
    complete=True,
)


def import_ttm() -> Any:
    """granite-tsfm's `TinyTimeMixerForPrediction`, or an error that says how to install it."""
    try:
        from tsfm_public import TinyTimeMixerForPrediction
    except ImportError as exc:
        raise WorkbenchError(
            f"ttm needs granite-tsfm (imports as tsfm_public), which could not be imported ({exc}). Its metadata "
            f"pins torch<2.12, so install it without its pins beside the workbench's torch: `{INSTALL}` "
            "(`make` does this in the project's environment)"
        ) from exc
    return TinyTimeMixerForPrediction


def load_weights(model: str, revision: str | None = None, device: str = "cpu", dtype: str = "float32") -> Loaded:
    """The checkpoint at a hub id or local folder, in evaluation mode on `device` in `dtype`, loaded
    once per process (`workbench.foundation.loading`) and shared: never tune it in place."""

    def read() -> Any:
        from transformers.utils import logging as hf_logging

        cls = import_ttm()
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # its "Loading weights" bar would go to every notebook's stderr
        try:
            local = loading.looks_local(model)  # `~/models/ttm`: the hub libraries would not expand it
            loaded = cls.from_pretrained(str(Path(model).expanduser()) if local else model, revision=revision)
        except Exception as exc:
            if loading.looks_local(model):  # a path that is there (`loading.load` refuses a missing one)
                raise SourceUnavailableError(
                    f"ttm: the local folder {model} holds no loadable TinyTimeMixer checkpoint "
                    f"({type(exc).__name__}: {exc}). Fix: give `model` the folder of a downloaded checkpoint "
                    "(its config.json and model.safetensors), or a hub id (org/name)"
                ) from exc
            raise SourceUnavailableError(
                f"ttm: cannot load weights {model!r}{f' (revision {revision!r})' if revision else ''} "
                f"({type(exc).__name__}: {exc}). Without internet, download the model folder elsewhere and pass its "
                "local path as `model`."
            ) from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        return loaded.to(device=device, dtype=DTYPES[dtype]).eval()

    return loading.load("ttm", model, read, revision=revision, device=device, dtype=dtype)


def load_model(model: str, revision: str | None = None, device: str = "cpu", dtype: str = "float32") -> Any:
    """The loaded checkpoint itself (see `load_weights`)."""
    return load_weights(model, revision, device, dtype).value


def training_corpus(model: str, model_object: Any = None) -> TrainingCorpus | None:
    """TTM-R2's pretraining corpus when these are its published weights (the hub's R2 repository, or
    a local folder holding the R2 `main` checkpoint's bytes); None for other or custom weights."""
    if model_object is not None:
        return None
    if model == DEFAULT_MODEL:
        return TRAINING_CORPUS
    weights = Path(model) / "model.safetensors"
    return TRAINING_CORPUS if loading.file_sha256(weights) in R2_WEIGHTS_SHA256 else None


def checkpoint_lengths(model: Any) -> tuple[int, int]:
    """(context_length, prediction_length) of a loaded TTM."""
    return int(model.config.context_length), int(model.config.prediction_length)


class _Forecast(nn.Module):
    """A TTM as `x [batch, context, channels] -> forecast [batch, h, channels]` (for training and scoring)."""

    def __init__(self, ttm: Any, h: int) -> None:
        super().__init__()
        self.ttm, self.h = ttm, h

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        out = self.ttm(past_values=x, past_observed_mask=observed, return_loss=False)
        return out.prediction_outputs[:, : self.h]


def forecast_contexts(
    model: Any,
    contexts: np.ndarray | torch.Tensor,
    h: int,
    *,
    batch_size: int = 256,
    scaling: Literal["context", "model"] = "context",
) -> np.ndarray:
    """Forecasts `[n, h]` of `contexts` `[n, context_length]`, one series per row, in batches.

    The model's own device and dtype are used; with `scaling="context"` every row is z-scored by its
    own mean and (population) standard deviation in float64 first, and the forecast scaled back.
    NaN cells of `contexts` are padding: set to 0, marked unobserved (`past_observed_mask`) and left
    out of the z-scoring; without any NaN no mask is passed."""
    param = next(model.parameters())
    raw = torch.as_tensor(contexts)
    observed = ~torch.isnan(raw)
    masked = not bool(observed.all())
    if scaling == "context":
        raw = raw.to(torch.float64)
        zero = torch.zeros_like(raw)
        count = observed.sum(dim=1, keepdim=True).clamp(min=1)
        mean = torch.where(observed, raw, zero).sum(dim=1, keepdim=True) / count
        std = torch.sqrt((torch.where(observed, raw - mean, zero) ** 2).sum(dim=1, keepdim=True) / count)
        std = torch.where(std > 0, std, torch.ones_like(std))  # a constant context stays constant
        x = torch.where(observed, (raw - mean) / std, zero)
    else:  # handed over as they are: no float64 round trip
        x = torch.where(observed, raw, torch.zeros_like(raw)) if masked else raw
    run = _Forecast(model, h)
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(device=param.device, dtype=param.dtype).unsqueeze(-1)
            mask = observed[start : start + batch_size].to(device=param.device).unsqueeze(-1) if masked else None
            out.append(run(batch, mask)[..., 0])
    y = torch.cat(out).to(device="cpu", dtype=torch.float64) if out else torch.empty((0, h), dtype=torch.float64)
    if scaling == "context":
        y = y * std + mean
    return y.numpy()


def forecast_windows(model: Any, x: torch.Tensor, h: int, *, batch_size: int = 256, scaling="context") -> torch.Tensor:
    """Channel-independent forecasts `[b, h, c]` of multivariate windows `x` `[b, context, c]`."""
    b, length, c = x.shape
    rows = x.transpose(1, 2).reshape(b * c, length)
    y = forecast_contexts(model, rows, h, batch_size=batch_size, scaling=scaling)
    return torch.as_tensor(y).reshape(b, c, h).transpose(1, 2)


class HorizonError(WorkbenchError, ValueError):
    """A horizon the checkpoint cannot forecast in one pass."""


def check_horizon(model: Any, h: int, owner: str = "ttm") -> None:
    """Refuse a horizon beyond the checkpoint's prediction length (TTM does not roll forecasts forward)."""
    _, prediction_length = checkpoint_lengths(model)
    if h > prediction_length:
        raise HorizonError(
            f"{owner}: horizon {h} is beyond the checkpoint's prediction length {prediction_length}; choose a "
            f"checkpoint with a longer one (TTM-R2 has revisions for 192, 336 and 720 steps)"
        )
    if h < 1:
        raise HorizonError(f"{owner}: horizon {h} must be at least 1")


def finetune(
    model: Any,
    train: Any,
    val: Any | None,
    h: int,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    patience: int,
    seed: int,
    freeze_backbone: bool = True,
    head_dropout: float | None = None,
    device: str | None = None,
    progress: bool = False,
    lr_schedule: Any = None,
) -> tuple[Any, Any]:
    """A tuned copy of `model` (the loaded one is left as it is) and the trainer's result.

    `train` / `val` are `Batches` sources of `(x [b, context, c], y [b, h, c])` on the scale the
    model is to see; the loss is their MSE. With `freeze_backbone` only the decoder and head learn."""
    from workbench.neural.trainer import Trainer, seed_everything

    tuned = copy.deepcopy(model).float()
    if head_dropout is not None:
        tuned.head.dropout_layer.p = head_dropout
    if freeze_backbone:
        for p in tuned.backbone.parameters():
            p.requires_grad = False
    trainer = Trainer(
        max_epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        seed=seed,
        device=device,
        progress=progress,
        lr_schedule=lr_schedule,
    )
    seed_everything(seed)
    result = trainer.fit_batches(_Forecast(tuned, h), train, val)
    return result.model.ttm.eval(), result


class TTMParams(ModelParams):
    """Parameters of the TTM adapter."""

    model: str = Field(DEFAULT_MODEL, description="hub id or local folder of a TinyTimeMixerForPrediction checkpoint")
    revision: str | None = Field(
        None, description="hub revision (TTM-R2 keeps one branch per context/prediction length; default: main, 512/96)"
    )
    batch_size: int = Field(256, ge=1, description="series per forward pass")
    device: str | None = Field(None, description="torch device; default: a GPU when there is one, else the CPU")
    dtype: Literal["float32", "float64", "bfloat16"] = Field("float32", description="weights' and inputs' dtype")
    scaling: Literal["context", "model"] = Field(
        "context",
        description="context: z-score each context in float64 before the model; model: only the model's own scaler",
    )
    short_series: Literal["pad", "refuse"] = Field(
        "pad",
        description="a series shorter than the context: pad (left-padded, the padding masked as unobserved, as fev "
        "runs TTM-R2) or refuse (name it and stop)",
    )
    missing: MissingPolicy = Field(
        "refuse",
        description="missing values in the context: refuse, or last_value (carried forward, a leading gap the first "
        "observation: gluonts' LastValueImputation, as fev runs TTM-R2)",
    )
    finetune_epochs: int = Field(0, ge=0, description="few-shot tuning epochs on the series' past (0: zero-shot)")
    finetune_lr: float = Field(1e-3, gt=0, description="Adam's learning rate when tuning")
    finetune_batch_size: int = Field(64, ge=1, description="training windows per batch when tuning")
    finetune_patience: int = Field(5, ge=1, description="epochs without a better validation loss before stopping")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="share of each series' windows held out when tuning")
    freeze_backbone: bool = Field(True, description="tune only the decoder and head (the TTM paper's few-shot set-up)")
    head_dropout: float | None = Field(None, ge=0, lt=1, description="head dropout while tuning; default: the model's")
    random_state: int | None = Field(None, description="seed of the tuning; default: the run's seed, else 0")
    model_object: Any = Field(None, description="a loaded TinyTimeMixerForPrediction (e.g. a small test model)")


class TTM(Forecaster):
    """IBM Granite TinyTimeMixer zero-shot (or few-shot tuned) point forecasts; needs granite-tsfm."""

    name = "ttm"
    Params = TTMParams
    uses_accelerator = True  # the engine routes its units to workers that advertise a GPU
    pretrained = True  # its units record whether the evaluated data is in the pretraining corpus

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self._model = self.params.model_object
        self._weights: Loaded | None = None
        self._timings: dict[str, float] = {}
        self._n_series = 0
        self._n_padded = 0

    @classmethod
    def corpus_for(cls, params: Mapping[str, Any]) -> TrainingCorpus | None:
        """TTM-R2's corpus for its published weights, None otherwise: from the adapter's parameters
        (`model`, `model_object`; see `training_corpus`) or a recorded run's (`weights`: the
        checkpoint's sha256 or hub id, as the TTM reproduction records it)."""
        if params.get("model_object") is not None:
            return None
        weights = params.get("weights")
        if weights is not None:
            return TRAINING_CORPUS if weights in R2_WEIGHTS_SHA256 or weights == DEFAULT_MODEL else None
        return training_corpus(str(params.get("model") or DEFAULT_MODEL))

    def runtime_info(self) -> dict[str, Any]:
        """Device, dtype and batch size of the forward passes, their seconds (and the tuning's), the
        series forecast, and how the weights were had (loaded here, or shared from an earlier unit)."""
        p = self.params
        batches = -(-self._n_series // p.batch_size)  # forward passes: the unit's series in batches of batch_size
        info: dict[str, Any] = {"batch_size": p.batch_size, "n_series": self._n_series, "n_batches": batches}
        info["n_padded"] = self._n_padded  # series shorter than the context, left-padded and masked
        info |= self._timings
        if self._model is not None:
            info |= loading.torch_facts(self._model)
        if self._weights is not None:
            info["weights"] = self._weights.describe()
        elif p.model_object is not None:
            info["weights"] = {"family": "ttm", "source": "model_object", "cache_hit": None}
        return info

    @property
    def is_global(self) -> bool:  # tuned: one model learnt across the series of a window
        return self.params.finetune_epochs > 0

    @property
    def model(self) -> Any:
        if self._model is None:
            from workbench.neural.trainer import pick_device

            p = self.params
            self._weights = load_weights(p.model, p.revision, str(pick_device(p.device)), p.dtype)
            self._model = self._weights.value
        return self._model

    def predict(self, h: int) -> pd.DataFrame:
        model = self.model
        check_horizon(model, h, self.name)
        context_length, _ = checkpoint_lengths(model)
        values, lengths, ids = self.past_.fill_missing(self.params.missing).to_numpy(pad="left")
        tuning = self.params.finetune_epochs > 0
        need = context_length + (h + 1 if tuning else 0)
        short = np.flatnonzero(lengths < need)
        if len(short) and (tuning or self.params.short_series == "refuse"):
            i = short[0]
            what = f"context length {context_length}" + (f" + horizon {h} + 1 to tune" if need > context_length else "")
            raise DataFormatError(
                f"{self.name}: series {ids[i]!r} has {lengths[i]} points, fewer than the checkpoint's {what} "
                f"({len(short)} series too short); "
                + (
                    "tuning needs whole windows: trim the panel or use a checkpoint with a shorter context"
                    if tuning
                    else "pass short_series=pad to pad them (masked as unobserved), or use a shorter context"
                )
            )
        if values.shape[1] < context_length:  # every series shorter than the context: pad the array itself
            values = np.pad(values, ((0, 0), (context_length - values.shape[1], 0)), constant_values=np.nan)
        contexts = values[:, values.shape[1] - context_length :]
        own = np.minimum(lengths, context_length)  # each series' own points in its context
        inside = np.arange(context_length)[None, :] >= (context_length - own)[:, None]
        bad = np.flatnonzero((np.isnan(contexts) & inside).any(axis=1))
        if len(bad):
            raise DataFormatError(
                f"{self.name}: series {ids[bad[0]]!r} has missing values in its last {context_length} points "
                f"({len(bad)} series in all); fill or drop them before forecasting, or pass missing=last_value"
            )
        self._n_padded = len(short)
        if self.params.finetune_epochs:
            start = time.perf_counter()
            model = self._tuned(model, values, lengths, h, context_length)
            self._timings["train_s"] = round(time.perf_counter() - start, 4)
        start = time.perf_counter()
        y = forecast_contexts(model, contexts, h, batch_size=self.params.batch_size, scaling=self.params.scaling)
        self._timings["inference_s"] = round(time.perf_counter() - start, 4)
        self._n_series = len(contexts)
        out = future_ds(self.past_, h)
        out["y_hat"] = y.ravel()
        return out

    def _tuned(self, model: Any, values: np.ndarray, lengths: np.ndarray, h: int, context_length: int) -> Any:
        """The model tuned on windows of every series' own past, each window scaled as at inference."""
        from workbench.neural.trainer import Pairs

        p = self.params
        xs, ys, xv, yv = [], [], [], []
        for row, n in zip(values, lengths, strict=True):
            view = np.lib.stride_tricks.sliding_window_view(row[len(row) - n :], context_length + h)
            cut = len(view) - int(len(view) * p.val_fraction)
            for part, (xo, yo) in ((view[:cut], (xs, ys)), (view[cut:], (xv, yv))):
                xo.append(part[:, :context_length])
                yo.append(part[:, context_length:])
        x, y, x_val, y_val = (np.concatenate(a) for a in (xs, ys, xv, yv))
        if p.scaling == "context":
            x, y = _scaled(x, y)
            x_val, y_val = _scaled(x_val, y_val)
        train = Pairs.of(x[..., None], y[..., None])
        val = Pairs.of(x_val[..., None], y_val[..., None]) if len(x_val) else None
        tuned, self.finetune_result_ = finetune(
            model,
            train,
            val,
            h,
            epochs=p.finetune_epochs,
            lr=p.finetune_lr,
            batch_size=p.finetune_batch_size,
            patience=p.finetune_patience,
            seed=resolve_seed(p.random_state, self.seed, 0),
            freeze_backbone=p.freeze_backbone,
            head_dropout=p.head_dropout,
            device=str(next(model.parameters()).device),
        )
        return tuned.to(dtype=DTYPES[p.dtype])


def _scaled(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows and targets z-scored by each window's context (what `scaling="context"` does at inference)."""
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return (x - mean) / std, (y - mean) / std
