"""Type this paper's claims from fev's result files: `python type_claims.py FEV_CHECKOUT paper.yaml`.

FEV_CHECKOUT is a checkout of autogluon/fev at COMMIT (the results are not copied into this repository:
this script only writes the numbers it reads, each with its file, commit and line). Every row of every
`benchmarks/chronos_zeroshot/results/*.csv` gives two claims, its MASE and WQL columns as written (full
precision); each model also gets the two all-task aggregates fev's `leaderboard` computes (geometric
mean over the 27 tasks of the score relative to seasonal naive, clipped to [0.01, 100]), and each row's
`inference_time_s` / `training_time_s` / `instance_type` become facts (shown, never compared). The cells
listed in `known_discrepancies.yaml` (beside this script) carry their reason as `known_discrepancy`.
Everything from the card's `claims:` line on is rewritten; the lines above it (the header, parameters,
cost) are kept.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import yaml

COMMIT = "1bc95fd779b3bbfccd85c91178e56075d8fc2e45"
RESULTS = "benchmarks/chronos_zeroshot/results"
# relative tolerance per model, and why (the header of paper.yaml says the same)
EXACT = 1e-6  # seasonal naive: the same arithmetic; fev's forecasts are float32 (gluonts), the workbench's float64
SAME_LIBRARY = 1e-4  # statsforecast, deterministic fits; fev ran 2.0.0 on another CPU, the workbench 2.1.1
FLOAT32_DEVICE = 1e-4  # deterministic float32 networks run on another device (fev: a GPU)
SAMPLED = 0.02  # forecasts drawn from samples (Chronos T5, Moirai, TimeCopilot's ensemble): seed and hardware move them
TOLERANCE = {
    "seasonal_naive": EXACT,
    "auto_ets": SAME_LIBRARY,
    "auto_theta": SAME_LIBRARY,
    "auto_arima": SAME_LIBRARY,
    "ttm-r2": FLOAT32_DEVICE,
    "chronos_bolt_tiny": FLOAT32_DEVICE,
    "chronos_bolt_mini": FLOAT32_DEVICE,
    "chronos_bolt_small": FLOAT32_DEVICE,
    "chronos_bolt_base": FLOAT32_DEVICE,
    "timesfm": FLOAT32_DEVICE,
    "timesfm-2.0": FLOAT32_DEVICE,
    "tirex": FLOAT32_DEVICE,
}


def gmean_relative(values: dict[str, float], baseline: dict[str, float]) -> float:
    ratios = [min(max(values[t] / baseline[t], 0.01), 100.0) for t in values]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def main(checkout: Path, card: Path) -> None:
    known = {
        (k["task"], k["method"], k["metric"]): k["why"]
        for k in yaml.safe_load((Path(__file__).parent / "known_discrepancies.yaml").read_text())
    }
    claims, facts = [], []
    scores: dict[str, dict[str, dict[str, float]]] = {}
    files = sorted((checkout / RESULTS).glob("*.csv"))
    for path in files:
        with path.open(newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                model, task = row["model_name"], row["dataset_config"]
                where = f"autogluon/fev@{COMMIT[:8]} {RESULTS}/{path.name}, line {line} ({task})"
                for metric in ("MASE", "WQL"):
                    value = float(row[metric])
                    scores.setdefault(model, {}).setdefault(metric, {})[task] = value
                    claims.append(
                        {
                            "table": "fev chronos_zeroshot results",
                            "dataset": "chronos_zeroshot",
                            "subset": task,
                            "method": model,
                            "metric": metric,
                            "value": value,
                            "tolerance": TOLERANCE.get(model, SAMPLED),
                            "relative": True,
                            "source": f"{where}, column {metric}",
                        }
                    )
                    if (task, model, metric) in known:
                        claims[-1]["known_discrepancy"] = known.pop((task, model, metric))
                for column in ("inference_time_s", "training_time_s"):
                    if row[column]:
                        facts.append(
                            {
                                "dataset": "chronos_zeroshot",
                                "subset": task,
                                "method": model,
                                "what": column,
                                "value": float(row[column]),
                                "unit": "s",
                                "context": row.get("instance_type") or row.get("model_config") or "not recorded",
                                "source": f"{where}, column {column}",
                            }
                        )
    for model in sorted(scores):
        for metric in ("MASE", "WQL"):
            value = gmean_relative(scores[model][metric], scores["seasonal_naive"][metric])
            claims.append(
                {
                    "table": "aggregate over all 27 tasks",
                    "dataset": "chronos_zeroshot",
                    "subset": "all 27 tasks",
                    "method": model,
                    "metric": f"{metric} gmean relative to seasonal_naive",
                    "value": value,
                    "tolerance": TOLERANCE.get(model, SAMPLED),
                    "relative": True,
                    "source": f"computed from the 27 {metric} values of autogluon/fev@{COMMIT[:8]} {RESULTS}/"
                    f"{model}.csv and seasonal_naive.csv as fev 0.6.0's leaderboard does (geometric mean over tasks of "
                    "the ratio to seasonal naive, clipped to [0.01, 100])",
                }
            )
    if known:
        raise SystemExit(f"known_discrepancies.yaml names cells that are not in fev's files: {sorted(known)}")
    head = card.read_text().split("\nclaims:\n")[0]
    body = yaml.safe_dump({"claims": claims, "facts": facts}, sort_keys=False, width=1000, default_flow_style=None)
    card.write_text(head + "\n" + body)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
