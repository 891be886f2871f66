"""Parsed panels are cached as parquet, keyed by content: warm loads never re-parse."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import catalog, load_panel, readers

pytestmark = pytest.mark.usefixtures("mirror")


def test_when_loaded_twice_then_second_load_reads_parquet_not_the_source(fresh_cache, monkeypatch):
    cold = {s: load_panel("m4", s) for s in ("Hourly", "Weekly")}
    assert len(list((fresh_cache / "panels" / "m4").rglob("*.parquet"))) == 2

    def refuse(*_a, **_k):
        raise AssertionError("a warm load must not parse the source again")

    monkeypatch.setitem(readers.PANEL_READERS, "m4_wide", refuse)
    monkeypatch.setattr(catalog, "fetch_files", refuse)
    for s, panel in cold.items():
        warm = load_panel("m4", s)
        pd.testing.assert_frame_equal(warm.df, panel.df)
        assert (warm.horizon, warm.season_length, warm.attrs) == (panel.horizon, panel.season_length, panel.attrs)


def test_when_cached_parquet_is_damaged_then_it_is_rebuilt(fresh_cache):
    first = load_panel("classics", "air_passengers")
    (cached,) = (fresh_cache / "panels").rglob("*.parquet")
    cached.write_bytes(b"not parquet")
    again = load_panel("classics", "air_passengers")
    pd.testing.assert_frame_equal(again.df, first.df)


def test_when_card_declares_more_series_than_read_then_load_fails_loudly(fresh_cache, monkeypatch):
    original = readers.PANEL_READERS["m4_wide"]
    monkeypatch.setitem(readers.PANEL_READERS, "m4_wide", lambda f, o: original(f, o).query("unique_id != 'H414'"))
    with pytest.raises(Exception, match="read 413 series, the card declares 414"):
        load_panel("m4", "Hourly")
    assert list((fresh_cache / "panels").rglob("*.parquet")) == []
