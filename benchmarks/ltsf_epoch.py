"""Time per training epoch of DLinear on ETTh1 through the workbench vs a plain PyTorch loop.

The plain loop is written the way the LTSF reference code trains: a `Dataset` whose `__getitem__`
slices one window out of the scaled (float64) array, a `DataLoader` (shuffle, drop_last, default
collation, no worker processes here), `.float()` on every batch, the model built as the reference
builds it (`AvgPool1d` on a permuted view), Adam on the MSE. The workbench
epoch is `Trainer.fit_batches` on `Windows` (one gather per batch from a tensor view). Same model,
same batch size, same data, one thread each. Target: workbench / plain <= 1.0.

Usage: python benchmarks/ltsf_epoch.py [--horizon 96] [--batch-size 32] [--reps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from workbench.ltsf import LTSFTask, prepare
from workbench.ltsf.models import DLinear
from workbench.neural.trainer import Trainer, pick_device


class ReferenceStyleWindows(Dataset):
    """Window i of a (time x channel) array, as the reference loaders return it."""

    def __init__(self, data: np.ndarray, input_len: int, horizon: int) -> None:
        self.data, self.input_len, self.horizon = data, input_len, horizon

    def __len__(self) -> int:
        return len(self.data) - self.input_len - self.horizon + 1

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.data[i : i + self.input_len], self.data[i + self.input_len : i + self.input_len + self.horizon]


class ReferenceStyleDLinear(torch.nn.Module):
    """DLinear as the reference code builds it: `AvgPool1d` after repeat-padding, permutes around it."""

    def __init__(self, input_len: int, horizon: int, kernel: int = 25) -> None:
        super().__init__()
        self.pad = (kernel - 1) // 2
        self.avg = torch.nn.AvgPool1d(kernel_size=kernel, stride=1, padding=0)
        self.seasonal = torch.nn.Linear(input_len, horizon)
        self.trend = torch.nn.Linear(input_len, horizon)
        torch.nn.Linear(input_len, horizon)  # the v1 code's unused third layer
        with torch.no_grad():
            self.seasonal.weight.fill_(1.0 / input_len)
            self.trend.weight.fill_(1.0 / input_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        front = x[:, 0:1, :].repeat(1, self.pad, 1)
        end = x[:, -1:, :].repeat(1, self.pad, 1)
        trend = self.avg(torch.cat([front, x, end], dim=1).permute(0, 2, 1)).permute(0, 2, 1)
        seasonal = x - trend
        out = self.seasonal(seasonal.permute(0, 2, 1)) + self.trend(trend.permute(0, 2, 1))
        return out.permute(0, 2, 1)


def plain_epoch(data: np.ndarray, input_len: int, horizon: int, batch_size: int, device: torch.device) -> float:
    torch.manual_seed(2021)
    model = ReferenceStyleDLinear(input_len, horizon).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = DataLoader(ReferenceStyleWindows(data, input_len, horizon), batch_size, shuffle=True, drop_last=True)
    start = time.perf_counter()
    model.train()
    for x, y in loader:
        x, y = x.float().to(device), y.float().to(device)
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimiser.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def workbench_epoch(prepared, batch_size: int, device: torch.device) -> float:
    torch.manual_seed(2021)
    model = DLinear(prepared.task.input_len, prepared.task.horizon, init="v1")
    trainer = Trainer(
        max_epochs=1, batch_size=batch_size, lr=1e-4, device=str(device), progress=False, drop_last=True,
        shuffle_rng="global",
    )  # fmt: skip
    train = prepared.train.to(device)
    start = time.perf_counter()
    trainer.fit_batches(model, train)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    task = LTSFTask(dataset="ett", subset="ETTh1", split_rule="ett_hour", horizon=args.horizon)
    prepared = prepare(task)
    lo, hi = prepared.borders.train
    data = prepared.scaler.transform(prepared.table.values)[lo:hi]  # float64, as the reference holds it
    plain = statistics.median(plain_epoch(data, 336, args.horizon, args.batch_size, device) for _ in range(args.reps))
    ours = statistics.median(workbench_epoch(prepared, args.batch_size, device) for _ in range(args.reps))
    print(
        json.dumps(
            {
                "benchmark": "DLinear epoch, ETTh1",
                "horizon": args.horizon,
                "batch_size": args.batch_size,
                "batches": len(prepared.train) // args.batch_size,
                "device": str(device),
                "threads": args.threads,
                "plain_pytorch_s": round(plain, 3),
                "workbench_s": round(ours, 3),
                "ratio": round(ours / plain, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
