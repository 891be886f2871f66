"""Chronos (amazon-science/chronos-forecasting): zero-shot quantile forecasts behind the registry.

`make_forecaster("chronos", model="amazon/chronos-bolt-small")` loads weights from a hub id or a
local folder (`model` may be a path); a ready pipeline object can be passed as `pipeline=`. Quantiles
are sorted per step, since a quantile head is not guaranteed monotone; `y_hat` is the median.
Nothing is trained, so the engine runs it per chunk of series like a local model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import SourceUnavailableError, WorkbenchError
from workbench.forecasters import Forecaster
from workbench.tasks import future_ds

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


def load_pipeline(model: str, device: str | None = None) -> Any:
    """A Chronos pipeline from a hub id or local path, with an error that says what to do."""
    try:
        from chronos import BaseChronosPipeline
    except ImportError as exc:
        raise WorkbenchError("chronos needs the foundation extra: pip install 'workbench[foundation]'") from exc
    try:
        return BaseChronosPipeline.from_pretrained(model, device_map=device or "cpu")
    except Exception as exc:
        raise SourceUnavailableError(
            f"chronos: cannot load weights {model!r} ({type(exc).__name__}: {exc}). Without internet, download "
            "the model folder elsewhere and pass its local path as `model`."
        ) from exc


class Chronos(Forecaster):
    """Params: model (hub id or path), quantiles, context_length (default: all history), batch_size,
    device, pipeline (a loaded pipeline object, e.g. a small test model)."""

    name = "chronos"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.quantiles = sorted({*params.get("quantiles", DEFAULT_QUANTILES), 0.5})
        self._pipeline = params.get("pipeline")

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            self._pipeline = load_pipeline(
                self.params.get("model", "amazon/chronos-bolt-small"), self.params.get("device")
            )
        return self._pipeline

    def predict(self, h: int) -> pd.DataFrame:
        import torch

        values, lengths, _ = self.past_.to_numpy(pad="left")
        context = self.params.get("context_length")
        batch = int(self.params.get("batch_size", 256))
        rows = []
        for start in range(0, len(values), batch):
            contexts = []
            for row, n in zip(values[start : start + batch], lengths[start : start + batch], strict=True):
                series = row[len(row) - n :]
                contexts.append(torch.tensor(series[-context:] if context else series, dtype=torch.float32))
            with torch.no_grad():
                q, _ = self.pipeline.predict_quantiles(contexts, prediction_length=h, quantile_levels=self.quantiles)
            rows.append(np.sort(q.float().cpu().numpy(), axis=-1))  # (series, h, quantiles), no crossing
        q = np.concatenate(rows, axis=0)
        out = future_ds(self.past_, h)
        for i, level in enumerate(self.quantiles):
            out[f"q{level:g}"] = q[:, :, i].ravel()
        out["y_hat"] = out["q0.5"]
        return out
