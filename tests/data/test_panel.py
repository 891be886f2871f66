"""Panel: validation with named culprits, and conversions that agree with each other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.data import Panel
from workbench.errors import DataFormatError


def _frame(lengths: list[int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{i:03d}", "ds": np.arange(n), "y": rng.normal(size=n)})
            for i, n in enumerate(lengths)
        ],
        ignore_index=True,
    )


def test_when_a_column_is_missing_then_error_names_it_and_the_source():
    with pytest.raises(DataFormatError, match=r"my.csv: missing column\(s\) \['y'\]"):
        Panel.from_long(pd.DataFrame({"unique_id": ["a"], "ds": [1]}), source="my.csv")


def test_when_y_has_nans_then_error_names_the_series_unless_allowed():
    df = _frame([5, 5])
    df.loc[7, "y"] = np.nan
    with pytest.raises(DataFormatError, match=r"1 missing value\(s\) in y, first in series 's001' at ds=2"):
        Panel.from_long(df, source="x")
    assert Panel.from_long(df, allow_missing=True).summary()["missing"] == 1


def test_when_y_is_not_numeric_then_error_quotes_the_value():
    df = _frame([3])
    df["y"] = df["y"].astype(object)
    df.loc[1, "y"] = "n/a"
    with pytest.raises(DataFormatError, match=r"non-numeric y 'n/a' in series 's000' at ds=1"):
        Panel.from_long(df)


def test_when_a_timestamp_repeats_then_error_names_series_and_time():
    df = pd.concat([_frame([3]), _frame([3]).iloc[[1]]])
    with pytest.raises(DataFormatError, match=r"duplicate timestamp ds=1 in series 's000'"):
        Panel.from_long(df)


def test_when_rows_are_shuffled_then_panel_sorts_by_series_and_time():
    df = _frame([4, 3]).sample(frac=1, random_state=1)
    p = Panel.from_long(df)
    assert p.df.groupby("unique_id")["ds"].apply(lambda s: s.is_monotonic_increasing).all()
    assert list(p.lengths()) == [4, 3]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12), st.sampled_from(["left", "right"]))
def test_when_converted_to_numpy_then_every_value_sits_where_its_padding_puts_it(lengths, pad):
    p = Panel.from_long(_frame(lengths))
    values, lens, ids = p.to_numpy(pad=pad)
    assert values.shape == (len(lengths), max(lengths))
    assert list(lens) == lengths and list(ids) == [f"s{i:03d}" for i in range(len(lengths))]
    for i, n in enumerate(lengths):
        row = values[i]
        expected = p.series(f"s{i:03d}")["y"].to_numpy()
        got = row[-n:] if pad == "left" else row[:n]
        np.testing.assert_array_equal(got, expected)
        assert np.isnan(row).sum() == max(lengths) - n


def test_when_converted_to_darts_and_back_then_panel_is_unchanged():
    df = _frame([10, 6])
    df["ds"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(df["ds"], unit="h")
    p = Panel.from_long(df, freq="h")
    series = p.to_darts()
    assert [len(s) for s in series] == [10, 6]
    back = Panel.from_darts(series, freq="h")
    pd.testing.assert_frame_equal(back.df, p.df)


def test_when_integer_indexed_panel_goes_to_darts_then_range_index_is_kept():
    p = Panel.from_long(_frame([5]).assign(ds=lambda d: d["ds"] + 100))
    (ts,) = p.to_darts()
    assert ts.time_index[0] == 100 and len(ts) == 5


def test_when_converted_to_dask_then_no_series_is_split_across_partitions():
    p = Panel.from_long(_frame([7] * 25))
    ddf = p.to_dask(npartitions=4)
    assert ddf.npartitions == 4
    owners: dict[str, int] = {}
    for i in range(ddf.npartitions):
        part = ddf.get_partition(i).compute()
        for uid in part.index.unique():
            assert uid not in owners, f"{uid} in partitions {owners[uid]} and {i}"
            owners[uid] = i
            assert (part.index.to_numpy() == uid).sum() == 7
    assert len(owners) == 25


def test_when_written_to_parquet_then_data_and_metadata_round_trip(tmp_path):
    p = Panel.from_long(_frame([3, 4]), freq=None, season_length=7, horizon=2, name="x", attrs={"k": "v"})
    p.to_parquet(tmp_path / "p.parquet")
    q = Panel.read_parquet(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(q.df, p.df)
    assert (q.season_length, q.horizon, q.name, q.attrs) == (7, 2, "x", {"k": "v"})
    assert [f.name for f in tmp_path.iterdir()] == ["p.parquet"]  # no temporary left behind


def test_when_wide_frame_is_given_then_each_column_becomes_a_series():
    wide = pd.DataFrame({"t": pd.date_range("2020", periods=3, freq="D"), "a": [1, 2, 3], "b": [4, 5, 6]})
    p = Panel.from_wide(wide, time_col="t", freq="D")
    assert list(p.ids) == ["a", "b"] and p.series("b")["y"].tolist() == [4.0, 5.0, 6.0]
