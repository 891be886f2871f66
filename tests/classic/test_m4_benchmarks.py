"""The eight M4 benchmarks against the organisers' own numbers and forecast files (real mirror data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.classic.benchmarks import METHODS, m4_benchmarks
from workbench.data import Panel, load_table
from workbench.errors import DataFormatError
from workbench.forecasters import make_forecaster
from workbench.papers import compare, load_paper, m4
from workbench.sequential import evaluate_sequential, summarize
from workbench.tasks import Task

pytestmark = pytest.mark.usefixtures("mirror")


@pytest.fixture(scope="module")
def m4_reproduction() -> pd.DataFrame:
    return m4.reproduce(["Hourly", "Weekly"], progress=False)


@pytest.fixture(scope="module")
def m4_benchmark_report(m4_reproduction) -> pd.DataFrame:
    return compare(load_paper("m4"), m4_reproduction)


@pytest.mark.parametrize("frequency", ["Hourly", "Weekly"])
@pytest.mark.parametrize(("method", "table"), [("naive2", "forecasts_naive2"), ("ses", "forecasts_ses")])
def test_when_naive2_and_ses_run_then_they_equal_the_official_forecast_files(frequency, method, table):
    data = m4.load_frequency(frequency)
    ours = m4.own_forecasts(data, [method])[m4.OFFICIAL_NAMES[method]]
    official = m4.official_forecasts(load_table("m4", table), data)
    relative = np.abs(ours - official) / np.abs(official)
    assert relative.max() < 1e-6, f"{frequency} {method}: worst series {data.ids[relative.max(axis=1).argmax()]}"


def test_when_benchmarks_run_on_hourly_and_weekly_then_all_48_cells_match(m4_benchmark_report):
    own = m4_benchmark_report[
        (m4_benchmark_report["subset"].isin(["Hourly", "Weekly"])) & ~m4_benchmark_report["method"].str.contains(r"\[")
    ]
    assert len(own) == 48
    assert set(own["status"]) == {"match"}, own[own["status"] != "match"].to_string()
    assert set(own["method"]) == {"Naive", "sNaive", "Naive2", "SES", "Holt", "Damped", "Theta", "Com"}


@pytest.mark.parametrize(
    ("metric", "frequencies"),
    [("sMAPE", ["Yearly", "Quarterly", "Weekly", "Daily", "Hourly"]), ("MASE", ["Weekly", "Hourly"])],
)
def test_when_official_forecast_files_are_rescored_then_official_scores_come_back(
    m4_benchmark_report, metric, frequencies
):
    rescored = m4_benchmark_report[
        m4_benchmark_report["method"].str.endswith(f"[{m4.ROUTE_OFFICIAL}]") & (m4_benchmark_report["metric"] == metric)
    ]
    for frequency in frequencies:
        cells = rescored[rescored["subset"] == frequency]
        assert len(cells) == 4, frequency  # Naive, sNaive, Naive2, SES
        assert set(cells["status"]) == {"match"}, cells.to_string()


def test_when_a_frequency_is_not_in_the_mirror_then_it_is_unavailable_not_passed(m4_benchmark_report):
    monthly = m4_benchmark_report[m4_benchmark_report["subset"] == "Monthly"]
    assert set(monthly["status"]) == {"unavailable"}
    total = m4_benchmark_report[m4_benchmark_report["subset"] == "Total"]
    assert set(total["status"]) == {"unavailable"} and total["note"].str.contains("six frequencies").all()


def test_when_owa_is_computed_then_it_uses_three_decimal_smape_and_mase(m4_reproduction):
    cells = m4_reproduction[(m4_reproduction["subset"] == "Hourly") & (m4_reproduction["route"] == "")].set_index(
        ["method", "metric"]
    )["value"]
    expected = 0.5 * (
        round(cells["Theta", "sMAPE"], 3) / round(cells["Naive2", "sMAPE"], 3)
        + round(cells["Theta", "MASE"], 3) / round(cells["Naive2", "MASE"], 3)
    )
    assert cells["Theta", "OWA"] == expected


def test_when_forecasters_are_evaluated_through_the_harness_then_they_match_the_kernel():
    scores = summarize(evaluate_sequential(Task(dataset="m4", subset="Weekly"), "damped")).set_index("metric")["value"]
    assert round(scores["smape"], 3) == 8.866 and round(scores["mase"], 3) == 2.404


def _panel(series: dict[str, list[float]], season_length: int = 1) -> Panel:
    rows = [(uid, i + 1, v) for uid, values in series.items() for i, v in enumerate(values)]
    return Panel.from_long(pd.DataFrame(rows, columns=["unique_id", "ds", "y"]), season_length=season_length)


@pytest.mark.parametrize("model", ["naive2", "ses", "holt", "damped", "theta", "comb"])
def test_when_series_are_short_or_constant_then_every_benchmark_forecasts_without_crashing(model):
    panel = _panel(
        {
            "one_point": [4.0],
            "shorter_than_horizon": [1.0, 2.0, 3.0],
            "under_two_seasons": list(np.linspace(10, 30, 30)),
            "constant": [5.0] * 60,
        },
        season_length=24,
    )
    forecast = make_forecaster(model).fit(panel).predict(48)
    assert len(forecast) == 4 * 48 and np.isfinite(forecast["y_hat"]).all()
    by_id = forecast.groupby("unique_id")["y_hat"]
    assert (by_id.nunique()["one_point"], by_id.first()["one_point"]) == (1, 4.0)
    np.testing.assert_allclose(forecast.loc[forecast["unique_id"] == "constant", "y_hat"], 5.0)


def test_when_a_series_has_a_gap_then_the_error_names_it():
    y = [1.0] * 7 + [np.nan, 1, 1]
    df = pd.DataFrame({"unique_id": ["a"] * 5 + ["b"] * 5, "ds": list(range(1, 6)) * 2, "y": y})
    panel = Panel.from_long(df, allow_missing=True)
    with pytest.raises(DataFormatError, match="series 'b' has missing values"):
        make_forecaster("ses").fit(panel).predict(3)


def test_when_unknown_method_is_asked_of_the_kernel_then_error_lists_the_known():
    with pytest.raises(ValueError, match="unknown M4 benchmark"):
        m4_benchmarks(np.ones((1, 5)), np.array([5]), 1, 2, methods=("arima",))
    assert len(METHODS) == 8
