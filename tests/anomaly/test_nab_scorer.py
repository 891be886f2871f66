"""The vectorised NAB scorer against a row-by-row loop with NAB's structure, and against NAB's own files."""

from __future__ import annotations

import warnings

import nab_reference as ref  # beside this file: pytest puts the test folder on sys.path
import numpy as np
import pandas as pd
import pytest

from workbench.anomaly.errors import LabelError, ScoreRangeError, TimestampOrderError
from workbench.anomaly.nab import (
    MAX_TP,
    STANDARD_PROFILES,
    NabCorpus,
    OutOfRangeScoreWarning,
    probationary_length,
    scaled_sigmoid,
)

PROFILES = list(STANDARD_PROFILES.values())


def _random_corpus(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Files with ties in the scores, a repeated timestamp, windows in and after the probationary rows."""
    rng = np.random.default_rng(seed)
    rows, windows, scores = [], [], {}
    for f in range(4):
        n = int(rng.integers(60, 400))
        ds = pd.date_range("2020-01-01", periods=n, freq="5min").to_numpy()
        if f == 1:
            ds[n // 2] = ds[n // 2 - 1]  # a repeated timestamp, as in some NAB files
        uid = f"cat/file{f}.csv"
        rows.append(pd.DataFrame({"unique_id": uid, "ds": ds}))
        # rounded scores: many ties, as detectors with coarse outputs produce
        scores[uid] = np.round(rng.random(n), int(rng.integers(1, 3)))
        cuts = np.sort(rng.choice(np.arange(2, n - 3), size=2 * int(rng.integers(0, 3)), replace=False))
        for a, b in zip(cuts[::2], cuts[1::2], strict=True):
            if f == 1 and a <= n // 2 <= b + 1:
                continue
            windows.append({"unique_id": uid, "start": ds[a], "end": ds[b]})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(windows, columns=["unique_id", "start", "end"]), scores


def _as_reference(data: pd.DataFrame, windows: pd.DataFrame, scores: dict) -> dict:
    out = {}
    for uid, g in data.groupby("unique_id", sort=False):
        w = windows[windows["unique_id"] == uid]
        out[uid] = (list(g["ds"]), list(scores[uid]), list(zip(w["start"], w["end"], strict=True)))
    return out


def test_when_the_sigmoid_is_evaluated_then_it_has_nabs_anchor_values():
    assert pytest.approx(0.98661429815) == MAX_TP
    assert float(scaled_sigmoid(np.array(0.0))) == 0.0
    assert float(scaled_sigmoid(np.array(3.0001))) == -1.0
    assert float(scaled_sigmoid(np.array(1.0))) == pytest.approx(-MAX_TP)


def test_when_a_file_is_long_then_the_probationary_period_stops_at_750_rows():
    assert probationary_length(1000) == 150
    assert probationary_length(22695) == 750


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_when_corpora_are_random_then_vectorised_scores_equal_the_row_loop(seed, profile):
    data, windows, scores = _random_corpus(seed)
    corpus = NabCorpus.build(data, windows)
    aligned = corpus.align(scores)
    loop = _as_reference(data, windows, scores)
    for threshold in (0.0, 0.3, 0.5, float(aligned[7]), 0.99, 1.0, 1.2):
        assert corpus.score(aligned, profile, threshold) == pytest.approx(ref.score_corpus(loop, profile, threshold),
                                                                          abs=1e-9)  # fmt: skip
    t_vec, s_vec = corpus.optimise(aligned, profile)
    t_ref, s_ref = ref.optimise(loop, profile)
    assert (t_vec, s_vec) == pytest.approx((t_ref, s_ref), abs=1e-9)


@pytest.mark.parametrize("detector", ["numenta", "random", "relativeEntropy"])
def test_when_nab_scored_its_result_files_then_each_files_score_matches_ours(nab, detector):
    """NAB wrote a per-row attribution (`S(t)_<profile>`) into the files it scored; per file it sums to
    the file's score at the committed threshold, which our scorer recomputes from the anomaly scores."""
    rows = nab.results[nab.results["detector"] == detector]
    scores = nab.published_scores(detector)
    for name, profile in nab.profiles.items():
        theirs = rows.groupby("unique_id", sort=False)[f"S(t)_{name}"].sum().reindex(nab.corpus.files)
        ours = nab.corpus.score_files(scores, profile, nab.threshold(detector, name)).set_index("file")["score"]
        assert np.max(np.abs(ours - theirs)) < 1e-9, name


def _one_file(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": "a.csv", "ds": pd.date_range("2020-01-01", periods=n, freq="h")})


def test_when_labels_name_a_file_not_in_the_corpus_then_the_error_names_it():
    windows = pd.DataFrame({"unique_id": ["missing.csv"], "start": [pd.Timestamp("2020-01-01")],
                            "end": [pd.Timestamp("2020-01-02")]})  # fmt: skip
    with pytest.raises(LabelError, match=r"missing\.csv"):
        NabCorpus.build(_one_file(), windows)


def test_when_a_window_lies_outside_the_data_then_it_is_refused():
    windows = pd.DataFrame({"unique_id": ["a.csv"], "start": [pd.Timestamp("2020-01-01 10:00")],
                            "end": [pd.Timestamp("2021-01-01")]})  # fmt: skip
    with pytest.raises(LabelError, match=r"a.csv: window 0 .* outside the data: its end"):
        NabCorpus.build(_one_file(), windows)


@pytest.mark.parametrize(
    ("spans", "message"),
    [([("10:00", "05:00")], "ends before it starts"), ([("10:00", "20:00"), ("15:00", "25:00")], "overlaps")],
)
def test_when_windows_are_reversed_or_overlap_then_they_are_refused(spans, message):
    day = pd.Timestamp("2020-01-01")
    windows = pd.DataFrame(
        [{"unique_id": "a.csv", "start": day + pd.Timedelta(a.replace(":00", "h")),
          "end": day + pd.Timedelta(b.replace(":00", "h"))} for a, b in spans]
    )  # fmt: skip
    with pytest.raises(LabelError, match=message):
        NabCorpus.build(_one_file(), windows)


def test_when_detector_rows_are_out_of_order_then_the_file_and_row_are_named():
    data = _one_file()
    corpus = NabCorpus.build(data, pd.DataFrame(columns=["unique_id", "start", "end"]))
    frame = data.rename(columns={"ds": "timestamp"}).assign(anomaly_score=0.5)
    swapped = frame.iloc[[1, 0, *range(2, len(frame))]]
    with pytest.raises(TimestampOrderError, match=r"a\.csv: row 0"):
        corpus.align(swapped, "det")
    with pytest.raises(TimestampOrderError, match="39 scores for 40"):
        corpus.align({"a.csv": np.zeros(39)}, "det")


@pytest.mark.parametrize("bad", [np.nan, 1.5, -0.1])
def test_when_scores_are_nan_or_outside_0_1_then_they_are_refused_with_their_row(bad):
    corpus = NabCorpus.build(_one_file(), pd.DataFrame(columns=["unique_id", "start", "end"]))
    scores = np.full(40, 0.5)
    scores[17] = bad
    with pytest.raises(ScoreRangeError, match=r"a\.csv row 17"):
        corpus.align({"a.csv": scores}, "det")


def _published_frame(data: pd.DataFrame, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """Scores as a published result file holds them: unique_id, timestamp, anomaly_score."""
    frame = data.rename(columns={"ds": "timestamp"})
    return frame.assign(anomaly_score=np.concatenate([scores[uid] for uid in dict.fromkeys(frame["unique_id"])]))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_when_a_published_file_holds_negative_scores_then_it_is_scored_as_nab_does_with_a_warning(profile):
    data, windows, scores = _random_corpus(3)
    scores["cat/file2.csv"] = scores["cat/file2.csv"] - 0.05  # small negative scores, as some published files hold
    corpus = NabCorpus.build(data, windows)
    with pytest.warns(OutOfRangeScoreWarning, match=r"det: cat/file2\.csv holds \d+ .*min -0\.05") as caught:
        aligned = corpus.align(_published_frame(data, scores), "det", published=True)
    assert len(caught) == 1 and aligned.min() == pytest.approx(-0.05)
    loop = _as_reference(data, windows, scores)
    for threshold in (-0.05, -0.01, 0.0, 0.3, 0.9):
        assert corpus.score(aligned, profile, threshold) == pytest.approx(ref.score_corpus(loop, profile, threshold),
                                                                          abs=1e-9)  # fmt: skip
    assert corpus.optimise(aligned, profile) == pytest.approx(ref.optimise(loop, profile), abs=1e-9)


def test_when_a_published_file_holds_scores_above_one_then_each_file_is_named_with_its_range():
    data, windows, scores = _random_corpus(4)
    scores["cat/file0.csv"] = scores["cat/file0.csv"] * 1.5
    scores["cat/file3.csv"] = scores["cat/file3.csv"] - 0.2
    with pytest.warns(OutOfRangeScoreWarning) as caught:
        NabCorpus.build(data, windows).align(scores, "det", published=True)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "cat/file0.csv" in messages[0] and f"max {float(scores['cat/file0.csv'].max())!r}" in messages[0]
    assert "cat/file3.csv" in messages[1] and f"min {float(scores['cat/file3.csv'].min())!r}" in messages[1]


def test_when_the_workbenchs_own_scores_leave_0_1_then_they_stay_refused():
    data, windows, scores = _random_corpus(3)
    scores["cat/file2.csv"] = scores["cat/file2.csv"] - 0.05
    with pytest.raises(ScoreRangeError, match=r"det: \d+ anomaly score\(s\) NaN or outside \[0, 1\].*cat/file2\.csv"):
        NabCorpus.build(data, windows).align(_published_frame(data, scores), "det")


def test_when_a_published_file_holds_nan_then_it_is_refused_and_in_range_files_pass_silently():
    corpus = NabCorpus.build(_one_file(), pd.DataFrame(columns=["unique_id", "start", "end"]))
    scores = np.full(40, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(corpus.align({"a.csv": scores}, "det", published=True), scores)
    scores[5] = np.nan
    with pytest.raises(ScoreRangeError, match=r"NaN or infinite.*a\.csv row 5"):
        corpus.align({"a.csv": scores}, "det", published=True)


def test_when_a_corpus_has_no_anomaly_window_then_the_normalised_score_is_undefined_not_a_division_error():
    from workbench.anomaly.nab import normalise

    assert np.isnan(normalise(-3.0, -3.0, -3.0))
    assert normalise(-1.0, -3.0, 1.0) == pytest.approx(50.0)
