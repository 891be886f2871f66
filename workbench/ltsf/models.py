"""Linear, NLinear and DLinear (Zeng et al. 2023) and the Repeat baseline, as plain PyTorch modules.

All map an input [batch, L, channels] to [batch, H, channels] with one linear map over time shared
by every channel (channel-independent): the point of the paper is that this is enough to match or
beat Transformers on the LTSF benchmarks.

- Linear: y = W x + b along time.
- NLinear: subtract the last input value, apply the linear map, add it back (handles level shifts
  between train and test, the distribution shift the paper blames for Exchange and ETTh2).
- DLinear: split the input into a trend (moving average of 25, edges padded with the first / last
  value) and a remainder, one linear map each, summed.
- Repeat: the last input value for every step (no parameters, no training).

DLinear's `init="v1"` is the initialisation of the code the paper's Table 2 DLinear column was
computed with (May 2022): both weight matrices set to 1/L (a moving average of the whole input),
and a third, unused layer built before that, which consumed random numbers. Building it keeps the
random stream, and hence the data order of training, aligned with that code.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import UnknownNameError

__all__ = ["MODELS", "DLinear", "Linear", "NLinear", "Repeat", "build_model", "moving_average"]

MODELS = ("Linear", "NLinear", "DLinear", "Repeat")


class Linear(nn.Module):
    def __init__(self, input_len: int, horizon: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_len, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.transpose(1, 2)).transpose(1, 2)


class NLinear(Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:, :].detach()
        return super().forward(x - last) + last


def moving_average(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """Centred moving average along time of [B, L, C], edges padded by repeating the end values."""
    pad = (kernel - 1) // 2
    padded = torch.cat([x[:, :1].expand(-1, pad, -1), x, x[:, -1:].expand(-1, pad, -1)], dim=1)
    return F.avg_pool1d(padded.transpose(1, 2), kernel_size=kernel, stride=1).transpose(1, 2)


class DLinear(nn.Module):
    def __init__(
        self, input_len: int, horizon: int, kernel: int = 25, init: Literal["default", "v1"] = "default"
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.seasonal = nn.Linear(input_len, horizon)
        self.trend = nn.Linear(input_len, horizon)
        if init == "v1":
            nn.Linear(input_len, horizon)  # the v1 code's unused decoder layer: its draws, not its weights
            with torch.no_grad():
                self.seasonal.weight.fill_(1.0 / input_len)
                self.trend.weight.fill_(1.0 / input_len)
        elif init != "default":
            raise ValueError(f"DLinear init must be 'default' or 'v1', got {init!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend = moving_average(x, self.kernel)
        seasonal = x - trend
        out = self.seasonal(seasonal.transpose(1, 2)) + self.trend(trend.transpose(1, 2))
        return out.transpose(1, 2)


class Repeat(nn.Module):
    """The last input value repeated over the horizon."""

    def __init__(self, input_len: int, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1:, :].expand(-1, self.horizon, -1)


def build_model(name: str, input_len: int, horizon: int, **options: object) -> nn.Module:
    """A model by name; draws its initial weights from torch's global generator (seed it first)."""
    classes: dict[str, type[nn.Module]] = {"Linear": Linear, "NLinear": NLinear, "DLinear": DLinear, "Repeat": Repeat}
    if name not in classes:
        raise UnknownNameError("LTSF model", name, list(MODELS))
    return classes[name](input_len, horizon, **options)
