"""Leakage as computation: pretraining corpora against card provenance, and hashed test windows
against the data a model trained here was handed (a deliberate leak is flagged, a clean split passes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import leakage as lk
from workbench.data import Panel
from workbench.forecasters import make_forecaster
from workbench.models.leakage import leakage
from workbench.report.leakage import leakage_column
from workbench.tasks import Task

WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "granite-ttm-r2-512-96"
needs_ttm = pytest.mark.skipif(
    importlib.util.find_spec("tsfm_public") is None or not WEIGHTS.is_dir(),
    reason="needs granite-tsfm and the TTM-R2 weights in ../shared/models",
)
H = 8


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c, Client(c) as cl:
        yield cl


def random_panel(n_series: int = 3, length: int = 120, seed: int = 0, leak: bool = False) -> Panel:
    """Noise series; with `leak`, each series' last H values (its test window) are also copied into
    its past, as a split that let test rows into training would."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        y = rng.normal(10, 1, length)
        if leak:
            y[40 : 40 + H] = y[-H:]
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": np.arange(length), "y": y}))
    return Panel.from_long(pd.concat(frames, ignore_index=True), name="leak" if leak else "clean")


# ---- hashed subsequences ---------------------------------------------------------------------------
def test_when_windows_are_hashed_then_equal_windows_share_a_hash_and_different_ones_do_not():
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    y[300:320] = y[100:120]
    hashes, starts = lk.window_hashes(y, 20)
    assert len(hashes) == 481 and list(starts[:3]) == [0, 1, 2]
    assert hashes[300] == hashes[100]
    assert len(np.unique(hashes)) == 480  # every other window differs
    negative_zero = lk.window_hashes(np.array([-0.0, 1.0, 2.0]), 3)[0]
    assert negative_zero[0] == lk.window_hashes(np.array([0.0, 1.0, 2.0]), 3)[0][0]
    with_nan = y.copy()
    with_nan[10] = np.nan
    assert len(lk.window_hashes(with_nan, 20)[0]) == 481 - 11  # the 11 windows over the NaN are left out


def test_when_test_windows_were_copied_into_training_then_the_check_flags_them():
    rng = np.random.default_rng(2)
    train = [rng.normal(size=300), rng.normal(size=200)]
    test = [rng.normal(size=H), train[1][50 : 50 + H].copy()]  # the second one is a copy
    check = lk.check_windows(train, test, H, ["a", "b"])
    assert not check.passed and check.n_seen == 1 and check.n_test_windows == 2
    assert "test series 'b' at 0 = training series 1 at 50" in check.example
    assert check.record()["leakage_check"] == "flagged"


def test_when_the_split_is_clean_or_only_constant_runs_repeat_then_the_check_passes():
    rng = np.random.default_rng(3)
    train = [np.concatenate([rng.normal(size=100), np.zeros(20)])]
    check = lk.check_windows(train, [rng.normal(size=H), np.zeros(H)], H)
    assert check.passed and check.n_constant_seen == 1 and check.n_test_windows == 2
    assert lk.check_windows(train, [train[0][:H] + 1e-12], H).passed  # exact values only: a shifted copy differs
    with pytest.raises(lk.LeakageError, match="window length 0"):
        lk.check_windows(train, train, 0)


def test_when_a_model_trained_here_runs_on_a_leaky_split_then_its_unit_records_the_flag(dask_client, tmp_path):
    mlp = {"name": "mlp", "params": {"epochs": 2, "hidden": 8}}
    for leak, expected in ((True, "flagged"), (False, "passed")):
        summary = workbench.evaluate(
            random_panel(leak=leak),
            [mlp] if leak else [mlp, "naive"],
            client=dask_client,
            store=tmp_path / f"store-{leak}",
            horizon=H,
            season_length=1,
            progress=False,
        )
        records = summary.store.records()
        records = records[records["kind"] == "forecast"].set_index("model_name")  # score units check nothing
        assert records.loc["mlp", "status"] == "ok"
        assert records.loc["mlp", "leakage_check"] == expected
        detail = records.loc["mlp", "leakage_check_detail"]
        assert detail["n_test_windows"] == 3 and detail["n_seen"] == (3 if leak else 0)
        assert detail["length"] == H
        if not leak:
            assert pd.isna(records.loc["naive"].get("leakage_check"))  # nothing trained here: nothing to check


@needs_ttm
def test_when_ttm_is_tuned_few_shot_then_its_training_data_is_checked_against_the_test_windows(dask_client, tmp_path):
    ttm = {"name": "ttm", "params": {"model": str(WEIGHTS), "finetune_epochs": 1, "finetune_patience": 1}}
    summary = workbench.evaluate(
        random_panel(2, 570, seed=4), [ttm], client=dask_client, store=tmp_path / "s", horizon=24, season_length=24
    )  # 546 points of past per series: 11 tuning windows of 512 + 24 each
    records = summary.store.records()
    record = records[records["kind"] == "forecast"].iloc[0]  # the unit that tuned the model
    assert record["status"] == "ok" and record["leakage_check"] == "passed"
    assert record["leakage_check_detail"]["n_train_windows"] == 2 * (546 - 24 + 1)
    assert record["train_s"] > 0 and record["leakage"] == "unknown"  # tuned on data in memory: no provenance


