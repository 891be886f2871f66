"""What cost accounting costs: the forecasting loop and the leaderboard with and without it, in one run.

Every forecast unit records the CPU seconds of its model's calls: `forecast_windows`
(`workbench.engine.worker`) reads `cpu_seconds()` (two `getrusage` calls) before and after each
window's fit and predict, and its `RuntimeLog` keeps them with the unit's other runtime facts; the
store's `leaderboard` merges the cost columns of `cost_board(store)` (every record read again, a
bootstrap per task and model). Target: under 2% of each. Compared, in this process, on the same
data, repetitions interleaved (A B C A B C ..., the order rotated every repetition) so the load of a
shared machine falls on every variant alike:

1. the forecasting loop: seasonal naive (the cheapest model, where bookkeeping weighs most) on M4
   Hourly (414 series, horizon 48), the engine's own `forecast_windows` over the series cut into
   units of `--chunk-sizes` series (the engine's default is 500: one unit), the unit's record
   facts (`RuntimeLog.facts`) built as the engine does:
       as is         the code as it is;
       no cpu        `workbench.engine.worker.cpu_seconds` replaced by a function returning 0.0;
       no runtime    also `RuntimeLog` replaced by a log that keeps nothing (what all of a unit's
                     runtime bookkeeping costs, the hardware facts read per window included);
   median wall and CPU seconds (`time.process_time`) and the overhead of `as is` over each; also
   the time spent inside those calls, each timed where it runs in one more sample of the loop, as
   a share of the loop (small differences drown in a loaded machine's noise; this does not), and the
   cost of one `cpu_seconds()` and one `RuntimeLog` (add + facts) timed alone in a tight loop;
2. the leaderboard: `leaderboard(store)` as is vs with `workbench.store.sql.cost_board` replaced by
   an empty board (the cost columns merged in empty), and `cost_board(store)` alone as a share of
   the leaderboard, on a store made by one small engine grid (M4 Hourly x seasonal_naive, theta,
   `--grid-chunk` series per unit, 2 worker processes) in a temporary folder.

Nothing is written into the repository.

Usage: WORKBENCH_DATA_MIRROR=../shared/datasets python benchmarks/cost_accounting.py
       [--chunk-sizes 500 50 1] [--reps 21] [--min-sample 0.3] [--lb-reps 21] [--grid-chunk 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

import workbench.engine.worker as worker
import workbench.store.sql as store_sql
from workbench.engine.units import Unit
from workbench.models.spec import ModelSpec
from workbench.store.cost import COST_COLUMNS, cost_board
from workbench.store.records import RuntimeLog, cpu_seconds
from workbench.tasks import Task, Window

MODEL = "seasonal_naive"


class _NullLog:
    """A runtime log that keeps nothing (the `no runtime` variant)."""

    def __init__(self, **_: Any) -> None:
        pass

    def add(self, *_: Any, **__: Any) -> None:
        pass

    def facts(self, routed: str = "") -> dict[str, Any]:
        return {}


def _zero() -> float:
    return 0.0


@contextlib.contextmanager
def patched(module: Any, **names: Any) -> Iterator[None]:
    """`names` set on `module` (by name, as the code under test looks them up), restored after."""
    saved = {name: getattr(module, name) for name in names}
    for name, value in names.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def interleaved(variants: dict[str, Callable[[], Any]], reps: int) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds of each variant, `reps` rounds, the order rotated every round."""
    names = list(variants)
    out: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in names}
    for r in range(reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            variants[name]()
            out[name]["cpu"].append(time.process_time() - cpu)
            out[name]["wall"].append(time.perf_counter() - wall)
    return out


def spread(a: list[float], b: list[float]) -> float:
    """Half the interquartile range, in percent, of the per-round ratios a/b: the noise of an overhead."""
    q = statistics.quantiles([x / y for x, y in zip(a, b, strict=True)], n=4)
    return 100 * (q[2] - q[0]) / 2


def in_loop(loop: Callable[[], Any]) -> dict[str, float]:
    """Seconds the accounting's calls take during one sample of `loop`: `cpu_seconds()` and
    `RuntimeLog` (construction, `add`, `facts`), each call timed where it runs (among the model's own
    work, whose cache misses a call timed alone in a tight loop does not pay): the median call times
    the number of calls, so a call that the scheduler happened to preempt does not count for
    thousands. The two clock reads around each call (about 0.1 us each) are counted in."""
    calls: dict[str, list[float]] = {"cpu_seconds": [], "RuntimeLog.__init__": [], "add": [], "facts": []}

    def timed(what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                calls[what].append(time.perf_counter() - start)

        return call

    class TimedLog(RuntimeLog):
        __init__ = timed("RuntimeLog.__init__", RuntimeLog.__init__)
        add = timed("add", RuntimeLog.add)
        facts = timed("facts", RuntimeLog.facts)

    with patched(worker, cpu_seconds=timed("cpu_seconds", cpu_seconds), RuntimeLog=TimedLog):
        loop()
    return {what: statistics.median(t) * len(t) for what, t in calls.items() if t}


def chunked_windows(task: Task, chunk_size: int) -> list[list[Window]]:
    """The task's windows cut into units of `chunk_size` series (consecutive in sorted id order)."""
    windows = list(task.windows())
    ids = sorted(windows[0].past.df["unique_id"].astype(str).unique())
    units = []
    for start in range(0, len(ids), chunk_size):
        part = ids[start : start + chunk_size]
        units.append([Window(w.index, w.past.select(part), w.truth.select(part)) for w in windows])
    return units


def forecasting_loop(chunk_sizes: list[int], reps: int, min_sample: float) -> list[dict[str, Any]]:
    task = Task(dataset="m4", subset="Hourly")
    unit = Unit(task, ModelSpec(name=MODEL), (), 0)
    per_cpu = timeit.timeit(cpu_seconds, number=20_000) / 20_000
    forecaster = worker.make_forecaster(MODEL)

    def one_log() -> None:
        log = RuntimeLog(first_in_process=False)
        log.add(forecaster, 0.1, 0.1, 0.1)
        log.facts()

    per_log = timeit.timeit(one_log, number=2_000) / 2_000
    rows = []
    for chunk_size in chunk_sizes:
        units = chunked_windows(task, chunk_size)
        n_windows = sum(len(w) for w in units)

        def once(units: list[list[Window]] = units) -> None:
            for windows in units:
                facts: dict[str, Any] = {}
                worker.forecast_windows(unit, windows, facts)
                facts["runtime_log"].facts()  # what the engine puts in the unit's record

        once()  # warm-up (imports, caches)
        start = time.perf_counter()
        once()  # how long one pass takes
        inner = max(1, math.ceil(min_sample / (time.perf_counter() - start)))

        def loop(inner: int = inner) -> None:  # one sample: enough passes to last about `min_sample`
            for _ in range(inner):
                once()

        def no_cpu() -> None:
            with patched(worker, cpu_seconds=_zero):
                loop()

        def no_runtime() -> None:
            with patched(worker, cpu_seconds=_zero, RuntimeLog=_NullLog):
                loop()

        times = interleaved({"as is": loop, "no cpu": no_cpu, "no runtime": no_runtime}, reps)
        med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
        spent = in_loop(loop)
        rows.append(
            {
                "chunk": chunk_size,
                "units": len(units),
                "passes": inner,
                "as_is_s": med["as is"]["wall"],
                "no_cpu_s": med["no cpu"]["wall"],
                "no_runtime_s": med["no runtime"]["wall"],
                "cpu_pct_wall": 100 * (med["as is"]["wall"] / med["no cpu"]["wall"] - 1),
                "cpu_pct_cpu": 100 * (med["as is"]["cpu"] / med["no cpu"]["cpu"] - 1),
                "runtime_pct_wall": 100 * (med["as is"]["wall"] / med["no runtime"]["wall"] - 1),
                "runtime_pct_cpu": 100 * (med["as is"]["cpu"] / med["no runtime"]["cpu"] - 1),
                "cpu_pct_iqr": spread(times["as is"]["wall"], times["no cpu"]["wall"]),
                "runtime_pct_iqr": spread(times["as is"]["wall"], times["no runtime"]["wall"]),
                "cpu_pct_in_loop": 100 * spent["cpu_seconds"] / med["no cpu"]["wall"],
                "runtime_pct_in_loop": 100 * sum(spent.values()) / med["no runtime"]["wall"],
                "cpu_pct_hot": 100 * 2 * inner * n_windows * per_cpu / med["no cpu"]["wall"],
                "runtime_pct_hot": 100 * inner * n_windows * (2 * per_cpu + per_log) / med["no runtime"]["wall"],
            }
        )
    print(f"\n1. forecasting loop: {MODEL} on M4 Hourly (414 series, h 48), median of {reps} interleaved reps")
    print(f"   one cpu_seconds(): {per_cpu * 1e6:.2f} us; one RuntimeLog add + facts: {per_log * 1e6:.1f} us")
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(frame.round({c: 4 for c in frame.columns if c.endswith("_s")} | {c: 3 for c in frame if "pct" in c}))
    print("   *_pct_wall / *_pct_cpu: overhead of `as is` over `no cpu` (the cpu_seconds calls) and over")
    print("   `no runtime` (all runtime bookkeeping), medians of wall and of CPU seconds; *_pct_in_loop: the time")
    print("   inside those calls, each timed where it runs (median call x calls, one sample); *_pct_hot: calls x")
    print("   the cost of one call timed alone in a tight loop; *_pct_iqr: half the interquartile range of the")
    print("   per-round wall ratios (the noise of *_pct_wall)")
    return rows


def leaderboard_overhead(grid_chunk: int, workers: int, reps: int) -> dict[str, Any]:
    from workbench.engine import evaluate

    empty = pd.DataFrame(columns=["task_key", "model", *COST_COLUMNS])
    with tempfile.TemporaryDirectory(prefix="cost-accounting-bench-") as tmp:
        store = str(Path(tmp) / "store")
        task = Task(dataset="m4", subset="Hourly")
        summary = evaluate(
            task, [MODEL, "theta"], store=store, chunk_size=grid_chunk, n_workers=workers, progress=False
        )
        assert set(summary.counts()) == {"ok"}, summary.counts()

        def without_cost() -> None:
            with patched(store_sql, cost_board=lambda *a, **k: empty):
                store_sql.leaderboard(store)

        board = store_sql.leaderboard(store)  # warm-up (imports, first connection)
        assert board["cpu_s_per_1k"].notna().all()
        times = interleaved(
            {
                "leaderboard": lambda: store_sql.leaderboard(store),
                "without cost": without_cost,
                "cost_board": lambda: cost_board(store),
            },
            reps,
        )
        n_units = len(summary.store.committed())
    med = {n: statistics.median(t["wall"]) for n, t in times.items()}
    out = {
        "units": n_units,
        "leaderboard_s": med["leaderboard"],
        "without_cost_s": med["without cost"],
        "cost_board_s": med["cost_board"],
        "merge_pct": 100 * (med["leaderboard"] / med["without cost"] - 1),
        "merge_pct_iqr": spread(times["leaderboard"]["wall"], times["without cost"]["wall"]),
        "cost_board_share_pct": 100 * med["cost_board"] / med["leaderboard"],
    }
    print(f"\n2. leaderboard: store of M4 Hourly x {MODEL}, theta, chunks of {grid_chunk} ({n_units} committed units),")
    print(f"   median wall seconds of {reps} interleaved reps")
    for name, value in out.items():
        print(f"   {name:22} {value:10.4f}" if isinstance(value, float) else f"   {name:22} {value:10d}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[500, 50, 1], help="series per unit")
    parser.add_argument("--reps", type=int, default=21, help="interleaved repetitions of the loop")
    parser.add_argument("--min-sample", type=float, default=0.3, help="seconds a loop sample lasts at least")
    parser.add_argument("--lb-reps", type=int, default=21, help="interleaved repetitions of the leaderboard")
    parser.add_argument("--grid-chunk", type=int, default=50, help="series per unit of the leaderboard's grid")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = forecasting_loop(args.chunk_sizes, args.reps, args.min_sample)
    lb = leaderboard_overhead(args.grid_chunk, args.workers, args.lb_reps)
    print("\noverhead of cost accounting (target < 2%):")
    for row in rows:
        where = f"loop, {row['units']:3d} units of {row['chunk']:3d} series:"
        cpu = f"cpu_seconds {row['cpu_pct_wall']:+.2f}% (+-{row['cpu_pct_iqr']:.2f}) wall"
        cpu += f" / {row['cpu_pct_cpu']:+.2f}% cpu"
        cpu += f" (in the loop {row['cpu_pct_in_loop']:.3f}%)"
        log = f"all runtime bookkeeping {row['runtime_pct_wall']:+.2f}% (+-{row['runtime_pct_iqr']:.2f}) wall"
        log += f" / {row['runtime_pct_cpu']:+.2f}% cpu"
        log += f" (in the loop {row['runtime_pct_in_loop']:.3f}%)"
        print(f"   {where} {cpu}; {log}")
    merge, share = lb["merge_pct"], lb["cost_board_share_pct"]
    noise = lb["merge_pct_iqr"]
    print(f"   leaderboard: cost merge {merge:+.2f}% (+-{noise:.2f}); cost_board alone {share:.2f}% of the leaderboard")


if __name__ == "__main__":
    main()
