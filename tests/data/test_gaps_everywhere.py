"""Gaps everywhere: `workbench datasets add --gap-policy` over the seeded fleet, one checker for CSV,
parquet and wide files (the same rows, the same verdict and message), count series checked at
`datasets add`, and the explore / observability helpers on a card whose series miss stamps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from workbench.cli import app
from workbench.config import CATALOG_ENV
from workbench.data.synthetic import write_fleet
from workbench.errors import DataFormatError
from workbench.sources.checks import RowChecker
from workbench.tasks import Task

runner = CliRunner()
N_HOURS = 24 * 10


@pytest.fixture(autouse=True)
def own_catalog(tmp_path, monkeypatch):
    """`--catalog` sets the catalog variable in this process: each test restores it."""
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "cards"))


@pytest.fixture
def fleet(tmp_path):
    return write_fleet(tmp_path / "fleet", seed=3, hosts_per_service=1, n_hours=N_HOURS, n_missing=9, n_anomalies=4)


def _fleet_rows(fleet) -> pd.DataFrame:
    parts = sorted(Path(fleet.data).glob("service=*/part-0.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def _absent(rows: pd.DataFrame) -> set[tuple[str, pd.Timestamp]]:
    """The (series, stamp) pairs the fleet left out, from the files themselves."""
    out = set()
    for uid, g in rows.groupby("unique_id"):
        grid = pd.date_range(g["ds"].min(), g["ds"].max(), freq="h")
        out |= {(uid, t) for t in grid.difference(pd.DatetimeIndex(g["ds"]))}
    return out


def _add(name: str, path, cards: Path, *extra: str):
    args = ["datasets", "add", name, "--path", str(path), "--catalog", str(cards), *extra]
    return runner.invoke(app, args, env={"COLUMNS": "1000"})


def _body(output: str) -> str:
    """An error's message without the file's path and the CSV line (what differs between formats)."""
    text = " ".join(output.split())
    text = re.sub(r"\S+\.(csv|parquet): ", "FILE: ", text)
    return re.sub(r" \(line \d+\)", "", text)


FLEET_ARGS = ("--season-length", "24", "--horizon", "24", "--metadata-cols", "metric_type,metric,service,host")


def test_when_the_fleet_is_added_without_a_gap_policy_then_the_error_names_series_stamps_and_fix(fleet, tmp_path):
    rows = _fleet_rows(fleet)
    absent = _absent(rows)
    assert len(absent) == fleet.n_missing
    cards = tmp_path / "cards"
    result = _add("fleetcard", fleet.data, cards, *FLEET_ARGS)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    found = re.search(r"row (\d+): series '([^']+)' misses (\d+) stamp\(s\) .*first missing: ([0-9: -]+)\)", text)
    assert found, text
    uid, stamp = found.group(2), pd.Timestamp(found.group(4))
    assert (uid, stamp) in absent, "the stamp named is one the files miss"
    assert f"{fleet.n_missing} stamp(s) are missing in" in text, "the total over every file"
    assert "--gap-policy by_metric_type" in text and "ffill, zero or nan" in text
    assert not cards.exists() or not list(cards.iterdir()), "nothing is written on refusal"


def test_when_the_fleet_is_added_with_a_gap_policy_then_the_card_records_it_and_tasks_fill_the_gaps(
    fleet, tmp_path, monkeypatch
):
    rows = _fleet_rows(fleet)
    absent = _absent(rows)
    cards = tmp_path / "cards"
    result = _add("fleetcard", fleet.data, cards, *FLEET_ARGS, "--gap-policy", "by_metric_type")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    n_series = rows["unique_id"].nunique()
    assert f"{n_series} series, {len(rows)} rows in 5 file(s), frequency h" in text
    gappy = pd.Series([u for u, _ in absent]).value_counts()
    assert f"gaps: {fleet.n_missing} stamp(s) missing in {len(gappy)} series" in text
    assert f"{gappy.index[0]} {gappy.iloc[0]}" in text, "the series missing the most stamps is listed"
    card = yaml.safe_load((cards / "fleetcard.yaml").read_text())
    assert card["gap_policy"] == "by_metric_type" and card["allow_missing"] is True and card["freq"] == "h"

    monkeypatch.setenv(CATALOG_ENV, str(cards))
    task = Task(dataset="fleetcard", protocol="rolling", n_windows=2)
    assert task.gap_policy == "by_metric_type" and "gaps=by_metric_type" in task.describe()
    windows = list(task.windows())
    assert len(windows) == 2
    last = pd.concat([windows[-1].past.df, windows[-1].truth.df], ignore_index=True)
    assert last.groupby("unique_id").size().eq(N_HOURS).all(), "every series is whole on its grid"
    kinds = rows.groupby("unique_id")["metric_type"].first()
    values = last.set_index(["unique_id", "ds"])["y"]
    for uid, stamp in absent:
        filled = values[(uid, stamp)]
        if kinds[uid] == "count":
            assert filled == 0.0
        else:  # a gauge holds its last value
            previous = rows[(rows["unique_id"] == uid) & (rows["ds"] < stamp)].sort_values("ds")["y"].iloc[-1]
            assert filled == pytest.approx(previous)
    # a task that asks for no gap policy over such a card says so in its key, and reads back as asked
    plain = Task(dataset="fleetcard", protocol="rolling", n_windows=2, gap_policy="none")
    assert plain.resolved()["gap_policy"] == "none" and plain.key() != task.key()
    assert Task.from_resolved(plain.resolved()).gap_policy == "none"
    assert Task.from_resolved(task.resolved()).key() == task.key()


def test_when_by_metric_type_is_asked_of_series_without_a_type_then_add_refuses_naming_one(fleet, tmp_path):
    cards = tmp_path / "cards"
    args = ("--season-length", "24", "--metadata-cols", "metric,service,host", "--gap-policy", "by_metric_type")
    result = _add("untyped", fleet.data, cards, *args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert re.search(r"row 1: series '[^']+' has no metric type", text) and "--gap-policy ffill, zero or nan" in text
    assert not cards.exists() or not list(cards.iterdir())


def _hourly_and_daily() -> pd.DataFrame:
    hourly = pd.DataFrame(
        {"unique_id": "a-hourly", "ds": pd.date_range("2024-01-01", periods=72, freq="h"), "y": np.arange(72.0)}
    )
    daily = pd.DataFrame(
        {"unique_id": "b-daily", "ds": pd.date_range("2024-01-01", periods=10, freq="D"), "y": np.arange(10.0)}
    )
    return pd.concat([hourly, daily], ignore_index=True).assign(metric_type="gauge")


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=20)  # several row groups: the batches differ
    return path


@pytest.mark.parametrize("policy", [(), ("--gap-policy", "ffill")])
def test_when_one_file_holds_an_hourly_and_a_daily_series_then_csv_and_parquet_get_the_same_refusal(tmp_path, policy):
    frame = _hourly_and_daily()
    cards = tmp_path / "cards"
    outputs = {}
    for suffix in ("csv", "parquet"):
        path = _write(frame, tmp_path / f"mixed.{suffix}")
        result = _add("mixed", path, cards, "--metadata-cols", "metric_type", *policy)
        assert result.exit_code == 2, result.output
        assert f"mixed.{suffix}" in result.output
        outputs[suffix] = _body(result.output)
    assert outputs["csv"] == outputs["parquet"]
    body = outputs["csv"]
    assert "FILE: row 74: series 'b-daily' steps from 2024-01-01 00:00:00 to 2024-01-02 00:00:00" in body
    assert "(1 days 00:00:00)" in body and "(0 days 01:00:00)" in body and "a second frequency" in body
    assert not cards.exists() or not list(cards.iterdir())


def test_when_a_step_is_off_the_grid_then_a_gap_policy_does_not_accept_it(tmp_path):
    frame = _hourly_and_daily().iloc[:72].copy()
    frame.loc[40:, "ds"] = frame.loc[40:, "ds"] + pd.Timedelta(minutes=15)  # row 41 steps 1h15
    cards = tmp_path / "cards"
    outputs = []
    for suffix in ("csv", "parquet"):
        path = _write(frame, tmp_path / f"off.{suffix}")
        result = _add("off", path, cards, "--freq", "h", "--gap-policy", "zero")
        assert result.exit_code == 2, result.output
        outputs.append(_body(result.output))
    assert outputs[0] == outputs[1]
    assert "FILE: row 41: series 'a-hourly' steps from 2024-01-02 15:00:00 to 2024-01-02 16:15:00" in outputs[0]
    assert "(0 days 01:15:00), not one step of its frequency 'h' (0 days 01:00:00)" in outputs[0]


def _counts(values: list[float]) -> pd.DataFrame:
    gauge = pd.DataFrame(
        {"unique_id": "g", "ds": pd.date_range("2024-01-01", periods=30, freq="h"), "y": np.linspace(0, 3, 30)}
    ).assign(metric_type="gauge")
    count = pd.DataFrame(
        {"unique_id": "k", "ds": pd.date_range("2024-01-01", periods=len(values), freq="h"), "y": values}
    ).assign(metric_type="count")
    return pd.concat([gauge, count], ignore_index=True)


@pytest.mark.parametrize(
    ("bad", "value", "what"), [(-2.0, "-2.0", "negative"), (2.5, "2.5", "not an integer")], ids=["negative", "fraction"]
)
def test_when_a_count_series_holds_a_bad_value_then_add_names_file_row_series_and_value(tmp_path, bad, value, what):
    values = [float(v) for v in range(25)]
    values[17] = bad  # file row 30 + 18 = 48, in the third row group of 20
    frame = _counts(values)
    cards = tmp_path / "cards"
    outputs = []
    for suffix in ("csv", "parquet"):
        path = _write(frame, tmp_path / f"counts.{suffix}")
        result = _add("counts", path, cards, "--metadata-cols", "metric_type")
        assert result.exit_code == 2, result.output
        assert f"counts.{suffix}: row 48" in " ".join(result.output.split())
        outputs.append(_body(result.output))
    assert outputs[0] == outputs[1]
    assert f"FILE: row 48: count series 'k' has value {value} at ds=2024-01-01 17:00:00, {what}" in outputs[0]
    assert not cards.exists() or not list(cards.iterdir())
    # the same values as a gauge are fine: the type decides
    frame.loc[frame["unique_id"] == "k", "metric_type"] = "gauge"
    gauges = _write(frame, tmp_path / "gauges.parquet")
    assert _add("counts", gauges, cards, "--metadata-cols", "metric_type").exit_code == 0


def test_when_a_wide_file_misses_stamps_then_the_gap_policy_decides_for_every_column(tmp_path):
    stamps = pd.date_range("2024-01-01", periods=60, freq="h").delete([10, 11, 40])
    wide = pd.DataFrame({"ds": stamps, "a": np.arange(57.0), "b": np.arange(57.0) * 2})
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    cards = tmp_path / "cards"
    refused = _add("wide", path, cards, "--layout", "wide", "--freq", "h")
    text = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "row 11 (line 12): the time column 'ds' misses 3 stamp(s)" in text
    assert "first missing: 2024-01-01 10:00:00, 2024-01-01 11:00:00, 2024-01-02 16:00:00" in text
    assert "--gap-policy" in text
    accepted = _add("wide", path, cards, "--layout", "wide", "--freq", "h", "--gap-policy", "ffill")
    assert accepted.exit_code == 0, accepted.output
    assert "gaps: 3 stamp(s) missing in 1 series" in " ".join(accepted.output.split())


def _bad_frames() -> dict[str, pd.DataFrame]:
    base = _hourly_and_daily().iloc[:72].copy()
    two = pd.concat([base, base.assign(unique_id="c-hourly")], ignore_index=True)
    dup = two.copy()
    dup.loc[90, "ds"] = dup.loc[89, "ds"]
    gap = two.drop(index=[30, 31, 100]).reset_index(drop=True)
    meta = two.copy()
    meta.loc[50:, "metric_type"] = "rate"
    back = two.iloc[::-1].reset_index(drop=True)
    return {"dup": dup, "gap": gap, "meta": meta, "back": back, "mixed": _hourly_and_daily(), "ok": two}


@pytest.mark.parametrize("case", ["dup", "gap", "meta", "back", "mixed", "ok"])
def test_when_rows_come_in_batches_of_any_size_then_the_checker_gives_one_verdict(case):
    frame = _bad_frames()[case]

    def verdict(size: int) -> str:
        checker = RowChecker("f.parquet", freq="h", metadata_cols=["metric_type"], allow_missing=False)
        try:
            for a in range(0, len(frame), size):
                part = frame.iloc[a : a + size].reset_index(drop=True)
                checker.feed(part["unique_id"].to_numpy(), part, a + 1)
            gaps = checker.finish()
        except DataFormatError as exc:
            return str(exc)
        return "ok" if not gaps.series else "gaps"

    verdicts = {verdict(size) for size in (len(frame), 1, 7, 50)}
    assert len(verdicts) == 1, verdicts
    assert (verdicts.pop() == "ok") == (case == "ok")


def test_when_a_card_has_gaps_then_explore_and_the_series_profile_count_them(fleet, monkeypatch):
    from workbench.observability import series_profile
    from workbench.report import explore

    monkeypatch.setenv(CATALOG_ENV, str(fleet.catalog))
    absent = _absent(_fleet_rows(fleet))
    panel = explore.load("fleet")
    missing = explore.missing_summary(panel)
    assert missing["absent_timestamps"].sum() == fleet.n_missing and (missing["nan_values"] == 0).all()
    for uid, first in zip(missing["unique_id"], missing["first_absent"], strict=True):
        assert (uid, pd.Timestamp(first.split(", ")[0])) in absent
    features = explore.series_features(panel)
    assert features["absent"].sum() == fleet.n_missing and features["trend"].notna().all()

    profile = series_profile("fleet").set_index("unique_id")  # the card declares no gap policy: rows as recorded
    assert profile["missing_stamps"].sum() == fleet.n_missing and (profile["gap_policy"] == "none").all()
    assert profile["n_rows"].sum() == N_HOURS * len(profile) - fleet.n_missing
    filled = series_profile("fleet", gap_policy="nan").set_index("unique_id")
    assert (filled["n_rows"] == N_HOURS).all()
    assert (filled["missing_share"] * N_HOURS).round().astype(int).equals(filled["missing_stamps"])
    assert set(filled.loc[filled["metric_type"] == "count", "value_kind"]) == {"non-negative integers"}
