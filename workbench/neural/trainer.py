"""A small PyTorch trainer: seeded, deterministic on CPU, on a GPU when there is one.

What the workbench's neural models share: one seed for Python, numpy and torch; deterministic
algorithms on CPU; a validation split with early stopping on its loss and the best weights restored;
a progress bar; and a history of losses so a notebook can plot the learning curve.

Batches are drawn exactly as a torch `DataLoader` draws them (same random numbers, same order),
without its per-sample collation: data sources only need `len()` and `take(index)`, so windows can be
cut from one tensor on demand. Options reproduce published training loops where a paper's numbers
depend on them: dropping the last incomplete batch, a per-epoch learning-rate schedule, shuffling
from torch's global generator (a loader built without a generator), a batched and shuffled
validation whose loss is the mean of the batch losses, and a hook after every epoch.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch
from pydantic import Field
from torch import nn
from tqdm.auto import tqdm

from workbench.registry import ModelParams, resolve_seed

__all__ = [
    "Batches",
    "Pairs",
    "TrainResult",
    "Trainer",
    "TrainingParams",
    "batch_order",
    "pick_device",
    "seed_everything",
]


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


class Batches(Protocol):
    """A training source: its size, and the (inputs, targets) of the samples at an index tensor."""

    def __len__(self) -> int: ...

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class Pairs:
    """In-memory (x, y) arrays as a `Batches` source."""

    x: torch.Tensor
    y: torch.Tensor

    @classmethod
    def of(cls, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> Pairs:
        return cls(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


def batch_order(
    n: int, batch_size: int, shuffle: bool, drop_last: bool, generator: torch.Generator | None
) -> list[torch.Tensor]:
    """The index batches a `DataLoader` hands out in one pass, drawing the same random numbers.

    A loader draws one number for its workers' base seed when a pass starts; a shuffling sampler
    then draws a permutation from `generator`, or, without one, from a fresh generator seeded by one
    more draw from torch's global generator. Reproducing those draws keeps a run seeded like
    reference code in step with it.
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    if shuffle:
        if generator is None:
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        else:
            order = torch.randperm(n, generator=generator)
            # a RandomSampler ends with a permutation for the n % n remaining samples: drawn, not used
            torch.randperm(n, generator=generator)
    else:
        order = torch.arange(n)
    stop = (n // batch_size) * batch_size if drop_last else n
    return list(order[:stop].split(batch_size)) if stop else []


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
    # drop the last incomplete training batch
    drop_last: bool = False
    # learning rate of epoch e (from 0) = lr * lr_schedule(e)
    lr_schedule: Callable[[int], float] | None = None
    # "generator": seed in `fit` and shuffle from a generator of that seed; "global": the caller has
    # seeded (before building the model, as reference code does) and shuffling draws from torch's
    # global generator, like a DataLoader built without a generator
    shuffle_rng: Literal["generator", "global"] = "generator"
    # None: validate in one pass, loss over all samples; a size: shuffled batches of that size,
    # last incomplete one dropped, loss = mean of the batch losses (reference LTSF code)
    val_batch_size: int | None = None
    # called with the epoch number after validation (e.g. to draw what a reference loop draws there)
    after_epoch: Callable[[int], None] | None = None

    def fit(
        self,
        model: nn.Module,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> TrainResult:
        val = Pairs.of(x_val, y_val) if x_val is not None and y_val is not None and len(x_val) else None
        return self.fit_batches(model, Pairs.of(x_train, y_train), val)

    def fit_batches(self, model: nn.Module, train: Batches, val: Batches | None = None) -> TrainResult:
        """Train on `train`, early-stop on `val` (else on the training loss); best weights restored."""
        generator = seed_everything(self.seed) if self.shuffle_rng == "generator" else None
        device = pick_device(self.device)
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        model = model.to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
        best, best_epoch, best_state, waited = float("inf"), -1, None, 0
        history = []
        bar = tqdm(range(self.max_epochs), desc="epochs", disable=not self.progress, leave=False)
        for epoch in bar:
            lr = self.lr * (self.lr_schedule(epoch) if self.lr_schedule else 1.0)
            for group in optimiser.param_groups:
                group["lr"] = lr
            model.train()
            total, count = 0.0, 0
            for index in batch_order(len(train), self.batch_size, True, self.drop_last, generator):
                xb, yb = (t.to(device) for t in train.take(index))
                optimiser.zero_grad()
                loss = self.loss_fn(model(xb), yb)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(xb)
                count += len(xb)
            record = {"epoch": epoch, "train_loss": total / max(count, 1), "lr": lr}
            monitored = record["train_loss"]
            if val is not None and len(val):
                record["val_loss"] = self._validate(model, val, generator)
                monitored = record["val_loss"]
            if self.after_epoch is not None:
                self.after_epoch(epoch)
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
    def _validate(self, model: nn.Module, val: Batches, generator: torch.Generator | None) -> float:
        device = next(model.parameters()).device
        model.eval()
        if self.val_batch_size is None:
            x, y = val.take(torch.arange(len(val)))
            loss = float(self.loss_fn(model(x.to(device)), y.to(device)))
        else:
            losses = [
                float(self.loss_fn(model(x.to(device)), y.to(device)))
                for x, y in (val.take(i) for i in batch_order(len(val), self.val_batch_size, True, True, generator))
            ]
            loss = float(np.mean(losses)) if losses else float("nan")
        model.train()
        return loss

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


class TrainingParams(ModelParams):
    """The training parameters of every forecaster trained on the native trainer (the LTSF-Linear
    models, the MLP), with the LTSF reference defaults; a model declares its own defaults where they
    differ, and `trainer` builds the Trainer from them."""

    epochs: int = Field(10, ge=1, description="most training epochs (early stopping may end sooner)")
    batch_size: int = Field(32, ge=1, description="training windows per batch")
    lr: float = Field(0.005, gt=0, description="Adam's learning rate")
    patience: int = Field(3, ge=1, description="epochs without a better validation loss before stopping")
    random_state: int | None = Field(
        None, description="seed of the initial weights and the batch order; default: the run's seed, else the model's"
    )
    device: str | None = Field(None, description="torch device; default: a GPU when there is one")
    progress: bool = Field(False, description="show a progress bar over epochs")

    def trainer(self, run_seed: int | None, default_seed: int, **options: Any) -> Trainer:
        """The Trainer of these parameters, its seed `random_state`, else the run's, else the
        model's `default_seed`. Python, numpy and torch are seeded with it here, before the model is
        built: the initial weights are part of what the seed fixes."""
        trainer = Trainer(
            max_epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            seed=resolve_seed(self.random_state, run_seed, default_seed),
            device=self.device,
            progress=self.progress,
            **options,
        )
        seed_everything(trainer.seed)
        return trainer
