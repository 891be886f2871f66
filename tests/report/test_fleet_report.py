"""The report of a fleet of metrics: which model wins where, in sentences and tables, short model labels,
distinct task titles, forecasts with intervals and labelled anomalies, a CD diagram whose labels never
overlap, and a page under 2 MB, opened in a real headless Chromium."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataFormatError
from workbench.report import compare
from workbench.report.breakdown import Breakdown, breakdown_table, group_sentence, split_columns
from workbench.report.browser import chromium_page, find_chromium
from workbench.report.context import read_labels
from workbench.report.figures import forecast_drilldown, interval_columns
from workbench.report.names import model_legend, short_labels
from workbench.report.queries import task_titles

MODELS = ["seasonal_naive", "naive", "theta", "ses"]
QUANTILE_MODEL = {"name": "statsforecast.SeasonalNaive", "params": {"season_length": 24, "quantiles": [0.1, 0.5, 0.9]}}
MAX_PAGE_BYTES = 2_000_000
needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium here: `apt-get install chromium` and `pip install playwright`"
)


# ---- fast: hand-made rows ------------------------------------------------------------------------
def _rows(seed: int = 0) -> pd.DataFrame:
    """Per-series mase rows of 40 series, half gauges (theta clearly best) and half counts (seasonal
    naive best), two windows: the shape `series_metrics` returns."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(40):
        kind = "gauge" if i < 20 else "count"
        base = rng.uniform(0.8, 1.2)
        factor = {"seasonal_naive": 1.0, "naive": 1.4, "theta": 0.6 if kind == "gauge" else 1.3, "ses": 1.2}
        for window in (0, 1):
            for model in MODELS:
                value = base * factor[model] * rng.uniform(0.9, 1.1)
                out.append(("t1", "task one", model, window, f"s{i:02d}", "mase", value, kind, f"svc{i % 4}"))
    columns = ["task_key", "task", "model", "window", "unique_id", "metric", "value", "metric_type", "service"]
    return pd.DataFrame(out, columns=columns)


def test_when_a_group_has_a_clear_winner_then_its_sentence_names_it_with_skill_and_a_ci_excluding_zero():
    rows = _rows()
    table = compare.which_model_where(rows, "mase", ["metric_type"], n_boot=200, seed=0)
    labels = short_labels(MODELS)
    gauge = group_sentence(table[table["metric_type"] == "gauge"], "metric_type", "gauge", labels)
    count = group_sentence(table[table["metric_type"] == "count"], "metric_type", "count", labels)
    theta = table[(table["metric_type"] == "gauge") & (table["model"] == "theta")].iloc[0]
    assert gauge.startswith("On gauge series (metric_type") and "Theta wins" in gauge
    assert f"skill {theta['skill']:.2f} vs sNaive" in gauge and "the interval excludes 0" in gauge
    assert f"95% CI {theta['ci_low']:.2f} to {theta['ci_high']:.2f}" in gauge
    assert "sNaive is best: no model beats it" in count
    summary = breakdown_table(Breakdown("t1", "task one", "mase", "metric_type", "seasonal_naive", table), labels)
    assert dict(zip(summary["metric_type"], summary["best"], strict=True)) == {"count": "sNaive", "gauge": "Theta"}


def test_when_the_skill_interval_includes_zero_then_the_sentence_says_it_is_not_reliably_better():
    rows = _rows()
    # theta only 1% better than seasonal naive on gauges, with noise of ±10%: the interval straddles 0
    gauges = rows["metric_type"] == "gauge"
    sn = rows[gauges & (rows["model"] == "seasonal_naive")].set_index(["unique_id", "window"])["value"]
    rng = np.random.default_rng(3)
    theta = gauges & (rows["model"] == "theta")
    keys = list(zip(rows.loc[theta, "unique_id"], rows.loc[theta, "window"], strict=True))
    rows.loc[theta, "value"] = [sn[k] * 0.99 * rng.uniform(0.8, 1.2) for k in keys]
    table = compare.which_model_where(rows, "mase", ["metric_type"], n_boot=300, seed=0)
    group = table[table["metric_type"] == "gauge"]
    best = group[group["best"]].iloc[0]
    sentence = group_sentence(group, "metric_type", "gauge", short_labels(MODELS))
    if best["model"] == "seasonal_naive":
        assert "sNaive is best" in sentence
    else:
        assert best["ci_low"] <= 0 <= best["ci_high"]
        assert "the interval includes 0, so it is not reliably better" in sentence


