"""Which copy of the tourism data the `tourism` card reads, and how it differs from the Monash/Chronos copy.

The card reads Tcomp 1.0.1's R data, built from the competition's own files (yearly_in.csv read to row
50). The competition's yearly_in.csv also holds 79 stray cells far below the data (file lines 335-348,
columns Y248-Y326); a reader that keeps every non-empty cell appends them to those series' training
parts. That is the copy the Monash archive and fev/Chronos evaluate: their seasonal-naive MASE on
Tourism Yearly (fev's published 3.5520097) is reproduced here from Tcomp's data plus those 79 cells.
The card's `yearly_all_cells` subset reads that copy (the `mcomp_rda` reader's `append_train` option);
`competition_files_read_in_full` builds it independently, from Tcomp's copy and `STRAY`, to check it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import Panel, get_card, load_holdout
from workbench.data.catalog import fetch_files
from workbench.data.readers import read_mcomp_rda
from workbench.errors import DataFormatError
from workbench.metrics import mase

pytestmark = pytest.mark.usefixtures("mirror")

# The non-empty cells of the competition's yearly_in.csv below its 50 data rows (ellisp/Tcomp-r-package
# @33503f9, source-data/yearly_in.csv; the same file as robjhyndman.com/data/27-3-Athanasopoulos1.zip):
# line 335 Y270, line 336 Y282 and Y299, line 337 Y248-Y320 (but Y270, Y282, Y299), line 348 Y321-Y326.
STRAY = {
    "Y248": 900, "Y249": 18400, "Y250": 800, "Y251": 1600, "Y252": 70600, "Y253": 1700, "Y254": 5300,
    "Y255": 1400, "Y256": 1000, "Y257": 4000, "Y258": 1100, "Y259": 106700, "Y260": 1100, "Y261": 7100,
    "Y262": 5000, "Y263": 4800, "Y264": 2400, "Y265": 1300, "Y266": 1900, "Y267": 42600, "Y268": 3500,
    "Y269": 69800, "Y270": 3100, "Y271": 8200, "Y272": 10200, "Y273": 1900, "Y274": 2500, "Y275": 2100,
    "Y276": 10500, "Y277": 38600, "Y278": 600, "Y279": 600, "Y280": 2400, "Y281": 1900, "Y282": 2800,
    "Y283": 3500, "Y284": 11700, "Y285": 1400, "Y286": 27700, "Y287": 16000, "Y288": 5700, "Y289": 21200,
    "Y290": 34500, "Y291": 10900, "Y292": 1300, "Y293": 119700, "Y294": 18300, "Y295": 14300, "Y296": 7300,
    "Y297": 2500, "Y298": 2000, "Y299": 700, "Y300": 45200, "Y301": 6200, "Y302": 300, "Y303": 900,
    "Y304": 1700, "Y305": 2100, "Y306": 11100, "Y307": 400, "Y308": 500, "Y309": 9800, "Y310": 700,
    "Y311": 300, "Y312": 34700, "Y313": 1600, "Y314": 48000, "Y315": 900, "Y316": 4100, "Y317": 2700,
    "Y318": 7800, "Y319": 3200, "Y320": 461700, "Y321": 549, "Y322": 1748, "Y323": 610, "Y324": 70,
    "Y325": 924, "Y326": 3901,
}  # fmt: skip

# fev's published seasonal-naive MASE (autogluon/fev benchmarks/chronos_zeroshot/results/seasonal_naive.csv)
FEV_SEASONAL_NAIVE = {"yearly": 3.5520097131229207, "quarterly": 1.6989892608217576, "monthly": 1.6309399916276208}


def seasonal_naive_mase(train: Panel, test: Panel) -> float:
    """Mean over series of MASE of the seasonal naive forecast (last season repeated)."""
    past, _, ids = train.to_numpy(pad="left")
    truth, _, test_ids = test.to_numpy(pad="right")
    assert list(ids) == list(test_ids)
    m, h = train.season_length, truth.shape[1]
    forecast = np.tile(past[:, -m:], (1, -(-h // m)))[:, :h]
    return float(np.mean(mase(truth, forecast, y_past=past, season_length=m)))


def competition_files_read_in_full(train: Panel, test: Panel) -> tuple[Panel, Panel]:
    """The yearly series as a reader keeping every non-empty cell of yearly_in.csv builds them: each
    stray cell becomes one more training year, and the four test years move one year on."""
    last = train.last_ds()
    extra = pd.DataFrame(
        {"unique_id": list(STRAY), "ds": [last[s] + pd.DateOffset(years=1) for s in STRAY], "y": list(STRAY.values())}
    )
    shifted = test.df.copy()
    moved = shifted["unique_id"].isin(list(STRAY))
    shifted.loc[moved, "ds"] = shifted.loc[moved, "ds"] + pd.DateOffset(years=1)
    meta = {"freq": train.freq, "season_length": train.season_length, "horizon": train.horizon}
    return (
        Panel.from_long(pd.concat([train.df, extra], ignore_index=True), **meta),
        Panel.from_long(shifted, **meta),
    )


@pytest.fixture(scope="module")
def yearly() -> tuple[Panel, Panel]:
    return load_holdout("tourism", "yearly")


@pytest.fixture(scope="module")
def all_cells() -> tuple[Panel, Panel]:
    return load_holdout("tourism", "yearly_all_cells")


def long_frame(panel: Panel) -> pd.DataFrame:
    return panel.df[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"], ignore_index=True)


def test_when_the_card_is_read_then_it_names_tcomp_as_its_data_version():
    card = get_card("tourism")
    assert "Tcomp 1.0.1" in card.data_version
    assert "Tcomp 1.0.1" in card.subset("yearly").data_version
    assert "79 stray" in card.subset("yearly").data_version
    all_cells = card.subset("yearly_all_cells")
    assert "Tcomp 1.0.1" in all_cells.data_version and "Monash" in all_cells.data_version
    assert "79 stray" in all_cells.data_version and "fev" in all_cells.data_version
    # the card types exactly the cells read from yearly_in.csv, in the same order
    assert list(all_cells.options["append_train"].items()) == list(STRAY.items())
    assert (all_cells.n_series, all_cells.n_rows) == (518, 10606 + 79)


def test_when_tcomp_yearly_loads_then_lengths_are_the_competitions(yearly):
    train, test = yearly
    lengths = train.lengths()
    assert train.n_series == 518
    assert (test.lengths() == 4).all()
    # the competition paper's Table 1 and Tcomp's own tests: total lengths 11..47, median 27, 10606 + 2072 points
    total = lengths + 4
    assert (total.min(), float(total.median()), total.max()) == (11, 27.0, 47)
    assert (lengths.sum(), int(test.lengths().sum())) == (10606, 2072)
    # the series with a stray cell: Y248-Y320 have 12 training years (Y270 10, Y282 and Y299 11), Y321-Y326 23
    assert lengths[list(STRAY)].value_counts().to_dict() == {12: 70, 23: 6, 11: 2, 10: 1}


def test_when_seasonal_naive_runs_on_tcomp_yearly_then_mase_is_3_007(yearly):
    assert round(seasonal_naive_mase(*yearly), 3) == 3.007


def test_when_yearly_all_cells_loads_then_it_is_the_competition_files_read_in_full(yearly, all_cells):
    train, test = competition_files_read_in_full(*yearly)
    pd.testing.assert_frame_equal(long_frame(all_cells[0]), long_frame(train))
    pd.testing.assert_frame_equal(long_frame(all_cells[1]), long_frame(test))


def test_when_the_stray_cells_are_kept_then_the_79_series_are_one_year_longer(yearly, all_cells):
    train, test = all_cells
    assert train.n_series == test.n_series == 518
    changed = train.lengths() - yearly[0].lengths()
    assert sorted(changed.index[changed == 1]) == sorted(STRAY) and int(changed.sum()) == 79
    assert (len(train), len(test), len(train) + len(test)) == (10685, 2072, 12757)
    assert (test.lengths() == 4).all()
    # each stray cell is the last training year, and the test years follow it
    last = train.df.groupby("unique_id").last()
    assert last.loc[list(STRAY), "y"].tolist() == [float(v) for v in STRAY.values()]
    first_test = test.df.groupby("unique_id")["ds"].min()
    assert (first_test == last["ds"] + pd.DateOffset(years=1)).all()
    moved = first_test - yearly[1].df.groupby("unique_id")["ds"].min()
    assert sorted(moved.index[moved > pd.Timedelta(0)]) == sorted(STRAY)


def test_when_seasonal_naive_runs_on_yearly_all_cells_then_fevs_published_mase_is_reproduced(all_cells):
    value = seasonal_naive_mase(*all_cells)
    assert round(value, 3) == 3.552
    assert value == pytest.approx(FEV_SEASONAL_NAIVE["yearly"], rel=1e-8)


def tourism_rda(subset: str) -> dict:
    return fetch_files(get_card("tourism").split_files(subset, "train"))


@pytest.mark.parametrize("part", ["x", "xx"])
@pytest.mark.parametrize("bad", ["Y999", "M1"])  # no such series; a monthly series named in a yearly subset
def test_when_append_train_names_a_series_not_in_the_subset_then_the_reader_refuses_it(part, bad):
    options = {"object": "tourism", "period": "YEARLY", "part": part, "append_train": {"Y1": 1.0, bad: 2.0}}
    with pytest.raises(DataFormatError, match=rf"option append_train names '{bad}', which is not a YEARLY series"):
        read_mcomp_rda(tourism_rda("yearly"), options)


def test_when_append_train_extends_a_quarterly_series_then_the_next_quarter_is_added_and_the_test_moves_on():
    files, base = tourism_rda("quarterly"), {"object": "tourism", "period": "QUARTERLY", "append_train": {"Q7": 5.5}}
    quarter = pd.DateOffset(months=3)
    for part in ("x", "xx"):
        plain = read_mcomp_rda(files, {"object": "tourism", "period": "QUARTERLY", "part": part})
        extended = read_mcomp_rda(files, {**base, "part": part})
        old, new = plain[plain["unique_id"] == "Q7"], extended[extended["unique_id"] == "Q7"]
        if part == "x":  # one more quarter after the last
            assert new["y"].tolist() == [*old["y"], 5.5]
            assert new["ds"].tolist() == [*old["ds"], old["ds"].iloc[-1] + quarter]
        else:  # the same test values, one quarter later
            assert new["y"].tolist() == old["y"].tolist()
            assert new["ds"].tolist() == [d + quarter for d in old["ds"]]
        rest = plain[plain["unique_id"] != "Q7"].reset_index(drop=True)
        pd.testing.assert_frame_equal(extended[extended["unique_id"] != "Q7"].reset_index(drop=True), rest)


def test_when_stray_cells_are_kept_then_the_naive_forecasts_start_from_5_to_39_percent_of_the_level(yearly):
    train, _ = yearly
    last_values = train.df.groupby("unique_id")["y"].last()
    ratios = np.array([STRAY[s] / last_values[s] for s in STRAY])
    assert (round(ratios.min(), 3), round(float(np.median(ratios)), 3), round(ratios.max(), 3)) == (0.054, 0.138, 0.389)


@pytest.mark.parametrize("subset", ["quarterly", "monthly"])
def test_when_seasonal_naive_runs_on_tcomp_monthly_and_quarterly_then_fev_agrees(subset):
    value = seasonal_naive_mase(*load_holdout("tourism", subset))
    assert value == pytest.approx(FEV_SEASONAL_NAIVE[subset], abs=1e-4)
