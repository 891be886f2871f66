"""The report ranks published results as BOOM does: BOOM's own files imported, ranked, shown."""

from __future__ import annotations

import pytest

from workbench.ranking import RankingSpec, ranking_tables
from workbench.report import build_report
from workbench.report.ranking import ranking_section
from workbench.results_import import combined_frame, import_gift_eval
from workbench.store.results_store import ResultsStore

BOOM = "github/DataDog/toto/46bd92adeeef6b3c2afb21008659f607fa203e38/boom/results"


def test_when_published_results_are_in_the_store_then_the_report_ranks_them_scaled_by_seasonal_naive(mirror, tmp_path):
    for model in ("seasonalnaive", "autoets", "toto"):
        import_gift_eval(mirror / BOOM / model, tmp_path / "store", label="boom")
    store = ResultsStore(tmp_path / "store")
    expected = ranking_tables(combined_frame(store), RankingSpec(baseline="seasonalnaive"))["scaled"]
    assert set(expected.index) == {"seasonalnaive", "autoets", "toto"}
    assert expected.loc["seasonalnaive", "mase"] == pytest.approx(1.0)  # the baseline scaled by itself

    html = ranking_section(store)
    assert html is not None and "scaled by seasonalnaive" in html
    for model in expected.index:
        assert f">{model}<" in html
    assert f"{expected.loc['toto', 'mase']:.4f}" in html  # the table's value is the ranking's

    page = build_report(tmp_path / "store", tmp_path / "report.html").read_text()
    assert 'id="ranking"' in page and "Ranking as BOOM and GIFT-Eval do" in page
