"""Test-only forecasters and functions for the timeout tests.

They live in a module of their own so that Dask worker processes and the units' child processes
can import them (a class defined in a test module would be registered in the test process only).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from workbench.forecasters import Forecaster, Naive
from workbench.registry import ModelParams


class PidFileParams(ModelParams):
    pid_file: str = Field(description="where the spinning process writes its PID")


def spin_forever(pid_file: str) -> None:
    """Write this process's PID to `pid_file` (atomically), then keep the CPU busy for ever."""
    tmp = Path(f"{pid_file}.{os.getpid()}.tmp")
    tmp.write_text(str(os.getpid()))
    tmp.rename(pid_file)
    while True:
        pass


class SpinOnce(Forecaster):
    """The first unit to predict claims `pid_file` and spins for ever; every later one forecasts like naive.

    Which unit comes first is Dask's choice; whichever it is hangs, and the other one is normal."""

    name = "test_spin_once"
    Params = PidFileParams

    def predict(self, h):
        claim = Path(self.params.pid_file).with_suffix(".claimed")
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return Naive().fit(self.past_).predict(h)
        spin_forever(self.params.pid_file)


class Boom(Forecaster):
    """Fails in predict, as a model's bug would."""

    name = "test_boom"

    def predict(self, h):
        raise ValueError(f"boom: cannot forecast {self.past_.n_series} series")


def add(a: int, b: int) -> tuple[int, int]:
    return a + b, os.getpid()


def fail(message: str) -> None:
    raise KeyError(message)


def die(code: int) -> None:
    os._exit(code)
