"""Granite TTM-R2 zero-shot beside seasonal naive and theta on ETTh1/ETTh2 rolling windows, into the store.

The TTM reproduction (`papers/ttm/`) scores TTM on the LTSF protocol (z-scored data, MSE, one origin
per test row); this grid asks the workbench's own question instead: on the raw series of the `ett`
card (7 channels each, hourly, season 24), rolling origins stepping back from the end by `step`
(default: the horizon, 96), does a pretrained model beat the classic baselines? Each channel is a
series; every model sees only the past of each origin, TTM its last 512 points. Metrics MASE
(seasonal scale, m = 24), sMAPE and MAE per series and window, as every forecasting task stores them.

Usage:
    python benchmarks/ett_ttm_classics.py [--windows 20] [--subsets ETTh1 ETTh2] [--store DIR] [--model DIR]

It prints the leaderboard per task (the store's `leaderboard`, mean over series and windows); a rerun
reuses every complete unit.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

SUBSETS = ("ETTh1", "ETTh2")
MODELS = ("seasonal_naive", "theta", "ttm")
METRICS = ("mase", "smape", "mae")
# the TTM-R2 `main` checkpoint (context 512, horizon 96) in the shared models folder, else the hub id
LOCAL_TTM = Path(__file__).resolve().parents[2] / "shared" / "models" / "granite-ttm-r2-512-96"


def grid(
    n_windows: int = 20,
    subsets: tuple[str, ...] = SUBSETS,
    horizon: int = 96,
    ttm_model: str | None = None,
    models: tuple[str, ...] = MODELS,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """(tasks, model specs): one rolling task per ETT subset, the three models."""
    from workbench.foundation.ttm import DEFAULT_MODEL
    from workbench.tasks import Task

    tasks = [
        Task(dataset="ett", subset=s, protocol="rolling", horizon=horizon, n_windows=n_windows, metrics=METRICS)
        for s in subsets
    ]
    ttm = ttm_model or (str(LOCAL_TTM) if (LOCAL_TTM / "config.json").is_file() else DEFAULT_MODEL)
    specs = [{"name": m, "params": {"model": ttm} if m == "ttm" else {}} for m in models]
    return tasks, specs


def run(
    n_windows: int = 20,
    subsets: tuple[str, ...] = SUBSETS,
    *,
    horizon: int = 96,
    ttm_model: str | None = None,
    models: tuple[str, ...] = MODELS,
    store: str | Path | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Evaluate the grid into the store and return its leaderboard rows for these tasks."""
    import workbench
    from workbench.store.sql import leaderboard

    tasks, specs = grid(n_windows, subsets, horizon, ttm_model, models)
    summary = workbench.evaluate(tasks, specs, store=store, client=client, n_workers=n_workers, progress=progress)
    failed = {k: v for k, v in summary.counts().items() if k != "ok"}
    if failed:
        print(f"units not ok: {failed} (see `workbench results sql` on the units view)")
    board = leaderboard(summary.store)
    return board[board["task_key"].isin({t.key() for t in tasks})].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--subsets", nargs="+", default=list(SUBSETS))
    parser.add_argument("--store", default=None)
    parser.add_argument("--model", default=None, help="TTM checkpoint folder or hub id")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    board = run(args.windows, tuple(args.subsets), ttm_model=args.model, store=args.store, n_workers=args.workers)
    wide = board.pivot_table(index=["task", "model"], columns="metric", values="value")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(wide.round(4).to_string())


if __name__ == "__main__":
    main()
