"""Joint forecasting and detection on any labelled source: does a better forecaster make a better alert?

The source is a card with anomaly labels: Cloud Monitoring (the default, `DATASET`: expert point
labels per folder), any catalog card with a `labels` (points) or `windows` table, or a user card
whose `labels:` section names the user's own points or windows (`workbench.anomaly.user_labels`).
A catalog card's folders are its subsets but `all` (where it has others); a user card has one, `all`,
whose gaps the gap policy fills (`run_joint(gap_policy=...)`, else the card's), for the forecasts
and the detection alike. For each model and each folder, two things go to the results store:

- the model's rolling forecast accuracy (MASE; CRPS where the model is asked for quantiles),
  through `workbench.evaluate`, on a task over the folder's series (`Task.for_panel`, dataset
  `cloud_monitoring`, subset the folder, the folder's horizon and season);
- the detection scores of its `residual` detector (the same forecaster rolled over each series,
  forecasting `h` rows from every origin, alerting where the observation leaves the 95% band)
  through the detection engine, on the folder's labels. The threshold is the band's
  edge (fixed 0.5, no label used), every item evaluated (no calibration split).

A series a model cannot forecast is never dropped silently: a series shorter than the model's
context plus the rolling windows (TTM-R2's 512 points + `n_windows * h`) is left out of that
model's task and detection items and *counted* (`n_not_forecastable`); a unit that fails is
counted (`n_failed`) with the store's error. `joint_table` reads everything back from the store
(nothing is carried over from the run), so a report or notebook can rebuild it from the store alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.store.results_store import ResultsStore

__all__ = [
    "BAND_THRESHOLD",
    "DATASET",
    "DEFAULT_MODELS",
    "DETECTION_METRICS",
    "MIN_CONTEXT",
    "JointError",
    "JointRun",
    "detection_task",
    "folders",
    "joint_rows",
    "joint_table",
    "label_source",
    "model_label",
    "run_joint",
    "skill_vs_detection_figure",
]

DATASET = "cloud_monitoring"
DEFAULT_MODELS = ("seasonal_naive", "theta", "ttm")
# points of past a model needs before its first forecast (TTM-R2 main: context length 512)
MIN_CONTEXT = {"ttm": 512}
DETECTION_METRICS = ("nab_standard", "event_f1", "point_adjusted_f1", "auc_pr")
BAND_THRESHOLD = 0.5  # the residual detector's band edge


class JointError(WorkbenchError):
    """A joint run or table that cannot be made as asked (an unknown folder, an ambiguous store)."""


@dataclass
class JointRun:
    """What a joint run did: per folder and model, the series it could and could not forecast."""

    store: ResultsStore
    folders: list[str]
    models: list[str]
    not_forecastable: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # series in forecast units that ended in error or timeout (computed now or earlier, as stored)
    forecast_failures: int = 0
    detection_failures: dict[str, str] = field(default_factory=dict)
    # (folder, model or "baselines") whose items hold no labelled anomaly: detection is undefined there
    no_anomalies: list[tuple[str, str]] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        return joint_table(self.store)


def folders(dataset: str = DATASET) -> list[str]:
    """The card's folder subsets: every subset but `all` where it has others (a user card: `all`).

    Parameters
    ----------
    dataset:
        A card with labels (default: Cloud Monitoring).
    """
    from workbench.data import get_card

    subsets = list(get_card(dataset).subsets)
    return [s for s in subsets if s != "all"] or subsets


def label_source(dataset: str) -> tuple[str, str]:
    """(labels kind, labels table) of a labelled card: a user card's declared kind; a catalog card's
    `labels` table (points) or `windows` table; a card with neither is refused.

    Parameters
    ----------
    dataset:
        The card's name.
    """
    from workbench.data import get_card
    from workbench.data.cards import UserCard

    card = get_card(dataset)
    if isinstance(card, UserCard):
        if card.labels is None:
            raise JointError(
                f"{dataset}: the user card {card.path} declares no labels; add `labels: {{path: ..., kind: points}}`"
            )
        return card.labels.kind, "labels"
    if "labels" in card.tables:
        return "points", "labels"
    if "windows" in card.tables:
        return "windows", "windows"
    raise JointError(f"{dataset}: the card has no labels table (`labels` or `windows`); tables: {list(card.tables)}")


def model_label(name: str, params: dict[str, Any] | None) -> str:
    """The name the table shows: the registry name, with parameters other than a local `model` path."""
    shown = {k: v for k, v in (params or {}).items() if k not in ("model", "device", "batch_size")}
    return name if not shown else f"{name}({', '.join(f'{k}={v}' for k, v in sorted(shown.items()))})"


def _first_origin(name: str, m: int) -> int:
    """The first row a forecaster's residual detector can forecast: its context (TTM), else two seasons."""
    return MIN_CONTEXT.get(name) or min(max(512, 3 * m), max(2 * m, 20))


