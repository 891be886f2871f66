"""Every card validates and pins exactly the bytes the mirror manifest and upstream list pin."""

from __future__ import annotations

import pytest

from workbench.data import all_cards, get_card
from workbench.data.cards import load_card
from workbench.errors import DataFormatError, UnknownNameError


def test_when_catalog_loads_then_expected_datasets_are_declared():
    assert {
        "m4",
        "m3",
        "m1",
        "tourism",
        "nab",
        "ett",
        "exchange_rate",
        "ilinet",
        "skab",
        "classics",
        "monash_sample",
        "monash",
        "ucr_anomaly",
    } <= set(all_cards())


def test_when_card_pins_sha256_then_it_equals_the_manifest(manifest):
    for card in all_cards().values():
        for f in card.files:
            if f.sha256:
                url = f.url
                assert url in manifest, f"{card.name}: {f.url} not in MANIFEST.csv"
                assert f.sha256 == manifest[url]["sha256"], f"{card.name}: {f.key}"
                assert f.bytes == int(manifest[url]["bytes"])


def test_when_file_is_not_mirrored_then_card_pins_its_git_blob(upstream_blobs):
    pinned = {f.url: f.git_blob_sha1 for c in all_cards().values() for f in c.files if f.git_blob_sha1}
    assert pinned == upstream_blobs


def test_when_manifest_lists_a_file_then_some_card_covers_it(manifest):
    covered = {f.url for c in all_cards().values() for f in c.files}
    uncovered = {u.rsplit("/", 1)[-1] for u in set(manifest) - covered}
    # duplicates of files already carded under their canonical source
    assert uncovered == {"ETTh1.csv", "ETTh2.csv", "exchange_rate.csv"}


def test_when_m4_is_declared_then_all_six_frequencies_exist():
    m4 = get_card("m4")
    assert set(m4.subsets) == {"Hourly", "Daily", "Weekly", "Monthly", "Quarterly", "Yearly"}
    assert {k: (s.horizon, s.season_length) for k, s in m4.subsets.items()} == {
        "Hourly": (48, 24),
        "Daily": (14, 1),
        "Weekly": (13, 1),
        "Monthly": (18, 12),
        "Quarterly": (8, 4),
        "Yearly": (6, 1),
    }


def test_when_dataset_name_is_mistyped_then_error_suggests_close_names():
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'm5'.*Did you mean 'm4'"):
        get_card("m5")
    with pytest.raises(UnknownNameError, match="Did you mean 'm4'"):
        get_card("M4")


def test_when_subset_is_unknown_then_error_lists_subsets():
    with pytest.raises(UnknownNameError, match=r"unknown subset of dataset 'm4' 'hourly'.*'Hourly'"):
        get_card("m4").subset("hourly")


def test_when_card_url_is_not_pinned_then_card_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ntitle: t\nreader: wide_csv\nlicence: x\ncitation: y\n"
        "files:\n- url: https://raw.githubusercontent.com/a/b/master/x.csv\n  sha256: " + "a" * 64 + "\n"
        "subsets:\n  s:\n    splits:\n      train:\n        files: [x.csv]\n"
    )
    with pytest.raises(DataFormatError, match="pinned to a 40-hex commit"):
        load_card(bad)


def test_when_card_split_names_missing_file_then_card_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ntitle: t\nreader: wide_csv\nlicence: x\ncitation: y\n"
        "files:\n- url: https://example.org/x.csv\n  sha256: " + "a" * 64 + "\n"
        "subsets:\n  s:\n    splits:\n      train:\n        files: [y.csv]\n"
    )
    with pytest.raises(DataFormatError, match=r"no file matches 'y\.csv'"):
        load_card(bad)
