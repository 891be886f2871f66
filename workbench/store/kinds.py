"""The results store's vocabulary, shared by every writer and reader: the kinds of unit, the known
tables, the statuses a committed unit ends in, and the rule for a table's name."""

from __future__ import annotations

import re

__all__ = ["DONE", "KINDS", "RESERVED", "TABLES", "TABLE_NAME"]

# what a unit is: a record's required `kind`
KINDS = ("forecast", "score", "series", "ltsf", "detection", "paper", "published")
# the tables the workbench writes (a unit may add any other name TABLE_NAME allows)
TABLES = {
    "metrics": "per-series forecast metric rows",
    "forecasts": "forecasts (point and quantile columns) per series, window and step",
    "series": "per-series metadata of a task (metadata columns, metric type, observations), once per chunk",
    "detection_scores": "per-row anomaly scores",
    "detection_metrics": "per-item or corpus detection metric rows, with higher_is_better",
    "claims": "a paper's claimed-vs-reproduced rows",
    "published_metrics": "imported published per-task metrics (task, model, metric, value, properties)",
}
# how a committed unit ended
DONE = ("ok", "error", "timeout")
# folders of the store that hold no table
RESERVED = ("units", "runs")
TABLE_NAME = re.compile(r"[a-z_]+\Z")
