"""Library models through the workbench vs the library alone, on the same series, in one run.

1. statsforecast: `make_forecaster("statsforecast.<Model>")` on a panel vs `StatsForecast(...).forecast`
   on the same frame (target: overhead <= 1.10x);
2. darts local models: the engine with 2 single-threaded workers vs a plain loop of darts fits in one
   process (the speed-up the engine buys for per-series models).

Usage: python benchmarks/models_overhead.py [--subset Weekly] [--sf-model AutoETS] [--darts-model ExponentialSmoothing]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from workbench.data import load_panel
from workbench.engine import evaluate
from workbench.forecasters import make_forecaster
from workbench.tasks import Task


def timed(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def statsforecast_overhead(subset: str, model: str, reps: int) -> dict:
    import statsforecast.models as sfm
    from statsforecast import StatsForecast

    panel = load_panel("m4", subset, "train")
    h, m = panel.horizon or 13, panel.season_length
    df = panel.df[["unique_id", "ds", "y"]]

    cls = getattr(sfm, model)
    kwargs = {"season_length": m} if "season_length" in inspect.signature(cls).parameters else {}

    def direct():
        StatsForecast(models=[cls(**kwargs)], freq=1, n_jobs=1).forecast(df=df, h=h)

    def through_workbench():
        make_forecaster(f"statsforecast.{model}").fit(panel).predict(h)

    direct()  # warm-up: imports and one-off set-up on both paths
    through_workbench()
    t_direct, t_ours = timed(direct, reps), timed(through_workbench, reps)
    return {"series": panel.n_series, "direct_s": round(t_direct, 3), "workbench_s": round(t_ours, 3),
            "overhead": round(t_ours / t_direct, 3)}  # fmt: skip


def darts_engine(subset: str, model: str, kwargs: dict) -> dict:
    import darts.models as dm

    panel = load_panel("m4", subset, "train")
    h = panel.horizon or 13
    series = panel.to_darts()

    def alone():
        for s in series:
            getattr(dm, model)(**kwargs).fit(s).predict(h)

    from distributed import Client, LocalCluster

    t_alone = timed(alone, 1)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        task = Task(dataset="m4", subset=subset)
        spec = {"name": f"darts.{model}", "params": kwargs}
        engine = {"client": client, "chunk_size": 50, "progress": False}
        evaluate(task, spec, store=Path(tmp) / "warm", **engine)  # workers import darts, chunk files are cut
        start = time.perf_counter()
        summary = evaluate(task, spec, store=Path(tmp) / "run", **engine)
        t_engine = time.perf_counter() - start
    assert summary.counts() == {"ok": summary.n_units}
    return {"series": len(series), "darts_alone_s": round(t_alone, 2), "engine_2_workers_s": round(t_engine, 2),
            "speedup": round(t_alone / t_engine, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", default="Weekly")
    parser.add_argument("--sf-model", default="AutoETS")
    parser.add_argument("--darts-model", default="ExponentialSmoothing")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("results/bench/models_overhead.json"))
    args = parser.parse_args()
    report = {
        "cpus": os.cpu_count(),
        "statsforecast": {"model": args.sf_model, **statsforecast_overhead(args.subset, args.sf_model, args.reps)},
        "darts": {"model": args.darts_model,
                  **darts_engine(args.subset, args.darts_model, {"trend": None, "seasonal": None})},
    }  # fmt: skip
    print(json.dumps(report, indent=1))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
