"""Team practice in the engine and the recap: authored turns, comments, contributions by phase."""

from __future__ import annotations

import pytest

from flows.engine import new_interview, step, to_transcript
from flows.events import Answer, Control, Finish, Say, Start
from flows.scoring import score_transcript, team_contributions


def run(iv, *events):
    effects = []
    for ev in events:
        iv, out = step(iv, ev)
        effects += out
    return iv, effects


def recap_of(effects) -> dict:
    return next(e.recap for e in effects if isinstance(e, Finish))


TEAM_SESSION = (
    Answer(10, "users create paste and upload text", message_id="1", user="UA"),
    Answer(20, "others read paste via a link", message_id="2", user="UB"),
    Control(30, "next", "UB"),
    Answer(40, "the paste record is the main entity", message_id="3", user="UA"),
    Control(50, "next", "UA"),
    Answer(60, "post /pastes creates one and get /pastes/{id} reads it", message_id="4", user="UB"),
    Control(70, "end", "UA"),
)


def test_a_team_interview_says_everyone_answers_and_keeps_each_turns_author(tiny):
    iv, effects = step(new_interview("t-1", tiny, team=True), Start(0))
    assert "everyone in this thread answers" in [e.text for e in effects if isinstance(e, Say)][0]
    iv, _ = run(iv, *TEAM_SESSION)
    authored = [(t.user, t.role, t.phase) for t in iv.turns if t.role == "candidate"]
    assert authored == [
        ("UA", "candidate", "requirements"),
        ("UB", "candidate", "requirements"),
        ("UA", "candidate", "core_entities"),
        ("UB", "candidate", "api"),
    ]
    assert [t["user"] for t in to_transcript(iv)["turns"] if t["role"] == "candidate"] == [
        "UA",
        "UB",
        "UA",
        "UB",
    ]


def test_the_team_recap_scores_the_team_as_a_whole_and_credits_each_person_by_phase(tiny):
    iv, _ = step(new_interview("t-1", tiny, team=True), Start(0))
    _, effects = run(iv, *TEAM_SESSION)
    recap = recap_of(effects)
    assert recap["contributions"] == {
        "UA": {"requirements": 1, "core_entities": 1},
        "UB": {"requirements": 1, "api": 1},
    }
    assert "create paste" in recap["contributed_concepts"]["UA"]
    assert "paste" in recap["contributed_concepts"]["UA"]
    assert "read paste" in recap["contributed_concepts"]["UB"]
    assert {"post", "get"} <= set(recap["contributed_concepts"]["UB"])
    # one score for the team: both people's requirements answers count together
    requirements = recap["phases"][0]
    assert {"create paste", "read paste"} <= set(requirements["covered"])


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        ([], {}),
        ([{"phase": "requirements", "role": "candidate", "text": "users create paste"}], {}),
        (
            [
                {"phase": "api", "role": "candidate", "text": "get /pastes/{id}", "user": "UB"},
                {"phase": "requirements", "role": "candidate", "text": "qps is 100", "user": "UB"},
                {"phase": "requirements", "role": "candidate", "text": "create paste", "user": "UB"},
            ],
            {"UB": {"requirements": 2, "api": 1}},
        ),
    ],
    ids=["no turns", "turns without users", "phases in interview order"],
)
def test_contributions_count_each_authors_messages_by_phase(tiny, turns, expected):
    counts, concepts = team_contributions(tiny, turns)
    assert counts == expected
    assert set(concepts) == set(expected)


def test_a_transcript_without_users_has_empty_contributions(tiny):
    transcript = {
        "turns": [{"at": 1.0, "phase": "requirements", "role": "candidate", "text": "create paste"}]
    }
    recap = score_transcript(transcript, tiny)
    assert recap["contributions"] == {} and recap["contributed_concepts"] == {}


SOLO_SESSION = (
    Answer(10, "users create paste and read paste later", message_id="1", user="UA"),
    Control(30, "next", "UA"),
    Answer(40, "the paste record has an owner", message_id="3", user="UA"),
    Control(70, "end", "UA"),
)
COMMENT = Answer(20, "nice, also the s3 bucket and a cache and a load balancer", "2", "UC", role="comment")


@pytest.mark.parametrize("status", ["running", "paused"])
def test_a_teammates_comment_in_a_solo_interview_is_kept_without_a_reply(tiny, status):
    iv, _ = step(new_interview("s-1", tiny), Start(0))
    if status == "paused":
        iv, _ = step(iv, Control(5, "pause"))
    after, effects = step(iv, COMMENT)
    assert effects == []
    assert after.turns[-1].role == "comment" and after.turns[-1].user == "UC"
    assert after.covered == iv.covered and after.last_activity == iv.last_activity


def test_a_comment_is_not_scored_and_shows_in_the_transcript_as_a_comment(tiny):
    iv, _ = step(new_interview("s-1", tiny), Start(0))
    plain, plain_effects = run(iv, *SOLO_SESSION)
    commented, effects = run(iv, SOLO_SESSION[0], COMMENT, *SOLO_SESSION[1:])
    assert recap_of(effects) == recap_of(plain_effects)
    assert recap_of(effects)["contributions"] == {"UA": {"requirements": 1, "core_entities": 1}}
    turns = to_transcript(commented)["turns"]
    comments = [t for t in turns if t["role"] == "comment"]
    assert comments == [
        {"at": 20.0, "phase": "requirements", "role": "comment", "text": COMMENT.text, "user": "UC"}
    ]
    assert len(turns) == len(to_transcript(plain)["turns"]) + 1


def test_a_comment_in_a_pair_interview_stays_a_candidate_answer_as_before(tiny):
    iv, _ = step(new_interview("p-1", tiny, mode="pair"), Start(0))
    iv, _ = step(iv, Answer(10, "users create paste", "1", "UA", role="comment"))
    assert iv.turns[-1].role == "candidate"


def test_streaks_count_scheduled_days_and_skip_the_rest():
    from datetime import date

    from bot.slack.team import streak

    weekdays = lambda day: day.weekday() < 5 and day != date(2026, 11, 26)  # noqa: E731 - a holiday skipped
    done = {
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
        date(2026, 11, 30),
    }
    # Mon 30 Nov back over the weekend and the skipped Thursday to Mon 23 Nov: five scheduled days
    assert streak(done, date(2026, 11, 30), weekdays) == 5
    assert streak(done, date(2026, 11, 30)) == 1  # without a schedule every calendar day counts
    assert streak(done - {date(2026, 11, 30)}, date(2026, 11, 30), weekdays) == 0
