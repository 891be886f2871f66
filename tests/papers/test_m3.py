"""M3: submitted forecasts rescored with the paper's sMAPE and averaging (real Mcomp data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.papers import compare, load_paper, m3

pytestmark = pytest.mark.usefixtures("mirror")


@pytest.fixture(scope="module")
def m3_report() -> pd.DataFrame:
    return compare(load_paper("m3"), m3.rescore_submissions()).set_index(["subset", "method", "metric"])


@pytest.mark.parametrize("category", ["YEARLY", "QUARTERLY", "OTHER"])
def test_when_naive2_is_rescored_then_the_published_category_value_matches_to_2_decimals(m3_report, category):
    cell = m3_report.loc[(category, "NAIVE2", m3.PUBLISHED)]
    assert cell["status"] == "match" and abs(cell["reproduced"] - cell["claimed"]) <= 0.005


def test_when_monthly_values_differ_then_they_are_shown_as_known_discrepancies_not_hidden(m3_report):
    monthly = m3_report.loc[("MONTHLY", "NAIVE2", m3.PUBLISHED)]
    assert monthly["status"] == "mismatch"
    assert monthly["note"].startswith("known discrepancy:") and "not exactly reproducible" in monthly["note"]
    assert round(monthly["reproduced"], 2) == 16.89 and monthly["claimed"] == 16.91


def test_when_averaged_per_series_then_hyndmans_recalculation_comes_back(m3_report):
    hyndman = m3_report.xs(m3.HYNDMAN, level="metric")
    assert len(hyndman) == 7 and set(hyndman["status"]) == {"match"}


def test_when_the_paper_formula_is_used_then_negative_theta_forecasts_change_the_yearly_value():
    y = np.array([[10.0, 10.0]])
    f = np.array([[-2.0, 10.0]])
    assert m3.smape_paper(y, f)[0, 0] == pytest.approx(12 / 4 * 100)  # (X+F)/2 = 4, no absolute value
    assert m3.smape_abs(y, f)[0, 0] == pytest.approx(200 * 12 / 12)


def test_when_the_workbench_runs_the_benchmarks_on_m3_then_naive2_equals_the_submitted_one_on_yearly_and_other():
    own = m3.own_vs_submitted().set_index(["category", "workbench"])
    assert len(own) == 16 and np.isfinite(own["difference"]).all()
    # non-seasonal categories: Naive2 is the last value, identical whatever the decomposition
    assert abs(own.loc[("YEARLY", "naive2"), "difference"]) < 1e-9
    assert abs(own.loc[("OTHER", "naive2"), "difference"]) < 1e-9