def _detector_spec(
    name: str, params: dict[str, Any], h: int, m: int, level: float, start: int | None = None
) -> dict[str, Any]:
    """The residual detector of a forecaster on a folder: origins every h rows from row `start`
    (default: the forecaster's own first origin), each forecasting h rows."""
    need = MIN_CONTEXT.get(name, 0)
    start = start or _first_origin(name, m)
    context = need if need else max(512, 3 * m)
    return {
        "name": "forecast_band",
        "params": {
            "forecaster": name,
            "forecaster_params": params,
            "level": level,
            "context": context,
            "refit_every": h,
            "min_context": start,
            "season_length": m,
        },
    }


def detection_task(folder: str, items: Sequence[str], dataset: str = DATASET, gap_policy: str | None = None) -> Any:
    """The detection task of a folder's items: the card's labels (`label_source`), the band's edge as a
    fixed threshold (no label used to choose it), every item evaluated (no calibration split).

    Parameters
    ----------
    folder:
        The subset.
    items:
        The items (series) detected on.
    dataset:
        A card with labels (default: Cloud Monitoring).
    gap_policy:
        How gaps are filled (None: the card's policy, else none).
    """
    from workbench.anomaly.task import DetectionTask
    from workbench.anomaly.thresholds import ThresholdStrategy

    kind, table = label_source(dataset)
    return DetectionTask(
        dataset=dataset, subsets=(folder,), labels=kind, labels_table=table, items=tuple(items),
        threshold=ThresholdStrategy(kind="fixed", value=BAND_THRESHOLD), calibration="none",
        metrics=("point_f1", "point_adjusted_f1", "event_f1", "auc_pr", "auc_roc"), gap_policy=gap_policy,
    )  # fmt: skip


def _folder_panel(dataset: str, folder: str, gap_policy: str | None) -> Any:
    """A folder's series as the forecasts see them: a catalog card's as loaded; a user card's as its
    detection task reads them (gaps filled by the gap policy), so both halves see the same rows."""
    from workbench.data import Panel, get_card, load_panel
    from workbench.data.cards import UserCard

    card = get_card(dataset)
    if not isinstance(card, UserCard):
        return load_panel(dataset, folder)
    frame = detection_task(folder, (), dataset, gap_policy).model_copy(update={"items": None}).subset_frame(folder)
    frame = frame.drop(columns=[c for c in ("item", "observed") if c in frame.columns])
    sub = card.subset(folder)
    return Panel.from_long(
        frame, name=f"{dataset}/{folder}", freq=sub.freq, season_length=sub.season_length, horizon=sub.horizon,
        allow_missing=True,
    )  # fmt: skip


