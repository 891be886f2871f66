"""The M4 reproduction through the engine: its cells are the store's leaderboard numbers, reruns reuse units."""

from __future__ import annotations

import pytest
from conftest import ttm_here

from workbench.papers import m4
from workbench.store.sql import leaderboard


def test_when_m4_hourly_runs_through_the_engine_then_every_cell_matches_and_is_the_leaderboards_number(m4_run):
    run, report = m4_run
    own = report[(report["subset"] == "Hourly") & ~report["method"].str.contains(r"\[")]
    assert len(own) == 24 and set(own["status"]) == {"match"}, own[own["status"] != "match"].to_string()
    board = leaderboard(run.engine.store).set_index(["model", "metric"])["value"]
    cells = run.values[(run.values["subset"] == "Hourly") & (run.values["route"] == "")]
    cells = cells.set_index(["method", "metric"])["value"]
    for model, official in m4.OFFICIAL_NAMES.items():
        assert cells[(official, "sMAPE")] == board[(model, "smape")]  # the same number, not a recomputation
        assert cells[(official, "MASE")] == board[(model, "mase")]
    records = run.engine.store.records()
    forecast_units = records[records["kind"] == "forecast"]
    assert set(m4.OFFICIAL_NAMES) <= set(forecast_units["model"]) and set(forecast_units["status"]) == {"ok"}


def test_when_the_reproduction_runs_again_then_it_computes_no_unit_and_gives_the_same_cells(m4_run):
    run, _ = m4_run
    again = m4.run(["Hourly"], rescore_official=False, store=run.engine.store, n_workers=1, progress=False)
    assert "Hourly" in run.engine.tasks and "Monthly" not in run.engine.tasks  # no unit for unavailable data
    assert again.engine.computed == 0 and again.engine.reused == len(m4.OFFICIAL_NAMES)
    first = run.values[run.values["route"] == ""].set_index(["subset", "method", "metric"])["value"]
    second = again.values[again.values["route"] == ""].set_index(["subset", "method", "metric"])["value"]
    assert second.equals(first.loc[second.index])


def test_when_a_frequency_cannot_be_had_then_its_cells_say_why_in_one_line_with_the_error_after(m4_run):
    _, report = m4_run
    monthly = report[report["subset"] == "Monthly"]
    assert len(monthly) == 24 and set(monthly["status"]) == {"unavailable"}
    assert monthly["note"].str.startswith("test file not in the mirror and no internet [details: ").all()


@pytest.mark.skipif(not ttm_here(), reason="TTM weights or granite-tsfm not here")
def test_when_ttm_runs_beside_the_benchmarks_then_it_is_on_the_hourly_leaderboard_but_not_a_claim(m4_run):
    run, report = m4_run
    board = run.engine.leaderboard("Hourly")
    ttm = board[board["model"].str.startswith("TTM")]
    assert len(ttm) == 1 and ttm["n_series"].iloc[0] == 414 and 5 < ttm["sMAPE"].iloc[0] < 40
    assert {"Naive1", "sNaive", "Naive2", "SES", "Holt", "Damped", "Theta", "Comb"} <= set(board["model"])
    assert not report["method"].str.contains("TTM").any()
