"""BOOM (Cohen et al. 2025, DataDog/toto@46bd92ad `boom/`): the leaderboard and breakdown tables from the
23 models' per-task results.

BOOM publishes, beside its leaderboards, every model's `all_results.csv` (7,413 tasks: 2,807 datasets
at short, medium and long terms). Its notebook `boom/notebooks/leaderboard.ipynb` turns them into
`leaderboards/boom_leaderboard.csv` and `breakdown_tabels/*_shifted_gmean.csv` with the statistics
`workbench.ranking` implements; this module feeds it BOOM's inputs:

- models named by their results folder (`seasonalnaive` is the baseline; its files say `naive`);
- the low-variance datasets set apart (a list in BOOM's `utils/leaderboard.py`, given as a
  parameter) plus every dataset whose seasonal-naive MASE is 0 on some term: 253 datasets, 663
  tasks, left unscaled (MAE and CRPS as they are); the other 6,750 tasks are scaled;
- ties in CRPS ranked in the order BOOM concatenated the models (`rank(method="first")`): the order
  `os.listdir` gave on BOOM's machine, with `seasonalnaive` moved last. That order is written
  nowhere, so it is a parameter; the one in `papers/boom/paper.yaml` is the only order of tied
  models consistent with the published ranks (see papers/boom/NOTES.md for how it was found);
- the breakdowns take `type` and `domain` from `boom_properties.json` (a dataset in several domains
  counts in each) and the term from the task name, over the scaled set.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from workbench.ranking import RankingSpec, breakdown, leaderboards, mean_rank, prepare
from workbench.results_import import long_rows

BASELINE = "seasonalnaive"
DATASET = "boom"
# published leaderboard column -> (set, ranking column)
LEADERBOARD = {
    "MASE-6750-scaled": ("scaled", "mase"),
    "CRPS-6750-scaled": ("scaled", "crps"),
    "Rank-6750-scaled": ("scaled", "rank"),
    "eval_metrics/MAE[0.5]-663-unscaled": ("unscaled", "mae"),
    "CRPS-663-unscaled": ("unscaled", "crps"),
    "Rank-663-unscaled": ("unscaled", "rank"),
}
LEADERBOARD_SUBSET = "leaderboard"
# published breakdown file stem -> ranking property
BREAKDOWNS = {"full_benchmark": "full_benchmark", "real_term": "term", "type": "type", "domain": "domain"}
METRIC_NAMES = {"MASE": "mase", "CRPS": "crps"}
METRICS = ("mase", "crps", "mae")  # what the leaderboard reads of the 8 metrics in the files


def task_frame(results: pd.DataFrame | None = None, properties: pd.DataFrame | None = None) -> pd.DataFrame:
    """BOOM's per-task results as the ranking's long frame (task, model, metric, value, dataset_id,
    term, type, domain, ...). Defaults: the `boom_results` card's `results` and `properties` tables."""
    from workbench.data import load_table

    results = load_table("boom_results", "results") if results is None else results
    properties = load_table("boom_results", "properties") if properties is None else properties
    results = results.reset_index(drop=True)
    frame = long_rows(results, results["model_dir"], "boom_results", METRICS)
    props = properties.set_index("dataset_id")
    frame["type"] = frame["dataset_id"].map(props["type"])
    frame["domain"] = frame["dataset_id"].map(props["domain"])
    return frame.assign(full_benchmark="full_benchmark")


def spec(low_variance: Sequence[str], model_order: Sequence[str] | None = None) -> RankingSpec:
    """BOOM's ranking: seasonal naive baseline, datasets set apart by id, ties in `model_order`."""
    return RankingSpec(
        baseline=BASELINE,
        unscaled_tasks=frozenset(low_variance),
        unscaled_by="dataset_id",
        model_order=tuple(model_order) if model_order else None,
    )


def tables(frame: pd.DataFrame, ranking: RankingSpec) -> dict[str, pd.DataFrame]:
    """The leaderboard's two parts and the four breakdowns (tidy), as BOOM's notebook computes them,
    and `ties` (how often each model's CRPS ties another's, and what the tie order does to its rank)."""
    parts = prepare(frame, ranking)
    out = leaderboards(frame, ranking, parts)
    scaled = parts["scaled"]
    for stem, prop in BREAKDOWNS.items():
        out[f"breakdown_{stem}"] = breakdown(scaled, prop, ranking.scaled_metrics, ranking)
    out["ties"] = tie_counts(frame, ranking, parts)
    return out


def reproduced(computed: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The computed tables as the contract's reproduced rows (dataset, subset, method, metric, route,
    value, note), named as the claims in papers/boom/paper.yaml are."""
    rows = []
    for column, (part, stat) in LEADERBOARD.items():
        board = computed[part]
        n_undefined = board.filter(like="n_undefined").sum(axis=1)
        for model, value in board[stat].items():
            note = (
                f"{int(n_undefined[model])} undefined value(s) filled with the model's mean"
                if n_undefined[model]
                else ""
            )
            rows.append((DATASET, LEADERBOARD_SUBSET, model, column, "", float(value), note))
    for part, n in (("scaled", "6750-scaled"), ("unscaled", "663-unscaled")):
        tasks = computed[part]["n_tasks"]
        rows.append((DATASET, LEADERBOARD_SUBSET, "all models", f"tasks-{n}", "", float(tasks.max()), ""))
    for stem in BREAKDOWNS:
        table = computed[f"breakdown_{stem}"]
        inverse = {v: k for k, v in METRIC_NAMES.items()}
        for r in table.itertuples():
            rows.append((DATASET, f"{stem}={r.group}", r.model, f"{inverse[r.metric]} shifted_gmean", "", r.value, ""))
    return pd.DataFrame(rows, columns=["dataset", "subset", "method", "metric", "route", "value", "note"])


def tie_counts(frame: pd.DataFrame, ranking: RankingSpec, parts: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per set and model: tasks where its CRPS ties another model's, and its mean rank with ties
    broken in `model_order` against averaged ties (how much the unpublished order moves a rank)."""
    parts = prepare(frame, ranking) if parts is None else parts
    out = []
    for name, part in parts.items():
        crps = part[part["metric"] == ranking.rank_metric].pivot(index="task", columns="model", values="value")
        tied = (crps.rank(axis=1, method="min") != crps.rank(axis=1, method="max")).sum()
        ordered = mean_rank(part, ranking)
        average = crps.rank(axis=1, method="average").mean()
        out.append(
            pd.DataFrame({"set": name, "tied_tasks": tied, "rank_in_order": ordered, "rank_ties_averaged": average})
        )
    return pd.concat(out).rename_axis("model").reset_index()


