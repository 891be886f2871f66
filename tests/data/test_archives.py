"""Official M4 forecast archives (RAR) read through libarchive."""

from __future__ import annotations

import sys

import pytest

from workbench.data import load_table
from workbench.data.readers import read_m4_submission
from workbench.errors import DataFormatError

pytestmark = pytest.mark.usefixtures("mirror")


def test_when_a_submission_is_read_then_each_series_has_its_frequency_horizon():
    table = load_table("m4", "forecasts_naive")
    horizons = table.groupby(table["unique_id"].str[0])["step"].max().to_dict()
    assert horizons == {"Y": 6, "Q": 8, "M": 18, "W": 13, "D": 14, "H": 48}
    assert table["unique_id"].nunique() == 100_000 and table["y_hat"].notna().all()


def test_when_the_archive_is_corrupt_then_error_names_the_file(tmp_path):
    broken = tmp_path / "submission-x.rar"
    broken.write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 64)
    with pytest.raises(DataFormatError, match=r"submission-x\.rar"):
        read_m4_submission({"submission-x.rar": broken}, {})


def test_when_libarchive_is_missing_then_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "libarchive", None)  # what `import libarchive` meets without it
    with pytest.raises(DataFormatError, match="apt install libarchive13"):
        read_m4_submission({"f.rar": tmp_path / "f.rar"}, {})
