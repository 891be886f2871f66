"""The one drill-down (`workbench.report.queries.drilldown`): what the report's forecasts section and
the notebooks draw, sampled through DuckDB, with the past and truth re-cut from the task."""

from __future__ import annotations

from workbench.report import queries
from workbench.store.results_store import ResultsStore
from workbench.store.sql import connect


def test_when_a_task_has_stored_forecasts_then_the_drilldown_samples_its_series_with_their_past_and_truth(
    report_store,
):
    store = ResultsStore(report_store)
    con = connect(store, views=["forecasts"])
    (task_key,) = queries.forecast_tasks(con)
    resolved = queries.resolved_tasks(store.records())
    drill = queries.drilldown(con, task_key, resolved.get(task_key), 5, seed=1)
    assert drill.why == "" and drill.n_series == 96 and len(drill.ids) == 5
    assert drill.ids == queries.drilldown(con, task_key, resolved.get(task_key), 5, seed=1).ids  # seeded
    assert set(drill.forecasts["unique_id"]) == set(drill.ids) == set(drill.truth["unique_id"])
    assert set(drill.past["unique_id"]) == set(drill.ids) and (drill.forecasts["window"] == drill.window).all()
    assert drill.past.groupby("unique_id")["ds"].max().lt(drill.truth.groupby("unique_id")["ds"].min()).all()
    # the task object itself serves as well as the record of it
    from workbench.tasks import Task

    same = queries.drilldown(con, task_key, Task.from_resolved(resolved.get(task_key)), 5, seed=1)
    assert same.truth.equals(drill.truth)


def test_when_the_units_record_no_task_then_the_drilldown_says_why_past_and_truth_are_missing(report_store):
    con = connect(ResultsStore(report_store), views=["forecasts"])
    (task_key,) = queries.forecast_tasks(con)
    drill = queries.drilldown(con, task_key, None, 3)
    assert drill.past.empty and drill.truth.empty and "no resolved task" in drill.why
    assert len(drill.forecasts) and set(drill.forecasts["unique_id"]) == set(drill.ids)
