"""The fleet case end to end: a seeded fleet of observability metrics (gauges and counts, per-series
columns in hive-partitioned parquet, gaps) through one grid of point and probabilistic models (the
classics, statsforecast with quantiles, TTM-R2 with its real weights), then broken down by what each
series measures. Every per-group number is checked against DuckDB SQL written here over the raw
parquet: the store's metric files joined to the fleet's own files, not through the store's views."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

TTM = Path(__file__).resolve().parents[3] / "shared" / "models" / "granite-ttm-r2-512-96"
LEVELS = [0.025, 0.1, 0.5, 0.9, 0.975]
PROBABILISTIC = f"statsforecast.SeasonalNaive(quantiles={LEVELS})"
METRICS = ("mase", "crps", "coverage")


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory, mirror):
    """(store, fleet, summary) of one grid over a 60-series fleet, 26 days hourly (TTM needs 512 hours)."""
    import workbench
    from workbench.config import use_catalog
    from workbench.data.synthetic import write_fleet
    from workbench.tasks import Task

    if not (TTM / "config.json").is_file():
        pytest.skip(f"TTM-R2 weights not at {TTM}")
    root = tmp_path_factory.mktemp("fleet-breakdown")
    fleet = write_fleet(root / "fleet", seed=3, hosts_per_service=3, n_hours=24 * 26)
    patch = pytest.MonkeyPatch()
    patch.setenv("WORKBENCH_CATALOG", "")
    use_catalog(fleet.catalog)
    task = Task(dataset="fleet", protocol="rolling", n_windows=3, gap_policy="by_metric_type", metrics=METRICS)
    models = [
        "seasonal_naive",
        "theta",
        {"name": "statsforecast.SeasonalNaive", "params": {"quantiles": LEVELS}},
        {"name": "ttm", "params": {"model": str(TTM)}},
    ]
    summary = workbench.evaluate(task, models, store=root / "store", n_workers=2, chunk_size=20, progress=False)
    yield root / "store", fleet, summary
    patch.undo()


def _raw(store: Path, fleet, query: str) -> pd.DataFrame:
    """`query` over two raw parquet sets: `m` (every metric file of the store) and `f` (the fleet's
    files, one row per series: unique_id and its hive/metadata columns)."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE VIEW m AS SELECT * FROM read_parquet('{store}/metrics/*.parquet', union_by_name=true)")
        con.execute(
            f"""CREATE VIEW f AS SELECT DISTINCT unique_id, metric_type, metric AS series_metric, service
                FROM read_parquet('{fleet.data}/**/*.parquet', hive_partitioning=true)"""
        )
        return con.execute(query).df()
    finally:
        con.close()


def test_when_the_fleet_grid_runs_then_every_unit_is_ok_and_point_models_are_flagged(fleet_run):
    store, fleet, summary = fleet_run
    assert summary.counts() == {"ok": len(summary.records)} and summary.n_failed == 0
    chunks = int((summary.records["model"] == "seasonal_naive").sum())  # a local model: one unit per chunk
    assert len(summary.series_records) == chunks and set(summary.series_records["status"]) == {"ok"}
    flags = _raw(
        store,
        fleet,
        "SELECT model, metric, bool_and(point_as_quantiles) AS all, bool_or(point_as_quantiles) AS any "
        "FROM m GROUP BY ALL",
    )
    flags = flags.set_index(["model", "metric"])
    for model in flags.index.get_level_values("model").unique():
        point = model != PROBABILISTIC
        for metric in ("crps", "coverage"):
            assert flags.loc[(model, metric), "all"] == point and flags.loc[(model, metric), "any"] == point
        assert not flags.loc[(model, "mase"), "any"]


def test_when_the_leaderboard_is_broken_down_by_metric_type_then_it_equals_sql_over_the_raw_parquet(fleet_run):
    from workbench.store.sql import leaderboard

    store, fleet, _ = fleet_run
    board = leaderboard(store, by="metric_type")
    expected = _raw(
        store,
        fleet,
        """SELECT m.model, m.metric, f.metric_type, avg(m.value) FILTER (WHERE isfinite(m.value)) AS value,
                  count(DISTINCT m.unique_id) AS n_series,
                  count(*) - count(*) FILTER (WHERE isfinite(m.value)) AS n_undefined
           FROM m JOIN f USING (unique_id) GROUP BY ALL""",
    )
    got = board.merge(expected, on=["model", "metric", "metric_type"], suffixes=("", "_sql"), validate="1:1")
    assert len(got) == len(expected) == len(board) == 4 * len(METRICS) * 2
    np.testing.assert_allclose(got["value"], got["value_sql"], rtol=1e-12)
    assert (got["n_series"] == got["n_series_sql"]).all() and (got["n_series"] == 30).all()
    assert (got["n_undefined"] == got["n_undefined_sql"]).all()
    # crps of an errors series whose window holds only zeros is undefined (null): counted, not averaged
    assert got.loc[got["metric"] == "crps", "n_undefined"].sum() > 0
    # ranks follow each metric's direction: coverage by the distance to 0.95
    for (metric, kind), part in board.groupby(["metric", "metric_type"]):
        loss = (part["value"] - 0.95).abs() if metric == "coverage" else part["value"]
        assert part.loc[loss.idxmin(), "rank"] == 1, (metric, kind)
    # two columns at once, one of them a series column named like a metric row's column
    two = leaderboard(store, metrics=["mase"], by=["metric_type", "series_metric"])
    assert set(two["series_metric"]) == {"cpu", "latency_p99", "requests", "errors"} and (two["n_series"] == 15).all()


