"""Claims, not keywords: misconceptions, implausible figures, paraphrase, notation, pasted text,
reasons that add nothing, and verdict caps that say why."""

from __future__ import annotations

import pytest

from bot.render import recap_markdown, recap_text
from flows.matching import ProblemMatcher, figures
from flows.scoring import score_transcript
from problems.loader import ProblemFileError, parse_problem
from tests.conftest import concept, tiny_problem_data


def store_problem():
    data = tiny_problem_data()
    data["prompt"] = (
        "Design a paste bin where people upload blocks of text and share a short link that anyone "
        "can open to read the text later, with optional expiry and syntax highlighting."
    )
    data["phases"]["requirements"]["concepts"] += [
        concept(
            "global_limit",
            3,
            ["global limit", "across servers"],
            "Requests land on fifty boxes. Then?",
            misconceptions=["counter on each server", "limit per server"],
        ),
        concept(
            "availability",
            2,
            ["availability over consistency", "highly available"],
            "Which matters more when the network splits?",
            misconceptions=["pick cp", "strong consistency everywhere"],
        ),
        concept(
            "peak_load",
            2,
            ["qps", "requests per second", "storage"],
            "How big?",
            quantitative=True,
            magnitude={"unit": "per_second", "low": 1000, "high": 1000000},
        ),
    ]
    data["phases"]["high_level_design"]["concepts"].append(
        concept(
            "placement",
            3,
            ["consistent hashing", "hash ring"],
            "How do keys find their node?",
            misconceptions=["hash mod n", "modulo number of servers"],
        )
    )
    data["clarifications"] = [
        {"id": "scale", "terms": ["how many", "qps"], "answer": "About 50k reads a second at peak."}
    ]
    return parse_problem(data, "paste-bin.toml")


@pytest.fixture
def problem():
    return store_problem()


def evidence(problem, phase_id, *texts):
    matcher = ProblemMatcher(problem)
    return matcher.evidence(matcher.analyse(list(texts)), phase_id)


def test_a_misconception_earns_nothing_and_says_why(problem):
    found = evidence(
        problem, "high_level_design", "Keys go to node hash(key) mod N, consistent hashing style."
    )
    assert found["placement"].credit == 0 and found["placement"].wrong == "misconception"
    right = evidence(
        problem, "high_level_design", "A hash ring (consistent hashing) so adding a node moves 1/N keys."
    )
    assert right["placement"].credit == 1.0 and not right["placement"].wrong


def test_a_negated_misconception_is_not_a_wrong_claim(problem):
    found = evidence(problem, "high_level_design", "Not hash mod N: a hash ring, so resizing moves few keys.")
    assert not found["placement"].wrong


@pytest.mark.parametrize(
    "text",
    [
        "I'd pick CP here, availability over consistency is overrated",
        "strong consistency everywhere, highly available is secondary",
    ],
)
def test_the_opposite_claim_is_not_credited_for_the_keyword(problem, text):
    assert evidence(problem, "requirements", text)["availability"].wrong


def test_phrases_match_within_a_window_in_any_order(problem):
    found = evidence(problem, "requirements", "the limit must be global across all fifty servers")
    assert found["global_limit"].credit == 1.0


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("about 2TB of data", "bytes", 2e12),
        ("5PB a year", "bytes", 5e15),
        ("10k ops/s at peak", "per_second", 1e4),
        ("86,400 requests per day", "per_second", 1.0),
        ("1M QPS", "per_second", 1e6),
        ("cache it for ~1s", "seconds", 1.0),
        ("p99 under 50ms", "seconds", 0.05),
    ],
)
def test_figures_are_read_with_their_units(text, unit, value):
    assert figures(text, unit) and figures(text, unit)[0] == pytest.approx(value)


def test_an_implausible_figure_is_a_claim_to_fix(problem):
    found = evidence(problem, "requirements", "It needs about 10 QPS at peak, so one box.")
    assert found["peak_load"].credit == 0 and "implausible" in found["peak_load"].wrong
    fine = evidence(problem, "requirements", "Peak is about 50k QPS, so we need a fleet.")
    assert fine["peak_load"].credit == 1.0


def test_british_spellings_meet_the_bank(tiny):
    data = tiny_problem_data()
    data["phases"]["api"]["concepts"].append(concept("norm", 2, ["normalize url"], "Same link twice?"))
    problem = parse_problem(data, "paste-bin.toml")
    assert "norm" in evidence(problem, "api", "we normalise URLs before storing them")


def test_a_reason_must_add_information(problem):
    matcher = ProblemMatcher(problem)
    empty = matcher.analyse(
        ["I'd add a redis cache because caching is everywhere in modern cloud-native architectures"]
    )
    useful = matcher.analyse(["I'd add a redis cache because reads outnumber writes 100 to 1"])
    assert not matcher.informative_reason(empty.sentences[0])
    assert matcher.informative_reason(useful.sentences[0])


def test_a_terse_precise_answer_earns_full_credit(problem):
    terse = evidence(problem, "high_level_design", "S3 for blobs; Redis cache for hot reads; LB -> app.")
    assert {"blob", "cache", "lb"} <= set(terse)
    assert all(e.credit == 1.0 for e in terse.values())


def test_buzzwords_without_a_decision_earn_little(problem):
    vague = evidence(
        problem,
        "high_level_design",
        "Of course we need a robust, scalable, cloud-native cache layer, because modern systems are "
        "highly available and resilient, and it depends on the best practices of the industry.",
    )
    assert vague["cache"].credit < 0.5 and vague["cache"].quality == 0


