"""The per-run store that makes long reproductions resumable."""

from __future__ import annotations

from workbench.ltsf.store import RunStore, run_key


def test_when_a_record_is_put_then_it_comes_back_and_no_temporary_file_is_left(tmp_path):
    store = RunStore(tmp_path)
    key = run_key(task={"horizon": 96}, method="NLinear", seed=2021)
    store.put(key, {"mse": 0.374, "model": "NLinear"})
    assert store.get(key) == {"mse": 0.374, "model": "NLinear", "run_key": key}
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.parquet"]
    assert len(store.frame()) == 1


def test_when_anything_that_determines_a_run_changes_then_its_key_changes():
    base = {"task": {"horizon": 96}, "method": "NLinear", "seed": 2021}
    assert run_key(**base) == run_key(**dict(reversed(list(base.items()))))
    assert run_key(**base) != run_key(**{**base, "seed": 2022})
    assert run_key(**base) != run_key(**{**base, "task": {"horizon": 192}})


def test_when_a_stored_file_is_damaged_then_it_is_dropped_and_reported_missing(tmp_path):
    store = RunStore(tmp_path)
    store.path("abc").write_bytes(b"not parquet")
    assert store.get("abc") is None
    assert not store.path("abc").exists()