def test_when_which_model_where_is_asked_then_its_skill_and_winner_equal_sql_over_the_raw_parquet(fleet_run):
    from workbench.report.compare import which_model_where
    from workbench.store.sql import series_metrics

    store, fleet, _ = fleet_run
    table = which_model_where(series_metrics(store, ["mase"]), "mase", ["metric_type"], n_boot=200)
    assert set(table["baseline"]) == {"seasonal_naive"}
    # skill = 1 - exp(mean log(model / baseline)) over the problems every model has a finite value for
    sql = _raw(
        store,
        fleet,
        """WITH r AS (SELECT m.model, m."window" AS w, m.unique_id, f.metric_type, m.value
                      FROM m JOIN f USING (unique_id) WHERE m.metric = 'mase'),
                common AS (SELECT w, unique_id FROM r GROUP BY ALL
                           HAVING count(*) FILTER (WHERE isfinite(value)) = (SELECT count(DISTINCT model) FROM r)),
                b AS (SELECT w, unique_id, value AS base FROM r WHERE model = 'seasonal_naive')
           SELECT r.metric_type, r.model, 1 - exp(avg(ln(r.value / b.base))) AS skill
           FROM r SEMI JOIN common USING (w, unique_id) JOIN b USING (w, unique_id)
           WHERE r.value > 0 AND b.base > 0 GROUP BY ALL""",
    )
    got = table.merge(sql, on=["metric_type", "model"], suffixes=("", "_sql"), validate="1:1")
    assert len(got) == len(table) == 8
    np.testing.assert_allclose(got["skill"], got["skill_sql"], rtol=1e-9, atol=1e-12)
    # the best model of each group has the group's highest skill by the SQL (two models may tie: statsforecast's
    # SeasonalNaive forecasts as seasonal_naive does, so the winner is checked by its skill, not its name)
    best = table.loc[table["best"], ["metric_type", "model"]].merge(sql, on=["metric_type", "model"])
    top = sql.groupby("metric_type")["skill"].max()
    assert len(best) == 2
    np.testing.assert_allclose(best.set_index("metric_type")["skill"], top.loc[best["metric_type"]], rtol=1e-12)


def test_when_the_series_view_is_read_then_it_holds_each_series_once_with_its_columns(fleet_run):
    from workbench.store.sql import series_columns, sql

    store, fleet, _ = fleet_run
    series = sql("SELECT * FROM series", store)
    assert len(series) == series["unique_id"].nunique() == 60
    raw = _raw(store, fleet, "SELECT unique_id, metric_type, series_metric, service FROM f")
    merged = series.merge(raw, on="unique_id", suffixes=("", "_raw"))
    assert (merged["metric_type"] == merged["metric_type_raw"]).all()
    assert (merged["series_metric"] == merged["series_metric_raw"]).all() and (
        merged["service"] == merged["service_raw"]
    ).all()
    assert int(series["n_missing"].sum()) == fleet.n_missing
    assert {"metric_type", "series_metric", "service", "host"} <= set(series_columns(store))
    # `window` needs quotes in DuckDB; window_index does not
    counts = sql("SELECT window_index, count(*) AS n FROM metrics GROUP BY window_index ORDER BY window_index", store)
    assert counts["window_index"].tolist() == [0, 1, 2]


def test_when_the_grid_is_rerun_then_nothing_is_recomputed_or_described_again(fleet_run):
    import workbench
    from workbench.tasks import Task

    store, _, _ = fleet_run
    task = Task(dataset="fleet", protocol="rolling", n_windows=3, gap_policy="by_metric_type", metrics=METRICS)
    again = workbench.evaluate(task, ["seasonal_naive"], store=store, n_workers=1, chunk_size=20, progress=False)
    assert again.n_computed == 0 and again.series_records.empty and len(again.score_records) == 0
