"""Linear, NLinear and DLinear as registered forecasters (`linear`, `nlinear`, `dlinear`).

The same modules as the LTSF reproduction, behind the workbench's Forecaster interface so a sweep or
the engine can run them on any panel: every series is one channel (the models are channel-
independent), z-scored with the mean and standard deviation of its own past; windows of
`input_len` inputs and `h` targets with stride 1 from every series; the last `val_fraction` of each
series' windows held out for early stopping; Adam with the reference schedule, seeded by
`random_state`, else the run's seed, else the reference code's 2021.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from workbench.errors import DataFormatError
from workbench.forecasters import _ArrayForecaster
from workbench.ltsf.models import build_model
from workbench.neural.trainer import Pairs, TrainingParams

__all__ = ["REFERENCE_SEED", "DLinearForecaster", "LTSFParams", "LinearForecaster", "NLinearForecaster"]

REFERENCE_SEED = 2021  # the LTSF-Linear reference code's seed, used when neither parameter nor run gives one


def _windows(rows: list[np.ndarray], input_len: int, h: int, val_fraction: float) -> tuple[np.ndarray, ...]:
    xs, ys, xv, yv = [], [], [], []
    for row in rows:
        view = np.lib.stride_tricks.sliding_window_view(row, input_len + h)
        n_val = int(len(view) * val_fraction)
        cut = len(view) - n_val
        xs.append(view[:cut, :input_len])
        ys.append(view[:cut, input_len:])
        xv.append(view[cut:, :input_len])
        yv.append(view[cut:, input_len:])
    return tuple(np.concatenate(a).astype(np.float32)[..., None] for a in (xs, ys, xv, yv))


class LTSFParams(TrainingParams):
    """Parameters of the LTSF-Linear forecasters (the training ones with the reference defaults;
    Adam's learning rate is halved every epoch after the second; the default seed is 2021)."""

    input_len: int = Field(336, ge=1, description="inputs per window (the look-back)")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="share of windows held out for early stopping")


class _LTSFForecaster(_ArrayForecaster):
    model_name = ""
    is_global = True
    Params = LTSFParams

    def forecast_array(self, values: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray:
        p = self.params
        input_len = p.input_len
        width = values.shape[1]
        rows = [values[i, width - n :] for i, n in enumerate(lengths)]
        short = [i for i, n in enumerate(lengths) if n < input_len + h + 1]
        if short:
            uid = self.past_.to_numpy()[2][short[0]]
            raise DataFormatError(
                f"{self.name}: series {uid!r} has {lengths[short[0]]} points, fewer than input_len "
                f"{input_len} + horizon {h} + 1 ({len(short)} series too short); lower `input_len`"
            )
        mean = np.array([r.mean() for r in rows])
        std = np.array([r.std() or 1.0 for r in rows])
        scaled = [(r - m) / s for r, m, s in zip(rows, mean, std, strict=True)]
        x, y, xv, yv = _windows(scaled, input_len, h, p.val_fraction)
        trainer = p.trainer(self.seed, REFERENCE_SEED, lr_schedule=lambda e: 0.5 ** max(e - 1, 0))
        model = build_model(self.model_name, input_len, h)
        val = Pairs.of(xv, yv) if len(xv) else None
        self.result_ = trainer.fit_batches(model, Pairs.of(x, y), val)
        last = np.stack([r[-input_len:] for r in scaled]).astype(np.float32)[..., None]
        device = next(self.result_.model.parameters()).device
        with torch.no_grad():
            pred = self.result_.model(torch.as_tensor(last, device=device)).cpu().numpy()[..., 0]
        return pred * std[:, None] + mean[:, None]


class LinearForecaster(_LTSFForecaster):
    """`linear`: one linear map from the last input_len values to the next h (Zeng et al. 2023)."""

    name = "linear"
    model_name = "Linear"


class NLinearForecaster(_LTSFForecaster):
    """`nlinear`: Linear on the input minus its last value, added back."""

    name = "nlinear"
    model_name = "NLinear"


class DLinearForecaster(_LTSFForecaster):
    """`dlinear`: Linear on a moving-average trend and on the remainder, summed."""

    name = "dlinear"
    model_name = "DLinear"