def run_joint(
    *,
    dataset: str = DATASET,
    gap_policy: str | None = None,
    folder_names: Sequence[str] | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    model_params: dict[str, dict[str, Any]] | None = None,
    series: Iterable[str] | None = None,
    n_windows: int = 3,
    level: float = 0.95,
    baseline_detectors: Sequence[str | dict[str, Any]] = (),
    same_start: bool = True,
    store: str | Path | ResultsStore | None = None,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    chunk_size: int = 1,
    seed: int = 0,
    progress: bool = False,
) -> JointRun:
    """Forecast and detect with every model on every folder of `dataset` (or `series`, a slice of series ids).

    `dataset` is any card with labels (`label_source`; default Cloud Monitoring); `gap_policy` fills a
    user card's gaps for both the forecasts and the detection (None: the card's policy, else none).

    `model_params` gives a model's parameters (`{"ttm": {"model": "<local folder>"}}`); a model
    given `quantiles` is scored with CRPS too. `baseline_detectors` (detector names or specs, e.g.
    `rolling_robust_z`) run on every folder's items on the same detection task, for the detection
    leaderboard. `same_start`: every residual detector of a folder makes its first forecast at the
    same row (the latest first origin of the models: TTM's 512-point context, two seasons of the
    classics), so their scores cover the same rows; otherwise each starts as early as it can and a
    model with a long context leaves more rows at score 0. `chunk_size` series per forecasting unit
    (1: a series a model fails on costs only itself)."""
    import workbench
    from workbench.engine.cluster import connect
    from workbench.forecasters import make_forecaster
    from workbench.models.spec import ModelSpec
    from workbench.tasks import Task

    known = folders(dataset)
    label_source(dataset)  # a card without labels fails before any work
    chosen = list(folder_names) if folder_names is not None else known
    unknown = [f for f in chosen if f not in known]
    if unknown:
        raise JointError(f"{dataset}: unknown folder(s) {unknown}; folders: {known}")
    model_params = dict(model_params or {})
    for name in models:  # unknown models and parameters fail before any work
        make_forecaster(name, **model_params.get(name, {}))
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    wanted = None if series is None else set(series)
    run = JointRun(store, chosen, list(models))
    with connect(client, scheduler, n_workers) as c:
        for folder in chosen:
            panel = _folder_panel(dataset, folder, gap_policy)
            if wanted is not None:
                panel = panel.select([u for u in panel.ids if u in wanted])
            if not panel.n_series:
                continue
            h, m = int(panel.horizon), int(panel.season_length)
            lengths = panel.lengths()
            for name in models:
                params = model_params.get(name, {})
                need = MIN_CONTEXT.get(name, 1) + n_windows * h
                ok = [str(u) for u in lengths.index if lengths[u] >= need]
                run.not_forecastable[(folder, name)] = [str(u) for u in lengths.index if lengths[u] < need]
                if not ok:
                    continue
                metrics = ("mase", "crps") if "quantiles" in params else ("mase",)
                task = Task.for_panel(
                    panel.select(ok), name=dataset, subset=folder, horizon=h, season_length=m,
                    protocol="rolling", n_windows=n_windows, metrics=metrics,
                )  # fmt: skip
                spec = {"name": name, "params": params}
                summary = workbench.evaluate(
                    task, [spec], client=c, store=store, chunk_size=chunk_size, seed=seed, progress=progress
                )
                run.forecast_failures += _failed_series(summary.store, task.key(), ModelSpec.of(spec).labelled(seed))
                start = max(_first_origin(n, m) for n in models) if same_start else None
                detectors = [_detector_spec(name, params, h, m, level, start)]
                _detect(run, (dataset, folder, gap_policy), name, ok, detectors, client=c, seed=seed,
                        progress=progress)  # fmt: skip
            if baseline_detectors:
                everything = [str(u) for u in lengths.index]
                _detect(run, (dataset, folder, gap_policy), "baselines", everything, list(baseline_detectors),
                        client=c, seed=seed, progress=progress)  # fmt: skip
    return run


def _failed_series(store: ResultsStore, task_key: str, model: str) -> int:
    """Series of a task × model's stored units that did not end ok (a rerun skips them, so a run's
    own summary would not count them)."""
    records = store.records()
    if records.empty:
        return 0
    mine = records[(records["task_key"] == task_key) & (records["model"] == model) & ~records["superseded"]]
    failed = mine[mine["status"] != "ok"]
    return int(failed["n_series"].fillna(0).sum())


def _detect(
    run: JointRun, where: tuple[str, str, str | None], who: str, items: list[str], detectors: list, **engine: Any
) -> None:
    """Detectors on a folder's items (`where`: dataset, folder, gap policy) through the engine; items
    without any labelled anomaly are recorded in `run.no_anomalies` instead (NAB's normalisation and
    the F1 scores are undefined there)."""
    from workbench.anomaly.engine import detect_on_engine

    dataset, folder, gap_policy = where
    task = detection_task(folder, items, dataset, gap_policy)
    data = task.load()
    if not data.rows["label"].any():
        run.no_anomalies.append((folder, who))
        return
    found = detect_on_engine(task, detectors, store=run.store, data=data, **engine)
    run.detection_failures.update({f"{folder}:{k}": v for k, v in found.failures.items()})


