"""Sliding windows over one split, built on demand from a single tensor.

A split of T rows holds T - L - H + 1 windows (stride 1) of L inputs and H targets. Materialising
them all costs (L + H) times the split's memory (1.7 GB for ETTh1 at H = 720 in float32); a view
(`Tensor.unfold`) costs nothing and a batch is one gather, which is also why the workbench's epoch
is faster than a loader that slices and collates window by window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.errors import DataFormatError

__all__ = ["Windows", "kept_windows"]


@dataclass(frozen=True)
class Windows:
    """Windows of `input_len` inputs and `horizon` targets over `values` (time x channel)."""

    values: torch.Tensor
    input_len: int
    horizon: int
    name: str = "split"

    @classmethod
    def of(cls, values: np.ndarray, input_len: int, horizon: int, name: str = "split") -> Windows:
        if len(values) < input_len + horizon:
            raise DataFormatError(
                f"{name}: {len(values)} rows, fewer than input length {input_len} + horizon {horizon}; "
                "no window fits (shorten the input or the horizon)"
            )
        # float64 scaling first, then float32, as the reference loaders hand batches to the model
        return cls(torch.as_tensor(np.ascontiguousarray(values), dtype=torch.float32), input_len, horizon, name)

    def __len__(self) -> int:
        return self.values.shape[0] - self.input_len - self.horizon + 1

    @property
    def channels(self) -> int:
        return self.values.shape[1]

    def to(self, device: torch.device | str) -> Windows:
        return Windows(self.values.to(device), self.input_len, self.horizon, self.name)

    def take(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """(x [B, L, C], y [B, H, C]) of the windows at `index` (window i starts at row i)."""
        full = self.values.unfold(0, self.input_len + self.horizon, 1)[index]  # [B, C, L + H]
        full = full.transpose(1, 2)
        return full[:, : self.input_len], full[:, self.input_len :]


def kept_windows(n: int, batch_size: int, drop_last: bool) -> int:
    """How many windows a sequential loader of `batch_size` hands out (all unless it drops the tail)."""
    return (n // batch_size) * batch_size if drop_last else n
