"""Concept matching survives how people type in chat, and is not fooled by stuffing."""

from __future__ import annotations

import pytest

from flows.matching import matcher_for
from flows.text import quote, stem


def covered(problem, phase, *messages):
    matcher = matcher_for(problem)
    return set(matcher.evidence(matcher.analyse(list(messages)), phase))


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("we'll put a redis cache in front", "cache"),
        ("caching the hot ones", "cache"),
        ("hot pastes get cached", "cache"),
        ("an LB spreads the traffic", "lb"),
        ("LBs in each zone", "lb"),
        ("around 5k QPS at peak", "scale"),
        ("10M DAU", "scale"),
        ("the blobs go to S3", "blob"),
        ("we keep bytes in objct storage", "blob"),  # a typo
        ("we keep bytes in object storge", "blob"),  # another
        ("cahce in front of the db", "cache"),  # a swap
    ],
)
def test_inflections_abbreviations_and_typos_still_match(tiny, text, concept):
    phase = next(p for p, g in tiny.phases.items() if any(c.id == concept for c in g.concepts))
    assert concept in covered(tiny, phase, text)


@pytest.mark.parametrize(
    "text",
    [
        "we don't need a cache here",
        "no cache for now",
        "without any caching at all",
        "we won't use redis",
    ],
)
def test_negation_does_not_cover_the_concept(tiny, text):
    assert "cache" not in covered(tiny, "high_level_design", text)


def test_negation_ends_at_but(tiny):
    assert "cache" in covered(tiny, "high_level_design", "we don't shard, but we cache hot pastes in redis")


def test_terms_with_stopwords_match_word_for_word(bank):
    problem = bank["url-shortener"]
    assert "list_links" not in covered(problem, "api", "a power user has 50,000 links")


def test_common_words_are_not_corrected_into_technical_ones(tiny):
    # "share" is one edit from "shard"-like words; "cases" from "cache"
    assert "cache" not in covered(tiny, "high_level_design", "in most cases we share nothing")


def test_stuffed_keywords_earn_little_credit(bank):
    problem = bank["url-shortener"]
    matcher = matcher_for(problem)
    stuffed = matcher.evidence(
        matcher.analyse(["redis cache kafka sharding base62 cdn load balancer cassandra replication"]),
        "high_level_design",
    )
    explained = matcher.evidence(
        matcher.analyse(["a redis cache sits in front of the database because redirects dominate reads"]),
        "high_level_design",
    )
    assert stuffed and all(e.stuffed for e in stuffed.values())
    assert max(e.credit for e in stuffed.values()) < min(e.credit for e in explained.values())


def test_a_list_of_one_phase_entities_is_an_answer_not_stuffing(bank):
    problem = bank["url-shortener"]
    matcher = matcher_for(problem)
    found = matcher.evidence(
        matcher.analyse(["ShortURL: code, long url, owner, created_at, expires_at. User. Click"]),
        "core_entities",
    )
    assert found and not any(e.stuffed for e in found.values())


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("caches", "cache"),
        ("caching", "cache"),
        ("cached", "cache"),
        ("queues", "queue"),
        ("processes", "process"),
        ("aliases", "alias"),
        ("normalised", "normalize"),
        ("centre", "center"),
        ("behaviour", "behavior"),
        ("cancelled", "cancel"),
    ],
)
def test_stems_meet_their_base_form(word, base):
    assert stem(word) == stem(base)


def test_quotes_keep_the_words_verbatim_and_cut_long_ones():
    # Making a quote safe to show is the surface's job (bot.slack.escape), not the engine's.
    assert quote("client -> LB -> app  servers") == "client -> LB -> app servers"
    assert quote("word " * 100, 50).endswith("…")


def test_stems_are_the_same_when_many_threads_stem_at_once():
    """Steps and scoring run in worker threads; a stemmer shared between them corrupted stems or
    raised IndexError (seen as starts failing under a burst of mentions)."""
    import sys
    import threading

    words = [
        f"{w}{suffix}"
        for w in ("replicat", "partition", "shard", "cach", "queue", "stream")
        for suffix in ("ing", "ed", "ions", "es", "er", "ation", "ness", "ings")
    ]
    expected = {w: stem(w) for w in words}
    errors: list[BaseException] = []
    wrong: list[tuple[str, str]] = []

    def work() -> None:
        try:
            for _ in range(300):
                for w in words:
                    got = stem(w)
                    if got != expected[w]:
                        wrong.append((w, got))
        except BaseException as exc:  # noqa: BLE001 - what a racing stemmer raises is the finding
            errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to make a race show
    try:
        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == [] and wrong == []
