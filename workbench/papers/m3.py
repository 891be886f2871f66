"""The M3 reproduction: the 24 submitted forecast sets rescored, and the workbench's own benchmarks.

The paper's sMAPE (its appendix) is |X - F| / ((X + F) / 2) * 100 with no absolute values in the
denominator; its tables pool every (series, horizon) point of a category, and Table 6's "Average
1-18" pools all points of all 3003 series. Hyndman's recalculation (Mcomp) is the mean of per-series
means with the absolute-value sMAPE. Each claim's metric names which of these it is.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from workbench.classic.benchmarks import METHODS, m4_benchmarks
from workbench.data import get_card, load_panel, load_table
from workbench.papers.submissions import steps_to_array

__all__ = [
    "AUTOBOX",
    "CATEGORIES",
    "DATASET",
    "HORIZON",
    "HYNDMAN",
    "OWN_VS_SUBMITTED",
    "PUBLISHED",
    "own_vs_submitted",
    "rescore_submissions",
    "smape_abs",
    "smape_paper",
]

DATASET = "m3"
CATEGORIES = {"YEARLY": "yearly", "QUARTERLY": "quarterly", "MONTHLY": "monthly", "OTHER": "other"}
HORIZON = {"YEARLY": "1-6", "QUARTERLY": "1-8", "MONTHLY": "1-18", "OTHER": "1-8", "ALL": "1-18"}
PUBLISHED = "sMAPE"
HYNDMAN = "sMAPE series-mean (Hyndman recalculation)"
AUTOBOX = "sMAPE (AutoBox recalculation)"
# the workbench's benchmarks beside the submitted sets that implement the same method
OWN_VS_SUBMITTED = {"naive2": "NAIVE2", "ses": "SINGLE", "theta": "THETA", "comb": "COMB S-H-D"}


def smape_paper(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Terms of the paper's sMAPE (no absolute values in the denominator)."""
    return np.abs(y - f) / ((y + f) / 2) * 100


def smape_abs(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Terms of the symmetric MAPE with |y| + |f| in the denominator (Mcomp / M4)."""
    return 200 * np.abs(y - f) / (np.abs(y) + np.abs(f))


def _test(category: str) -> tuple[np.ndarray, np.ndarray]:
    y, _, ids = load_panel(DATASET, CATEGORIES[category], "test").to_numpy(pad="right")
    return y, ids


def rescore_submissions(methods: Iterable[str] | None = None) -> pd.DataFrame:
    """Published-style, Hyndman and AutoBox values of the submitted sets, per category and ALL."""
    submitted = load_table(DATASET, "forecasts")
    names = list(methods) if methods is not None else list(submitted["method"].unique())
    truth = {c: _test(c) for c in CATEGORIES}
    rows = []
    for method in names:
        table = submitted[submitted["method"] == method]
        pooled_sum, pooled_n, per_series, missing = 0.0, 0, [], 0
        for category, (y, ids) in truth.items():
            f = steps_to_array(table, ids, y.shape[1])
            cover = ~np.isnan(f) | np.isnan(y)
            missing += int((~cover.all(axis=1)).sum())
            paper = smape_paper(y, f)
            value = float(np.nanmean(paper))
            rows.append((category, method, PUBLISHED, value, ""))
            if category == "MONTHLY":
                rows.append((category, method, AUTOBOX, value, "paper's formula, pooled"))
            pooled_sum += float(np.nansum(paper))
            pooled_n += int(np.sum(~np.isnan(paper)))
            per_series.append(np.nanmean(smape_abs(y, f), axis=1))
        note = f"{missing} series without forecasts" if missing else ""
        rows.append(("ALL", method, PUBLISHED, pooled_sum / pooled_n, note))
        rows.append(("ALL", method, HYNDMAN, float(np.nanmean(np.concatenate(per_series))), note))
    out = pd.DataFrame(rows, columns=["subset", "method", "metric", "value", "note"])
    out.insert(0, "dataset", DATASET)
    out.insert(4, "route", "")
    return out


def own_vs_submitted() -> pd.DataFrame:
    """The workbench's Naive2, SES, Theta and Comb on M3 beside the submitted sets of the same name,
    scored with the paper's sMAPE (pooled per category)."""
    submitted = load_table(DATASET, "forecasts")
    card = get_card(DATASET)
    rows = []
    for category, subset in CATEGORIES.items():
        y, ids = _test(category)
        train = load_panel(DATASET, subset, "train")
        values, lengths, train_ids = train.to_numpy(pad="left")
        assert np.array_equal(train_ids, ids), f"m3/{subset}: train and test list different series"
        m = card.subset(subset).season_length
        ours, _ = m4_benchmarks(values, lengths, m, y.shape[1], methods=tuple(OWN_VS_SUBMITTED))
        for name, theirs in OWN_VS_SUBMITTED.items():
            mine = float(np.nanmean(smape_paper(y, ours[:, METHODS.index(name)])))
            given = steps_to_array(submitted[submitted["method"] == theirs], ids, y.shape[1])
            sub = float(np.nanmean(smape_paper(y, given)))
            rows.append({"category": category, "workbench": name, "submitted": theirs, "workbench_smape": mine,
                         "submitted_smape": sub, "difference": mine - sub})  # fmt: skip
    return pd.DataFrame(rows)
