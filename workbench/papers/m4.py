"""The M4 reproduction: the eight statistical benchmarks, scored as the organisers scored them.

Two routes per published cell:
- the workbench's own forecasts, computed *through the engine* (`workbench.evaluate`: one unit per
  frequency, benchmark and chunk of series, committed to the results store with per-series sMAPE and
  MASE and the forecasts), which needs a frequency's train and test files. The reproduced values are
  then read back from the store's leaderboard (`workbench.store.sql.leaderboard`), so a number in the
  claimed-vs-reproduced table is the number the leaderboard and the report show, and a rerun reuses
  the stored units instead of computing them again;
- the organisers' own forecast files (`Point Forecasts/submission-*.rar`) rescored with the workbench's
  metrics, which needs the test file (and the train file for MASE): this checks the scoring on its own.

sMAPE and MASE are means over series of per-series means over the horizon; OWA is computed, as in
the official table, from sMAPE and MASE rounded to 3 decimals, relative to Naive2's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.classic.benchmarks import METHODS, m4_benchmarks
from workbench.data import get_card, load_panel, load_table
from workbench.errors import DataFormatError, SourceUnavailableError, WorkbenchError
from workbench.metrics import mase, smape
from workbench.metrics import owa as metric_owa
from workbench.papers.submissions import steps_to_array
from workbench.report.names import CLAIM_NAMES, MODEL_NAMES, display_name
from workbench.report.reasons import DETAILS
from workbench.store.results_store import ResultsStore

__all__ = [
    "CHUNK_SIZE",
    "DATASET",
    "ENGINE_METRICS",
    "FREQUENCIES",
    "OFFICIAL_FILES",
    "OFFICIAL_NAMES",
    "ROUTE_OFFICIAL",
    "ROUTE_OWN",
    "TTM_SUBSET",
    "EngineRun",
    "FrequencyData",
    "Reproduced",
    "evaluate_benchmarks",
    "load_frequency",
    "official_forecasts",
    "owa",
    "own_forecasts",
    "per_series_scores",
    "reproduce",
    "run",
    "short_reason",
    "ttm_spec",
]

DATASET = "m4"
FREQUENCIES = ("Yearly", "Quarterly", "Monthly", "Weekly", "Daily", "Hourly")
# workbench forecaster name -> the method's name in the official tables: the name the paper prints
# (`report.names.MODEL_NAMES`), as the organisers' workbook types it (`Naive` for Naive1, `Com` for Comb)
_TYPED = {printed: typed for typed, printed in CLAIM_NAMES[DATASET].items()}
OFFICIAL_NAMES = {m: _TYPED.get(MODEL_NAMES[m], MODEL_NAMES[m]) for m in METHODS}
# official forecast files in the mirror, by official method name -> table of the m4 card
OFFICIAL_FILES = {
    "Naive": "forecasts_naive",
    "sNaive": "forecasts_snaive",
    "Naive2": "forecasts_naive2",
    "SES": "forecasts_ses",
}
ROUTE_OWN = ""
ROUTE_OFFICIAL = "official file"
# series per engine unit: fixed, since a store refuses a task x model stored under two chunk sizes
CHUNK_SIZE = 500
ENGINE_METRICS = {"smape": "sMAPE", "mase": "MASE"}
# zero-shot TTM-R2 beside the benchmarks (not a claim of the paper): every Hourly series is >= 700
# points long, and the checkpoint needs a context of 512
TTM_SUBSET = "Hourly"


@dataclass(frozen=True)
class FrequencyData:
    """Train values (left-padded), test values (right-padded), their ids, season length and horizon."""

    name: str
    train: np.ndarray | None
    lengths: np.ndarray | None
    test: np.ndarray
    ids: np.ndarray
    season_length: int
    horizon: int
    train_missing: str = ""


def short_reason(split: str, exc: Exception) -> str:
    """A one-line reason for a file that cannot be had, with the full error after it in brackets
    (the report shows the line and keeps the details for its provenance section)."""
    text = " ".join(str(exc).split())
    line = (
        f"{split} file not in the mirror and no internet" if "cannot download" in text else f"{split} file unavailable"
    )
    return f"{line}{DETAILS}{text}]"


def load_frequency(frequency: str) -> FrequencyData:
    """Load one frequency. Raises SourceUnavailableError when not even the test file can be had;
    a missing train file is recorded in `train_missing` (rescoring sMAPE needs only the test)."""
    sub = get_card(DATASET).subset(frequency)
    test_panel = load_panel(DATASET, frequency, "test", progress=False)
    test, _, ids = test_panel.to_numpy(pad="right")
    try:
        train_panel = load_panel(DATASET, frequency, "train", progress=False)
    except SourceUnavailableError as exc:
        return FrequencyData(
            frequency, None, None, test, ids, sub.season_length, sub.horizon, short_reason("train", exc)
        )
    train, lengths, train_ids = train_panel.to_numpy(pad="left")
    if not np.array_equal(train_ids, ids):
        raise DataFormatError(f"m4/{frequency}: train and test files list different series")
    if test.shape[1] != sub.horizon:
        raise DataFormatError(f"m4/{frequency}: test has {test.shape[1]} steps, the card says h={sub.horizon}")
    return FrequencyData(frequency, train, lengths, test, ids, sub.season_length, sub.horizon)


def per_series_scores(data: FrequencyData, forecasts: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-series sMAPE and (when the train split is there) MASE of `forecasts` (n_series, h)."""
    s = smape(data.test, forecasts)
    m = None
    if data.train is not None:
        m = mase(data.test, forecasts, y_past=data.train, season_length=data.season_length)
    return s, m


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """OWA as the official table computes it: from 3-decimal sMAPE and MASE."""
    return metric_owa(*(round(v, 3) for v in (smape_value, mase_value, smape_naive2, mase_naive2)))


