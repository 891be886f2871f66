"""Catalog subsets are cut into chunk files a batch at a time: no process holds a whole subset.

A spy on the one place a catalog frame becomes a Panel (`split_panel`) records the size of every
frame read while M4 Hourly is cut into chunks; the largest is one chunk's worth of series. The chunk
files together are exactly the subset the whole-file path loads, and the engine's scores over them
equal the sequential harness's. A test file out of step with its train file is an error naming the
series, and no index (the chunks' visibility) is written.
"""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import load_holdout
from workbench.errors import DataFormatError
from workbench.sources import catalog as catalog_cut
from workbench.sources.chunkfiles import read_panel_file

KEY = ["unique_id", "ds"]


@pytest.fixture
def chunk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _spy(monkeypatch) -> list[tuple[str, int, int]]:
    seen: list[tuple[str, int, int]] = []
    real = catalog_cut.split_panel

    def spy(card, subset, split, frame, keys):
        seen.append((split, len(frame), frame["unique_id"].nunique()))
        return real(card, subset, split, frame, keys)

    monkeypatch.setattr(catalog_cut, "split_panel", spy)
    return seen


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY).reset_index(drop=True)


def test_when_m4_hourly_is_cut_then_no_read_holds_more_than_one_chunk_and_the_chunks_are_the_subset(
    chunk_cache, monkeypatch
):
    seen = _spy(monkeypatch)
    refs = catalog_cut.cut_catalog_chunks("m4", "Hourly", "holdout", 50)
    train, test = load_holdout("m4", "Hourly")

    assert [r.n_series for r in refs] == [50] * 8 + [14]
    assert max(n for _, _, n in seen) == 50  # series per read: one chunk's worth of the 414
    assert max(rows for split, rows, _ in seen if split == "train") < len(train) / 5
    assert {split for split, _, _ in seen} == {"train", "test"}
    cut_train = pd.concat([read_panel_file(r.train).df for r in refs])
    cut_test = pd.concat([read_panel_file(r.test).df for r in refs])
    pd.testing.assert_frame_equal(_sorted(cut_train), _sorted(train.df))
    pd.testing.assert_frame_equal(_sorted(cut_test), _sorted(test.df))

    seen.clear()
    assert catalog_cut.cut_catalog_chunks("m4", "Hourly", "holdout", 50) == refs
    assert seen == []  # the index is reused: nothing read


def test_when_the_engine_runs_on_streamed_chunks_then_scores_equal_the_sequential_harness(chunk_cache, tmp_path):
    from distributed import Client, LocalCluster

    import workbench
    from workbench.sequential import evaluate_sequential
    from workbench.tasks import Task

    task = Task(dataset="m4", subset="Hourly")
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        engine = workbench.evaluate(
            task, ["naive2", "theta"], client=client, store=tmp_path / "store", chunk_size=100, progress=False
        )
    assert engine.n_computed == 2 * 5
    reference = pd.concat([evaluate_sequential(task, m) for m in ["naive2", "theta"]])
    cols = ["model", "unique_id", "metric"]
    a = engine.metrics()[[*cols, "value"]].sort_values(cols).reset_index(drop=True)
    b = reference[[*cols, "value"]].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_when_the_test_file_is_out_of_step_with_the_train_file_then_the_error_names_the_series(
    chunk_cache, tmp_path, monkeypatch
):
    real = catalog_cut.fetch_files

    def shuffled(specs, **kwargs):
        files = real(specs, **kwargs)
        out = {}
        for key, path in files.items():
            if key.endswith("Hourly-test.csv"):
                raw = pd.read_csv(path)
                moved = tmp_path / "Hourly-test.csv"
                pd.concat([raw.iloc[60:], raw.iloc[:60]]).to_csv(moved, index=False)
                path = moved
            out[key] = path
        return out

    monkeypatch.setattr(catalog_cut, "fetch_files", shuffled)
    with pytest.raises(DataFormatError, match=r"m4/Hourly/test: .*'H\d+'"):
        catalog_cut.cut_catalog_chunks("m4", "Hourly", "holdout", 50)
    assert not list(chunk_cache.rglob("index.json"))  # nothing made visible


@pytest.mark.parametrize(
    ("dataset", "subset", "chunk"),
    [("monash_sample", "ausgrid_weekly", 25), ("nab", "all", 10), ("cloud_monitoring", "all", 8)],
)
def test_when_a_tsf_or_per_file_card_is_cut_then_no_read_holds_more_than_a_chunk(
    chunk_cache, monkeypatch, dataset, subset, chunk
):
    from workbench.data import load_panel

    seen = _spy(monkeypatch)
    refs = catalog_cut.cut_catalog_chunks(dataset, subset, "rolling", chunk)
    whole = load_panel(dataset, subset)
    assert max(n for _, _, n in seen) <= chunk < whole.n_series  # a TSF's lines, or one file, per read
    assert sum(r.n_series for r in refs) == whole.n_series
    cut = pd.concat([read_panel_file(r.train).df for r in refs])
    order = ["unique_id", "ds"]
    pd.testing.assert_frame_equal(
        cut.sort_values(order, kind="stable").reset_index(drop=True),
        whole.df.sort_values(order, kind="stable").reset_index(drop=True),
        check_dtype=False,
    )
