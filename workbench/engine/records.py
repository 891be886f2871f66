"""The one unit-record builder: what every kind of unit (forecast, ltsf, detection, paper) records.

A record says what the unit is (key, kind, identity), what made it (the code fingerprint, the git
commit and dirty flag, the run, the worker process) and what it evaluated (the resolved task with
its description, the model and its parameters, the seed); writers add their own facts (chunks,
timings, errors) and hand it to `ResultsStore.write_unit`, which adds the files and commits it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from workbench.fingerprint import git_state


def unit_record(
    *,
    key: str,
    kind: str,
    identity: str,
    code: str,
    run_id: str,
    task: Any,
    model: str,
    model_name: str,
    params: dict[str, Any],
    seed: int,
    **facts: Any,
) -> dict[str, Any]:
    """A unit's record; `task` is any task (`Task`, `LTSFTask`, `DetectionTask`) or, for a paper's
    reproduction, a `{key, description, dataset, subset}` mapping."""
    if isinstance(task, dict):
        described = {
            "task_key": task["key"],
            "task": task.get("fields", {}),
            "task_description": task["description"],
            "dataset": task.get("dataset", ""),
            "subset": task.get("subset", ""),
        }
    else:
        subset = getattr(task, "subset", None) or "+".join(getattr(task, "subsets", ()))
        described = {
            "task_key": task.key(),
            "task": task.resolved(),
            "task_description": task.describe(),
            "dataset": task.dataset,
            "subset": subset,
        }
    return {
        "key": key,
        "kind": kind,
        "identity": identity,
        "code": code,
        **git_state(),
        "run_id": run_id,
        **described,
        "model": model,
        "model_name": model_name,
        "params": params,
        "seed": seed,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "error": "",
        **facts,
    }