def _rows(frequency: str, route: str, scores: dict[str, tuple[np.ndarray, np.ndarray | None]], note: str) -> list:
    """sMAPE/MASE/OWA rows of one frequency and route from per-series scores keyed by official name."""
    rows = []
    base = scores.get("Naive2")
    for method, (s, m) in scores.items():
        s_mean = float(np.mean(s))
        rows.append((frequency, method, "sMAPE", route, s_mean, ""))
        if m is None:
            rows.append((frequency, method, "MASE", route, np.nan, note))
            rows.append((frequency, method, "OWA", route, np.nan, note))
            continue
        m_mean = float(np.mean(m))
        rows.append((frequency, method, "MASE", route, m_mean, ""))
        if base is None or base[1] is None:
            rows.append((frequency, method, "OWA", route, np.nan, "needs Naive2 on the same route"))
        else:
            rows.append((frequency, method, "OWA", route, owa(s_mean, m_mean, np.mean(base[0]), np.mean(base[1])), ""))
    return rows


def own_forecasts(data: FrequencyData, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """The workbench's benchmark forecasts (n_series, h), keyed by official method name."""
    wanted = tuple(dict.fromkeys([*methods, "naive2"]))
    out, _ = m4_benchmarks(data.train, data.lengths, data.season_length, data.horizon, methods=wanted)
    return {OFFICIAL_NAMES[name]: out[:, METHODS.index(name), :] for name in wanted}


def official_forecasts(table: pd.DataFrame, data: FrequencyData) -> np.ndarray:
    """The rows of an official forecast file for this frequency's series, as (n_series, h)."""
    out = steps_to_array(table, data.ids, data.horizon)
    incomplete = np.flatnonzero(np.isnan(out).any(axis=1))
    if len(incomplete):
        raise DataFormatError(
            f"official forecasts lack steps of series {data.ids[incomplete[0]]!r} ({len(incomplete)} series in all)"
        )
    return out


@dataclass
class EngineRun:
    """What the engine did for the reproduction: the stored leaderboard rows of the M4 tasks, the
    runs (units computed and reused), and why a frequency or an extra model was not evaluated."""

    store: ResultsStore
    tasks: dict[str, Any] = field(default_factory=dict)  # frequency -> Task
    board: pd.DataFrame = field(default_factory=pd.DataFrame)
    computed: int = 0
    reused: int = 0
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # (task_key, model) -> error
    not_run: dict[str, str] = field(default_factory=dict)  # extra model label -> why
    run_ids: list[str] = field(default_factory=list)

    def leaderboard(self, frequency: str) -> pd.DataFrame:
        """sMAPE and MASE of every model stored for `frequency`, best sMAPE first, paper names."""
        task = self.tasks.get(frequency)
        if task is None or self.board.empty:
            return pd.DataFrame(columns=["model", "sMAPE", "MASE", "n_series"])
        rows = self.board[self.board["task_key"] == task.key()]
        wide = rows.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
        wide = wide.rename(columns=ENGINE_METRICS).join(rows.groupby("model")["n_series"].max())
        wide.index = [display_name(m) for m in wide.index]
        wide = wide[[c for c in ("sMAPE", "MASE", "n_series") if c in wide]]
        return wide.sort_values("sMAPE").rename_axis("model").reset_index()


@dataclass
class Reproduced:
    """The reproduced values (see `reproduce`) and the engine run they were read from."""

    values: pd.DataFrame
    engine: EngineRun


def ttm_spec(model: str | None = None) -> dict[str, Any]:
    """The zero-shot TTM-R2 model spec: the offline checkpoint beside the checkout, else the hub id."""
    from workbench.papers.ttm import default_model

    return {"name": "ttm", "params": {"model": model or default_model()}}


def reproduce(
    frequencies: Iterable[str] = ("Hourly", "Weekly"),
    methods: Iterable[str] = tuple(OFFICIAL_NAMES),
    rescore_official: bool = True,
    progress: bool = True,
    **engine: Any,
) -> pd.DataFrame:
    """Reproduced values: (dataset, subset, method, metric, route, value, note); NaN values are
    unavailable with the reason in `note`. `engine` goes to `run` (store, client, n_workers, extras)."""
    return run(frequencies, methods, rescore_official, progress, **engine).values


def run(
    frequencies: Iterable[str] = ("Hourly", "Weekly"),
    methods: Iterable[str] = tuple(OFFICIAL_NAMES),
    rescore_official: bool = True,
    progress: bool = True,
    *,
    store: str | Path | ResultsStore | None = None,
    client: Any = None,
    n_workers: int | None = None,
    extras: dict[str, list[str | dict]] | None = None,
) -> Reproduced:
    """The benchmarks on `frequencies` through the engine into `store` (the configured store when
    None), their cells read back from the store; `extras` are more models per frequency evaluated
    beside them (e.g. `{"Hourly": [ttm_spec()]}`), stored and ranked but not claims. The official
    forecast files are rescored on every frequency whose test file can be had (no fitting, so it is
    cheap). `Total` needs all six frequencies."""
    frequencies = list(frequencies)
    methods = list(methods)
    unknown = [f for f in frequencies if f not in FREQUENCIES] + [m for m in methods if m not in OFFICIAL_NAMES]
    if unknown:
        raise ValueError(
            f"unknown M4 frequency or method {unknown}; frequencies {FREQUENCIES}, methods {list(OFFICIAL_NAMES)}"
        )
    own_names = [OFFICIAL_NAMES[m] for m in methods]
    rows: list[tuple] = []
    official_tables: dict[str, pd.DataFrame] = {}
    todo = [f for f in FREQUENCIES if f in frequencies or rescore_official]
    loaded: dict[str, FrequencyData] = {}
    bar = tqdm(todo, desc="M4 data", unit="frequency", disable=not progress)
    for frequency in bar:
        bar.set_postfix_str(frequency)
        run_own = frequency in frequencies
        try:
            data = load_frequency(frequency)
        except SourceUnavailableError as exc:
            note = short_reason("test", exc)
            if run_own:
                rows += _unavailable(frequency, own_names, ROUTE_OWN, note)
            if rescore_official:
                rows += _unavailable(frequency, list(OFFICIAL_FILES), ROUTE_OFFICIAL, note)
            continue
        if run_own and data.train is None:
            rows += _unavailable(frequency, own_names, ROUTE_OWN, data.train_missing)
        elif run_own:
            loaded[frequency] = data
        if rescore_official:
            scores = {}
            for name, table in OFFICIAL_FILES.items():
                if table not in official_tables:
                    official_tables[table] = load_table(DATASET, table)
                scores[name] = per_series_scores(data, official_forecasts(official_tables[table], data))
            note = "" if data.train is not None else f"MASE needs the train split: {data.train_missing}"
            rows += _rows(frequency, ROUTE_OFFICIAL, scores, note)
    engine_run = evaluate_benchmarks(loaded, methods, store, client, n_workers, extras or {}, progress)
    rows += _engine_rows(engine_run, loaded, methods)
    rows += _total_rows(frequencies, methods, engine_run, loaded)
    out = pd.DataFrame(rows, columns=["subset", "method", "metric", "route", "value", "note"])
    out.insert(0, "dataset", DATASET)
    return Reproduced(out, engine_run)


def evaluate_benchmarks(
    loaded: dict[str, FrequencyData],
    methods: list[str],
    store: str | Path | ResultsStore | None,
    client: Any,
    n_workers: int | None,
    extras: dict[str, list[str | dict]],
    progress: bool,
) -> EngineRun:
    """Every benchmark on every loaded frequency (holdout, sMAPE and MASE per series, forecasts
    kept) as engine units in the store, then the extras; complete units are reused, not recomputed."""
    from workbench.engine.cluster import connect
    from workbench.engine.runner import evaluate
    from workbench.store.sql import leaderboard
    from workbench.tasks import Task

    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    out = EngineRun(store)
    out.tasks = {f: Task(dataset=DATASET, subset=f, metrics=tuple(ENGINE_METRICS)) for f in loaded}
    if not out.tasks:
        return out
    kwargs = {"store": store, "chunk_size": CHUNK_SIZE, "save_forecasts": True, "progress": progress}
    with connect(client, None, n_workers) as c:
        summaries = [evaluate(list(out.tasks.values()), methods, client=c, **kwargs)]
        for frequency, models in extras.items():
            if frequency not in out.tasks:
                for model in models:
                    out.not_run[_label(model)] = f"m4/{frequency} not evaluated (not run or its files unavailable)"
                continue
            try:
                summaries.append(evaluate(out.tasks[frequency], models, client=c, **kwargs))
            except (WorkbenchError, ImportError, ValueError) as exc:  # a model that cannot be built here
                for model in models:
                    out.not_run[_label(model)] = " ".join(str(exc).split())
    for summary in summaries:
        out.computed += summary.n_computed
        out.reused += summary.n_skipped
        out.run_ids.append(summary.run_id)
        if summary.n_computed:
            bad = summary.records[summary.records["status"] != "ok"]
            for r in bad.itertuples():
                out.failed[(r.task_key, r.model)] = " ".join(str(r.error).split())[:300]
    board = leaderboard(store, metrics=list(ENGINE_METRICS))
    out.board = board[board["task_key"].isin([t.key() for t in out.tasks.values()])].reset_index(drop=True)
    return out


def _label(model: str | dict) -> str:
    from workbench.models.spec import ModelSpec

    return ModelSpec.of(model).label


def _engine_rows(engine: EngineRun, loaded: dict[str, FrequencyData], methods: list[str]) -> list[tuple]:
    """sMAPE / MASE / OWA cells of each evaluated frequency, read from the store's leaderboard."""
    rows = []
    for frequency, data in loaded.items():
        values, notes = _stored_means(engine, frequency, len(data.ids), [*methods, "naive2"])
        n2_s, n2_m = values.get(("naive2", "smape")), values.get(("naive2", "mase"))
        for method in methods:
            name = OFFICIAL_NAMES[method]
            s, m = values.get((method, "smape")), values.get((method, "mase"))
            note = notes.get(method, "")
            rows.append((frequency, name, "sMAPE", ROUTE_OWN, _nan(s), note))
            rows.append((frequency, name, "MASE", ROUTE_OWN, _nan(m), note))
            if None in (s, m, n2_s, n2_m):
                rows.append((frequency, name, "OWA", ROUTE_OWN, np.nan, note or notes.get("naive2", "needs Naive2")))
            else:
                rows.append((frequency, name, "OWA", ROUTE_OWN, owa(s, m, n2_s, n2_m), ""))
    return rows


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


def _stored_means(
    engine: EngineRun, frequency: str, n_series: int, methods: list[str]
) -> tuple[dict[tuple[str, str], float], dict[str, str]]:
    """(method, metric) -> the leaderboard's mean over the frequency's series; method -> why not,
    where a unit failed, the store lacks series or some value is undefined (the M4 mean would differ)."""
    task_key = engine.tasks[frequency].key()
    rows = engine.board[engine.board["task_key"] == task_key].set_index(["model", "metric"])
    values, notes = {}, {}
    for method in dict.fromkeys(methods):
        if (task_key, method) in engine.failed:
            notes[method] = f"engine unit failed: {engine.failed[(task_key, method)]}"
            continue
        for metric in ENGINE_METRICS:
            if (method, metric) not in rows.index:
                notes[method] = f"no {metric} rows of {method} in the store for m4/{frequency}"
                continue
            row = rows.loc[(method, metric)]
            if int(row["n_series"]) != n_series or int(row["n_undefined"]):
                notes[method] = (
                    f"the store holds {int(row['n_series'])} of {n_series} series of m4/{frequency} "
                    f"({int(row['n_undefined'])} undefined {metric} values)"
                )
                continue
            values[(method, metric)] = float(row["value"])
    return values, notes


def _unavailable(frequency: str, methods: list[str], route: str, note: str) -> list[tuple]:
    return [(frequency, m, k, route, np.nan, note) for m in methods for k in ("sMAPE", "MASE", "OWA")]


def _total_rows(frequencies: list[str], methods: list[str], engine: EngineRun, loaded: dict) -> list[tuple]:
    """Total over all 100,000 series, only when every frequency ran through the engine: the mean
    over every series of the six stored per-frequency means (each weighted by its series)."""
    have_all = set(FREQUENCIES) <= set(loaded)
    sums: dict[tuple[str, str], list[float]] = {}
    if have_all:
        for frequency, data in loaded.items():
            values, _ = _stored_means(engine, frequency, len(data.ids), [*methods, "naive2"])
            for (method, metric), value in values.items():
                sums.setdefault((method, metric), []).append(value * len(data.ids))
    complete = {k: sum(v) / sum(len(d.ids) for d in loaded.values()) for k, v in sums.items() if len(v) == 6}
    names = [*methods, "naive2"]
    if not have_all or not all((m, k) in complete for m in names for k in ENGINE_METRICS):
        missing = [f for f in FREQUENCIES if f not in frequencies]
        note = (
            f"Total needs all six frequencies; not run: {missing}"
            if missing
            else "Total needs all six frequencies; some were unavailable"
        )
        return [
            ("Total", OFFICIAL_NAMES[m], k, ROUTE_OWN, np.nan, note) for m in methods for k in ("sMAPE", "MASE", "OWA")
        ]
    n2_s, n2_m = complete[("naive2", "smape")], complete[("naive2", "mase")]
    rows = []
    for method in methods:
        s, m = complete[(method, "smape")], complete[(method, "mase")]
        rows += [
            ("Total", OFFICIAL_NAMES[method], "sMAPE", ROUTE_OWN, s, ""),
            ("Total", OFFICIAL_NAMES[method], "MASE", ROUTE_OWN, m, ""),
            ("Total", OFFICIAL_NAMES[method], "OWA", ROUTE_OWN, 0.5 * (s / n2_s + m / n2_m), "from unrounded totals"),
        ]
    return rows
