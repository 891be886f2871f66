"""The anomaly notebook's helpers: a task over categories and its figures."""

from __future__ import annotations

import pytest

from workbench.anomaly.run import detect
from workbench.anomaly.views import category_task, scoreboard_figure, scores_figure
from workbench.errors import WorkbenchError

pytestmark = pytest.mark.usefixtures("mirror")


def test_when_categories_are_named_then_only_their_items_are_kept_evenly_spread():
    task = category_task("nab", ["realKnownCause"], max_items=3)
    assert len(task.items) == 3 and all(i.startswith("realKnownCause/") for i in task.items)
    assert task.items[0] != task.items[1] != task.items[2]


def test_when_a_category_is_unknown_then_the_error_lists_the_known_ones():
    with pytest.raises(WorkbenchError, match=r"unknown categories \['realNope'\].*realTweets"):
        category_task("nab", ["realNope"])


def test_when_scores_are_drawn_then_windows_values_and_scores_are_on_the_figure():
    from workbench.anomaly.run import scoreboard

    data = category_task("nab", ["realKnownCause"], max_items=1).load()
    det = detect(data, "windowedGaussian")
    fig = scores_figure(data, [det], data.items[0])
    assert [t.name for t in fig.data][-1] == "windowedGaussian"
    assert len(fig.layout.shapes) == 2 * (data.windows["unique_id"] == data.items[0]).sum() > 0  # both panels
    board = scoreboard(data, [det])
    assert len(scoreboard_figure(board).data) >= 1
    with pytest.raises(WorkbenchError, match="no item"):
        scores_figure(data, [det], "missing.csv")
