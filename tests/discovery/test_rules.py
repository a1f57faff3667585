"""The discovery service's pure rules: text normalisation and stems, trending decay, and
the variety of authors on the explore page."""

from __future__ import annotations

import pytest

from services.discovery import scoring, text
from services.discovery.variety import spread


@pytest.mark.parametrize(("raw", "folded"), [("Café", "cafe"), ("ÉCOLE", "ecole"),
                                             ("Straße", "strasse"), ("ﬁne", "fine")])
def test_fold_removes_case_and_accents(raw: str, folded: str) -> None:
    assert text.fold(raw) == folded


@pytest.mark.parametrize(("word", "stem"), [
    ("sunsets", "sunset"), ("sunset", "sunset"), ("sunsetting", "sunset"),
    ("parties", "party"), ("kisses", "kiss"), ("running", "run"), ("jumped", "jump"),
    ("bus", "bus"), ("glass", "glass"), ("sing", "sing")])
def test_basic_stems(word: str, stem: str) -> None:
    assert text.stem(word) == stem


def test_words_are_distinct_stems_without_common_words() -> None:
    assert text.words("The Sunsets at the CAFÉ, sunset! 2024 a b") == ["sunset", "cafe"]


def test_post_terms_fold_hashtags() -> None:
    assert text.post_terms("x", ["Café", "café", "bad tag"]) == (["cafe"], [])


def test_decay_halves_per_half_life() -> None:
    now = 100 * scoring.HOUR + 1800  # the middle of hour 100
    weights = dict(scoring.window_weights(now, 25, 12.0))
    assert weights[100] == pytest.approx(1.0)
    assert weights[88] == pytest.approx(0.5)
    assert weights[76] == pytest.approx(0.25)
    assert min(weights) == 76 and len(weights) == 25


def test_spread_keeps_authors_apart_when_it_can() -> None:
    items = [("a", 1), ("a", 2), ("a", 3), ("b", 4), ("c", 5), ("a", 6)]
    assert spread(items, 3) == [("a", 1), ("b", 4), ("c", 5), ("a", 2), ("a", 3), ("a", 6)]
    assert spread(items, 1) == items
