"""One task vocabulary for forecasting, long-horizon and detection tasks (`workbench.keys.TaskIdentity`)."""

from __future__ import annotations

import pytest

from workbench.anomaly.task import DetectionTask
from workbench.ltsf.protocol import LTSFTask
from workbench.store.records import unit_record
from workbench.tasks import Task

TASKS = {
    "forecast": lambda: Task(dataset="m4", subset="Hourly", protocol="rolling", n_windows=2),
    "ltsf": lambda: LTSFTask(dataset="ett", subset="ETTh1", input_len=512, horizon=96, split_rule="ett_hour"),
    "detection": lambda: DetectionTask(dataset="nab", subsets=("all",)),
}


@pytest.mark.parametrize(("kind", "protocol", "subsets"), [
    ("forecast", "rolling", ("Hourly",)),
    ("ltsf", "ltsf", ("ETTh1",)),
    ("detection", "detection", ("all",)),
])  # fmt: skip
def test_when_any_task_is_asked_then_it_answers_in_one_vocabulary(mirror, kind, protocol, subsets):
    task = TASKS[kind]()
    assert (task.kind, task.protocol, task.subsets) == (kind, protocol, subsets)
    assert task.dataset in task.describe() and len(task.key()) == 16


@pytest.mark.parametrize("kind", ["ltsf", "detection"])
def test_when_the_vocabulary_is_added_then_it_is_not_a_field_so_keys_keep_their_payload(mirror, kind):
    task = TASKS[kind]()
    resolved = task.resolved()
    assert "subsets" not in resolved or kind == "detection"  # a detection task's subsets were always a field
    assert "protocol" not in resolved


def test_when_a_unit_record_describes_a_task_then_its_subset_comes_from_the_vocabulary(mirror):
    for kind, make in TASKS.items():
        task = make()
        record = unit_record(
            key="k", kind=kind, identity="i", code="c", run_id="r", task=task, model="m", model_name="naive",
            params={}, seed=0,
        )  # fmt: skip
        assert record["subset"] == "+".join(task.subsets) and record["task_key"] == task.key()
