"""Your own data as a source: user cards beside the shipped catalog, `workbench datasets add` and its
checks (errors name the file and the row, nothing is written), fingerprints that see every file
change, and tasks over data handed over in memory."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from workbench.cli import app
from workbench.config import CATALOG_ENV
from workbench.data import Panel, all_cards, get_card
from workbench.data.cards import UserCard
from workbench.data.catalog import load_panel as catalog_load_panel
from workbench.data.catalog import verify_dataset as catalog_verify_dataset
from workbench.errors import DataFormatError, DataIntegrityError, WorkbenchError
from workbench.sources import load_panel, open_dataset, verify_dataset
from workbench.sources.chunkfiles import read_panel_file, write_panel_chunks
from workbench.tasks import Task

runner = CliRunner()


def long_frame(ids, n: int = 60, freq: str = "h", start: str = "2024-01-01", seed: int = 0) -> pd.DataFrame:
    """Hourly seasonal series in a user's own column names, sorted by series then time."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, uid in enumerate(ids):
        t = np.arange(n)
        y = 50 + k + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, n)
        if k % 3 == 1:  # a count: non-negative integers (the workbench checks them)
            y = np.round(y)
        frames.append(
            pd.DataFrame(
                {
                    "series": uid,
                    "ts": pd.date_range(start, periods=n, freq=freq),
                    "value": y,
                    "metric_type": ["gauge", "count", "rate"][k % 3],
                    "host": f"h{k % 2}",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def hive_folder(root: Path, n_files: int = 4, per_file: int = 3, n: int = 60) -> pd.DataFrame:
    """`root/bucket=NN/part-0.parquet`, a few series per file, one row group per series."""
    everything = []
    for b in range(n_files):
        frame = long_frame([f"s{b:02d}-{i}" for i in range(per_file)], n=n, seed=b)
        folder = root / f"bucket={b:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / "part-0.parquet", index=False, row_group_size=n)
        everything.append(frame)
    return pd.concat(everything, ignore_index=True)


def write_card(folder: Path, name: str, path, **fields) -> Path:
    source = {"path": str(path), "id_col": "series", "time_col": "ts", "target_col": "value"}
    source.update(fields.pop("source", {}))
    card = {"name": name, "source": source, "freq": "h", "season_length": 24, "horizon": 12, **fields}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(card))
    return folder / f"{name}.yaml"


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    monkeypatch.setenv(CATALOG_ENV, str(folder))
    return folder


def test_when_a_user_card_sits_beside_the_shipped_cards_then_both_are_found(tmp_path, catalog):
    hive_folder(tmp_path / "data")
    write_card(catalog, "mydata", tmp_path / "data", source={"metadata_cols": ["metric_type", "host", "bucket"]})
    cards = all_cards()
    assert "m4" in cards and isinstance(cards["mydata"], UserCard)
    task = Task(dataset="mydata", protocol="rolling", n_windows=2)
    assert (task.h, task.m, task.subset) == (12, 24, "all") and "data_fingerprint" not in task.resolved()
    assert task.describe() == "mydata/all rolling 2x12 step 12 expanding h=12 m=24"
    with pytest.raises(ValueError, match="has no test split: use protocol='rolling'"):
        Task(dataset="mydata")
    panel = load_panel("mydata")
    assert panel.n_series == 12 and len(panel) == 12 * 60 and panel.freq == "h"
    per_series = panel.df.groupby("unique_id")[["metric_type", "host", "bucket"]].nunique()
    assert (per_series == 1).all().all(), "metadata columns hold one value per series"
    assert panel.df.loc[panel.df["unique_id"] == "s02-1", "bucket"].iloc[0] == "02"  # the hive key
    assert len(panel.attrs["data_hash"]) == 64


def test_when_a_user_card_takes_a_shipped_name_then_the_error_names_both_files(tmp_path, catalog):
    hive_folder(tmp_path / "data")
    mine = write_card(catalog, "m4", tmp_path / "data")
    with pytest.raises(DataFormatError) as err:
        get_card("m4")
    assert str(mine.resolve()) in str(err.value) and "datasets/m4.yaml" in str(err.value)


def test_when_datasets_add_checks_a_hive_folder_then_the_card_is_written_and_reads_back(tmp_path, monkeypatch):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    hive_folder(tmp_path / "data")
    cards = tmp_path / "cards"
    args = [
        "datasets",
        "add",
        "svc",
        "--path",
        str(tmp_path / "data"),
        "--id-col",
        "series",
        "--time-col",
        "ts",
        "--target-col",
        "value",
        "--season-length",
        "24",
        "--horizon",
        "12",
        "--metadata-cols",
        "metric_type,service",
        "--catalog",
        str(cards),
    ]
    bad = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert bad.exit_code == 2 and "missing column(s) ['service']" in bad.output and "part-0.parquet" in bad.output
    assert not (cards / "svc.yaml").exists()
    args[args.index("metric_type,service")] = "metric_type,host"
    result = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "12 series, 720 rows in 4 file(s), frequency h" in result.output
    card = yaml.safe_load((cards / "svc.yaml").read_text())
    assert card["freq"] == "h" and card["n_series"] == 12 and card["source"]["metadata_cols"] == ["metric_type", "host"]
    info = runner.invoke(app, ["datasets", "info", "svc", "--catalog", str(cards)], env={"COLUMNS": "250"})
    assert info.exit_code == 0 and "metric_type, host" in info.output
    listed = runner.invoke(app, ["datasets", "list", "--catalog", str(cards)], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and "svc" in listed.output and "m4" in listed.output
    again = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert again.exit_code == 2 and "already the card" in again.output


def _unsorted(frame):
    return pd.concat([frame.iloc[60:120], frame.iloc[:60], frame.iloc[120:]], ignore_index=True)


def _duplicated(frame):
    out = frame.copy()
    out.loc[10, "ts"] = out.loc[9, "ts"]
    return out


def _mixed(frame):
    out = frame.copy()
    out.loc[130:, "ts"] = out.loc[130, "ts"] + pd.to_timedelta(np.arange(len(out) - 130) * 15, unit="min")
    return out


@pytest.mark.parametrize(
    ("suffix", "change", "expected"),
    [
        ("csv", lambda f: f.drop(columns=["value"]), r"missing column\(s\) \['value'\]"),
        ("csv", _unsorted, r"row 61 \(line 62\): series 's-0' comes after 's-1'"),
        ("parquet", _unsorted, r"row 61: series 's-0' comes after 's-1'"),
        ("csv", _duplicated, r"row 11 \(line 12\): duplicate timestamp ds=2024-01-01 09:00:00 in series 's-0'"),
        ("parquet", _duplicated, r"row 11: duplicate timestamp"),
        ("csv", _mixed, r"row 132 \(line 133\): series 's-2' steps from .* not one step of its frequency 'h'"),
        ("parquet", _mixed, r"row 132: series 's-2' steps from"),
    ],
)
def test_when_datasets_add_meets_bad_rows_then_the_error_names_file_and_row_and_nothing_is_written(
    tmp_path, suffix, change, expected
):
    frame = change(long_frame(["s-0", "s-1", "s-2"]))
    path = tmp_path / f"metrics.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path, index=False, row_group_size=50)
    cards = tmp_path / "cards"
    args = [
        "datasets",
        "add",
        "bad",
        "--path",
        str(path),
        "--id-col",
        "series",
        "--time-col",
        "ts",
        "--target-col",
        "value",
        "--freq",
        "h",
        "--catalog",
        str(cards),
    ]
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert f"metrics.{suffix}" in result.output
    assert re.search(expected, result.output.replace("\n", "")), result.output
    assert not cards.exists() or not list(cards.iterdir()), "nothing is written when a check fails"


def test_when_datasets_add_points_at_a_missing_path_or_one_series_in_two_files_then_it_refuses(tmp_path):
    cards = tmp_path / "cards"
    base = [
        "datasets",
        "add",
        "x",
        "--id-col",
        "series",
        "--time-col",
        "ts",
        "--target-col",
        "value",
        "--catalog",
        str(cards),
    ]
    missing = runner.invoke(app, [*base, "--path", str(tmp_path / "nope")], env={"COLUMNS": "300"})
    assert missing.exit_code == 2 and "nope: no such file or folder" in missing.output
    (tmp_path / "two").mkdir()
    long_frame(["a", "b"]).to_parquet(tmp_path / "two" / "p1.parquet", index=False)
    long_frame(["b", "c"], start="2024-03-01").to_parquet(tmp_path / "two" / "p2.parquet", index=False)
    twice = runner.invoke(app, [*base, "--path", str(tmp_path / "two")], env={"COLUMNS": "300"})
    assert twice.exit_code == 2 and "series 'b' is also in" in twice.output and "p1.parquet" in twice.output
    assert not cards.exists() or not list(cards.glob("*.yaml"))


def test_when_a_card_points_at_a_missing_path_then_a_task_over_it_says_which(tmp_path, catalog):
    write_card(catalog, "gone", tmp_path / "nowhere")
    with pytest.raises(DataFormatError, match=r"gone.yaml: source path .*nowhere: no such file or folder"):
        load_panel("gone")


def test_when_one_series_is_in_two_files_then_planning_names_both_files(tmp_path, catalog):
    (tmp_path / "two").mkdir()
    long_frame(["a", "b"]).to_parquet(tmp_path / "two" / "p1.parquet", index=False)
    long_frame(["b", "c"], start="2024-03-01").to_parquet(tmp_path / "two" / "p2.parquet", index=False)
    write_card(catalog, "two", tmp_path / "two")
    with pytest.raises(DataFormatError, match=r"series 'b' is in two files, p1.parquet and p2.parquet"):
        open_dataset("two").plan(chunk_size=10)


def test_when_csv_parquet_and_wide_cards_hold_the_same_series_then_they_load_the_same(tmp_path, catalog):
    frame = long_frame(["a", "b", "c"])
    frame.to_csv(tmp_path / "long.csv", index=False)
    frame.to_parquet(tmp_path / "long.parquet", index=False)
    wide = frame.pivot(index="ts", columns="series", values="value").reset_index()
    wide.to_csv(tmp_path / "wide.csv", index=False)
    write_card(catalog, "csv", tmp_path / "long.csv")
    write_card(catalog, "pq", tmp_path / "long.parquet")
    write_card(catalog, "wide", tmp_path / "wide.csv", source={"layout": "wide"})
    a, b, c = (load_panel(name).df[["unique_id", "ds", "y"]] for name in ("csv", "pq", "wide"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_when_a_file_changes_then_only_its_chunks_change_their_data_hash(tmp_path, catalog):
    hive_folder(tmp_path / "data")
    write_card(catalog, "mydata", tmp_path / "data")
    source = open_dataset("mydata")
    before = {r.key: r.data_hash for r in source.plan(chunk_size=2)}
    fp = source.fingerprint()
    touched = tmp_path / "data" / "bucket=01" / "part-0.parquet"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    source = open_dataset("mydata")
    after = {r.key: r.data_hash for r in source.plan(chunk_size=2)}
    assert before.keys() == after.keys() and len(before) == 8  # 3 series per file: units of 2 and 1
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["bucket=01/part-0.parquet#0-1", "bucket=01/part-0.parquet#2-2"]
    assert source.fingerprint() != fp


def test_when_a_pinned_file_differs_from_its_hash_then_planning_refuses_it(tmp_path, catalog):
    long_frame(["a"]).to_parquet(tmp_path / "one.parquet", index=False)
    write_card(catalog, "pinned", tmp_path / "one.parquet", source={"sha256": {"one.parquet": "0" * 64}})
    with pytest.raises(DataIntegrityError, match=r"one.parquet: sha256 mismatch, expected 0000"):
        open_dataset("pinned").plan(chunk_size=10)


def test_when_a_user_card_is_verified_then_pinned_files_are_hashed_where_they_are(tmp_path, catalog):
    for name in ("one", "two"):
        long_frame([name]).to_parquet(tmp_path / f"{name}.parquet", index=False)
    good = hashlib.sha256((tmp_path / "one.parquet").read_bytes()).hexdigest()
    write_card(catalog, "pinned", tmp_path, source={"sha256": {"one.parquet": good, "two.parquet": "0" * 64}})
    rows = {r["file"]: r for r in verify_dataset("pinned", progress=False)}
    assert rows["one.parquet"]["status"] == "ok" and rows["one.parquet"]["detail"] == f"sha256:{good[:16]}…"
    assert rows["two.parquet"]["status"] == "corrupt" and "expected 0000" in rows["two.parquet"]["detail"]
    write_card(catalog, "loose", tmp_path / "one.parquet")
    assert [r["status"] for r in verify_dataset("loose")] == ["ok"]
    assert verify_dataset("loose")[0]["detail"].startswith("unpinned: ")


def test_when_the_catalog_is_asked_for_a_user_card_then_it_names_the_source_that_reads_it(tmp_path, catalog):
    long_frame(["a"]).to_parquet(tmp_path / "one.parquet", index=False)
    write_card(catalog, "mine", tmp_path / "one.parquet")
    with pytest.raises(WorkbenchError, match=r"mine is a user card .* workbench.sources.load_panel\('mine'\)"):
        catalog_load_panel("mine")
    with pytest.raises(WorkbenchError, match=r"workbench.sources.verify_dataset\('mine'\)"):
        catalog_verify_dataset("mine")
    assert load_panel("mine").n_series == 1


def test_when_a_panel_is_cut_into_chunks_then_each_chunk_holds_exactly_its_series(tmp_path):
    df = pd.DataFrame(
        {
            "unique_id": np.repeat([f"u{i:03d}" for i in range(23)], 5),
            "ds": np.tile(np.arange(5), 23),
            "y": np.arange(115.0),
        }
    )
    train = Panel.from_long(df, horizon=2)
    test = Panel.from_long(df.assign(ds=df["ds"] + 5).groupby("unique_id").head(2), horizon=2)
    refs = write_panel_chunks(str(tmp_path / "chunks"), train, test, 10, "h")
    assert [r.n_series for r in refs] == [10, 10, 3]
    for ref in refs:
        part, tpart = read_panel_file(ref.train), read_panel_file(ref.test)
        expected = df[(df["unique_id"] >= ref.first_id) & (df["unique_id"] <= ref.last_id)]
        assert part.df["y"].tolist() == expected["y"].tolist()
        assert list(tpart.ids) == list(part.ids) and (tpart.lengths() == 2).all()


def test_when_tasks_are_built_over_in_memory_data_then_their_keys_follow_the_data(tmp_path):
    frame = long_frame(["a", "b"]).rename(columns={"series": "unique_id", "ts": "ds", "value": "y"})
    one = Task.for_data(frame, horizon=12, season_length=24, freq="h", name="mine")
    same = Task.for_data(frame.copy(), horizon=12, season_length=24, freq="h", name="mine")
    other = Task.for_data(frame.assign(y=frame["y"] + 1), horizon=12, season_length=24, freq="h", name="mine")
    assert one == same and hash(one) == hash(same) and one.key() == same.key()
    assert other.key() != one.key() and one.describe().startswith(f"mine/all@{one.data_fingerprint[:8]} rolling")
    with pytest.raises(Exception, match="frozen"):
        one.horizon = 3  # type: ignore[misc]
    windows = list(one.windows())
    assert len(windows) == 1 and windows[0].truth.lengths().tolist() == [12, 12]
    again = Task.from_resolved(one.resolved())  # another process: the fields say it all
    assert again.key() == one.key()


def test_when_workbench_run_meets_an_unsorted_file_then_it_exits_2_naming_the_file_and_row(tmp_path, monkeypatch):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    (tmp_path / "data").mkdir()
    long_frame(["a", "b"]).to_parquet(tmp_path / "data" / "ok.parquet", index=False)
    _unsorted(long_frame(["c", "d", "e"])).to_parquet(tmp_path / "data" / "bad.parquet", index=False)
    write_card(tmp_path / "cards", "mixed", tmp_path / "data")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"tasks": [{"dataset": "mixed", "protocol": "rolling"}], "models": ["naive"]}))
    args = [
        "run",
        str(grid),
        "--store",
        str(tmp_path / "store"),
        "--workers",
        "1",
        "--catalog",
        str(tmp_path / "cards"),
    ]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert re.search(r"bad.parquet: row 61: series 'c' comes after 'd'", result.output.replace("\n", ""))
    assert not (tmp_path / "store" / "units").exists()


def test_when_file_backed_data_go_to_dask_then_partitions_are_row_groups_and_no_series_is_split(tmp_path, catalog):
    hive_folder(tmp_path / "data")
    write_card(catalog, "mydata", tmp_path / "data")
    ddf = open_dataset("mydata").to_dask(chunk_size=2)
    assert ddf.npartitions == 8  # 4 files, units of 2 + 1 series
    owners: dict[str, int] = {}
    for i in range(ddf.npartitions):
        for uid in ddf.get_partition(i).compute().index.unique():
            assert uid not in owners, f"{uid} in partitions {owners[uid]} and {i}"
            owners[uid] = i
    whole = load_panel("mydata").df[["unique_id", "ds", "y"]]
    got = ddf.compute().reset_index()[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"], ignore_index=True)
    got["unique_id"] = got["unique_id"].astype(object)  # dask hands strings back as arrow strings
    pd.testing.assert_frame_equal(got, whole)
    panel = Panel.from_long(
        long_frame(["a", "b", "c"]).rename(columns={"series": "unique_id", "ts": "ds", "value": "y"})
    )
    path = tmp_path / "panel.parquet"
    panel.to_parquet(path)
    lazy = Panel.dask_from_parquet(path)
    assert lazy.divisions == ("a", "c") and len(lazy.compute()) == len(panel)
    assert panel.to_dask(npartitions=3).divisions == ("a", "b", "c", "c")
