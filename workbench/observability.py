"""What the observability notebook shows, as calls: the cards' series profiles, forecasting tasks
over them, leaderboards restricted to them, and BOOM's published leaderboard beside the workbench's.

The three observability cards: `cloud_monitoring` (60 labelled production series), `twitter_raw_data`
(one minute series) and `robot_shop` (4 KPIs every 10 s). Each card declares what its series measure
(`metric_type`: gauge, count or rate, per subset or by series-id prefix); a profile shows that
declaration beside what the values look like (`value_kind`: non-negative integers, non-negative
reals, signed values) and the shares of zeros and missing values that decide how intermittent a
series is.

Any other card works too, a user's own included (`workbench datasets add`): its series may miss stamps
(`load_with_gaps` keeps them missing so that they can be counted, `fill_gaps` fills them as a task's
gap policy would), and where it declares labels its joint forecast and detection run
(`workbench.joint.run_joint(dataset=...)`) is read back with `detection_board`, one row per detector
configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.data.panel import Panel
    from workbench.store.results_store import ResultsStore

__all__ = [
    "CARDS",
    "FORECAST_SUBSETS",
    "MAX_HORIZON",
    "board_for",
    "boom_leaderboard",
    "detection_board",
    "detector_labels",
    "fill_gaps",
    "forecast_tasks",
    "gap_policy_of",
    "load_with_gaps",
    "missing_stamps",
    "profile_summary",
    "profiles",
    "relative_to_baseline",
    "series_profile",
]

CARDS: dict[str, str] = {"cloud_monitoring": "all", "twitter_raw_data": "raw_data", "robot_shop": "application"}
# forecasting subsets (cloud_monitoring's `all` mixes minute and hourly series, so its folders are used)
FORECAST_SUBSETS: dict[str, tuple[str, ...]] = {"twitter_raw_data": ("raw_data",), "robot_shop": ("application",)}
MAX_HORIZON = 96  # TTM-R2's `main` head: horizons are capped so that every model can forecast every task


def load_with_gaps(dataset: str, subset: str | None = None, split: str = "train") -> Panel:
    """One split of a card's subset as recorded: a user card's series keep the stamps they miss on the
    grid (a plain load refuses them unless a task's gap policy fills them), so that they can be
    counted and profiled before anything is filled.

    Parameters
    ----------
    dataset
        The card's name (a catalog card or a user card).
    subset, split
        As `workbench.sources.load_panel` takes them (a user card has `all` and `train` only).
    """
    from workbench.data import get_card
    from workbench.data.cards import UserCard
    from workbench.sources import load_panel
    from workbench.sources.user import UserSource

    card = get_card(dataset)
    if isinstance(card, UserCard):
        card.subset(subset or "all")
        if split != "train":
            return load_panel(dataset, subset, split)  # refused there, with the splits a user card has
        return UserSource(card).load(allow_gaps=True)
    return load_panel(dataset, subset, split)


def missing_stamps(panel: Panel, n_first: int = 3) -> pd.DataFrame:
    """Per series that misses stamps on the panel's grid (between its first and last stamp): how
    many (`missing_stamps`) and the first `n_first` of them (`first_missing`), in the panel's order.
    Integer stamps step by 1; dated stamps by the panel's frequency (none without one).

    Parameters
    ----------
    panel
        Series as recorded (`load_with_gaps`), not yet filled by a gap policy.
    n_first
        How many missing stamps to list per series.
    """
    columns = ["unique_id", "missing_stamps", "first_missing"]
    df = panel.df
    dated = pd.api.types.is_datetime64_any_dtype(df["ds"])
    if df.empty or (dated and not panel.freq):
        return pd.DataFrame(columns=columns)
    offset = pd.tseries.frequencies.to_offset(panel.freq) if dated else None
    fixed = offset is None or isinstance(offset, pd.offsets.Tick)
    ids = df["unique_id"].to_numpy()
    ds = df["ds"].to_numpy()
    same = ids[1:] == ids[:-1]
    if fixed:  # the stamps a step skips, from the steps alone
        step = 1 if offset is None else pd.Timedelta(offset).value
        delta = np.diff(ds.astype("int64")) if len(ds) > 1 else np.array([], dtype="int64")
        skipped = np.where(same, np.maximum(delta // step - 1, 0), 0)
        per = pd.Series(skipped, index=ids[1:]).groupby(level=0, sort=False).sum()
        candidates = per[per > 0].index
    else:
        candidates = pd.unique(ids)
    positions = df.groupby("unique_id", sort=False).indices
    rows = []
    for uid in candidates:
        stamps = np.sort(ds[positions[uid]])
        if offset is None:
            grid = np.arange(stamps[0], stamps[-1] + 1)
        else:
            grid = pd.date_range(stamps[0], stamps[-1], freq=offset).to_numpy()
        absent = grid[~np.isin(grid, stamps)]
        if len(absent):
            shown = [str(pd.Timestamp(t)) if dated else str(t) for t in absent[:n_first]]
            rows.append({"unique_id": uid, "missing_stamps": len(absent), "first_missing": ", ".join(shown)})
    return pd.DataFrame(rows, columns=columns)


def gap_policy_of(dataset: str, gap_policy: str | None = None) -> str:
    """The gap policy a task over `dataset` fills missing stamps with: `gap_policy` where one is asked
    for, else the card's own (a user card added with `--gap-policy`), else `none` (rows as recorded).

    Parameters
    ----------
    dataset
        The card's name.
    gap_policy
        The policy asked for (`workbench.semantics.GAP_POLICIES`), or None for the card's.
    """
    from workbench.data import get_card
    from workbench.semantics import GAP_POLICIES

    if gap_policy is not None and gap_policy not in GAP_POLICIES:
        raise WorkbenchError(f"{dataset}: unknown gap policy {gap_policy!r}; known: {', '.join(GAP_POLICIES)}")
    return gap_policy or getattr(get_card(dataset), "gap_policy", None) or "none"


def fill_gaps(panel: Panel, dataset: str, subset: str | None = None, gap_policy: str | None = None) -> Panel:
    """The series of `panel` (as `load_with_gaps` gives them) with their missing stamps filled the way a
    task's models would see them: by `gap_policy_of(dataset, gap_policy)`, each series by the metric type
    the card declares for it (`by_metric_type`: gauges and rates carried forward, counts zero-filled).
    With `none` the panel is returned as it is.

    Parameters
    ----------
    panel
        Series as recorded, not yet filled.
    dataset, subset
        The card they come from and its subset (default: the observability cards' own, else `all`), whose
        metric types decide each series' fill.
    gap_policy
        The policy (None: the card's, else none).
    """
    from workbench.data import get_card
    from workbench.semantics import apply_gap_policy, series_types

    policy = gap_policy_of(dataset, gap_policy)
    if policy == "none":
        return panel
    sub = get_card(dataset).subset(subset or CARDS.get(dataset, "all"))
    return apply_gap_policy(panel, policy, series_types(panel, sub.metric_type))


def series_profile(dataset: str, subset: str | None = None, gap_policy: str | None = None) -> pd.DataFrame:
    """Per series: rows, frequency, the card's declared `metric_type` (gauge / count / rate; None
    where it declares none), `value_kind` (what the values look like), `zero_share` and
    `missing_share` of the rows, the stamps it misses on its grid (`missing_stamps`, counted before
    any filling), and the intermittency statistics of `workbench.semantics` (ADI, CV² of the non-zero
    values, Syntetos-Boylan `demand_class`).

    Parameters
    ----------
    dataset, subset
        The card and its subset (default: the observability cards' own subset, else the first/`all`).
    gap_policy
        How missing stamps are filled before the statistics (`workbench.semantics`: none, nan, ffill,
        zero, by_metric_type), so that they describe the series a task's models see. Default: the
        card's `gap_policy` (tasks over the card default to it), else `none`: the rows as recorded.
    """
    from workbench.data import get_card
    from workbench.semantics import intermittency, series_types

    subset = subset or CARDS.get(dataset, "all")
    sub = get_card(dataset).subset(subset)
    panel = load_with_gaps(dataset, subset)
    types = series_types(panel, sub.metric_type)
    absent = missing_stamps(panel).set_index("unique_id")["missing_stamps"]
    policy = gap_policy_of(dataset, gap_policy)
    panel = fill_gaps(panel, dataset, subset, policy)
    df = panel.df
    y = df["y"].to_numpy(float)
    present = ~np.isnan(y)
    flags = pd.DataFrame(
        {
            "unique_id": df["unique_id"].to_numpy(),
            "missing": ~present,
            "integer": present & (y == np.round(np.nan_to_num(y))),
            "negative": present & (y < 0),
            "present": present,
        }
    ).groupby("unique_id", sort=False)
    out = intermittency(panel, types).set_index("unique_id")
    out["n_rows"] = flags.size()
    out["missing_share"] = flags["missing"].mean()
    out["missing_stamps"] = absent.reindex(out.index, fill_value=0).astype(int)
    integer_share = flags["integer"].sum() / flags["present"].sum().clip(lower=1)
    out["value_kind"] = np.where(
        flags["negative"].any(),
        "signed values",
        np.where(integer_share == 1.0, "non-negative integers", "non-negative reals"),
    )
    groups = df.groupby("unique_id", sort=False)["folder"].first() if "folder" in df else None
    out["group"] = groups if groups is not None else subset
    out.insert(0, "dataset", dataset)
    out.insert(1, "freq", panel.freq)
    out["gap_policy"] = policy
    return out.drop(columns=["n"]).reset_index()


def profiles(cards: Iterable[str] = CARDS, gap_policy: str | None = None) -> pd.DataFrame:
    """`series_profile` of every card, one frame.

    Parameters
    ----------
    cards
        Card names: the observability cards by default, any card (a user's own included) otherwise.
    gap_policy
        How every card's missing stamps are filled before the statistics (None: each card's own policy,
        else none), as `series_profile` takes it.
    """
    cards = list(cards)
    if not cards:
        raise WorkbenchError("profiles of no card: name at least one (e.g. profiles(['cloud_monitoring']))")
    return pd.concat([series_profile(c, gap_policy=gap_policy) for c in cards], ignore_index=True)


def profile_summary(profile: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, group, declared type and value kind: series, rows, median and max zero share,
    missing share (after the gap policy), stamps missing on the grid (before it), zero-inflated series
    (ADI >= 1.32).

    Parameters
    ----------
    profile
        `series_profile` or `profiles` rows.
    """
    return (
        profile.groupby(["dataset", "group", "metric_type", "value_kind"], dropna=False)
        .agg(
            n_series=("unique_id", "size"),
            n_rows=("n_rows", "sum"),
            median_zero_share=("zero_share", "median"),
            max_zero_share=("zero_share", "max"),
            missing_share=("missing_share", "mean"),
            missing_stamps=("missing_stamps", "sum"),
            n_zero_inflated=("zero_inflated", "sum"),
        )
        .reset_index()
    )


def forecast_tasks(
    n_windows: int = 3, cards: Sequence[str] = tuple(FORECAST_SUBSETS), max_horizon: int = MAX_HORIZON
) -> list[Any]:
    """Rolling tasks over the non-Cloud-Monitoring cards (Cloud Monitoring's run through
    `workbench.joint`): the card's horizon, capped at `max_horizon`, `n_windows` origins."""
    from workbench.data import get_card
    from workbench.tasks import Task

    tasks = []
    for card in cards:
        if card not in FORECAST_SUBSETS:
            raise WorkbenchError(f"no forecasting subsets declared for {card!r}; known: {sorted(FORECAST_SUBSETS)}")
        for subset in FORECAST_SUBSETS[card]:
            h = get_card(card).subset(subset).horizon or max_horizon
            tasks.append(
                Task(dataset=card, subset=subset, protocol="rolling", horizon=min(h, max_horizon), n_windows=n_windows)
            )
    return tasks


def board_for(board: pd.DataFrame, datasets: Iterable[str]) -> pd.DataFrame:
    """Leaderboard rows of tasks over `datasets` (their readable task names start with the dataset)."""
    prefixes = tuple(f"{d}/" for d in datasets)
    return board[board["task"].astype(str).str.startswith(prefixes)].reset_index(drop=True)


def boom_leaderboard() -> pd.DataFrame:
    """BOOM's published leaderboard (the `boom_results` card's `leaderboard` table: MASE and CRPS
    scaled by seasonal naive, shifted geometric mean over the scaled tasks, mean CRPS rank)."""
    from workbench.data import load_table

    table = load_table("boom_results", "leaderboard")
    keep = [c for c in table.columns if c == "model" or c.endswith("-scaled")]
    return table[keep].sort_values(next(c for c in keep if c.startswith("Rank")), kind="stable").reset_index(drop=True)


def relative_to_baseline(
    joint: pd.DataFrame, baseline: str = "seasonal_naive", column: str = "mase_common"
) -> pd.DataFrame:
    """The joint table's models with `column` divided by the baseline's: the workbench's own
    seasonal-naive-scaled MASE on Cloud Monitoring, to read beside BOOM's (other series: not a claim)."""
    base = joint.loc[joint["model"] == baseline, column]
    if base.empty:
        raise WorkbenchError(f"the joint table has no {baseline!r} row to scale by; models: {list(joint['model'])}")
    out = joint[["model", column, "n_series"]].copy()
    out[f"{column}_scaled"] = out[column] / float(base.iloc[0])
    return out.sort_values(f"{column}_scaled").reset_index(drop=True)


_LABEL = re.compile(r"^(?P<name>[^(]+)\((?P<params>.*?)\)(?P<rest>(?: \(seed \d+\))?)$", re.S)


def _split_params(text: str) -> dict[str, str] | None:
    """`k=v, k=v` (values may hold brackets, braces, quotes and commas) as a dict; None where it does not parse."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth or quote:
        return None
    parts.append(text[start:])
    out = {}
    for part in parts:
        key, eq, value = part.strip().partition("=")
        if not eq or not key.isidentifier():
            return None
        out[key] = value
    return out


def detector_labels(models: Iterable[str]) -> dict[str, str]:
    """A short label for each detector configuration, never the same for two of them.

    A stored detector's label names every parameter (`forecast_band(context=512, forecaster=theta,
    level=0.95, ...)`): too long for a table, and cutting it to a width can make two configurations read
    as one. Here each label keeps the parameters in which configurations of the same detector differ
    (and a band detector's `forecaster`, which says what it is), so two `forecast_band` detectors with
    different forecasters stay two rows: `forecast_band(forecaster=theta)`. A label that does not
    parse, or a short label two configurations would share, stays whole.

    Parameters
    ----------
    models
        The detector labels of a detection leaderboard's `model` column.
    """
    distinct = list(dict.fromkeys(str(m) for m in models))
    parsed: dict[str, tuple[str, dict[str, str], str]] = {}
    for model in distinct:
        match = _LABEL.match(model)
        params = _split_params(match["params"]) if match else None
        if match and params is not None:
            parsed[model] = (match["name"], params, match["rest"])
    short = {m: m for m in distinct}
    for name in {p[0] for p in parsed.values()}:
        group = {m: p for m, p in parsed.items() if p[0] == name}
        keys = sorted({k for _, params, _ in group.values() for k in params})
        differ = {k for k in keys if len({params.get(k) for _, params, _ in group.values()}) > 1}
        shown = [k for k in keys if k in differ or k == "forecaster"]
        for model, (_, params, rest) in group.items():
            inner = ", ".join(f"{k}={params[k]}" for k in shown if k in params)
            short[model] = (f"{name}({inner})" if inner else name) + rest
    counts = pd.Series(list(short.values())).value_counts()
    return {m: (s if counts[s] == 1 else m) for m, s in short.items()}


def detection_board(
    store: ResultsStore | str | Path | None, datasets: Iterable[str], metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """The detection leaderboard of tasks over `datasets`: one row per task and detector configuration
    (`detector_labels`, so two residual detectors on different forecasters are two rows, never averaged
    into one), one column per metric.

    Parameters
    ----------
    store
        The results store (a path, or None for the default).
    datasets
        The datasets whose detection tasks are kept (a user card's name works as a catalog card's).
    metrics
        The metric columns (None: every metric stored); metrics no detector was scored on are left out.
    """
    from workbench.store.sql import detection_leaderboard

    datasets = list(datasets)
    board = board_for(detection_leaderboard(store), datasets)
    if metrics is not None:
        board = board[board["metric"].isin(list(metrics))]
    if board.empty:
        raise WorkbenchError(
            f"the results store {getattr(store, 'root', store) or ''} holds no detection scores of {datasets}"
            + (f" for metrics {list(metrics)}" if metrics is not None else "")
            + ": run the detectors first (workbench.joint.run_joint or workbench.anomaly.engine.detect_on_engine)"
        )
    labels = detector_labels(board["model"])
    board = board.assign(detector=board["model"].map(labels))
    table = board.pivot(index=["task", "detector"], columns="metric", values="value")
    table.columns.name = None
    return table