def test_the_problems_own_wording_is_pasted(problem):
    matcher = ProblemMatcher(problem)
    assert matcher.pasted_share(problem.prompt) >= 0.5
    assert (
        matcher.pasted_share("I'd keep pastes in S3 and put a small redis cache in front for hot ones.") < 0.2
    )


def _transcript(turns, problem):
    phases = []
    for pid in problem.phase_ids:
        times = [t["at"] for t in turns if t["phase"] == pid]
        if times:
            phases.append({"phase": pid, "started_at": min(times) - 1, "ended_at": max(times) + 1})
    return {"problem": problem.slug, "level": "senior", "turns": turns, "phases": phases}


def test_text_faster_than_anyone_types_earns_nothing_and_is_named(problem):
    fast = "We create paste with an upload text form, and read paste by id later. " * 4
    turns = [
        {"at": 0.0, "phase": "requirements", "role": "bot", "text": "What matters?"},
        {"at": 3.0, "phase": "requirements", "role": "candidate", "text": fast},
    ]
    recap = score_transcript(_transcript(turns, problem), problem)
    assert recap["pasted"] and "faster than anyone types" in recap["pasted"][0]["why"]
    assert recap["phases"][0]["covered"] == []
    slow = [dict(t) for t in turns]
    slow[1]["at"] = 90.0
    assert score_transcript(_transcript(slow, problem), problem)["phases"][0]["covered"]


def test_every_verdict_cap_is_stated_in_every_format(bank):
    import json
    from pathlib import Path

    transcript = json.loads(
        (Path(__file__).parent / "transcripts" / "rate-limiter--pitfall-monologue.json").read_text()
    )
    recap = score_transcript(transcript, bank["rate-limiter"])
    caps = recap["verdict_caps"]
    assert caps and all(c["reason"] for c in caps)
    for rendered in (recap_text(recap), recap_markdown(recap), recap["summary"]):
        for c in caps:
            assert c["reason"].split(":")[0][:40] in rendered


def test_the_bank_refuses_a_magnitude_on_a_qualitative_concept():
    data = tiny_problem_data()
    data["phases"]["requirements"]["concepts"][0]["magnitude"] = {"unit": "bytes", "low": 1, "high": 2}
    with pytest.raises(ProblemFileError, match="magnitude"):
        parse_problem(data, "paste-bin.toml")


def test_the_bank_refuses_a_clarification_without_an_answer():
    data = tiny_problem_data()
    data["clarifications"] = [{"id": "scale", "terms": ["qps"]}]
    with pytest.raises(ProblemFileError, match="answer"):
        parse_problem(data, "paste-bin.toml")


@pytest.mark.parametrize(
    "text",
    [
        "Instead of hash mod N, a hash ring so resizing moves few keys.",
        "Rather than hash mod N we use consistent hashing.",
        "hash mod N would break as soon as we add a node, so consistent hashing.",
    ],
)
def test_a_misconception_named_to_be_rejected_is_not_a_wrong_claim(problem, text):
    assert not evidence(problem, "high_level_design", text)["placement"].wrong


def test_a_misconceptions_words_count_in_their_order(problem):
    data = tiny_problem_data()
    data["phases"]["requirements"]["concepts"].append(
        concept(
            "ap",
            2,
            ["eventual consistency"],
            "Stale reads?",
            misconceptions=["consistency over availability"],
        )
    )
    p = parse_problem(data, "paste-bin.toml")
    assert evidence(p, "requirements", "consistency over availability, always")["ap"].wrong
    assert not evidence(p, "requirements", "availability over consistency: eventual consistency")["ap"].wrong


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("46 GB/s of pages", "per_second"),
        ("40 TB per day", "per_second"),
        ("v1 with ranking as a stretch", "per_second"),
        ("500 bytes per row", "bytes"),
    ],
)
def test_volumes_per_item_figures_and_words_are_not_read_as_the_wrong_unit(text, unit):
    assert figures(text, unit) == []


def test_a_list_of_entity_names_covers_each_entity(bank):
    assert {"short_url", "user", "click"} <= set(
        evidence(bank["url-shortener"], "core_entities", "ShortURL, User, Click")
    )


@pytest.mark.parametrize(
    ("text", "phase_id", "concept_id"),
    [
        ("GET /v1/boards/{id}/top?limit=100", "api", "get_top"),
        ("my exact rank and the people just above and below me", "requirements", "own_rank"),
    ],
)
def test_routes_and_phrases_with_a_word_between_are_read(bank, text, phase_id, concept_id):
    assert concept_id in evidence(bank["leaderboard"], phase_id, text)


def test_a_route_loses_its_version_and_path_parameters():
    from flows.text import normalise

    assert normalise("GET /v1/boards/{id}/top?k=10 and GET /users/:id/rank") == (
        "get /boards/top?k=10 and get /users/rank"
    )


def test_a_warning_posted_while_the_candidate_types_does_not_make_their_answer_pasted(problem):
    answer = "We create paste with an upload text form, and read paste by id later. " * 4
    turns = [
        {"at": 0.0, "phase": "requirements", "role": "bot", "text": "What matters?"},
        {
            "at": 10.0,
            "phase": "requirements",
            "role": "candidate",
            "text": "Who reads pastes, and how often?",
        },
        {"at": 95.0, "phase": "requirements", "role": "bot", "text": "One minute left for Requirements."},
        {"at": 97.0, "phase": "requirements", "role": "candidate", "text": answer},
    ]
    recap = score_transcript(_transcript(turns, problem), problem)
    assert recap["pasted"] == []