def test_when_metadata_columns_are_offered_then_only_those_splitting_series_into_a_few_groups_are_used():
    rows = _rows()
    rows["host"] = rows["unique_id"]  # one group per series: a list, not a breakdown
    rows["region"] = "eu"  # one group for all: nothing to compare
    assert split_columns(rows, ["host", "service", "region", "metric_type"]) == ["metric_type", "service"]


def test_when_a_model_runs_from_a_local_checkpoint_then_labels_show_its_folder_and_hash_never_the_path(tmp_path):
    folder = tmp_path / "private" / "granite-ttm-r2"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"d_model": 8}')
    (folder / "model.safetensors").write_bytes(b"\x00weights" * 10)
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):  # the content hash: names and bytes, in name order
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    models = [f"ttm(model={folder})", "ttm(model=/elsewhere/granite-ttm-r1)", "theta", "theta(season_length=24)"]
    labels = short_labels(models)
    assert labels[models[0]] == "TTM (granite-ttm-r2)" and labels[models[1]] == "TTM (granite-ttm-r1)"
    assert labels["theta"] == "Theta" and labels["theta(season_length=24)"] == "Theta (season_length=24)"
    legend = {short: params for short, _, params in model_legend(models)}
    assert legend["TTM (granite-ttm-r2)"] == f"model=granite-ttm-r2 (sha256 {digest.hexdigest()[:8]})"
    assert legend["TTM (granite-ttm-r1)"] == "model=granite-ttm-r1"  # not here: no hash to show
    assert not any(str(tmp_path) in text for row in model_legend(models) for text in row)
    assert len(set(labels.values())) == len(models)


def test_when_two_tasks_share_a_dataset_then_their_titles_differ_by_what_differs():
    facts = pd.DataFrame(
        {
            "task_key": ["k1", "k2", "k3"],
            "task": ["fleet/all rolling 2x24", "fleet/all rolling 3x48", "m4/Hourly holdout h=48 m=24"],
            "dataset": ["fleet", "fleet", "m4"],
        }
    )
    common = {"dataset": "fleet", "subset": "all", "protocol": "rolling", "season_length": 24}
    resolved = {"k1": {**common, "horizon": 24, "n_windows": 2}, "k2": {**common, "horizon": 48, "n_windows": 3}}
    titles = task_titles(facts, resolved)
    assert titles == {
        "k1": "fleet/all: horizon 24, 2 windows",
        "k2": "fleet/all: horizon 48, 3 windows",
        "k3": "m4/Hourly holdout h=48 m=24",
    }
    same = task_titles(facts.assign(task="fleet/all"), {})  # nothing recorded tells them apart: the key does
    assert len(set(same.values())) == 3 and same["k1"] == "fleet/all [k1]"


def test_when_forecasts_carry_quantiles_then_the_plot_shades_the_widest_central_interval_and_marks_anomalies():
    ds = pd.date_range("2026-01-05", periods=10, freq="h")
    past = pd.DataFrame({"unique_id": "a", "ds": ds[:6], "y": np.arange(6.0)})
    truth = pd.DataFrame({"unique_id": "a", "ds": ds[6:], "y": np.arange(6.0, 10.0)})
    fc = pd.DataFrame({"unique_id": "a", "ds": ds[6:], "model": "m", "y_hat": 7.0, "q0.1": 5.0, "q0.9": 9.0})
    fc["q0.25"], fc["q0.75"] = 6.0, 8.0
    assert interval_columns(fc.columns) == ("q0.1", "q0.9", pytest.approx(0.8))
    labels = pd.DataFrame({"unique_id": ["a", "b"], "ds": [str(ds[7]), str(ds[7])]})  # as read from a CSV
    fig = forecast_drilldown(past, truth, fc, anomalies=labels)
    names = [t.name for t in fig.data]
    assert "m 80% interval" in names and "labelled anomaly" in names
    band = next(t for t in fig.data if t.name == "m 80% interval")
    assert band.fill == "tonexty" and list(band.y) == [9.0] * 4
    marks = next(t for t in fig.data if t.name == "labelled anomaly")
    assert list(marks.y) == [7.0]