# ---- pretraining corpus against provenance ---------------------------------------------------------
@needs_ttm
def test_when_ttm_r2_is_asked_about_catalog_datasets_then_the_answers_follow_its_model_card():
    ttm = make_forecaster("ttm", model=str(WEIGHTS))
    etth1 = leakage(Task(dataset="ett", subset="ETTh1", protocol="rolling"), ttm)
    assert etth1.status == "false" and "ett:etth1" in etth1.basis and "model card" in etth1.basis
    assert leakage(Task(dataset="m4", subset="Hourly"), ttm).status == "false"
    sunspots = leakage(Task(dataset="classics", subset="monthly_sunspots", protocol="rolling"), ttm)
    assert (sunspots.status, sunspots.corpus_entry) == ("unknown", "monash:sunspot")  # same quantity, not same data
    spec = {"name": "ttm", "params": {"model": str(WEIGHTS)}}  # a spec is built through the registry
    assert leakage(Task(dataset="ett", subset="ETTh2", protocol="rolling"), spec).status == "false"


def test_when_a_corpus_holds_the_data_under_another_name_then_the_alias_table_finds_it():
    corpus = lk.TrainingCorpus(
        "toy-fm", (lk.CorpusEntry("monash:tourism:monthly", "Tourism Monthly"),), "a toy card", complete=True
    )
    found = lk.match(("tourism:monthly",), corpus)
    assert (found.status, found.corpus_entry) == ("true", "monash:tourism:monthly")
    assert "Godahewa" in found.basis  # the alias carries its source
    assert lk.match(("tourism",), corpus).status == "true"  # the whole card covers its monthly subset
    assert lk.match(("tourism:yearly",), corpus).status == "false"
    assert lk.match(("tourism:yearly",), lk.TrainingCorpus("p", corpus.entries, "part", complete=False)).status == (
        "unknown"
    )
    assert lk.match((), corpus).status == "unknown"


def test_when_the_weights_are_not_the_published_ones_then_the_corpus_is_unknown(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    task = Task(dataset="ett", subset="ETTh1", protocol="rolling")
    other = leakage(task, {"name": "ttm", "params": {"model": str(tmp_path)}})
    assert other.status == "unknown" and "not declared" in other.basis
    hub_r21 = leakage(task, {"name": "ttm", "params": {"model": "ibm-granite/granite-timeseries-ttm-r2.1"}})
    assert hub_r21.status == "unknown"  # another release, another corpus
    assert leakage(task, {"name": "ttm", "params": {}}).status == "false"  # the R2 hub id itself


def test_when_a_model_is_not_pretrained_then_asking_its_corpus_is_an_error():
    with pytest.raises(lk.LeakageError, match="naive is not a pretrained model"):
        leakage(Task(dataset="m4", subset="Hourly"), "naive")


def test_when_a_store_holds_pretrained_units_then_leakage_column_lists_them(tmp_path):
    from workbench.store.results_store import ResultsStore

    store = ResultsStore(tmp_path / "store")
    for key, model, status, entry in (("a", "ttm", "false", ""), ("b", "theta", None, None)):
        record = {"key": key, "kind": "forecast", "status": "ok", "task_key": "t1", "model": model, "error": ""}
        if status:
            record |= {"leakage": status, "leakage_entry": entry}
        store.write_unit(key, {"metrics": pd.DataFrame({"value": [1.0]})}, record)
    column = leakage_column(store)
    assert list(column.columns) == ["task_key", "model", "leakage", "corpus_entry"]
    assert column.to_dict("records") == [{"task_key": "t1", "model": "ttm", "leakage": "false", "corpus_entry": ""}]


def test_when_any_writer_builds_a_pretrained_models_record_then_it_carries_the_verdict():
    from workbench.ltsf.protocol import LTSFTask
    from workbench.store.records import unit_record

    task = LTSFTask(dataset="ett", subset="ETTh1", input_len=512, horizon=96, split_rule="ett_hour")
    r2 = "a706726a7eb01bbcb42994b7dcb3c06ea9557898dbae8d480eb04fe8ccb89710"  # the R2 checkpoint's sha256
    common = dict(key="k", identity="i", code="c", run_id="r", task=task, model="TTM-R2 zero-shot", seed=0)
    record = unit_record(kind="ltsf", model_name="ttm", params={"weights": r2}, **common)
    assert (record["leakage"], record["leakage_detail"]["provenance"]) == ("false", "ett:etth1")
    assert record["hardware"]["cpu"] and record["hardware"]["cores"] >= 1
    custom = unit_record(kind="ltsf", model_name="ttm", params={"weights": "0" * 64}, **common)
    assert custom["leakage"] == "unknown"
    assert "leakage" not in unit_record(kind="ltsf", model_name="dlinear", params={}, **common)
