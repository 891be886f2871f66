"""Chronos Benchmark II (Ansari et al. 2024, zero-shot) as fev keeps it, run through the Dask engine.

fev (autogluon/fev@1bc95fd7, `benchmarks/chronos_zeroshot/`) holds the benchmark as 27 task
definitions (`tasks.yaml`) and one results file per model (`results/*.csv`, fev 0.6.0). A task is one
window: the last `horizon` points of every series are forecast from everything before them, with
`seasonality` as the models' season length and the MASE lag, and nine quantile levels 0.1, ..., 0.9.
Its scores are fev 0.6.0's `MASE` (`workbench.metrics.mase_fev`, pooled over the task's cells) and
`WQL` (`wql`, pooled: the stored numerator and denominator), so a task's value here is exactly the
number in fev's file when the forecasts agree.

The models run here, each as fev's own scripts ran it (`examples/*/evaluate_model.py` at 0cedcbfa):

- `seasonal_naive`: gluonts' `SeasonalNaivePredictor` with its `LastValueImputation` of gaps
  (`missing="last_value"`); its point forecast is every quantile (the script copies it into each).
- `auto_ets`, `auto_theta`, `auto_arima`: statsforecast (fev pinned 2.0.0) with the task's season
  length, prediction intervals at the levels of the task's quantiles, `SeasonalNaive` as fallback,
  gaps forward-filled and leading gaps zero (`missing="ffill_zero"`), the last 2,500 points only.
- `ttm-r2`: the `main` revision of ibm-granite/granite-timeseries-ttm-r2 (context 512, horizon 96),
  zero-shot: gaps filled by `LastValueImputation`, series shorter than the context left-padded and
  masked as unobserved, the raw values handed to the model (its own scaler, `scaling="model"`), the
  96-step forecast cut to the horizon and used as every quantile.

Every other model of fev's files is a claim reported `unavailable` with its reason; for those the
workbench has an adapter for (Chronos and Chronos-Bolt) the reason gives the command that runs them
where the model hub is reachable. The paper's aggregate (per model, the geometric mean over tasks of
its score relative to seasonal naive, as fev's `leaderboard` computes it: ratios clipped to
[0.01, 100]) is computed over the tasks run here, beside the same aggregate recomputed from fev's
per-task claims over the same tasks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data import get_card, load_holdout, load_panel
from workbench.engine import evaluate
from workbench.engine.cluster import connect
from workbench.errors import SourceUnavailableError, UnknownNameError, WorkbenchError
from workbench.models.spec import ModelSpec
from workbench.papers.contract import Paper
from workbench.papers.ttm import default_model
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task

__all__ = [
    "CLIP",
    "DATASET",
    "FEV",
    "METRICS",
    "MODELS",
    "QUANTILES",
    "RUN_HERE",
    "TASKS",
    "BenchRun",
    "BenchTask",
    "aggregates",
    "export_series",
    "gmean_relative",
    "model_spec",
    "not_run",
    "reproduced",
    "run",
    "tasks_of",
    "timings",
]

FEV = "autogluon/fev@1bc95fd7"
DATASET = "chronos_zeroshot"  # the claims' `dataset`; a claim's `subset` is fev's task name
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
METRICS = {"MASE": "mase_fev", "WQL": "wql"}  # fev's column -> the workbench metric that computes it
CLIP = (0.01, 100.0)  # fev 0.6.0 `leaderboard`: min_relative_error, max_relative_error
STATSFORECAST = {"auto_ets": "AutoETS", "auto_theta": "AutoTheta", "auto_arima": "AutoARIMA"}
RUN_HERE = ("seasonal_naive", *STATSFORECAST, "ttm-r2")
# fev's models the workbench has an adapter for, with the hub id fev ran (chronos-forecasting's pipelines)
CHRONOS = {
    **{f"chronos_{s}": f"amazon/chronos-t5-{s}" for s in ("tiny", "mini", "small", "base", "large")},
    **{f"chronos_bolt_{s}": f"amazon/chronos-bolt-{s}" for s in ("tiny", "mini", "small", "base")},
}
MODELS = (*RUN_HERE, *CHRONOS)
NO_ADAPTER = {
    "moirai_small": "Moirai (Salesforce uni2ts): the workbench has no adapter",
    "moirai_base": "Moirai (Salesforce uni2ts): the workbench has no adapter",
    "moirai_large": "Moirai (Salesforce uni2ts): the workbench has no adapter",
    "tirex": "TiRex (NX-AI): the workbench has no adapter",
    "timecopilot": "TimeCopilot (an ensemble of foundation models): the workbench has no adapter",
    "timesfm": "TimesFM 1.0: the workbench's timesfm adapter runs TimesFM 2.5 only",
    "timesfm-2.0": "TimesFM 2.0: the workbench's timesfm adapter runs TimesFM 2.5 only",
}


@dataclass(frozen=True)
class BenchTask:
    """One of fev's 27 tasks: its name (fev's `dataset_config`), horizon and seasonality, and the
    catalog subsets whose series together are its series (ETTh: both ETTh1 and ETTh2, every column);
    `why_not` says why a task without parts cannot run from the catalog at all."""

    name: str
    horizon: int
    seasonality: int
    parts: tuple[tuple[str, str], ...] = ()
    why_not: str = ""


_NOT_MIRRORED = "no catalog card holds fev's copy of this dataset (it is not in the offline mirror)"
TASKS: dict[str, BenchTask] = {
    t.name: t
    for t in (
        BenchTask("monash_traffic", 24, 24, why_not=_NOT_MIRRORED),
        BenchTask("monash_australian_electricity", 48, 48, why_not=_NOT_MIRRORED),
        BenchTask("ercot", 24, 24, why_not=_NOT_MIRRORED),
        BenchTask(
            "ETTm",
            24,
            96,
            why_not="ETTm1/ETTm2 are not in the offline mirror, and fev's window ends 72 steps before the series' "
            "end (initial_cutoff -96), a window this reproduction does not build",
        ),
        BenchTask("ETTh", 24, 24, (("ett", "ETTh1"), ("ett", "ETTh2"))),
        BenchTask("exchange_rate", 30, 5, (("exchange_rate", "all"),)),
        BenchTask("nn5", 56, 1, (("monash", "nn5_daily"),)),
        BenchTask("monash_nn5_weekly", 8, 1, why_not=_NOT_MIRRORED),
        BenchTask("monash_weather", 30, 1, why_not=_NOT_MIRRORED),
        BenchTask("monash_covid_deaths", 30, 1, (("monash", "covid_deaths"),)),
        BenchTask("monash_fred_md", 12, 12, (("monash", "fred_md"),)),
        BenchTask("m4_quarterly", 8, 4, (("m4", "Quarterly"),)),
        BenchTask("m4_yearly", 6, 1, (("m4", "Yearly"),)),
        BenchTask("dominick", 8, 1, why_not=_NOT_MIRRORED),
        BenchTask("m5", 28, 1, why_not=_NOT_MIRRORED),
        BenchTask("monash_tourism_monthly", 24, 12, (("tourism", "monthly"),)),
        BenchTask("monash_tourism_quarterly", 8, 4, (("tourism", "quarterly"),)),
        BenchTask("monash_tourism_yearly", 4, 1, (("tourism", "yearly_all_cells"),)),
        BenchTask("monash_car_parts", 12, 12, (("monash", "car_parts"),)),
        BenchTask("monash_hospital", 12, 12, (("monash", "hospital"),)),
        BenchTask("monash_cif_2016", 12, 12, (("monash", "cif_2016"),)),
        BenchTask("monash_m1_yearly", 6, 1, (("m1", "yearly"),)),
        BenchTask("monash_m1_quarterly", 8, 4, (("m1", "quarterly"),)),
        BenchTask("monash_m1_monthly", 18, 12, (("m1", "monthly"),)),
        BenchTask("monash_m3_monthly", 18, 12, (("m3", "monthly"),)),
        BenchTask("monash_m3_yearly", 6, 1, (("m3", "yearly"),)),
        BenchTask("monash_m3_quarterly", 8, 4, (("m3", "quarterly"),)),
    )
}


def tasks_of(bench: BenchTask) -> list[Task]:
    """The workbench tasks of one fev task: one per catalog part, the last `horizon` points held out
    (the card's own test split where it has one, which is exactly those points; else one rolling
    window at the end of every series)."""
    tasks = []
    for card, subset in bench.parts:
        split = {"protocol": "holdout" if _has_test(card, subset) else "rolling"}
        tasks.append(
            Task(
                dataset=card,
                subset=subset,
                horizon=bench.horizon,
                season_length=bench.seasonality,
                n_windows=1,
                metrics=tuple(METRICS.values()),
                quantile_levels=QUANTILES,
                **split,
            )
        )
    return tasks


def _has_test(card: str, subset: str) -> bool:
    """Whether a catalog subset has a test split (whose values are then the window's points)."""
    return "test" in get_card(card).subset(subset).splits


def model_spec(model: str, ttm_model: str | None = None) -> ModelSpec:
    """The workbench model that runs fev's `model` as fev's scripts ran it (module docstring).

    Parameters
    ----------
    model
        fev's model name (`seasonal_naive`, `auto_ets`, `auto_theta`, `auto_arima`, `ttm-r2`, or a
        Chronos / Chronos-Bolt size such as `chronos_bolt_base`).
    ttm_model
        Hub id or local folder of the TTM-R2 checkpoint (default: `workbench.papers.ttm.default_model`,
        the offline copy beside the checkout where there is one).
    """
    if model == "seasonal_naive":
        return ModelSpec(name="seasonal_naive", params={"missing": "last_value"})
    if model in STATSFORECAST:
        params = {"quantiles": list(QUANTILES), "missing": "ffill_zero", "max_context_length": 2500}
        params["fallback"] = "statsforecast.SeasonalNaive"
        return ModelSpec(name=f"statsforecast.{STATSFORECAST[model]}", params=params)
    if model == "ttm-r2":
        params = {"model": ttm_model or default_model(), "missing": "last_value", "short_series": "pad"}
        return ModelSpec(name="ttm", params=params | {"scaling": "model", "batch_size": 256})
    if model in CHRONOS:
        return ModelSpec(name="chronos", params={"model": CHRONOS[model], "quantiles": list(QUANTILES)})
    raise UnknownNameError("Chronos Benchmark II model", model, list(MODELS))


@dataclass
class BenchRun:
    """What a run computed: `scores` (one row per fev task, model and fev metric: value, n_series,
    n_undefined, note), `units` (the unit records of its forecast units) and, per task not run, why."""

    scores: pd.DataFrame
    units: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # fev model name -> workbench model label


def run(
    tasks: Iterable[str],
    models: Iterable[str] = RUN_HERE,
    *,
    store: str | Path | ResultsStore | None = None,
    ttm_model: str | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = True,
) -> BenchRun:
    """Run `models` on `tasks` (fev task names) through the engine, one cluster for all of them.

    Parameters
    ----------
    tasks
        fev task names (`TASKS`); a task whose data cannot be had is skipped with its reason.
    models
        fev model names (`MODELS`).
    store
        The results store (None: WORKBENCH_RESULTS or ./results); a rerun computes nothing new.
    ttm_model
        The TTM-R2 checkpoint (see `model_spec`).
    client, n_workers
        A Dask client to use, or the number of local worker processes to start.
    progress
        Show the engine's progress bars.
    """
    names = list(tasks)
    for name in names:
        if name not in TASKS:
            raise UnknownNameError("Chronos Benchmark II task", name, list(TASKS))
    wanted = list(models)
    specs = {m: model_spec(m, ttm_model) for m in wanted}
    results = store if isinstance(store, ResultsStore) else ResultsStore(store)
    skipped: dict[str, str] = {}
    ran: dict[str, list[Task]] = {}
    with connect(client, None, n_workers) as c:
        for name in names:
            bench = TASKS[name]
            if not bench.parts:
                skipped[name] = bench.why_not
                continue
            try:
                evaluate(tasks_of(bench), list(specs.values()), client=c, store=results, progress=progress)
            except SourceUnavailableError as exc:
                skipped[name] = f"data unavailable: {exc}"
                continue
            ran[name] = tasks_of(bench)
    labels = {m: s.label for m, s in specs.items()}
    scores, units = _collect(results, ran, labels)
    return BenchRun(scores=scores, units=units, skipped=skipped, labels=labels)


def _collect(
    store: ResultsStore, ran: dict[str, list[Task]], labels: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pooled scores per (fev task, model, fev metric) from the store's rows, and the forecast units."""
    keys = {t.key(): name for name, tasks in ran.items() for t in tasks}
    by_label = {label: model for model, label in labels.items()}
    records = store.records()
    if records.empty:
        raise WorkbenchError(f"{store.root}: no unit records after the run")
    records = records[records["task_key"].isin(list(keys)) & records["model"].isin(list(by_label))]
    records = records[(records["kind"] == "forecast") & ~records["superseded"]]
    records = records.assign(task=records["task_key"].map(keys), method=records["model"].map(by_label))
    metrics = store.metrics()
    metrics = metrics[metrics["task_key"].isin(list(keys)) & metrics["model"].isin(list(by_label))]
    metrics = metrics.assign(task=metrics["task_key"].map(keys))
    rows = []
    for name in ran:
        for model, label in labels.items():
            failed = records[(records["task"] == name) & (records["method"] == model) & (records["status"] != "ok")]
            for column, metric in METRICS.items():
                part = metrics[(metrics["task"] == name) & (metrics["model"] == label) & (metrics["metric"] == metric)]
                value, note = _pooled(part)
                if len(failed):
                    value = float("nan")
                    note = f"{len(failed)} unit(s) failed: {failed['error'].iloc[0]}"
                rows.append(
                    {
                        "task": name,
                        "method": model,
                        "metric": column,
                        "value": value,
                        "n_series": len(part[["task_key", "unique_id"]].drop_duplicates()),
                        "n_undefined": int(part["value"].isna().sum()),
                        "note": note,
                    }
                )
    return pd.DataFrame(rows, columns=["task", "method", "metric", "value", "n_series", "n_undefined", "note"]), records


def _pooled(rows: pd.DataFrame) -> tuple[float, str]:
    """sum(numerator) / sum(denominator) of a task's rows (fev's pooled MASE and WQL), or why not."""
    if rows.empty:
        return float("nan"), "no scores in the store"
    num = rows["numerator"].astype(float)
    if num.isna().any():
        return float("nan"), f"{int(num.isna().sum())} series without a complete quantile forecast"
    den = float(rows["denominator"].astype(float).sum())
    return (float(num.sum()) / den, "") if den else (float("nan"), "no defined cell")


def reproduced(bench: BenchRun, paper: Paper) -> pd.DataFrame:
    """The reproduced values in the contract's layout (`workbench.papers.contract.compare`): every task
    and model run, every task not run with its reason, every model not run with its reason (and the
    command that runs it, for those the workbench has an adapter for), and the all-task aggregates
    (unavailable: not every task runs here)."""
    rows = [
        {
            "dataset": DATASET,
            "subset": r.task,
            "method": r.method,
            "metric": r.metric,
            "route": "",
            "value": r.value,
            "note": r.note,
        }
        for r in bench.scores.itertuples()
    ]
    run_models = set(bench.labels)
    missing = [t for t in TASKS if t not in set(bench.scores["task"])]
    everything = f"not every task runs here: {len(missing)} of 27 were not run ({', '.join(missing)})"
    for claim in paper.claims:
        if claim.subset == "all 27 tasks":
            rows.append(_unavailable(claim.subset, claim.method, claim.metric, everything))
        elif claim.method not in run_models:
            rows.append(_unavailable(claim.subset, claim.method, claim.metric, not_run(claim.method)))
        elif claim.subset in bench.skipped:
            rows.append(_unavailable(claim.subset, claim.method, claim.metric, bench.skipped[claim.subset]))
    return pd.DataFrame(rows, columns=["dataset", "subset", "method", "metric", "route", "value", "note"])


def _unavailable(subset: str, method: str, metric: str, note: str) -> dict[str, Any]:
    return {
        "dataset": DATASET,
        "subset": subset,
        "method": method,
        "metric": metric,
        "route": "",
        "value": float("nan"),
        "note": note,
    }


def not_run(model: str) -> str:
    """Why fev's `model` is not run by this reproduction, and how to run it where it can be."""
    if model in CHRONOS:
        return (
            f"weights not available offline ({CHRONOS[model]}); where the model hub is reachable: "
            f"workbench reproduce chronos_bench_ii -p 'models=[{model}]'"
        )
    if model in RUN_HERE:
        return "not run (parameter `models`)"
    return NO_ADAPTER.get(model, "no workbench adapter") + "; its weights are not available offline either"


def gmean_relative(scores: pd.Series, baseline: pd.Series) -> float:
    """fev's aggregate of one model: exp(mean(log(clip(score / baseline, 0.01, 100)))) over the tasks
    both have (NaN when any task of `scores` lacks a defined value)."""
    ratio = (scores / baseline.reindex(scores.index)).to_numpy(dtype=float)
    if not len(ratio) or np.isnan(ratio).any():
        return float("nan")
    return float(np.exp(np.mean(np.log(np.clip(ratio, *CLIP)))))


def aggregates(bench: BenchRun, paper: Paper) -> pd.DataFrame:
    """Per model and fev metric: the geometric mean relative to seasonal naive over the tasks run here,
    beside the same aggregate of fev's published per-task values over the same tasks."""
    ours = bench.scores.pivot_table(index="task", columns=["metric", "method"], values="value", dropna=False)
    published = pd.DataFrame(
        [(c.subset, c.metric, c.method, c.value) for c in paper.claims if c.subset in TASKS and c.metric in METRICS],
        columns=["task", "metric", "method", "value"],
    ).pivot_table(index="task", columns=["metric", "method"], values="value")
    tasks = sorted(set(bench.scores["task"]))
    rows = []
    if "seasonal_naive" not in bench.labels:
        raise WorkbenchError("the aggregate is relative to seasonal_naive: include it in `models`")
    for metric in METRICS:
        for model in bench.labels:
            mine = ours[(metric, model)].reindex(tasks)
            theirs = published[(metric, model)].reindex(tasks)
            rows.append(
                {
                    "metric": metric,
                    "method": model,
                    "n_tasks": len(tasks),
                    "workbench": gmean_relative(mine, ours[(metric, "seasonal_naive")]),
                    "fev_same_tasks": gmean_relative(theirs, published[(metric, "seasonal_naive")]),
                }
            )
    out = pd.DataFrame(rows)
    out["difference"] = out["workbench"] - out["fev_same_tasks"]
    return out


def timings(bench: BenchRun, paper: Paper) -> pd.DataFrame:
    """Per task and model: the workbench's fit and predict seconds (summed over its forecast units, each
    on one worker process of this machine) beside fev's published `inference_time_s` and what it was
    measured on. Measured facts of different machines, not a race."""
    units = bench.units
    mine = (
        units.groupby(["task", "method"])[["fit_s", "predict_s"]].sum().reset_index()
        if len(units)
        else pd.DataFrame(columns=["task", "method", "fit_s", "predict_s"])
    )
    if len(units) and "runtime" in units:
        padded = units.assign(n_padded=units["runtime"].map(lambda r: (r or {}).get("n_padded")))
        mine = mine.merge(padded.groupby(["task", "method"])["n_padded"].sum(min_count=1).reset_index(), how="left")
    facts = pd.DataFrame(
        [(f.subset, f.method, f.value, f.context) for f in paper.facts if f.what == "inference_time_s"],
        columns=["task", "method", "fev_inference_s", "fev_measured_on"],
    )
    return mine.merge(facts, on=["task", "method"], how="left")


def export_series(task: str, path: str | Path) -> Path:
    """Every series of fev task `task`, whole (history and the window), as one parquet file of
    `unique_id, ds, y` (ids prefixed by their catalog subset): the input of
    `papers/chronos_bench_ii/statsforecast_2_0_0.py`, which reruns fev's statsforecast protocol with
    fev's own statsforecast version in an environment of its own."""
    bench = TASKS[task]
    frames = []
    for card, subset in bench.parts:
        if _has_test(card, subset):
            train, test = load_holdout(card, subset)
            frame = pd.concat([train.df, test.df])
        else:
            frame = load_panel(card, subset).df
        frame = frame[["unique_id", "ds", "y"]].assign(unique_id=subset + "/" + frame["unique_id"].astype(str))
        frames.append(frame)
    out = pd.concat(frames).sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    if not pd.api.types.is_datetime64_any_dtype(out["ds"]):  # step counts: daily stamps, for statsforecast's freq
        out["ds"] = pd.Timestamp("2000-01-01") + pd.to_timedelta(out.groupby("unique_id").cumcount(), unit="D")
    path = Path(path)
    out.to_parquet(path, index=False)
    return path
