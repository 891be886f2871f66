"""The LTSF protocol's data: borders, the train-only scaler, windows, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.errors import DataFormatError, WorkbenchError
from workbench.ltsf import LTSFTask, StandardScaler, Table, Windows, borders, kept_windows, load_ltsf_table, prepare


def _table(n: int = 400, channels: int = 3, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(size=(n, channels)), axis=0) + np.arange(channels) * 10
    return Table("synthetic", values, tuple(f"c{i}" for i in range(channels)))


def test_when_ett_is_cut_then_the_borders_are_12_4_4_months_with_input_context():
    cut = borders(17420, 336, "ett_hour")
    assert cut.train == (0, 8640)
    assert cut.val == (8640 - 336, 11520)
    assert cut.test == (11520 - 336, 14400)


def test_when_another_table_is_cut_then_70_10_20_percent_of_rows():
    cut = borders(7588, 336, "ratio")
    n_train, n_test = int(0.7 * 7588), int(0.2 * 7588)
    assert cut.train == (0, n_train)
    assert cut.test == (7588 - n_test - 336, 7588)
    assert cut.val == (n_train - 336, 7588 - n_test)


def test_when_the_scaler_is_fitted_then_only_training_rows_are_used():
    table = _table()
    prepared = prepare(LTSFTask(dataset="x", subset="y", input_len=24, horizon=8), table)
    lo, hi = prepared.borders.train
    np.testing.assert_allclose(prepared.scaler.mean, table.values[lo:hi].mean(axis=0))
    np.testing.assert_allclose(prepared.scaler.scale, table.values[lo:hi].std(axis=0))  # population std
    train = prepared.train.values.double().numpy()
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(prepared.test.values.double().numpy().mean(axis=0), 0, atol=0.1)


def test_when_a_scaler_round_trips_then_values_come_back():
    values = _table().values
    scaler = StandardScaler.fit(values, (0, 200))
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values)


def test_when_windows_are_taken_then_they_are_the_split_slices_with_stride_one():
    values = np.arange(60, dtype=float).reshape(30, 2)
    windows = Windows.of(values, 5, 3)
    assert len(windows) == 30 - 5 - 3 + 1
    x, y = windows.take(torch.tensor([0, 7, len(windows) - 1]))
    np.testing.assert_array_equal(x[1].numpy(), values[7:12])
    np.testing.assert_array_equal(y[1].numpy(), values[12:15])
    np.testing.assert_array_equal(y[2, -1].numpy(), values[-1])


def test_when_the_tail_batch_is_dropped_then_only_full_batches_count():
    assert kept_windows(2785, 32, drop_last=True) == 2784
    assert kept_windows(2785, 32, drop_last=False) == 2785
    assert kept_windows(798, 32, drop_last=True) == 768


def test_when_a_table_has_nans_then_the_error_names_the_column():
    values = _table().values
    values[17, 1] = np.nan
    with pytest.raises(DataFormatError, match=r"'c1'.*row 17"):
        Table("synthetic", values, ("c0", "c1", "c2"))


def test_when_a_column_is_missing_then_the_error_names_it():
    with pytest.raises(DataFormatError, match="OT"):
        prepare(LTSFTask(dataset="x", subset="y", input_len=24, horizon=8, features="S", target="OT"), _table())
    with pytest.raises(DataFormatError, match="OT"):
        prepare(LTSFTask(dataset="x", subset="y", input_len=24, horizon=8, target="OT"), _table())


def test_when_the_series_is_shorter_than_input_plus_horizon_then_a_clear_error():
    with pytest.raises(WorkbenchError, match=r"shorter than input length 336 \+ horizon 96"):
        prepare(LTSFTask(dataset="x", subset="y"), _table(n=300))
    with pytest.raises(WorkbenchError, match="fewer than input length"):
        prepare(LTSFTask(dataset="x", subset="y", input_len=100, horizon=90), _table(n=400))  # a split too short


def test_when_univariate_then_one_channel_the_target(mirror):
    prepared = prepare(LTSFTask(dataset="ett", subset="ETTh1", split_rule="ett_hour", features="S", horizon=96), None)
    assert prepared.channels == ("OT",)
    assert prepared.test.channels == 1


def test_when_ett_is_loaded_then_channels_keep_the_file_order(mirror):
    table = load_ltsf_table("ett", "ETTh1")
    assert table.columns == ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
    assert table.n_rows == 17420
    assert table.values[0, -1] == pytest.approx(30.531, abs=1e-3)
    exchange = load_ltsf_table("exchange_rate", "all")
    assert exchange.columns == tuple(str(i) for i in range(8)) and exchange.n_rows == 7588