def _crps_wide(part: pd.DataFrame, ranking: RankingSpec) -> pd.DataFrame:
    return part[part["metric"] == ranking.rank_metric].pivot(index="task", columns="model", values="value")


def recover_tie_order(
    frame: pd.DataFrame, ranking: RankingSpec, claimed: dict[str, pd.Series], tolerance: float = 0.0005
) -> tuple[list[str], pd.DataFrame]:
    """An order of the models under which `rank(method="first")` gives the claimed mean ranks of both
    sets (`claimed`: set name -> rank per model), and every pair of models that tie somewhere (a, b,
    tied_tasks, a_first in that order, forced: whether the claims leave only that way round).

    Why it is solvable: with ties broken in a fixed order, a model's rank on a task is 1 + the models
    strictly better + the tied models placed before it, so its summed rank is a known constant plus
    the ties it shares with each model placed before it. Choosing "i before j" for every pair, under
    transitivity and with the baseline last (BOOM moves it last), is a small integer program (HiGHS
    through scipy) whose constraints are the claimed means within `tolerance`. Each tied pair is then
    forced the other way round: if no order fits, the claims fix that pair's order."""
    import itertools

    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    parts = prepare(frame, ranking)
    wides = {name: _crps_wide(parts[name], ranking) for name in claimed}
    models = sorted(next(iter(wides.values())).columns)
    n = len(models)
    pairs = list(itertools.combinations(range(n), 2))
    index = {p: k for k, p in enumerate(pairs)}
    rows, lo, hi = [], [], []

    def before(i: int, j: int) -> tuple[int, int, int]:
        """(variable, sign, constant) of the indicator "i before j"."""
        return (index[(i, j)], 1, 0) if i < j else (index[(j, i)], -1, 1)

    def constrain(coefs: dict[int, float], low: float, high: float) -> None:
        row = np.zeros(len(pairs))
        for k, c in coefs.items():
            row[k] += c
        rows.append(row)
        lo.append(low)
        hi.append(high)

    last = models.index(ranking.baseline)
    for m in range(n):
        if m != last:
            k, sign, const = before(m, last)
            constrain({k: sign}, 1 - const, 1 - const)
    tied_any = np.zeros((n, n), dtype=int)
    for name, wide in wides.items():
        v = wide[models].to_numpy()
        strictly = (v[:, :, None] > v[:, None, :]).sum(axis=(0, 2)) + len(v)
        ties = (v[:, :, None] == v[:, None, :]).sum(axis=0)
        np.fill_diagonal(ties, 0)
        tied_any += ties
        target = claimed[name].reindex(models).to_numpy(dtype=float) * len(v)
        for m in range(n):
            coefs: dict[int, float] = {}
            const = float(strictly[m])
            for j in np.flatnonzero(ties[m]):
                k, sign, c = before(int(j), m)
                coefs[k] = coefs.get(k, 0.0) + sign * ties[m, j]
                const += c * ties[m, j]
            constrain(coefs, target[m] - tolerance * len(v) - const, target[m] + tolerance * len(v) - const)
    for i, j, k in itertools.combinations(range(n), 3):  # transitivity: x_ij + x_jk - x_ik in [0, 1]
        constrain({index[(i, j)]: 1, index[(j, k)]: 1, index[(i, k)]: -1}, 0, 1)
    matrix = np.array(rows)
    integers, bounds = np.ones(len(pairs)), Bounds(0, 1)

    def solve(extra: list[LinearConstraint]) -> np.ndarray | None:
        res = milp(
            np.zeros(len(pairs)),
            constraints=[LinearConstraint(matrix, lo, hi), *extra],
            integrality=integers,
            bounds=bounds,
        )
        return None if res.x is None else np.round(res.x)

    x = solve([])
    if x is None:
        raise ValueError("no order of the models gives the claimed ranks")
    predecessors = np.zeros(n)
    for (i, j), k in index.items():
        predecessors[j if x[k] else i] += 1
    order = [models[i] for i in np.argsort(predecessors, kind="stable")]
    out = []
    for (i, j), k in index.items():
        if tied_any[i, j]:
            pin = np.zeros((1, len(pairs)))
            pin[0, k] = 1
            forced = solve([LinearConstraint(pin, 1 - x[k], 1 - x[k])]) is None
            out.append((models[i], models[j], int(tied_any[i, j]), bool(x[k]), forced))
    return order, pd.DataFrame(out, columns=["a", "b", "tied_tasks", "a_first", "forced"])


__all__ = ["BASELINE", "LEADERBOARD", "recover_tie_order", "reproduced", "spec", "tables", "task_frame", "tie_counts"]
