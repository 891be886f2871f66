"""A planted detector and the synthetic corpus it is planted on, for the alert-quality tests.

The corpus: `N_ITEMS` hourly series of `DAYS` days whose first day is probationary (probationary
percent 1/8), so each item has exactly `DAYS - 1` evaluated days. Each item has two labelled windows
of `WINDOW_ROWS` rows; the planted scores alert `delay` rows after each window starts (for two rows),
and once a day outside any window (a two-row false-alarm episode at 12:00, one per evaluated day), so
the delay and the false-alarm rate are known exactly. Event scores differ per window and false-alarm
scores per day and item, so that a budget threshold has something to choose between.

`PlantedScores` is a detector whose scores are the series' values: the tests write the planted scores
as a user card's data and get them back through the engine and the results store. It lives in a module
of its own so that Dask worker processes can import it by name (a class defined in a test module would
be registered in the test process only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.anomaly.detectors.base import Detector

N_ITEMS = 4
DAYS = 8
PROBATIONARY_PERCENT = 0.125  # 24 of 192 hourly rows: the first day
WINDOW_STARTS = (40, 100)  # row of each window's first row (day 1 16:00, day 4 04:00)
WINDOW_ROWS = 6
EVENT_SCORES = (0.9, 0.7)  # the planted alert score of each window
BASELINE = 0.1
FALSE_ALARM_HOUR = 12
# per evaluated day: calibration items (svc-0, svc-2: every other item, sorted) and the others
CALIBRATION_FA = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)
SCORED_FA = (0.75, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89)
START = pd.Timestamp("2024-01-01")


@dataclass(frozen=True)
class Planted:
    """The planted corpus: `frame` (unique_id, ds, y = the planted score), `windows` (unique_id, start,
    end), and per row: `item`, `ds`, `window` (-1 outside), `scorable`, `calibration`, `scores`."""

    frame: pd.DataFrame
    windows: pd.DataFrame
    item: np.ndarray
    ds: np.ndarray
    window: np.ndarray
    scorable: np.ndarray
    calibration: np.ndarray
    scores: np.ndarray
    delay: int
    false_alarms_per_day: int
    evaluated_days: int


def plant(delay: int = 3, n_items: int = N_ITEMS, false_alarm_hours: tuple[int, ...] = (FALSE_ALARM_HOUR,)) -> Planted:
    """The planted corpus with alerts `delay` rows (hours) after each window's first row.

    Parameters
    ----------
    delay
        Rows between a window's first row and the first alerting row inside it (0 .. WINDOW_ROWS - 2).
    n_items
        Series (items `svc-0`, `svc-1`, ...).
    false_alarm_hours
        The hours of each evaluated day a two-row false-alarm episode starts at: that many false alarms
        per series-day (0 and 12 keep clear of the windows and of each other).
    """
    assert 0 <= delay <= WINDOW_ROWS - 2
    n = DAYS * 24
    probation = int(PROBATIONARY_PERCENT * n)
    stamps = START + pd.to_timedelta(np.arange(n), unit="h")
    frames, windows, per_row = [], [], []
    calibration_items = set(sorted(f"svc-{i}" for i in range(n_items))[::2])
    for i in range(n_items):
        uid = f"svc-{i}"
        score = np.full(n, BASELINE)
        window = np.full(n, -1)
        score[5] = 0.99  # a probationary row: seen, never scored
        for k, (first, event) in enumerate(zip(WINDOW_STARTS, EVENT_SCORES, strict=True)):
            window[first : first + WINDOW_ROWS] = 2 * i + k
            score[first + delay : first + delay + 2] = event
            windows.append({"unique_id": uid, "start": stamps[first], "end": stamps[first + WINDOW_ROWS - 1]})
        fa = CALIBRATION_FA if uid in calibration_items else SCORED_FA
        for day in range(1, DAYS):
            for hour in false_alarm_hours:
                row = 24 * day + hour
                assert (window[row - 1 : row + 3] < 0).all() and (score[row - 1 : row + 3] == BASELINE).all()
                score[row : row + 2] = fa[day - 1]
        frames.append(pd.DataFrame({"unique_id": uid, "ds": stamps, "y": score}))
        per_row.append((np.full(n, uid, object), window, np.arange(n) >= probation, uid in calibration_items))
    frame = pd.concat(frames, ignore_index=True)
    return Planted(
        frame=frame,
        windows=pd.DataFrame(windows),
        item=np.concatenate([p[0] for p in per_row]),
        ds=frame["ds"].to_numpy("datetime64[ns]"),
        window=np.concatenate([p[1] for p in per_row]),
        scorable=np.concatenate([p[2] for p in per_row]),
        calibration=np.concatenate([np.full(n, p[3]) for p in per_row]),
        scores=frame["y"].to_numpy(float),
        delay=delay,
        false_alarms_per_day=len(false_alarm_hours),
        evaluated_days=DAYS - 1,
    )


def write_card(planted: Planted, folder: Path, name: str = "planted") -> Path:
    """Write the planted corpus as a user card (`<folder>/catalog/<name>.yaml`) with its windows as
    labels; returns the catalog folder (for `WORKBENCH_CATALOG`).

    Parameters
    ----------
    planted
        The corpus.
    folder
        Where the data, labels and card are written.
    name
        The card's name.
    """
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    data, labels, catalog = folder / "data.parquet", folder / "windows.csv", folder / "catalog"
    planted.frame.to_parquet(data, index=False)
    planted.windows.to_csv(labels, index=False)
    catalog.mkdir(exist_ok=True)
    card = {
        "name": name,
        "title": "Planted alert scores (synthetic)",
        "source": {"path": str(data)},
        "freq": "h",
        "season_length": 24,
        "labels": {"path": str(labels), "kind": "windows", "time_col": "start", "end_col": "end"},
    }
    (catalog / f"{name}.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    return catalog


class PlantedScores(Detector):
    """Scores = the series' values, clipped to [0, 1]: the data are the planted scores."""

    name = "test_planted_scores"

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        return np.clip(np.nan_to_num(values), 0.0, 1.0)
