"""The dataset facts the catalog promises, asserted on the real mirror files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data import get_card, load_holdout, load_panel, load_table

pytestmark = pytest.mark.usefixtures("mirror")


@pytest.mark.parametrize(
    ("subset", "n_series", "horizon", "season"),
    [("Hourly", 414, 48, 24), ("Weekly", 359, 13, 1)],
)
def test_when_m4_train_and_test_load_then_sizes_match_the_competition(subset, n_series, horizon, season):
    train, test = load_holdout("m4", subset)
    assert train.n_series == test.n_series == n_series
    assert (train.horizon, train.season_length) == (horizon, season)
    assert (test.lengths() == horizon).all()
    # the test continues each train series
    first_test = test.df.groupby("unique_id")["ds"].min()
    assert (first_test == train.df.groupby("unique_id")["ds"].max() + 1).all()


def test_when_m4_hourly_loads_then_known_values_are_in_place():
    train = load_panel("m4", "Hourly")
    h1 = train.series("H1")
    assert len(h1) == 700
    assert h1["y"].iloc[:3].tolist() == [605.0, 586.0, 586.0]


@pytest.mark.parametrize(
    ("subset", "n_series", "horizon"), [("Daily", 4227, 14), ("Quarterly", 24000, 8), ("Yearly", 23000, 6)]
)
def test_when_m4_test_set_loads_alone_then_it_has_all_series(subset, n_series, horizon):
    test = load_panel("m4", subset, "test")
    assert test.n_series == n_series
    assert (test.lengths() == horizon).all()
    assert test.attrs["ds_kind"] == "step"


@pytest.mark.parametrize(
    ("subset", "n_series", "horizon"),
    [("yearly", 645, 6), ("quarterly", 756, 8), ("monthly", 1428, 18), ("other", 174, 8)],
)
def test_when_m3_loads_then_categories_and_horizons_match(subset, n_series, horizon):
    train, test = load_holdout("m3", subset)
    assert train.n_series == test.n_series == n_series
    assert (test.lengths() == horizon).all()


def test_when_m3_is_complete_then_it_has_3003_series_and_24_forecast_sets():
    info = load_table("m3", "info")
    assert len(info) == 3003
    assert info["period"].value_counts().to_dict() == {"MONTHLY": 1428, "QUARTERLY": 756, "YEARLY": 645, "OTHER": 174}
    fc = load_table("m3", "forecasts")
    assert fc["method"].nunique() == 24
    assert {"NAIVE2", "SINGLE", "THETA", "COMB S-H-D", "ForecastPro"} <= set(fc["method"])
    naive2 = fc[fc["method"] == "NAIVE2"]
    assert naive2["unique_id"].nunique() == 3003
    assert naive2.groupby("unique_id")["step"].max().loc["N0001"] == 6


def test_when_m3_yearly_has_calendar_dates_then_test_follows_train():
    train, test = load_holdout("m3", "yearly")
    n1 = train.series("N0001")
    assert n1["ds"].iloc[0] == pd.Timestamp("1975-01-01")
    assert test.series("N0001")["ds"].iloc[0] == pd.Timestamp("1989-01-01")


def test_when_m1_loads_then_it_has_1001_series():
    sizes = {s: load_panel("m1", s).n_series for s in ("yearly", "quarterly", "monthly")}
    assert sizes == {"yearly": 181, "quarterly": 203, "monthly": 617}


@pytest.mark.parametrize(
    ("subset", "n_series", "horizon"), [("monthly", 366, 24), ("quarterly", 427, 8), ("yearly", 518, 4)]
)
def test_when_tourism_loads_then_sizes_and_horizons_match(subset, n_series, horizon):
    train, test = load_holdout("tourism", subset)
    assert train.n_series == n_series
    assert (test.lengths() == horizon).all()
    assert train.horizon == horizon


def test_when_nab_loads_then_corpus_and_labels_match_v1_1():
    corpus = load_panel("nab")
    assert corpus.n_series == 58
    assert len(corpus) == 365_558
    windows = load_table("nab", "windows")
    assert len(windows) == 116
    assert set(windows["unique_id"]) <= set(corpus.ids)
    results = load_table("nab", "results")
    assert set(results["detector"]) == {"null", "random", "numenta", "windowedGaussian", "relativeEntropy"}
    per_detector = results.groupby("detector")["unique_id"].nunique()
    assert (per_detector == 58).all()
    # every published result file has one row per corpus row
    assert len(results) == 5 * 365_558
    final = load_table("nab", "final_results")
    assert {"numenta", "null"} <= set(final["detector"])


def test_when_nab_file_repeats_timestamps_then_rows_keep_file_order():
    corpus = load_panel("nab")
    s = corpus.series("realKnownCause/machine_temperature_system_failure.csv")
    assert len(s) == 22_695
    assert (s["ds"].diff() < pd.Timedelta(0)).sum() == 1  # the file itself steps back one hour


@pytest.mark.parametrize("subset", ["ETTh1", "ETTh2"])
def test_when_ett_loads_then_17420_hourly_rows_by_7_columns(subset):
    p = load_panel("ett", subset)
    assert p.n_series == 7 and set(p.lengths()) == {17_420}
    assert list(p.ids) == sorted(["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"])


def test_when_exchange_rate_loads_then_7588_rows_by_8_columns():
    p = load_panel("exchange_rate")
    assert p.n_series == 8 and set(p.lengths()) == {7_588}


def test_when_ilinet_loads_then_1301_weekly_rows():
    p = load_panel("ilinet", "ltsf")
    assert set(p.lengths()) == {1_301}
    steps = p.series("OT" if "OT" in p.ids else p.ids[0])["ds"].diff().dropna().value_counts()
    # the darts copy skips four weeks (after each 53-week year): 1,296 steps of 7 days and 4 of 14
    assert steps.to_dict() == {pd.Timedelta(days=7): 1296, pd.Timedelta(days=14): 4}
    full = load_panel("ilinet", "all")
    assert full.df["y"].isna().any()  # CDC's empty age groups are kept as missing


def test_when_skab_loads_then_labels_stay_out_of_the_panel():
    valve1 = load_panel("skab", "valve1")
    assert valve1.n_series == 16 * 8
    assert "anomaly" not in valve1.df.columns
    labels = load_table("skab", "labels")
    assert set(labels.columns) == {"item", "ds", "anomaly", "changepoint"}
    assert labels["item"].nunique() == 34
    assert labels["anomaly"].sum() > 0


def test_when_monash_sample_tsf_loads_then_299_weekly_series_with_horizon_8():
    p = load_panel("monash_sample")
    assert p.n_series == 299 and p.horizon == 8
    assert set(p.df.groupby("unique_id")["ds"].diff().dropna()) == {pd.Timedelta(days=7)}


def _raw_tsf(path: Path) -> dict:
    """A Monash .tsf file's facts counted from its text alone (no reader): header lines, and per data
    line the series name, its other attribute fields and its comma-separated value cells."""
    text = path.read_bytes().decode("latin-1")
    lines = text.split("\r\n")  # the Zenodo files end every line in CRLF
    assert "\n" not in "".join(lines), f"{path.name}: a line ends in a bare LF"
    data = lines.index("@data")
    header = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in lines[:data] if ln.startswith("@") and " " in ln}
    attributes = [ln.split(" ")[1] for ln in lines[:data] if ln.startswith("@attribute ")]
    rows = [ln.split(":") for ln in lines[data + 1 :] if ln]
    return {"header": header, "attributes": attributes, "rows": {r[0]: (r[1:-1], r[-1].split(",")) for r in rows}}


def _after(start: dt.date, steps: int, frequency: str) -> dt.date:
    """The stamp `steps` periods after `start`, by calendar arithmetic (independent of pandas)."""
    if frequency == "daily":
        return start + dt.timedelta(days=steps)
    year, month = divmod(start.month - 1 + steps, 12)
    return dt.date(start.year + year, month + 1, start.day)


@pytest.mark.parametrize(
    ("subset", "n_series", "min_len", "max_len", "n_missing", "frequency", "freq", "t1_first", "t1_last"),
    [
        ("hospital", 767, 84, 84, 0, "monthly", "MS", dt.date(2000, 1, 1), dt.date(2006, 12, 1)),
        ("cif_2016", 72, 28, 120, 0, "monthly", None, 0, 119),  # no start dates: ds counts observations
        ("covid_deaths", 266, 212, 212, 0, "daily", "D", dt.date(2020, 1, 22), dt.date(2020, 8, 20)),
        ("fred_md", 107, 728, 728, 0, "monthly", "MS", dt.date(1959, 1, 1), dt.date(2019, 8, 1)),
        ("car_parts", 2674, 51, 51, 6122, "monthly", "MS", dt.date(1998, 1, 1), dt.date(2002, 3, 1)),
        ("nn5_daily", 111, 791, 791, 1677, "daily", "D", dt.date(1996, 3, 18), dt.date(1998, 5, 17)),
    ],
)
def test_when_monash_tsf_loads_then_its_facts_match_the_raw_file(
    mirror, manifest, subset, n_series, min_len, max_len, n_missing, frequency, freq, t1_first, t1_last
):
    (spec,) = get_card("monash").split_files(subset, "train")
    raw = _raw_tsf(mirror / manifest[spec.url]["mirror_path"])
    cells = {sid: values for sid, (_, values) in raw["rows"].items()}
    lengths = {sid: len(v) for sid, v in cells.items()}
    missing = {sid: v.count("?") for sid, v in cells.items()}
    # the file's own text gives the card's facts
    assert len(cells) == n_series
    assert (min(lengths.values()), max(lengths.values()), sum(missing.values())) == (min_len, max_len, n_missing)
    assert raw["header"]["@frequency"] == frequency
    attrs, t1 = raw["rows"]["T1"]
    if freq is None:
        assert raw["attributes"] == ["series_name", "horizon"] and (0, len(t1) - 1) == (t1_first, t1_last)
    else:
        first = dt.date.fromisoformat(attrs[0].split(" ")[0])
        assert (first, _after(first, len(t1) - 1, frequency)) == (t1_first, t1_last)

    # and the panel holds the same: counts, missing values where the file has '?', T1's values and stamps
    p = load_panel("monash", subset)
    assert p.n_series == n_series and p.freq == freq
    assert p.lengths().to_dict() == lengths
    assert p.df.groupby("unique_id")["y"].apply(lambda y: int(y.isna().sum())).to_dict() == missing
    s = p.series("T1")
    expected = np.array([np.nan if v == "?" else float(v) for v in t1])
    np.testing.assert_array_equal(s["y"].to_numpy(), expected)
    first, last = s["ds"].iloc[0], s["ds"].iloc[-1]
    if freq is None:
        assert (first, last) == (t1_first, t1_last)
    else:
        assert (first.date(), last.date()) == (t1_first, t1_last)
        assert s["ds"].tolist() == list(pd.date_range(first, last, freq=freq))  # one stamp per period, no gaps


def test_when_cif_2016_loads_then_each_series_keeps_its_own_horizon(mirror, manifest):
    (spec,) = get_card("monash").split_files("cif_2016", "train")
    rows = _raw_tsf(mirror / manifest[spec.url]["mirror_path"])["rows"]
    raw = {sid: int(attrs[0]) for sid, (attrs, _) in rows.items()}
    p = load_panel("monash", "cif_2016")
    per_series = p.df.groupby("unique_id")["horizon"].agg(["nunique", "first"])
    assert (per_series["nunique"] == 1).all() and p.df["horizon"].dtype == np.int64
    assert per_series["first"].to_dict() == raw
    # the file's header comment: 57 series with horizon 12, 15 with 6; the card's default is the largest
    assert pd.Series(raw).value_counts().to_dict() == {12: 57, 6: 15}
    assert p.horizon == 12 and p.season_length == 12


def test_when_classics_load_then_known_sizes_hold():
    assert len(load_panel("classics", "air_passengers")) == 144
    milk = load_panel("classics", "monthly_milk_incomplete")
    full = load_panel("classics", "monthly_milk")
    assert len(milk) == 155 and len(full) == 168  # the gaps are absent months, not empty cells
    assert set(milk.df["ds"]) < set(full.df["ds"])


def test_when_ucr_series_loads_then_labels_mark_the_published_anomaly():
    p = load_panel("ucr_anomaly")
    assert len(p) == 128_767
    labels = load_table("ucr_anomaly", "labels")
    anomalous = labels.loc[labels["label"] == 1, "ds"]
    assert anomalous.min() >= 124_000 and anomalous.max() <= 125_100
