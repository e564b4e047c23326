"""Pair interviews in Block Kit: the guide, the scorecard and self-rating modals, the merged recap."""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path

import pytest

from bot.render import PITFALL_NAMES, TIP_NAMES, VERDICTS
from bot.slack.blocks import recap_blocks, split_messages
from bot.slack.pair_views import (
    SCORE_LEVELS,
    calibration,
    guide_blocks,
    guide_text,
    merged_recap_blocks,
    parse_scorecard,
    parse_self_rating,
    scorecard_view,
    self_differences,
    self_rating_view,
)
from flows.framework import LEVELS, PHASE_SPECS
from flows.scoring import PITFALL_IDS, TIP_IDS, score_transcript
from problems import load_bank

TRANSCRIPTS = Path(__file__).parent / "transcripts"
BANK = load_bank()
INTERVIEWER = "UINTERVIEW1"
CANDIDATE = "UCANDIDATE1"


# ---------------------------------------------------------------- helpers


def _block_texts(block: dict) -> list[str]:
    """Every piece of text a block shows."""
    out: list[str] = []
    if isinstance(block.get("text"), dict):
        out.append(block["text"]["text"])
    out += [f["text"] for f in block.get("fields") or []]
    if block["type"] == "context":
        out += [e["text"] for e in block["elements"] if "text" in e]
    return out


def _all_text(blocks: list[dict]) -> str:
    return "\n".join(t for b in blocks for t in _block_texts(b))


def _assert_valid_message_blocks(blocks: list[dict]) -> None:
    """The Block Kit limits Slack enforces on the blocks we build."""
    assert blocks
    for block in blocks:
        kind = block["type"]
        if kind == "section":
            assert block.get("text") or block.get("fields")
            if block.get("text"):
                assert 0 < len(block["text"]["text"]) <= 3000
            assert len(block.get("fields") or []) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields") or [])
        elif kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
        else:
            assert kind == "divider", kind
    for message in split_messages(blocks):
        assert len(message) <= 50


def _options_of(element: dict) -> list[dict]:
    return element.get("options") or []


