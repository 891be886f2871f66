"""`workbench results import gift-eval`: published all_results.csv files as `published` units beside the team's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.ranking import RankingSpec, ranking_tables
from workbench.results_import import TABLE, PublishedResultsError, combined_frame, read_published
from workbench.store.results_store import ResultsStore

runner = CliRunner()
MASE, CRPS, MAE = "eval_metrics/MASE[0.5]", "eval_metrics/mean_weighted_sum_quantile_loss", "eval_metrics/MAE[0.5]"


def _write(folder: Path, model: str, rows: list[tuple[str, object, object]], column_model: str | None = None) -> Path:
    """One GIFT-Eval-layout file: (dataset, MASE, CRPS) rows."""
    frame = pd.DataFrame(
        {
            "dataset": [r[0] for r in rows],
            "model": column_model or model,
            MAE: [0.1] * len(rows),
            MASE: [r[1] for r in rows],
            CRPS: [r[2] for r in rows],
            "domain": "['Infrastructure']",
            "num_variates": 1,
        }
    )
    path = folder / model / "all_results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _results(root: Path) -> Path:
    _write(root, "seasonalnaive", [("d1/H/short", 2.0, 0.4), ("d2/5T/long", 1.0, 0.5)], column_model="naive")
    _write(root, "good", [("d1/H/short", 1.0, 0.2), ("d2/5T/long", 1.5, 1.0)])
    return root


def test_when_a_folder_is_imported_then_each_file_is_a_published_unit_with_provenance(tmp_path):
    src, store = _results(tmp_path / "res"), tmp_path / "store"
    result = runner.invoke(app, ["results", "import", "gift-eval", str(src), "--store", str(store), "--label", "boom"])
    assert result.exit_code == 0, result.output
    assert "2 published unit(s)" in result.output
    records = ResultsStore(store).committed()
    assert sorted(r["model"] for r in records) == ["good", "seasonalnaive"]  # the folder, not the `model` column
    assert {r["kind"] for r in records} == {"published"}
    naive = next(r for r in records if r["model"] == "seasonalnaive")
    assert naive["source_path"].endswith("seasonalnaive/all_results.csv") and len(naive["source_sha256"]) == 64
    rows = ResultsStore(store).read_table(TABLE)
    assert set(rows["metric"]) == {"mase", "crps", "mae"}
    assert set(rows["source"]) == {"boom"}
    one = rows[(rows["model"] == "good") & (rows["task"] == "d2/5T/long") & (rows["metric"] == "crps")]
    assert one["value"].tolist() == [1.0] and one["term"].tolist() == ["long"] and one["frequency"].tolist() == ["5T"]
    again = runner.invoke(app, ["results", "import", "gift-eval", str(src), "--store", str(store), "--label", "boom"])
    assert again.exit_code == 0 and len(ResultsStore(store).committed()) == 2  # the same file replaces its unit


def test_when_published_and_own_rows_are_combined_then_the_ranking_scales_both_by_the_baseline(tmp_path):
    src, store = _results(tmp_path / "res"), ResultsStore(tmp_path / "store")
    assert runner.invoke(app, ["results", "import", "gift-eval", str(src), "--store", str(store.root)]).exit_code == 0
    own = pd.DataFrame(
        {
            "task_key": "k1",
            "task": ["d1/H/short"] * 4,
            "model": "ours",
            "window": 0,
            "unique_id": ["a", "b", "a", "b"],
            "metric": ["mase", "mase", "crps", "crps"],
            "value": [0.5, 1.5, 0.1, 0.3],
        }
    )
    store.write_unit("own1", {"metrics": own}, {"kind": "forecast"})
    frame = combined_frame(store)
    assert set(frame["source"]) == {"published", "store"}
    ours = frame[frame["model"] == "ours"].set_index("metric")["value"]
    assert ours["mase"] == pytest.approx(1.0) and ours["crps"] == pytest.approx(0.2)
    tables = ranking_tables(frame, RankingSpec(baseline="seasonalnaive"))
    scaled = tables["scaled"]
    assert scaled.loc["ours", "mase"] == pytest.approx(0.5)  # 1.0 / the baseline's 2.0 on d1/H/short
    assert scaled.loc["ours", "n_tasks"] == 1 and scaled.loc["good", "n_tasks"] == 2
    assert "by_term" in tables and "by_domain" in tables


@pytest.mark.parametrize(
    ("rows", "drop", "message"),
    [
        ([("d1/H/short", 1.0, 0.2)], CRPS, r"missing column\(s\) \['eval_metrics/mean_weighted_sum_quantile_loss'\]"),
        ([("d1/H/short", 1.0, 0.2), ("d2/H/short", "n/a", 0.1)], None, r"line 3: eval_metrics/MASE\[0.5\] is 'n/a'"),
        ([("d1/H/short", 1.0, 0.2), ("d1/H/short", 1.1, 0.2)], None, r"line 3: dataset 'd1/H/short' .*first at line 2"),
        ([("d1-H-short", 1.0, 0.2)], None, "line 2: dataset 'd1-H-short' is not <dataset>/<frequency>/<term>"),
    ],
)
def test_when_one_file_is_bad_then_the_error_names_file_and_line_and_nothing_is_written(tmp_path, rows, drop, message):
    src = _results(tmp_path / "res")
    bad = _write(src, "zbad", rows)
    if drop:
        pd.read_csv(bad).drop(columns=drop).to_csv(bad, index=False)
    store = tmp_path / "store"
    with pytest.raises(PublishedResultsError, match=message) as err:
        read_published(src)
    assert str(bad) in str(err.value)
    result = runner.invoke(app, ["results", "import", "gift-eval", str(src), "--store", str(store)])
    assert result.exit_code == 2
    assert "zbad" in result.output
    assert not store.exists()  # the good files were not written either


def test_when_values_are_empty_or_nan_then_they_import_as_undefined_and_are_counted(tmp_path):
    src = tmp_path / "res"
    _write(src, "seasonalnaive", [("d1/H/short", 2.0, 0.4), ("d2/H/short", 1.0, 0.5)])
    _write(src, "m", [("d1/H/short", None, 0.2), ("d2/H/short", "inf", 0.5)])
    (item,) = [p for p in read_published(src) if p.model == "m"]
    assert item.rows.loc[item.rows["metric"] == "mase", "value"].isna().tolist() == [True, False]
    frame = pd.concat([p.rows for p in read_published(src)])
    counts = ranking_tables(frame, RankingSpec(baseline="seasonalnaive"))["undefined"]
    counted = counts.set_index(["set", "model", "metric"])["n_undefined"]
    assert counted[("scaled", "m", "mase")] == 2


def test_when_the_layout_or_names_are_wrong_then_the_command_says_so(tmp_path):
    src = _results(tmp_path / "res")
    result = runner.invoke(app, ["results", "import", "monash", str(src), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "unknown layout 'monash'" in result.output
    result = runner.invoke(app, ["results", "import", "gift-eval", str(src), "--name", "x", "--store", str(tmp_path)])
    assert result.exit_code == 2 and "1 name(s) given for 2 file(s)" in result.output
    result = runner.invoke(app, ["results", "import", "gift-eval", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such file or folder" in result.output
    named = read_published(src / "good" / "all_results.csv", ["renamed"])
    assert named[0].model == "renamed" and set(named[0].rows["model"]) == {"renamed"}


@pytest.mark.usefixtures("mirror")
def test_when_a_slice_of_booms_files_is_imported_then_the_values_are_the_cards_and_rank_as_booms_code_does(tmp_path):
    from workbench.data import load_table

    results = load_table("boom_results", "results")
    models = ["seasonalnaive", "toto", "chronos_2"]
    tasks = results.loc[results["model_dir"] == "toto", "dataset"].iloc[:300]
    src = tmp_path / "boom" / "results"
    for model in models:
        rows = results[(results["model_dir"] == model) & results["dataset"].isin(tasks)]
        (src / model).mkdir(parents=True)
        rows.drop(columns=["model_dir", "dataset_id", "term"]).to_csv(src / model / "all_results.csv", index=False)
    store = tmp_path / "store"
    result = runner.invoke(app, ["results", "import", "gift-eval", str(src), "--store", str(store), "--label", "boom"])
    assert result.exit_code == 0, result.output
    frame = combined_frame(store)
    assert len(frame) == 3 * 300 * 3 and set(frame["model"]) == set(models)
    wide = results[results["dataset"].isin(tasks) & results["model_dir"].isin(models)].set_index(
        ["model_dir", "dataset"]
    )
    crps = frame[frame["metric"] == "crps"].set_index(["model", "task"])["value"]
    expected = wide["eval_metrics/mean_weighted_sum_quantile_loss"].rename_axis(["model", "task"])
    pd.testing.assert_series_equal(crps.sort_index(), expected.sort_index(), check_names=False)
    spec = RankingSpec(baseline="seasonalnaive", unscaled_by="dataset_id")
    board = ranking_tables(frame, spec)["scaled"]
    mase = wide["eval_metrics/MASE[0.5]"].unstack(0)
    apart = mase.index.str.split("/").str[0].isin(mase.index[mase["seasonalnaive"] == 0].str.split("/").str[0])
    kept = mase[~apart].fillna(mase[~apart].mean())
    ratio = kept["toto"] / kept["seasonalnaive"]
    assert board.loc["toto", "mase"] == pytest.approx(np.exp(np.log(ratio + 1e-5).mean()) - 1e-5, rel=1e-12)
    assert board.loc["toto", "n_tasks"] == len(kept)