def test_when_the_labels_file_lacks_a_column_then_the_error_names_the_file_and_the_columns(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("series,when\na,2026-01-01\n")
    with pytest.raises(DataFormatError, match=r"labels file .*labels.csv: no column\(s\) \['unique_id', 'ds'\]"):
        read_labels(bad)
    with pytest.raises(DataFormatError, match="no such file"):
        read_labels(tmp_path / "missing.csv")


# ---- slow: a real fleet store, the report in Chromium --------------------------------------------
@pytest.fixture(scope="module")
def fleet_store(tmp_path_factory, mirror):
    """`write_fleet` (200 hourly series with metric_type, service, host) evaluated by four models, two
    windows, on an embedded LocalCluster: the store the report and the deck are made of."""
    import workbench
    from workbench.config import use_catalog
    from workbench.data.synthetic import write_fleet
    from workbench.tasks import Task

    root = tmp_path_factory.mktemp("fleet")
    fleet = write_fleet(root / "fleet", seed=0)
    patch = pytest.MonkeyPatch()  # the card is this module's: other modules' fleets are named fleet too
    patch.setenv("WORKBENCH_CATALOG", "")
    use_catalog(fleet.catalog)
    task = Task(dataset="fleet", protocol="rolling", n_windows=2, gap_policy="by_metric_type", metrics=("mase",))
    summary = workbench.evaluate(task, [*MODELS, QUANTILE_MODEL], store=root / "store", n_workers=1, progress=False)
    assert summary.counts() == {"ok": len(summary.records)}
    yield root / "store", fleet
    patch.undo()


def _winners(store) -> tuple[dict[str, str], dict[str, str]]:
    """metric_type -> its best model (recomputed here from the store's rows), and every model's short label."""
    from workbench.store.sql import series_metrics

    rows = series_metrics(store, metrics=["mase"])
    table = compare.which_model_where(rows, "mase", ["metric_type"], n_boot=200, seed=0)
    best = table[table["best"].astype(bool)]
    return dict(zip(best["metric_type"], best["model"], strict=True)), short_labels(sorted(set(rows["model"])))


@needs_chromium
def test_when_the_fleet_report_opens_in_chromium_then_it_says_which_model_wins_where_and_draws_cleanly(
    fleet_store, tmp_path
):
    from workbench.report import build_report

    store, fleet = fleet_store
    page_path = build_report(store, tmp_path / "fleet.html", n_boot=200, labels=fleet.labels)
    size = page_path.stat().st_size
    assert size < MAX_PAGE_BYTES, size
    text = page_path.read_text()
    winners, labels = _winners(store)
    assert set(winners) == {"gauge", "count"}
    summary = text[text.index('<section id="summary">') : text.index('<section id="overview">')]
    for kind, model in winners.items():
        said = f"On {kind} series (metric_type"
        assert said in summary, (kind, summary)
        sentence = summary[summary.index(said) :].split("</li>")[0]
        assert f"{labels[model]} wins" in sentence or f"{labels[model]} is best" in sentence, sentence
    assert str(fleet.data) not in text and "Marked x: labelled anomalies" in text
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        figures = page.locator("div.plotly-graph-div")
        assert figures.count() >= 3
        for i in range(figures.count()):
            figures.nth(i).locator(".main-svg").first.wait_for(timeout=60_000)
        boxes = page.evaluate(
            """() => [...document.querySelectorAll('div.plotly-graph-div[id*=cd-diagram]')].map(d =>
                [...d.querySelectorAll('.annotation-text')].filter(t => !t.textContent.startsWith('CD ='))
                .map(t => { const b = t.getBoundingClientRect();
                            return [t.textContent, b.left, b.top, b.right, b.bottom]; }))"""
        )
        assert boxes and all(len(b) == len(labels) for b in boxes)
        for labels_of_figure in boxes:
            for i, a in enumerate(labels_of_figure):
                for b in labels_of_figure[i + 1 :]:
                    apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
                    assert apart, (a, b)
        bands = page.evaluate(
            """() => [...document.querySelectorAll('div.plotly-graph-div[id*=forecasts]')]
                .map(d => d._fullData.filter(t => /interval$/.test(t.name || '')).length)"""
        )
        assert page.console_errors == []
    assert bands and all(n >= 1 for n in bands)  # the quantile model's 80% interval is shaded
    assert "Shaded: the 80% central prediction interval (q0.1 to q0.9)" in text
    # the store has no CRPS (mase only) and nothing published: the ranking says why it is empty
    assert re.search(r"No ranking: no CRPS in 1 task", text), re.findall(r"No ranking[^<]*", text)
