"""VUS-ROC / VUS-PR and range-based precision / recall against TSB-AD v1.5 (the reference the field
cites), on seeded random label layouts; then the metrics through a detection task's scoreboard.

The tolerance is 1e-9 relative: the two implementations add the same terms in different orders
(TSB-AD: a dot product per range and threshold; here: cumulative sums in decreasing score order),
which moves the last bits only.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.anomaly.errors import DetectionInputError
from workbench.anomaly.metrics import get_detection_metric
from workbench.anomaly.range_metrics import range_f1, range_precision, range_recall, ranges
from workbench.anomaly.vus import vus, vus_per_series, vus_pr, vus_roc

try:
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
    from TSB_AD.evaluation.metrics import get_metrics
except ImportError:  # pragma: no cover - the Makefile installs it
    basic_metricor = generate_curve = get_metrics = None

needs_tsb = pytest.mark.skipif(generate_curve is None, reason="TSB_AD (the reference implementation) is not installed")
REL = 1e-9


def _labels(n: int, spans: list[tuple[int, int]]) -> np.ndarray:
    y = np.zeros(n, dtype=int)
    for a, b in spans:
        y[a : b + 1] = 1
    return y


def _layout(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Label layouts that exercise the edges of the ramps and of the range merging."""
    n = int(rng.integers(120, 260))
    if kind == "middle":
        starts = np.sort(rng.choice(np.arange(10, n - 30), size=4, replace=False))
        return _labels(n, [(a, a + int(rng.integers(0, 12))) for a in starts])
    if kind == "at_start":
        return _labels(n, [(0, int(rng.integers(0, 6))), (n // 2, n // 2 + 5)])
    if kind == "at_end":
        return _labels(n, [(n // 3, n // 3 + 3), (n - int(rng.integers(1, 6)), n - 1)])
    if kind == "both_ends":
        return _labels(n, [(0, 3), (n - 1, n - 1)])
    if kind == "one_point":
        return _labels(n, [(a, a) for a in np.sort(rng.choice(n, size=5, replace=False))])
    if kind == "close":  # ranges two rows apart: ramps of several ranges add up on the same rows
        return _labels(n, [(40, 40), (42, 43), (45, 45), (47, 50), (90, 91)])
    if kind == "short":  # fewer rows than thresholds: TSB-AD's threshold indices repeat
        return _labels(60, [(5, 9), (30, 30), (58, 59)])
    raise AssertionError(kind)


LAYOUTS = ["middle", "at_start", "at_end", "both_ends", "one_point", "close", "short"]


def _scores(y: np.ndarray, rng: np.random.Generator, ties: bool) -> np.ndarray:
    s = rng.random(len(y)) + 0.6 * y * rng.random(len(y))
    return np.round(s, 1) if ties else s


@needs_tsb
@pytest.mark.parametrize("window", [0, 1, 2, 7, 24])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_when_labels_take_any_layout_then_vus_equals_tsb_ad(layout, window):
    rng = np.random.default_rng([LAYOUTS.index(layout), window])
    y = _layout(layout, rng)
    for ties in (False, True):
        s = _scores(y, rng, ties)
        *_, roc, pr = generate_curve(y, s, window, "opt", 250)
        ours = vus(y, s, sliding_window=window)
        assert ours.roc == pytest.approx(roc, rel=REL, abs=0) and ours.pr == pytest.approx(pr, rel=REL, abs=0)


@needs_tsb
@pytest.mark.parametrize("layout", ["middle", "at_end", "close"])
def test_when_the_defaults_are_used_then_vus_equals_tsb_ads_get_metrics(layout):
    """get_metrics' own defaults (slidingWindow=100, thre=250, version='opt'), through its public entry."""
    rng = np.random.default_rng(7)
    y = _layout(layout, rng)
    s = _scores(y, rng, ties=False)
    *_, roc, pr = generate_curve(y, s, 100, "opt", 250)  # what get_metrics calls for VUS
    assert vus_pr(y, s) == pytest.approx(pr, rel=REL, abs=0)
    assert vus_roc(y, s) == pytest.approx(roc, rel=REL, abs=0)
    if layout == "close":  # once through get_metrics itself (slow: it computes every other metric too)
        theirs = get_metrics(s, y, slidingWindow=100)
        assert vus_pr(y, s) == pytest.approx(theirs["VUS-PR"], rel=REL, abs=0)
        assert vus_roc(y, s) == pytest.approx(theirs["VUS-ROC"], rel=REL, abs=0)


@needs_tsb
def test_when_fewer_thresholds_are_asked_for_then_tsb_ads_grid_is_followed():
    rng = np.random.default_rng(3)
    y = _layout("middle", rng)
    s = _scores(y, rng, ties=True)
    *_, roc, pr = generate_curve(y, s, 10, "opt", 17)
    assert vus(y, s, 10, 17) == pytest.approx((roc, pr), rel=REL, abs=0)


def test_when_there_is_no_anomaly_or_only_anomalies_then_vus_is_nan():
    """TSB-AD raises an IndexError on a series without a labelled range (its `new_sequence` reads the
    first range); an AUC with one class is undefined, so the workbench returns NaN, as its AUCs do."""
    s = np.linspace(0, 1, 50)
    assert all(np.isnan(v) for v in vus(np.zeros(50), s))
    assert all(np.isnan(v) for v in vus(np.ones(50), s))
    if generate_curve is not None:
        with pytest.raises(IndexError):
            generate_curve(np.zeros(50, int), s, 10)


def test_when_scores_rank_the_labels_perfectly_then_vus_roc_is_one_and_a_constant_scores_less():
    y = _labels(200, [(50, 59), (120, 120)])
    perfect = vus(y, y.astype(float), sliding_window=0)
    assert perfect.roc == pytest.approx(1.0) and perfect.pr == pytest.approx(1.0)
    assert vus(y, np.full(200, 0.3), sliding_window=0).pr < 0.2


def test_when_inputs_are_malformed_then_the_error_names_the_problem():
    with pytest.raises(DetectionInputError, match="one label per score"):
        vus(np.zeros(5), np.zeros(4))
    with pytest.raises(DetectionInputError, match="NaN or infinite"):
        vus(np.r_[0, 1, 0], np.r_[0.1, np.nan, 0.2])
    with pytest.raises(DetectionInputError, match="sliding_window"):
        vus(np.r_[0, 1, 0], np.r_[0.1, 0.5, 0.2], sliding_window=-1)


@needs_tsb
def test_when_a_corpus_is_scored_then_vus_is_the_mean_over_series_with_both_classes():
    rng = np.random.default_rng(11)
    ys = [_layout("middle", rng), np.zeros(80, int), _layout("at_end", rng)]  # the second has no anomaly
    ss = [_scores(y, rng, ties=False) for y in ys]
    groups = np.concatenate([np.full(len(y), i) for i, y in enumerate(ys)])
    y, s = np.concatenate(ys), np.concatenate(ss)
    theirs = [generate_curve(a, b, 100)[-2:] for a, b in zip(ys, ss, strict=True) if a.any()]
    assert vus_roc(y, s, groups) == pytest.approx(np.mean([t[0] for t in theirs]), rel=REL, abs=0)
    assert vus_pr(y, s, groups) == pytest.approx(np.mean([t[1] for t in theirs]), rel=REL, abs=0)
    assert len(vus_per_series(y, s, groups)) == 3 and np.isnan(vus_per_series(y, s, groups)[1].pr)


def _random_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions with runs of every length, touching either end, or empty."""
    n = int(rng.integers(2, 120))
    y = (rng.random(n) < rng.choice([0.0, 0.05, 0.3, 0.6])).astype(int)
    p = (rng.random(n) < rng.choice([0.0, 0.1, 0.4, 0.8])).astype(int)
    return y, p


@needs_tsb
def test_when_labels_and_predictions_are_random_then_range_precision_recall_f1_equal_tsb_ad():
    grader = basic_metricor()
    rng = np.random.default_rng(2018)
    checked = 0
    for _ in range(400):
        y, p = _random_pair(rng)
        if y.all() or p.all():  # TSB-AD finds no range in an all-ones array (see the next test)
            continue
        recall = grader.range_recall_new(y, p, 0.2)[0]
        precision = grader.range_recall_new(p, y, 0)[0]
        assert range_recall(y, p) == pytest.approx(recall, rel=REL, abs=1e-15)
        assert range_precision(y, p) == pytest.approx(precision, rel=REL, abs=1e-15)
        assert range_f1(y, p) == pytest.approx(grader.metric_RF1(y, None, preds=p), rel=REL, abs=1e-15)
        checked += 1
    assert checked > 300


def test_when_a_series_is_one_long_range_then_it_counts_as_one_range():
    """TSB-AD's `range_convers_new` returns no range for an all-ones array (it looks for a rise and a
    fall), so its range precision of a detector that flags every row is 0; here that is one range."""
    y = _labels(10, [(2, 4)])
    assert range_precision(y, np.ones(10)) == pytest.approx(0.3)  # 3 of 10 rows, one label range met
    assert range_recall(y, np.ones(10)) == pytest.approx(1.0)


def test_when_ranges_are_hand_checked_then_existence_overlap_and_cardinality_weigh_as_tatbul():
    y = _labels(20, [(2, 5), (10, 11)])
    p = _labels(20, [(3, 3), (5, 6)])  # two predictions in the first range, nothing in the second
    # first range: existence 1, overlap 2/4, cardinality 1/2; second: 0
    assert range_recall(y, p) == pytest.approx((0.2 * 1 + 0.8 * 0.5 * 0.5 + 0) / 2)
    assert range_recall(y, p, cardinality="one") == pytest.approx((0.2 + 0.8 * 0.5) / 2)
    # predictions: [3] fully inside (1), [5, 6] half inside (1/2); each meets one label range
    assert range_precision(y, p) == pytest.approx((1 + 0.5) / 2)
    assert range_recall(np.zeros(20), p) == 0.0 and range_precision(y, np.zeros(20)) == 0.0
    with pytest.raises(DetectionInputError, match="bias"):
        range_recall(y, p, bias="front")


@needs_tsb
def test_when_a_corpus_has_groups_then_ranges_are_cut_at_series_ends_and_pooled():
    grader = basic_metricor()
    rng = np.random.default_rng(5)
    pairs = [_random_pair(rng) for _ in range(6)]
    pairs = [(y, p) for y, p in pairs if y.any() and p.any() and not y.all() and not p.all()]
    y, p = np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])
    groups = np.concatenate([np.full(len(a), i) for i, (a, _) in enumerate(pairs)])
    n_real = [len(ranges(a)[0]) for a, _ in pairs]
    n_pred = [len(ranges(b)[0]) for _, b in pairs]
    recall = sum(grader.range_recall_new(a, b, 0.2)[0] * k for (a, b), k in zip(pairs, n_real, strict=True))
    precision = sum(grader.range_recall_new(b, a, 0)[0] * k for (a, b), k in zip(pairs, n_pred, strict=True))
    assert range_recall(y, p, groups) == pytest.approx(recall / sum(n_real), rel=REL)
    assert range_precision(y, p, groups) == pytest.approx(precision / sum(n_pred), rel=REL)
    starts, ends = ranges(np.ones(6), np.array([0, 0, 1, 1, 1, 2]))
    assert starts.tolist() == [0, 2, 5] and ends.tolist() == [1, 4, 5]


NEW = ("vus_pr", "vus_roc", "range_precision", "range_recall", "range_f1")
ITEMS = ("artificialWithAnomaly/art_daily_jumpsup.csv", "realTraffic/speed_7578.csv",
         "realTraffic/TravelTime_451.csv", "realKnownCause/ambient_temperature_system_failure.csv")  # fmt: skip


def test_when_a_detection_task_asks_for_the_new_metrics_then_the_scoreboard_reports_them(mirror):
    from workbench.anomaly.run import detect, scoreboard
    from workbench.anomaly.task import DetectionTask

    task = DetectionTask(dataset="nab", subsets=("all",), items=ITEMS, metrics=("event_f1", *NEW))
    data = task.load()
    det = detect(data, "windowedGaussian")
    board = scoreboard(data, [det]).set_index("metric")
    assert set(NEW) <= set(board.index) and board.loc[list(NEW), "value"].between(0, 1).all()
    # recomputed from the rows the scoreboard evaluates: scorable rows outside the calibration items
    rows = data.corpus.scorable & ~data.calibration_mask()
    y, s, g = data.rows["label"].to_numpy()[rows], det.scores[rows], data.corpus.file_index[rows]
    per_file = [vus(y[g == f], s[g == f]) for f in np.unique(g)]
    assert board.loc["vus_pr", "value"] == pytest.approx(np.nanmean([v.pr for v in per_file]), rel=REL)
    threshold = board.loc["range_f1", "threshold"]
    assert board.loc["range_f1", "value"] == pytest.approx(range_f1(y, s >= threshold, g), rel=REL)
    assert not board.loc[["vus_pr", "vus_roc"], "tuned_on_test"].any()
    assert get_detection_metric("vus_pr")[1] is False and get_detection_metric("range_f1")[1] is True


def test_when_a_threshold_is_tuned_on_range_f1_then_it_is_accepted():
    from workbench.anomaly.thresholds import ThresholdStrategy, choose_threshold

    scores = np.r_[np.linspace(0, 1, 50), np.linspace(0, 1, 50)]
    labels = np.r_[np.linspace(0, 1, 50) > 0.8, np.linspace(0, 1, 50) > 0.3]
    chosen = choose_threshold(ThresholdStrategy(metric="range_f1"), scores, labels, np.arange(100) < 50)
    assert 0.78 < chosen.value < 0.84


def test_when_the_engine_runs_a_task_with_the_new_metrics_then_its_stored_scoreboard_holds_them(
    shared_cluster, tmp_path
):
    from workbench.anomaly.engine import detect_on_engine
    from workbench.anomaly.run import scoreboard
    from workbench.anomaly.task import DetectionTask

    task = DetectionTask(dataset="nab", subsets=("all",), items=ITEMS[:2], metrics=NEW)
    run = detect_on_engine(task, ["windowedGaussian"], scheduler=shared_cluster.address, store=tmp_path, progress=False)
    stored = run.store.read_table("detection_metrics").set_index("metric")
    assert set(NEW) <= set(stored.index) and stored.loc[list(NEW), "higher_is_better"].all()
    assert stored.loc[list(NEW), "value"].between(0, 1).all()  # NaN would fail here
    local = scoreboard(run.data, run.detections).set_index("metric")
    np.testing.assert_allclose(stored.loc[list(NEW), "value"], local.loc[list(NEW), "value"], rtol=1e-12)