def _assert_valid_modal(view: dict, callback_id: str) -> None:
    assert view["type"] == "modal"
    assert view["callback_id"] == callback_id
    for key in ("title", "submit", "close"):
        assert view[key]["type"] == "plain_text"
        assert 0 < len(view[key]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    blocks = view["blocks"]
    assert len(blocks) <= 100
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    for block in blocks:
        if block["type"] != "input":
            _assert_valid_message_blocks([block])
            continue
        assert 0 < len(block["label"]["text"]) <= 2000
        assert len(block.get("hint", {}).get("text", "")) <= 2000
        element = block["element"]
        assert element["action_id"]
        options = _options_of(element)
        assert len(options) <= (10 if element["type"] in ("checkboxes", "radio_buttons") else 100)
        values = [o["value"] for o in options]
        assert len(values) == len(set(values))
        for option in options:
            assert 0 < len(option["text"]["text"]) <= 75
            assert len(option["value"]) <= 150
            if "description" in option:
                assert element["type"] in ("checkboxes", "radio_buttons")
                assert len(option["description"]["text"]) <= 75
        if "initial_option" in element:
            assert element["initial_option"] in options
        for chosen in element.get("initial_options", []):
            assert chosen in options
        if element["type"] == "plain_text_input":
            assert len(element.get("initial_value", "")) <= element.get("max_length", 3000)


def _state_values(view: dict) -> dict:
    """What Slack sends as `view.state.values` when the modal is submitted untouched."""
    values: dict = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        kind = element["type"]
        if kind in ("static_select", "radio_buttons"):
            state = {"type": kind, "selected_option": element.get("initial_option")}
        elif kind == "checkboxes":
            state = {"type": kind, "selected_options": element.get("initial_options", [])}
        else:
            state = {"type": kind, "value": element.get("initial_value")}
        values[block["block_id"]] = {element["action_id"]: state}
    return values


def _input_block_ids(view: dict) -> set[str]:
    return {b["block_id"] for b in view["blocks"] if b["type"] == "input"}


def _full_scorecard(problem) -> dict:
    return {
        "scores": {phase: 1 + i % 4 for i, phase in enumerate(problem.phase_ids)},
        "tips": ["handle_ambiguity", "trade_offs", "listen_actively"],
        "pitfalls": ["monologue", "over_time"],
        "verdict": "lean_no_hire",
        "strengths": "Asked sharp clarifying questions.\nGood numbers for the read/write ratio.",
        "to_fix": "Deep dives stayed shallow: say what fails and how you recover.",
        "destination": "candidate",
    }


@pytest.fixture(scope="module")
def url_shortener():
    return BANK["url-shortener"]


@pytest.fixture(scope="module")
def auto_recap(url_shortener) -> dict:
    transcript = json.loads((TRANSCRIPTS / "url-shortener--medium.json").read_text())
    recap = score_transcript(transcript, url_shortener)
    # Fixed automatic scores, so the differences below are exactly what each test says.
    for p in recap["phases"]:
        p["score"] = 2
    return recap


def _scorecard_against(auto: dict, **scores: int) -> dict:
    human = {p["phase"]: p["score"] for p in auto["phases"]}
    human.update(scores)
    return {
        "scores": human,
        "tips": ["handle_ambiguity"],
        "pitfalls": ["happy_path_only"],
        "verdict": "hire",
        "strengths": "STRENGTHS-MARKER: clear requirements, with numbers.",
        "to_fix": "TOFIX-MARKER: the deep dives.",
        "destination": "thread",
    }


# ---------------------------------------------------------------- the guide


@pytest.mark.parametrize("slug", sorted(BANK))
def test_the_guide_is_valid_and_names_every_phase_and_deep_dive_topic(slug):
    problem = BANK[slug]
    for level in LEVELS:
        blocks = guide_blocks(problem, level)
        _assert_valid_message_blocks(blocks)
        assert blocks[0]["type"] == "header"
        assert blocks[0]["text"]["text"] == f"Interviewer guide: {problem.title}"[:150]
        headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
        text = html.unescape(_all_text(blocks))
        assert problem.prompt in text
        assert problem.opening.splitlines()[0] in text
        for phase in problem.phase_ids:
            spec = PHASE_SPECS[phase]
            assert any(spec.name in h and f"{spec.budget_minutes:g} min" in h for h in headers), phase
            guide = problem.guide(phase)
            for item in (*guide.questions, *guide.red_flags, *guide.hints):
                assert item in text, (phase, item)
            for concept in guide.concepts:
                assert concept.name in text, (phase, concept.name)
                assert concept.follow_up in text, (phase, concept.id)
        if "data_flow" not in problem.phase_ids:
            assert not any("Data Flow" in h for h in headers)
        for concept in problem.guide("deep_dives").concepts:
            if concept.good.strip():
                assert concept.good.strip() in text, concept.id
        assert "stall for a minute or two" in text and "still stuck" in text
        assert guide_text(problem, level).startswith(f"Interviewer guide: {problem.title}")


def test_the_guide_marks_core_concepts_and_lists_their_follow_ups_first(url_shortener):
    text = html.unescape(_all_text(guide_blocks(url_shortener, "senior")))
    concepts = url_shortener.guide("requirements").concepts
    core = [c for c in concepts if c.weight == 3]
    other = [c for c in concepts if c.weight < 3]
    assert core and other
    for c in core:
        assert f"⭐ {c.name}" in text
    for c in other:
        assert f"⭐ {c.name}" not in text
    assert max(text.index(c.follow_up) for c in core) < min(text.index(c.follow_up) for c in other)


def test_the_guide_says_what_to_expect_at_each_level(url_shortener):
    texts = {level: _all_text(guide_blocks(url_shortener, level)) for level in LEVELS}
    assert "you lead" in texts["junior"]
    assert "propose improvements unprompted" in texts["senior"]
    assert "lead a comprehensive discussion" in texts["staff"]
    assert "propose improvements unprompted" not in texts["junior"]
    with pytest.raises(ValueError):
        guide_blocks(url_shortener, "principal")


# ---------------------------------------------------------------- the scorecard


@pytest.mark.parametrize("slug", sorted(BANK))
def test_the_scorecard_has_one_score_per_phase_and_round_trips_its_prefill(slug):
    problem = BANK[slug]
    view = scorecard_view("iv-1", problem)
    _assert_valid_modal(view, "pair_scorecard")
    assert json.loads(view["private_metadata"]) == {"interview_id": "iv-1", "editing": False}
    scores = [b for b in view["blocks"] if b.get("block_id", "").startswith("score_")]
    assert [b["block_id"] for b in scores] == [f"score_{p}" for p in problem.phase_ids]
    for block in scores:
        assert block["type"] == "input"
        element = block["element"]
        assert element["type"] == "static_select" and element["action_id"] == "score"
        assert [o["value"] for o in element["options"]] == ["1", "2", "3", "4"]
        for option in element["options"]:
            assert SCORE_LEVELS[int(option["value"])] in option["text"]["text"]
        assert "initial_option" not in element
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    assert [o["value"] for o in by_id["tips"]["element"]["options"]] == list(TIP_IDS)
    assert [o["text"]["text"] for o in by_id["tips"]["element"]["options"]] == [TIP_NAMES[t] for t in TIP_IDS]
    assert [o["value"] for o in by_id["pitfalls"]["element"]["options"]] == list(PITFALL_IDS)
    assert by_id["tips"]["optional"] and by_id["pitfalls"]["optional"]
    assert [o["value"] for o in by_id["verdict"]["element"]["options"]] == list(VERDICTS)
    for block_id in ("strengths", "to_fix"):
        element = by_id[block_id]["element"]
        assert element["type"] == "plain_text_input" and element["action_id"] == "text"
        assert element["multiline"] and element["max_length"] == 3000
    destination = by_id["destination"]["element"]
    assert destination["type"] == "radio_buttons"
    assert {o["value"]: o["text"]["text"] for o in destination["options"]} == {
        "thread": "In the interview thread",
        "candidate": "Privately to the candidate",
    }

    card = _full_scorecard(problem)
    prefilled = scorecard_view("iv-1", problem, prefill=card, editing=True)
    _assert_valid_modal(prefilled, "pair_scorecard")
    assert json.loads(prefilled["private_metadata"]) == {"interview_id": "iv-1", "editing": True}
    parsed, errors = parse_scorecard(_state_values(prefilled), problem)
    assert errors == {}
    assert parsed == card


def test_an_empty_submission_names_every_required_block(url_shortener):
    view = scorecard_view("iv-1", url_shortener)
    scorecard, errors = parse_scorecard(_state_values(view), url_shortener)
    required = {f"score_{p}" for p in url_shortener.phase_ids} | {
        "verdict",
        "strengths",
        "to_fix",
        "destination",
    }
    assert set(errors) == required
    assert set(errors) <= _input_block_ids(view)
    assert all(isinstance(m, str) and m for m in errors.values())
    assert scorecard["tips"] == [] and scorecard["pitfalls"] == []
    _, errors = parse_scorecard({}, url_shortener)
    assert set(errors) == required


def test_errors_name_exactly_the_missing_blocks(url_shortener):
    card = _full_scorecard(url_shortener)
    values = _state_values(scorecard_view("iv-1", url_shortener, prefill=card))
    values["score_api"]["score"]["selected_option"] = None
    values["to_fix"]["text"]["value"] = "   \n  "
    scorecard, errors = parse_scorecard(values, url_shortener)
    assert set(errors) == {"score_api", "to_fix"}
    assert "API" in errors["score_api"]
    assert "api" not in scorecard["scores"]
    assert scorecard["strengths"] == card["strengths"]

    values = _state_values(scorecard_view("iv-1", url_shortener, prefill=card))
    del values["verdict"]
    values["destination"]["destination"]["selected_option"] = None
    _, errors = parse_scorecard(values, url_shortener)
    assert set(errors) == {"verdict", "destination"}


def test_tips_and_pitfalls_come_back_in_the_framework_order_without_unknown_ids(url_shortener):
    values = _state_values(scorecard_view("iv-1", url_shortener, prefill=_full_scorecard(url_shortener)))
    values["tips"]["tips"]["selected_options"] = [
        {"value": "listen_actively"},
        {"value": "made_up"},
        {"value": "time_management"},
    ]
    scorecard, errors = parse_scorecard(values, url_shortener)
    assert errors == {}
    assert scorecard["tips"] == ["time_management", "listen_actively"]


# ---------------------------------------------------------------- the self-rating


@pytest.mark.parametrize("slug", ["url-shortener", "ad-click-aggregator"])
def test_the_self_rating_has_one_score_per_phase(slug):
    problem = BANK[slug]
    view = self_rating_view("iv-2", problem)
    _assert_valid_modal(view, "pair_self_rating")
    assert json.loads(view["private_metadata"])["interview_id"] == "iv-2"
    assert _input_block_ids(view) == {f"self_{p}" for p in problem.phase_ids}
    ratings, errors = parse_self_rating(_state_values(view), problem)
    assert ratings == {} and set(errors) == _input_block_ids(view)

    values = _state_values(view)
    for i, phase in enumerate(problem.phase_ids):
        values[f"self_{phase}"]["score"]["selected_option"] = {"value": str(4 - i % 4)}
    ratings, errors = parse_self_rating(values, problem)
    assert errors == {}
    assert ratings == {p: 4 - i % 4 for i, p in enumerate(problem.phase_ids)}


# ---------------------------------------------------------------- the merged recap


def test_the_interviewers_feedback_comes_before_any_automatic_evidence(auto_recap):
    blocks = merged_recap_blocks(auto_recap, _scorecard_against(auto_recap), INTERVIEWER, CANDIDATE)
    _assert_valid_message_blocks(blocks)
    texts = [" ".join(_block_texts(b)) for b in blocks]
    strengths_at = next(i for i, t in enumerate(texts) if "STRENGTHS-MARKER" in t)
    to_fix_at = next(i for i, t in enumerate(texts) if "TOFIX-MARKER" in t)
    evidence = [" ".join(_block_texts(b)) for b in recap_blocks(auto_recap)[1:] if _block_texts(b)]
    first_evidence = min(i for i, t in enumerate(texts) if t in evidence)
    assert strengths_at < to_fix_at < first_evidence
    assert f"<@{INTERVIEWER}>" in texts[strengths_at]
    verdicts = next(b for b in blocks if b.get("fields"))
    assert "Hire" in verdicts["fields"][0]["text"]
    assert VERDICTS[auto_recap["verdict"]] in verdicts["fields"][1]["text"]
    assert blocks.index(verdicts) < first_evidence
    text = _all_text(blocks)
    assert "Handled ambiguity" in text and "Happy path only" in text


def test_a_two_point_disagreement_is_called_out_and_a_one_point_one_is_not(auto_recap):
    card = _scorecard_against(auto_recap, requirements=4, api=1, deep_dives=3)
    assert calibration(auto_recap, card) == [("requirements", 4, 2)]
    text = _all_text(merged_recap_blocks(auto_recap, card, INTERVIEWER, CANDIDATE))
    lines = text.splitlines()
    req = next(i for i, line in enumerate(lines) if line.startswith("*Requirements*:"))
    assert "interviewer 4/4 · automatic 2/4" in lines[req]
    assert "⚠️ calibration: 2 points apart" in lines[req + 1]
    assert text.count("calibration: ") == 1
    for name in ("API / System Interface", "Deep Dives"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"*{name}*:"))
        assert "calibration" not in lines[at + 1]

    agreed = _scorecard_against(auto_recap, api=3)
    assert calibration(auto_recap, agreed) == []
    assert "calibration" not in _all_text(merged_recap_blocks(auto_recap, agreed, INTERVIEWER, CANDIDATE))


