"""Metric semantics: gauges, counts and rates, gap policies in the task key, intermittency statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.data import Panel
from workbench.semantics import (
    MetricTypeError,
    apply_gap_policy,
    check_counts,
    intermittency,
    series_types,
)
from workbench.tasks import Task


def _panel(rows: dict[str, list[float]], types: dict[str, str] | None = None, gaps: dict[str, list[int]] | None = None):
    parts = []
    for uid, values in rows.items():
        ds = pd.date_range("2024-01-01", periods=len(values) + len((gaps or {}).get(uid, [])), freq="h")
        keep = np.setdiff1d(np.arange(len(ds)), (gaps or {}).get(uid, []))
        frame = pd.DataFrame({"unique_id": uid, "ds": ds[keep], "y": values})
        if types:
            frame["metric_type"] = types[uid]
        parts.append(frame)
    return Panel(df=pd.concat(parts, ignore_index=True), freq="h", name="toy")


def test_when_counts_are_intermittent_then_zero_share_adi_cv2_and_class_are_computed_per_series():
    panel = _panel(
        {"errors": [0, 0, 3, 0, 0, 0, 1, 0, 0, 2], "cpu": [5.0, 6.0, 5.5, 6.5, 5.0, 6.0, 5.5, 6.5, 5.0, 6.0]}
    )
    stats = intermittency(panel, series_types(panel, "count")).set_index("unique_id")
    sizes = np.array([3.0, 1.0, 2.0])
    assert stats.loc["errors", "zero_share"] == pytest.approx(0.7)
    assert stats.loc["errors", "adi"] == pytest.approx(10 / 3)
    assert stats.loc["errors", "cv2"] == pytest.approx((sizes.std() / sizes.mean()) ** 2)
    assert stats.loc["errors", "demand_class"] == "intermittent" and stats.loc["errors", "zero_inflated"]
    assert stats.loc["cpu", "demand_class"] == "smooth" and not stats.loc["cpu", "zero_inflated"]
    all_zero = intermittency(_panel({"quiet": [0.0] * 6})).iloc[0]
    assert np.isnan(all_zero["adi"]) and all_zero["demand_class"] is None and all_zero["zero_inflated"]


def test_when_a_count_series_holds_a_negative_or_fractional_value_then_the_error_names_series_and_row():
    panel = _panel({"a": [1, 2, 3, 4], "b": [0, 1, -2, 3]}, types={"a": "count", "b": "count"})
    with pytest.raises(MetricTypeError, match=r"count series 'b' row 3 .* value -2\.0, negative"):
        check_counts(panel, series_types(panel))
    fractional = _panel({"a": [1, 2.5, 3]}, types={"a": "count"})
    with pytest.raises(MetricTypeError, match=r"'a' row 2 .*not an integer"):
        check_counts(fractional, series_types(fractional))
    gauge = _panel({"a": [-1.5, 2.5]}, types={"a": "gauge"})
    check_counts(gauge, series_types(gauge))  # gauges may be anything
    with pytest.raises(MetricTypeError, match="metric type 'counter'"):
        series_types(_panel({"a": [1.0]}, types={"a": "counter"}))


def test_when_series_have_gaps_then_each_policy_fills_them_its_way():
    panel = _panel(
        {"lat": [10.0, 12.0, 11.0, 13.0], "err": [1.0, 0.0, 2.0, 1.0]},
        types={"lat": "gauge", "err": "count"},
        gaps={"lat": [2], "err": [1, 2]},
    )
    types = series_types(panel)
    filled = apply_gap_policy(panel, "by_metric_type", types).df
    lat = filled[filled["unique_id"] == "lat"]["y"].tolist()
    err = filled[filled["unique_id"] == "err"]["y"].tolist()
    assert lat == [10.0, 12.0, 12.0, 11.0, 13.0]  # the gauge holds its level
    assert err == [1.0, 0.0, 0.0, 0.0, 2.0, 1.0]  # no sample, no event
    assert filled["metric_type"].notna().all()
    nan = apply_gap_policy(panel, "nan", types).df
    assert nan["y"].isna().sum() == 3
    assert apply_gap_policy(panel, "none", types) is panel
    with pytest.raises(MetricTypeError, match="series 'x' has no metric type"):
        untyped = _panel({"x": [1.0, 2.0]}, gaps={"x": [1]})
        apply_gap_policy(untyped, "by_metric_type", series_types(untyped))


def test_when_a_task_declares_a_gap_policy_then_it_is_in_the_key_and_an_unknown_one_is_refused(mirror):
    plain = Task(dataset="m4", subset="Hourly")
    assert Task(dataset="m4", subset="Hourly", gap_policy="none").key() == plain.key()
    zero = Task(dataset="m4", subset="Hourly", gap_policy="zero")
    ffill = Task(dataset="m4", subset="Hourly", gap_policy="ffill")
    assert len({plain.key(), zero.key(), ffill.key()}) == 3
    assert zero.describe().endswith("gaps=zero")
    assert Task(dataset="m4", subset="Hourly", metric_type="count").key() != plain.key()
    with pytest.raises(ValueError, match="gap_policy") as err:
        Task(dataset="m4", subset="Hourly", gap_policy="interpolate")
    assert "by_metric_type" in str(err.value)


def test_when_a_series_is_constant_then_its_scale_is_zero_and_mase_is_undefined():
    from workbench.metrics import mase

    past = np.array([[5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 1.0, 2.0]])
    values = mase(np.array([[5.0], [2.0]]), np.array([[5.0], [1.5]]), y_past=past, season_length=1)
    assert not np.isfinite(values[0]) and np.isfinite(values[1])


def test_when_a_user_card_has_gaps_then_a_task_with_a_gap_policy_evaluates_it_on_the_engine(tmp_path, monkeypatch):
    from workbench.config import CATALOG_ENV
    from workbench.sequential import evaluate_sequential
    from workbench.store.results_store import ResultsStore
    from workbench.store.sql import leaderboard

    rng = np.random.default_rng(0)
    parts = []
    for k, kind in enumerate(["gauge", "count"]):
        ds = pd.date_range("2024-01-01", periods=120, freq="h")
        y = 50 + 10 * np.sin(2 * np.pi * np.arange(120) / 24) + rng.normal(0, 1, 120)
        if kind == "count":
            y = rng.poisson(3, 120).astype(float)
        keep = np.setdiff1d(np.arange(120), [30, 31, 77])
        parts.append(pd.DataFrame({"series": f"s{k}", "ts": ds[keep], "value": y[keep], "metric_type": kind}))
    (tmp_path / "data.csv").write_text(pd.concat(parts).to_csv(index=False))
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    card = {
        "name": "gappy",
        "title": "series with missing stamps",
        "source": {
            "path": str(tmp_path / "data.csv"),
            "format": "csv",
            "id_col": "series",
            "time_col": "ts",
            "target_col": "value",
            "metadata_cols": ["metric_type"],
        },
        "freq": "h",
        "season_length": 24,
        "horizon": 12,
    }
    (catalog / "gappy.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv(CATALOG_ENV, str(catalog))

    import workbench

    refused = Task(dataset="gappy", protocol="rolling", n_windows=2)
    with pytest.raises(Exception, match="gap"):
        evaluate_sequential(refused, "seasonal_naive")
    task = Task(dataset="gappy", protocol="rolling", n_windows=2, gap_policy="by_metric_type")
    reference = evaluate_sequential(task, "seasonal_naive")
    summary = workbench.evaluate(task, ["seasonal_naive"], store=tmp_path / "store", n_workers=1, progress=False)
    assert summary.counts() == {"ok": summary.n_computed}
    cols = ["unique_id", "window", "metric"]
    engine = ResultsStore(tmp_path / "store").metrics().sort_values(cols).reset_index(drop=True)
    reference = reference.sort_values(cols).reset_index(drop=True)
    np.testing.assert_allclose(engine["value"].to_numpy(), reference["value"].to_numpy())
    assert set(leaderboard(tmp_path / "store")["task"]) == {task.describe()}


def test_when_observability_cards_declare_metric_types_then_counts_check_and_their_zero_shares_are_known(mirror):
    from workbench.data import get_card, load_panel

    panel = load_panel("cloud_monitoring", "all")
    types = series_types(panel, get_card("cloud_monitoring").subset("all").metric_type)
    assert types.value_counts().to_dict() == {"rate": 30, "gauge": 23, "count": 7}
    check_counts(panel, types)  # purchases and service-unavailable events are whole numbers
    stats = intermittency(panel, types).set_index("unique_id")
    counts = stats[stats["metric_type"] == "count"]
    assert counts.loc["service-unavailable/unavail-01", "zero_share"] == pytest.approx(7919 / 7920)
    assert counts.loc["consumer-purchase-rate/purchase-01", "demand_class"] == "intermittent"
    assert counts.index[counts["zero_inflated"]].tolist() == [  # ADI >= 1.32
        "consumer-purchase-rate/purchase-01",
        "consumer-purchase-rate/purchase-06",
        "service-unavailable/unavail-01",
    ]
    # the folder subsets declare the same type as the prefix map of `all`
    assert get_card("cloud_monitoring").subset("service-unavailable").metric_type == "count"
    task = Task(dataset="cloud_monitoring", subset="service-unavailable", protocol="rolling")
    assert task.declared_metric_types() == "count"
    robot = load_panel("robot_shop", "application")
    robot_types = series_types(robot, get_card("robot_shop").subset("application").metric_type)
    assert robot_types.to_dict() == {
        "RobotShop/Application/Robot-Shop:calls.sum": "count",
        "RobotShop/Application/Robot-Shop:erroneousCalls.sum": "count",
        "RobotShop/Application/Robot-Shop:latency.mean": "gauge",
        "RobotShop/Application/Robot-Shop:latency.sum": "gauge",
    }
