"""Readers on bad or unusual input, and user files in long and wide layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.data import load_panel, read_user_file
from workbench.data.readers import get_reader, parse_tsf
from workbench.errors import DataFormatError, UnknownNameError


def test_when_user_long_csv_is_truncated_mid_row_then_error_names_the_file(tmp_path):
    f = tmp_path / "sales.csv"
    rows = "\n".join(f"a,2024-01-{d:02d},{d}" for d in range(1, 10))
    f.write_text("unique_id,ds,y\n" + rows + "\na,2024-01-1")
    with pytest.raises(DataFormatError, match=r"sales.csv"):
        read_user_file(f)


def test_when_user_file_lacks_a_column_then_error_lists_what_it_found(tmp_path):
    f = tmp_path / "sales.csv"
    f.write_text("id,ds,value\na,2024-01-01,1\n")
    with pytest.raises(
        DataFormatError, match=r"missing column\(s\) \['unique_id', 'y'\]; found \['id', 'ds', 'value'\]"
    ):
        read_user_file(f)


def test_when_user_file_has_nans_then_error_names_series(tmp_path):
    f = tmp_path / "sales.csv"
    f.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,\nb,2024-01-01,3\n")
    with pytest.raises(DataFormatError, match=r"missing value\(s\) in y, first in series 'a'"):
        read_user_file(f)


def test_when_user_files_are_long_or_wide_then_panels_agree(tmp_path):
    long = tmp_path / "long.parquet"
    frame = pd.DataFrame(
        {"unique_id": ["a"] * 3 + ["b"] * 3, "ds": list(pd.date_range("2024", periods=3, freq="D")) * 2, "y": range(6)}
    )
    frame.to_parquet(long)
    wide = tmp_path / "wide.csv"
    frame.pivot(index="ds", columns="unique_id", values="y").reset_index().to_csv(wide, index=False)
    a = read_user_file(long, freq="D")
    b = read_user_file(wide, layout="wide", time_col="ds", freq="D")
    pd.testing.assert_frame_equal(a.df, b.df)


def test_when_user_file_does_not_exist_then_error_names_it(tmp_path):
    with pytest.raises(DataFormatError, match=r"nope\.csv: no such file"):
        read_user_file(tmp_path / "nope.csv")


def test_when_reader_name_is_unknown_then_error_suggests_close_names():
    with pytest.raises(UnknownNameError, match="Did you mean 'tsf'"):
        get_reader("tfs")


def test_when_subset_is_unknown_then_load_suggests_it():
    with pytest.raises(UnknownNameError, match="Did you mean 'Hourly'"):
        load_panel("m4", "Hourly ")


def _tsf(tmp_path: Path, body: str) -> Path:
    f = tmp_path / "x.tsf"
    f.write_text(body)
    return f


def test_when_tsf_has_missing_values_then_they_are_nan(tmp_path):
    f = _tsf(
        tmp_path,
        "@relation r\n@attribute series_name string\n@attribute start_timestamp date\n@frequency monthly\n"
        "@horizon 6\n@missing true\n@equallength false\n@data\n"
        "T1:2020-01-01 00-00-00:1,?,3\nT2:2021-06-01 00-00-00:4,5\n",
    )
    frame, meta = parse_tsf(f)
    assert meta["horizon"] == 6 and meta["freq"] == "MS" and meta["season_length"] == 12
    assert frame["y"].isna().sum() == 1
    assert frame.loc[frame["unique_id"] == "T2", "ds"].tolist() == [
        pd.Timestamp("2021-06-01"),
        pd.Timestamp("2021-07-01"),
    ]


def test_when_tsf_is_truncated_before_data_then_error_says_so(tmp_path):
    f = _tsf(tmp_path, "@relation r\n@attribute series_name string\n@frequency weekly\n")
    with pytest.raises(DataFormatError, match="no @data section"):
        parse_tsf(f)


def test_when_tsf_row_has_wrong_arity_then_error_gives_the_line(tmp_path):
    f = _tsf(tmp_path, "@attribute series_name string\n@attribute start_timestamp date\n@data\nT1:1,2,3\n")
    with pytest.raises(DataFormatError, match=r"x.tsf:4: expected 2 attributes"):
        parse_tsf(f)


_TSF_HEAD = "@relation r\n@attribute series_name string\n@attribute start_timestamp date\n@frequency monthly\n@data\n"


def test_when_tsf_has_crlf_line_ends_then_it_reads_as_with_lf(tmp_path):
    # the Monash archive's Zenodo files end lines in CRLF and write missing values as '?'
    body = "# comment\n" + _TSF_HEAD + "T1:2020-01-01 00-00-00:1,?,3\nT2:2021-06-01 00-00-00:?,5\n"
    lf, crlf = tmp_path / "lf.tsf", tmp_path / "crlf.tsf"
    lf.write_bytes(body.encode())
    crlf.write_bytes(body.replace("\n", "\r\n").encode())
    a, b = parse_tsf(lf)[0], parse_tsf(crlf)[0]
    pd.testing.assert_frame_equal(a, b)
    assert a["y"].isna().sum() == 2 and a["ds"].iloc[-1] == pd.Timestamp("2021-07-01")


def test_when_tsf_has_a_per_series_numeric_horizon_then_it_is_an_int_column(tmp_path):
    # CIF 2016: no start dates (ds counts observations), each series' horizon as a numeric attribute
    f = _tsf(
        tmp_path,
        "@relation CIF_2016\n@attribute series_name string\n@attribute horizon numeric\n@frequency monthly\n"
        "@missing false\n@equallength false\n@data\nT1:12:1,2,3\nT2:6:4,5\n",
    )
    frame, meta = parse_tsf(f)
    assert meta["horizon"] is None and meta["frequency"] == "monthly"
    assert frame["horizon"].tolist() == [12, 12, 12, 6, 6] and frame["horizon"].dtype == "int64"
    assert frame["ds"].tolist() == [0, 1, 2, 0, 1]


def test_when_tsf_attribute_equals_the_series_name_then_it_is_kept(tmp_path):
    f = _tsf(tmp_path, "@attribute series_name string\n@attribute region string\n@data\nA:A:1,2\nB:north:3\n")
    frame, _ = parse_tsf(f)
    assert frame.groupby("unique_id")["region"].first().to_dict() == {"A": "A", "B": "north"}


def test_when_tsf_value_is_not_a_number_then_error_names_line_series_and_the_missing_marker(tmp_path):
    f = _tsf(tmp_path, _TSF_HEAD + "T1:2020-01-01 00-00-00:1,2,3\nT2:2020-01-01 00-00-00:4,NA,6\n")
    with pytest.raises(DataFormatError, match=r"x.tsf:7: value 2 of series 'T2' is 'NA', not a number; .*'\?'"):
        parse_tsf(f)


def test_when_tsf_frequency_is_unknown_then_error_names_its_line_and_the_known_ones(tmp_path):
    f = _tsf(tmp_path, _TSF_HEAD.replace("monthly", "fortnightly") + "T1:2020-01-01 00-00-00:1,2\n")
    with pytest.raises(DataFormatError, match=r"x.tsf:4: unknown @frequency 'fortnightly'; use one of yearly, .*"):
        parse_tsf(f)


def test_when_tsf_has_dates_but_no_frequency_then_error_asks_for_one(tmp_path):
    f = _tsf(tmp_path, _TSF_HEAD.replace("@frequency monthly\n", "") + "T1:2020-01-01 00-00-00:1,2\n")
    with pytest.raises(DataFormatError, match=r"x.tsf: series carry start dates .* add an '@frequency NAME' line"):
        parse_tsf(f)


@pytest.mark.parametrize(
    ("start", "what"), [("2020-13-01 00-00-00", "is not a date"), ("2020-01-15 00-00-00", "is not on the 'MS' grid")]
)
def test_when_tsf_start_is_bad_then_error_names_the_line(tmp_path, start, what):
    f = _tsf(tmp_path, _TSF_HEAD + f"T1:{start}:1,2\n")
    with pytest.raises(DataFormatError, match=rf"x.tsf:6: start timestamp '{start}' {what}"):
        parse_tsf(f)