def test_self_rating_differences_are_mentioned(auto_recap):
    card = _scorecard_against(auto_recap, requirements=2, api=3)
    rating = {"requirements": 4, "api": 3, "deep_dives": 2}
    assert self_differences(card, rating) == [("requirements", 4, 2)]
    text = _all_text(merged_recap_blocks(auto_recap, card, INTERVIEWER, CANDIDATE, self_rating=rating))
    assert f"<@{CANDIDATE}> rated 4, the interviewer 2" in text
    assert "rated 3, the interviewer 3" not in text
    assert "candidate 4/4" in text
    assert self_differences(card, None) == []


def test_written_feedback_is_neutralised(auto_recap):
    card = _scorecard_against(auto_recap)
    card["strengths"] = "<!channel> look: <@U0BOSS> agreed, <!here|here> too"
    card["to_fix"] = "Tell <!everyone>"
    blocks = merged_recap_blocks(auto_recap, card, INTERVIEWER, CANDIDATE)
    text = _all_text(blocks)
    for ping in ("<!channel>", "<!here", "<!everyone>", "<@U0BOSS>"):
        assert ping not in text
    assert "&lt;!channel&gt; look" in text  # shown as typed, inert


def test_long_feedback_is_split_across_sections_without_loss(auto_recap):
    card = _scorecard_against(auto_recap)
    card["strengths"] = ("word " * 600).strip()
    card["to_fix"] = "x" * 3000
    blocks = merged_recap_blocks(auto_recap, card, INTERVIEWER, CANDIDATE)
    _assert_valid_message_blocks(blocks)
    text = _all_text(blocks)
    assert text.count("word") == 600
    assert text.replace("\n", "").count("x" * 3000) == 1


