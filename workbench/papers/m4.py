"""The M4 reproduction: the eight statistical benchmarks, scored as the organisers scored them.

Two routes per published cell:
- the workbench's own forecasts (`workbench.classic`), which needs a frequency's train and test files;
- the organisers' own forecast files (`Point Forecasts/submission-*.rar`) rescored with the workbench's
  metrics, which needs the test file (and the train file for MASE): this checks the scoring on its own.

sMAPE and MASE are means over series of per-series means over the horizon; OWA is computed, as in
the official table, from sMAPE and MASE rounded to 3 decimals, relative to Naive2's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.classic.benchmarks import METHODS, m4_benchmarks
from workbench.data import get_card, load_panel, load_table
from workbench.errors import DataFormatError, SourceUnavailableError
from workbench.metrics import mase, smape
from workbench.metrics import owa as metric_owa
from workbench.papers.submissions import steps_to_array

DATASET = "m4"
FREQUENCIES = ("Yearly", "Quarterly", "Monthly", "Weekly", "Daily", "Hourly")
# workbench forecaster name -> the method's name in the official tables
OFFICIAL_NAMES = {
    "naive": "Naive",
    "seasonal_naive": "sNaive",
    "naive2": "Naive2",
    "ses": "SES",
    "holt": "Holt",
    "damped": "Damped",
    "theta": "Theta",
    "comb": "Com",
}
# official forecast files in the mirror, by official method name -> table of the m4 card
OFFICIAL_FILES = {
    "Naive": "forecasts_naive",
    "sNaive": "forecasts_snaive",
    "Naive2": "forecasts_naive2",
    "SES": "forecasts_ses",
}
ROUTE_OWN = ""
ROUTE_OFFICIAL = "official file"


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


def load_frequency(frequency: str) -> FrequencyData:
    """Load one frequency. Raises SourceUnavailableError when not even the test file can be had;
    a missing train file is recorded in `train_missing` (rescoring sMAPE needs only the test)."""
    sub = get_card(DATASET).subset(frequency)
    test_panel = load_panel(DATASET, frequency, "test", progress=False)
    test, _, ids = test_panel.to_numpy(pad="right")
    try:
        train_panel = load_panel(DATASET, frequency, "train", progress=False)
    except SourceUnavailableError as exc:
        return FrequencyData(frequency, None, None, test, ids, sub.season_length, sub.horizon, str(exc))
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


def reproduce(
    frequencies: Iterable[str] = ("Hourly", "Weekly"),
    methods: Iterable[str] = tuple(OFFICIAL_NAMES),
    rescore_official: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Reproduced values: (dataset, subset, method, metric, route, value, note); NaN values are
    unavailable with the reason in `note`.

    The benchmarks run on `frequencies`; the official forecast files are rescored on every frequency
    whose test file can be had (no fitting, so it is cheap). `Total` needs all six frequencies."""
    frequencies = list(frequencies)
    methods = list(methods)
    unknown = [f for f in frequencies if f not in FREQUENCIES] + [m for m in methods if m not in OFFICIAL_NAMES]
    if unknown:
        raise ValueError(
            f"unknown M4 frequency or method {unknown}; frequencies {FREQUENCIES}, methods {list(OFFICIAL_NAMES)}"
        )
    own_names = [OFFICIAL_NAMES[m] for m in methods]
    rows: list[tuple] = []
    totals: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    official_tables: dict[str, pd.DataFrame] = {}
    todo = [f for f in FREQUENCIES if f in frequencies or rescore_official]
    bar = tqdm(todo, desc="M4", unit="frequency", disable=not progress)
    for frequency in bar:
        bar.set_postfix_str(frequency)
        run_own = frequency in frequencies
        try:
            data = load_frequency(frequency)
        except SourceUnavailableError as exc:
            note = f"data unavailable: {exc}"
            if run_own:
                rows += _unavailable(frequency, own_names, ROUTE_OWN, note)
            if rescore_official:
                rows += _unavailable(frequency, list(OFFICIAL_FILES), ROUTE_OFFICIAL, note)
            continue
        if run_own and data.train is None:
            rows += _unavailable(frequency, own_names, ROUTE_OWN, f"train split unavailable: {data.train_missing}")
        elif run_own:
            forecasts = own_forecasts(data, methods)
            scores = {name: per_series_scores(data, f) for name, f in forecasts.items()}
            for name, (s, m) in scores.items():
                totals.setdefault(name, []).append((s, m))
            rows += [r for r in _rows(frequency, ROUTE_OWN, scores, "") if r[1] in own_names]
        if rescore_official:
            scores = {}
            for name, table in OFFICIAL_FILES.items():
                if table not in official_tables:
                    official_tables[table] = load_table(DATASET, table)
                scores[name] = per_series_scores(data, official_forecasts(official_tables[table], data))
            note = "" if data.train is not None else f"MASE needs the train split: {data.train_missing}"
            rows += _rows(frequency, ROUTE_OFFICIAL, scores, note)
    rows += _total_rows(frequencies, methods, totals)
    out = pd.DataFrame(rows, columns=["subset", "method", "metric", "route", "value", "note"])
    out.insert(0, "dataset", DATASET)
    return out


def _unavailable(frequency: str, methods: list[str], route: str, note: str) -> list[tuple]:
    return [(frequency, m, k, route, np.nan, note) for m in methods for k in ("sMAPE", "MASE", "OWA")]


def _total_rows(frequencies: list[str], methods: list[str], totals: dict) -> list[tuple]:
    """Total over all 100,000 series, only when every frequency ran on the workbench route."""
    ran = {f for f in frequencies}
    have_all = set(FREQUENCIES) <= ran and all(len(totals.get(OFFICIAL_NAMES[m], [])) == 6 for m in methods)
    if not have_all:
        missing = [f for f in FREQUENCIES if f not in ran]
        note = (
            f"Total needs all six frequencies; not run: {missing}"
            if missing
            else "Total needs all six frequencies; some were unavailable"
        )
        return [
            ("Total", OFFICIAL_NAMES[m], k, ROUTE_OWN, np.nan, note) for m in methods for k in ("sMAPE", "MASE", "OWA")
        ]
    pooled = {
        name: (np.concatenate([s for s, _ in v]), np.concatenate([m for _, m in v])) for name, v in totals.items()
    }
    n2_s, n2_m = (float(np.mean(x)) for x in pooled["Naive2"])
    rows = []
    for method in methods:
        s, m = (float(np.mean(x)) for x in pooled[OFFICIAL_NAMES[method]])
        rows += [
            ("Total", OFFICIAL_NAMES[method], "sMAPE", ROUTE_OWN, s, ""),
            ("Total", OFFICIAL_NAMES[method], "MASE", ROUTE_OWN, m, ""),
            ("Total", OFFICIAL_NAMES[method], "OWA", ROUTE_OWN, 0.5 * (s / n2_s + m / n2_m), "from unrounded totals"),
        ]
    return rows
