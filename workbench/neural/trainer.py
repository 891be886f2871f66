"""A small PyTorch trainer: seeded, deterministic on CPU, on a GPU when there is one.

What the workbench's neural models share: one seed for Python, numpy and torch; deterministic
algorithms on CPU; a validation split with early stopping on its loss and the best weights restored;
a progress bar; and a history of losses so a notebook can plot the learning curve.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; returns a generator for the data loaders' shuffling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(device: str | None = None) -> torch.device:
    """The given device, else CUDA when available, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class TrainResult:
    model: nn.Module
    best_epoch: int
    history: list[dict] = field(default_factory=list)


@dataclass
class Trainer:
    """Minimise `loss_fn(model(x), y)` with Adam; stop when validation loss stops improving."""

    max_epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    patience: int = 5
    seed: int = 0
    device: str | None = None
    progress: bool = True
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.mse_loss

    def fit(
        self,
        model: nn.Module,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> TrainResult:
        generator = seed_everything(self.seed)
        device = pick_device(self.device)
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        model = model.to(device)
        train = DataLoader(
            TensorDataset(torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.float32)),
            batch_size=self.batch_size,
            shuffle=True,
            generator=generator,
        )
        optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
        best, best_epoch, best_state, waited = float("inf"), -1, None, 0
        history = []
        bar = tqdm(range(self.max_epochs), desc="epochs", disable=not self.progress, leave=False)
        for epoch in bar:
            model.train()
            total, count = 0.0, 0
            for xb, yb in train:
                xb, yb = xb.to(device), yb.to(device)
                optimiser.zero_grad()
                loss = self.loss_fn(model(xb), yb)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(xb)
                count += len(xb)
            record = {"epoch": epoch, "train_loss": total / max(count, 1)}
            monitored = record["train_loss"]
            if x_val is not None and y_val is not None and len(x_val):
                record["val_loss"] = self.evaluate(model, x_val, y_val)
                monitored = record["val_loss"]
            history.append(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            if monitored < best - 1e-12:
                best, best_epoch, waited = monitored, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if waited >= self.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        return TrainResult(model.eval(), best_epoch, history)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
        device = next(model.parameters()).device
        model.eval()
        pred = model(torch.as_tensor(x, dtype=torch.float32, device=device))
        return float(self.loss_fn(pred, torch.as_tensor(y, dtype=torch.float32, device=device)))

    @torch.no_grad()
    def predict(self, model: nn.Module, x: np.ndarray) -> np.ndarray:
        device = next(model.parameters()).device
        model.eval()
        return model(torch.as_tensor(x, dtype=torch.float32, device=device)).cpu().numpy()