def test_an_automatic_only_recap_is_marked_as_such(auto_recap):
    blocks = merged_recap_blocks(auto_recap, None, INTERVIEWER, CANDIDATE, automatic_only=True)
    _assert_valid_message_blocks(blocks)
    assert "Automatic recap only" in blocks[0]["text"]["text"]
    text = _all_text(blocks)
    assert "did not submit a scorecard" in text
    assert "Interviewer's verdict" not in text and "calibration" not in text
    assert recap_blocks(auto_recap)[1] in blocks
    with pytest.raises(ValueError):
        merged_recap_blocks(auto_recap, None, INTERVIEWER, CANDIDATE)


def test_a_full_recap_is_not_marked_automatic_only(auto_recap):
    blocks = merged_recap_blocks(auto_recap, _scorecard_against(auto_recap), INTERVIEWER, CANDIDATE)
    assert "Automatic recap only" not in _all_text(blocks) + blocks[0]["text"]["text"]


def test_unusual_ids_never_ping(auto_recap):
    blocks = merged_recap_blocks(auto_recap, _scorecard_against(auto_recap), "<!channel>", CANDIDATE)
    assert "<!channel>" not in _all_text(blocks)


def test_interviewer_ticks_are_shown_with_the_names_they_were_ticked_by(auto_recap):
    card = _scorecard_against(auto_recap)
    card["tips"] = list(TIP_IDS)
    card["pitfalls"] = list(PITFALL_IDS)
    text = _all_text(merged_recap_blocks(auto_recap, card, INTERVIEWER, CANDIDATE))
    for tid in TIP_IDS:
        assert f"✅ {TIP_NAMES[tid]}" in text
    for pid in PITFALL_IDS:
        assert f"⚠️ {PITFALL_NAMES[pid]}" in text


def test_the_fixture_recap_is_not_mutated_by_rendering(auto_recap):
    before = copy.deepcopy(auto_recap)
    merged_recap_blocks(auto_recap, _scorecard_against(auto_recap), INTERVIEWER, CANDIDATE, {"api": 4})
    assert auto_recap == before