# ---- reading it back --------------------------------------------------------------------------
def _current(store: ResultsStore, dataset: str | None) -> tuple[pd.DataFrame, str]:
    """The store's current records of one joint dataset: `dataset`, else the one dataset whose residual
    detectors the store holds (Cloud Monitoring where it holds none); several are refused."""
    records = store.records()
    if records.empty:
        raise JointError(f"the results store at {store.root} holds no units")
    if "superseded" in records:
        records = records[~records["superseded"]]
    if dataset is None:
        bands = records[(records["kind"] == "detection") & (records["model_name"] == "forecast_band")]
        found = sorted(bands["dataset"].dropna().unique())
        if len(found) > 1:
            raise JointError(
                f"the results store at {store.root} holds joint runs of {len(found)} datasets {found}; "
                "name one: joint_table(store, dataset=...)"
            )
        dataset = found[0] if found else DATASET
    return records[records["dataset"] == dataset], dataset


def joint_rows(
    store: ResultsStore | str | Path, dataset: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(forecast metric rows, detection scoreboard rows, unit records) of the joint runs in `store`.

    Forecast rows get `forecaster` (the model's table label); scoreboard rows `forecaster` (the
    residual detector's forecaster, labelled the same way) and `folder`.

    Parameters
    ----------
    store:
        The results store.
    dataset:
        The joint run's dataset (default: the one the store's residual detectors ran on).
    """
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    records, dataset = _current(store, dataset)
    records.attrs["dataset"] = dataset
    forecast = records[records["kind"] == "forecast"].copy()
    if forecast.empty:
        raise JointError(f"the results store at {store.root} holds no {dataset} forecasts: run run_joint first")
    forecast["forecaster"] = [
        model_label(n, p) for n, p in zip(forecast["model_name"], forecast["params"], strict=True)
    ]
    ok = forecast[forecast["status"] == "ok"]
    # the metric rows are score units' (one per forecast unit and metric), naming their forecast unit
    scores = (
        records[(records["kind"] == "score") & records["forecast_unit"].isin(ok["key"])]
        if "forecast_unit" in records
        else records.iloc[:0]
    )
    metrics = store.read_table("metrics", list(scores["key"]))
    by_forecast = ok[["key", "forecaster"]].rename(columns={"key": "forecast_unit"})
    metrics = metrics.merge(by_forecast, on="forecast_unit", how="left") if len(metrics) else metrics
    detection = records[(records["kind"] == "detection") & (records["model_name"] == "forecast_band")]
    boards = detection[detection["score_units"].notna()] if "score_units" in detection else detection.iloc[:0]
    board = store.read_table("detection_metrics", list(boards["key"])) if len(boards) else pd.DataFrame()
    if len(board):
        labels = {
            k: model_label(p["forecaster"], p.get("forecaster_params"))
            for k, p in zip(boards["key"], boards["params"], strict=True)
        }
        board["forecaster"] = board["unit"].map(labels)
        board["folder"] = board["subset"]
        board["n_items"] = board["unit"].map(dict(zip(boards["key"], boards["n_series"], strict=True)))
    forecast.attrs["dataset"] = dataset
    return metrics, board, forecast


def joint_table(
    store: ResultsStore | str | Path, *, by_folder: bool = False, dataset: str | None = None
) -> pd.DataFrame:
    """One row per model (per model and folder with `by_folder`): forecast skill beside detection scores.

    Columns: `model`; `mase` (mean of the per-series, per-window values); `mase_common` (the same
    over the series every model scored, so models of different coverage compare); `crps` (pooled
    weighted quantile loss where the model gave quantiles, else NaN); one column per detection metric
    of its residual detector (across folders: the folders' values weighted by their items);
    `n_series` (series scored); `n_not_forecastable` (series of the folders it ran on that it was
    not run on, too short for its context: counted against the most series any model ran on in the
    folder); `n_failed` (series in failed units); `n_folders` (folders forecast) and
    `n_detection_folders` (folders scored for detection: a folder without labelled anomalies has none)."""
    from workbench.metrics import pooled_ratio

    metrics, board, records = joint_rows(store, dataset)
    dataset = records.attrs["dataset"]
    _check_one_task(records, dataset)
    if len(board):
        boards = board.groupby(["forecaster", "folder"])["unit"].nunique()
        if (boards > 1).any():
            (model, folder), n = boards[boards > 1].index[0], int(boards[boards > 1].iloc[0])
            raise JointError(
                f"the store holds {n} residual-detector scoreboards of {model} on {dataset}/{folder} (other detector "
                "parameters?); build the joint table from a store of one joint run"
            )
    mase = metrics[metrics["metric"] == "mase"]
    common = _common_series(mase)
    universe = _universe(mase, records)
    groups = ["forecaster", "subset"] if by_folder else ["forecaster"]
    out = []
    for key, mine in records.groupby(groups):
        name, folder = (key[0], key[1]) if by_folder else (key[0] if isinstance(key, tuple) else key, None)
        rows = mase[mase["forecaster"] == name]
        crps = metrics[(metrics["forecaster"] == name) & (metrics["metric"] == "crps")]
        if folder is not None:
            rows, crps = rows[rows["subset"] == folder], crps[crps["subset"] == folder]
        pairs = set(zip(rows["subset"], rows["unique_id"], strict=True))
        failed = int(mine.loc[mine["status"] != "ok", "n_series"].fillna(0).sum())
        total = sum(universe.get(f, 0) for f in set(mine["subset"]))
        in_common = [p in common for p in zip(rows["subset"], rows["unique_id"], strict=True)]
        out.append(
            {
                "model": name,
                **({"folder": folder} if by_folder else {}),
                "mase": float(rows["value"].mean()) if len(rows) else np.nan,
                "mase_common": float(rows.loc[in_common, "value"].mean()) if any(in_common) else np.nan,
                "crps": pooled_ratio(crps["numerator"], crps["denominator"]) if len(crps) else np.nan,
                **_detection_scores(board, name, folder),
                "n_series": len(pairs),
                "n_not_forecastable": max(total - len(pairs) - failed, 0),
                "n_failed": failed,
                "n_folders": int(mine["subset"].nunique()),
            }
        )
    return pd.DataFrame(out)


def _check_one_task(records: pd.DataFrame, dataset: str) -> None:
    """A model with two tasks on one folder (say, two window counts) would mix them: refused."""
    tasks = records.groupby(["forecaster", "subset"])["task_key"].nunique()
    mixed = tasks[tasks > 1]
    if len(mixed):
        (model, folder), n = mixed.index[0], int(mixed.iloc[0])
        raise JointError(
            f"the store holds {n} tasks of {model} on {dataset}/{folder} (different windows or horizons?); "
            "build the joint table from a store of one joint run"
        )


def _common_series(mase: pd.DataFrame) -> set[tuple[str, str]]:
    """(folder, series) pairs every model scored."""
    sets = [set(zip(g["subset"], g["unique_id"], strict=True)) for _, g in mase.groupby("forecaster")]
    return set.intersection(*sets) if sets else set()


def _universe(mase: pd.DataFrame, records: pd.DataFrame) -> dict[str, int]:
    """Per folder, the most series any model was run on (scored + failed)."""
    scored = mase.groupby(["subset", "forecaster"])["unique_id"].nunique()
    failed = records[records["status"] != "ok"].groupby(["subset", "forecaster"])["n_series"].sum()
    ran = scored.add(failed, fill_value=0)
    return {folder: int(n) for folder, n in ran.groupby(level="subset").max().items()}


def _detection_scores(board: pd.DataFrame, name: str, folder: str | None) -> dict[str, float]:
    """Each detection metric of the model's residual detector, item-weighted across folders."""
    mine = board[board["forecaster"] == name] if len(board) else board
    if folder is not None and len(mine):
        mine = mine[mine["folder"] == folder]
    out: dict[str, float] = {}
    for metric in DETECTION_METRICS:
        rows = mine[mine["metric"] == metric] if len(mine) else mine
        out[metric] = float(np.average(rows["value"], weights=rows["n_items"])) if len(rows) else np.nan
    out["n_detection_folders"] = int(mine["folder"].nunique()) if len(mine) else 0
    return out


def skill_vs_detection_figure(table: pd.DataFrame, metric: str = "nab_standard", skill: str = "mase_common") -> Any:
    """Forecast skill (x, lower is better) against the residual detector's `metric` (y), one point per
    model (per model and folder when the table has folders): does a better forecaster make a better alert?"""
    import plotly.express as px

    missing = [c for c in (metric, skill, "model") if c not in table.columns]
    if missing:
        raise JointError(f"the joint table has no column(s) {missing}; columns: {list(table.columns)}")
    hover = [c for c in ("n_series", "n_not_forecastable", "n_failed", "mase", "crps") if c in table.columns]
    fig = px.scatter(
        table,
        x=skill,
        y=metric,
        color="model",
        symbol="folder" if "folder" in table.columns else None,
        hover_data=hover,
        title="Does a better forecaster make a better alert?",
        labels={skill: f"{skill} (lower is better)", metric: f"{metric} of its residual detector"},
    )
    fig.update_traces(marker={"size": 12})
    return fig
