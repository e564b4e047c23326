"""The recap: earned from content, consistent, with evidence; validated on kept transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.scoring import PITFALL_IDS, TIP_IDS, practice_suggestions, score_transcript
from flows.transcript import TranscriptError, validate_transcript

TRANSCRIPTS = Path(__file__).parent / "transcripts"
LEVELS_OF_QUALITY = ("strong", "medium", "weak", "off_topic")


def _load(name: str) -> dict:
    return json.loads((TRANSCRIPTS / f"{name}.json").read_text())


def _problems_in_set() -> list[str]:
    slugs = sorted({p.name.split("--")[0] for p in TRANSCRIPTS.glob("*--strong.json")})
    return slugs


def _score(name: str, bank) -> dict:
    data = _load(name)
    problem = bank[data["problem"]]
    validate_transcript(data, problem.phase_ids)
    return score_transcript(data, problem, practice_suggestions(bank.values(), problem))


def test_the_validation_set_covers_at_least_six_problems_with_every_variant():
    slugs = _problems_in_set()
    assert len(slugs) >= 6
    for slug in slugs:
        for variant in (*LEVELS_OF_QUALITY, "stuffed", *(f"pitfall-{p}" for p in PITFALL_IDS)):
            assert (TRANSCRIPTS / f"{slug}--{variant}.json").exists(), f"{slug}--{variant}"


@pytest.mark.parametrize("slug", _problems_in_set())
def test_strong_beats_medium_beats_weak_beats_off_topic(bank, slug):
    recaps = {q: _score(f"{slug}--{q}", bank) for q in (*LEVELS_OF_QUALITY, "stuffed")}
    overall = {q: r["overall"] for q, r in recaps.items()}
    assert overall["strong"] > overall["medium"] > overall["weak"] > overall["off_topic"], overall
    assert overall["stuffed"] < overall["medium"], overall
    for i, phase in enumerate(recaps["strong"]["phases"]):
        scores = [recaps[q]["phases"][i]["score"] for q in LEVELS_OF_QUALITY]
        assert scores == sorted(scores, reverse=True), (phase["phase"], scores)
        assert recaps["stuffed"]["phases"][i]["score"] <= recaps["strong"]["phases"][i]["score"]
    assert recaps["strong"]["verdict"] in ("strong_hire", "hire")
    assert recaps["off_topic"]["verdict"] == "no_hire"
    assert recaps["weak"]["verdict"] in ("no_hire", "lean_no_hire")


@pytest.mark.parametrize("slug", _problems_in_set())
def test_strong_transcripts_trigger_no_pitfall(bank, slug):
    recap = _score(f"{slug}--strong", bank)
    assert [p["id"] for p in recap["pitfalls"] if p["triggered"]] == []


@pytest.mark.parametrize("slug", _problems_in_set())
@pytest.mark.parametrize("pitfall", PITFALL_IDS)
def test_each_pitfall_variant_triggers_exactly_its_pitfall_with_evidence(bank, slug, pitfall):
    recap = _score(f"{slug}--pitfall-{pitfall}", bank)
    triggered = [p for p in recap["pitfalls"] if p["triggered"]]
    assert [p["id"] for p in triggered] == [pitfall]
    assert triggered[0]["evidence"]
    strong = _score(f"{slug}--strong", bank)
    assert recap["overall"] < strong["overall"]


@pytest.mark.parametrize("slug", _problems_in_set())
def test_off_topic_feedback_says_so(bank, slug):
    recap = _score(f"{slug}--off_topic", bank)
    assert "off-topic" in recap["summary"]
    assert all(
        "off-topic" in p["feedback"] or "Nothing was answered" in p["feedback"] for p in recap["phases"]
    )


@pytest.mark.parametrize("slug", _problems_in_set())
def test_stuffed_feedback_asks_for_explanations(bank, slug):
    recap = _score(f"{slug}--stuffed", bank)
    assert any("without explanation" in p["feedback"] for p in recap["phases"])


def test_the_recap_has_every_field_of_the_contract(bank):
    recap = _score("url-shortener--medium", bank)
    assert {"problem", "level", "overall", "verdict", "phases", "tips", "pitfalls", "next_steps"} <= set(
        recap
    )
    assert isinstance(recap["overall"], int) and 0 <= recap["overall"] <= 100
    assert recap["verdict"] in ("strong_hire", "hire", "lean_no_hire", "no_hire")
    assert [p["phase"] for p in recap["phases"]] == list(bank["url-shortener"].phase_ids)
    for p in recap["phases"]:
        assert {"phase", "score", "minutes_used", "minutes_budget", "covered", "missed", "feedback"} <= set(p)
        assert p["score"] in (1, 2, 3, 4)
    assert [t["id"] for t in recap["tips"]] == list(TIP_IDS)
    assert [p["id"] for p in recap["pitfalls"]] == list(PITFALL_IDS)
    assert all(t["evidence"] for t in recap["tips"])
    assert 2 <= len(recap["next_steps"]) <= 3
    titles = {p.title for p in bank.values()}
    assert all(any(t in step for t in titles) for step in recap["next_steps"])


def _turns(phase: str, *texts: str, start: float = 0.0) -> list[dict]:
    return [
        {"at": start + i * 10.0, "phase": phase, "role": "candidate", "text": text}
        for i, text in enumerate(texts)
    ]


def test_a_long_vague_answer_scores_below_a_short_precise_one(bank):
    problem = bank["url-shortener"]
    vague = (
        "So basically the system needs to be really good and scalable and we want it to be robust and "
        "reliable and we will think about all the different things that could matter, and we will make "
        "sure that everything is designed in a nice way that works well for everyone involved. " * 6
    )
    precise = (
        "Writes go through a load balancer to stateless app servers. Codes come from a counter in base62. "
        "The code to url mapping lives in a key value db like DynamoDB because lookups are by key, "
        "with a redis cache in front since reads dominate 100:1."
    )
    long_recap = score_transcript({"turns": _turns("high_level_design", vague)}, problem)
    short_recap = score_transcript({"turns": _turns("high_level_design", precise)}, problem)
    hld = [p for p in long_recap["phases"] if p["phase"] == "high_level_design"][0]
    hld_short = [p for p in short_recap["phases"] if p["phase"] == "high_level_design"][0]
    assert hld_short["score"] > hld["score"]
    assert short_recap["overall"] > long_recap["overall"]


def test_negated_concepts_are_not_credited(bank):
    problem = bank["url-shortener"]
    said = score_transcript(
        {"turns": _turns("high_level_design", "we need a redis cache for hot codes")}, problem
    )
    denied = score_transcript(
        {"turns": _turns("high_level_design", "we don't need a cache for hot codes")}, problem
    )
    hld = lambda r: [p for p in r["phases"] if p["phase"] == "high_level_design"][0]  # noqa: E731
    assert any("Cache" in c or "cache" in c for c in hld(said)["covered"])
    assert not any("cache" in c.lower() for c in hld(denied)["covered"])


def test_empty_interview_says_nothing_was_answered(bank):
    recap = score_transcript({"turns": []}, bank["url-shortener"])
    assert recap["overall"] == 0 and recap["verdict"] == "no_hire"
    assert "Nothing was answered" in recap["summary"]
    assert all(p["score"] == 1 for p in recap["phases"])


def test_a_staff_candidate_who_never_leads_the_deep_dives_is_not_a_strong_hire(bank):
    data = _load("url-shortener--strong")
    data["level"] = "staff"
    dd = [t for t in data["turns"] if t["phase"] == "deep_dives"]
    # keep only the interviewer's prompts and one bland reply: nothing proposed unprompted
    data["turns"] = [t for t in data["turns"] if t["phase"] != "deep_dives"] + [
        dd[0],
        {
            "at": dd[0]["at"] + 5,
            "phase": "deep_dives",
            "role": "candidate",
            "text": "what would you like to cover?",
        },
    ]
    recap = score_transcript(data, bank["url-shortener"])
    assert recap["verdict"] != "strong_hire"
    assert recap["proactive_deep_dive"]["proactive"] is False


def test_evidence_quotes_do_not_ping_anyone_when_shown_in_slack(bank):
    from bot.slack.blocks import recap_blocks

    data = _load("url-shortener--strong")
    for t in data["turns"]:
        if t["role"] == "candidate":
            t["text"] = "<!channel> <@U12345> -> " + t["text"]
    recap = score_transcript(data, bank["url-shortener"])
    assert "<!channel> <@U12345> ->" in json.dumps(recap)  # the recap keeps what was said
    blob = json.dumps(recap_blocks(recap))
    assert "<!channel>" not in blob and "<@U12345>" not in blob and "&lt;!channel&gt;" in blob


def test_over_time_evidence_is_a_timing_fact(bank):
    recap = _score("url-shortener--pitfall-over_time", bank)
    over = [p for p in recap["pitfalls"] if p["id"] == "over_time"][0]
    assert over["evidence"].startswith("Requirements took 12.0 of 5 minutes")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a transcript must be a JSON object"),
        ({}, "the transcript has no 'turns'"),
        ({"turns": {}}, "'turns' must be a list"),
        ({"turns": [{"at": 1, "phase": "lunch", "role": "candidate", "text": "x"}]}, "unknown phase 'lunch'"),
        ({"turns": [{"at": 1, "phase": "api", "role": "judge", "text": "x"}]}, "unknown role 'judge'"),
        ({"turns": [{"at": -1, "phase": "api", "role": "bot", "text": "x"}]}, "non-negative"),
        (
            {
                "turns": [
                    {"at": 5, "phase": "api", "role": "bot", "text": "x"},
                    {"at": 2, "phase": "api", "role": "bot", "text": "y"},
                ]
            },
            "earlier than the turn before",
        ),
        ({"turns": [], "level": "wizard"}, "unknown level"),
        ({"turns": [], "phases": [{"phase": "api", "started_at": 9, "ended_at": 2}]}, "ended_at is before"),
    ],
)
def test_invalid_transcripts_are_refused_with_the_place_named(data, message):
    with pytest.raises(TranscriptError) as err:
        validate_transcript(data)
    assert message in str(err.value)
