"""The engine, table-driven: (state, event) -> (state, effects)."""

from __future__ import annotations

import pytest

from flows.engine import new_interview, step, to_transcript
from flows.events import (
    Answer,
    CancelTimer,
    Control,
    Edit,
    Finish,
    Idle,
    Say,
    ScheduleTimer,
    Start,
    TimerFired,
)
from flows.framework import parse_control


def started(problem, level="senior", minutes=None, at=0.0):
    iv = new_interview("iv-1", problem, level, minutes)
    iv, effects = step(iv, Start(at))
    return iv, effects


def run(iv, *events):
    effects = []
    for ev in events:
        iv, out = step(iv, ev)
        effects.append(out)
    return iv, effects


def said(effects, kind=None):
    return [e.text for e in effects if isinstance(e, Say) and (kind is None or e.kind == kind)]


def timers(effects):
    return {e.timer_id: e.due_at for e in effects if isinstance(e, ScheduleTimer)}


def cancelled(effects):
    return {e.timer_id for e in effects if isinstance(e, CancelTimer)}


def test_start_states_the_problem_opens_requirements_and_arms_its_timers(tiny):
    iv, effects = started(tiny, at=100.0)
    assert iv.status == "running" and iv.phase == "requirements"
    assert "Paste Bin" in said(effects, "intro")[0]
    assert said(effects, "phase") == ["*Requirements* (5 minutes). What matters here?"]
    assert timers(effects) == {
        "requirements:warning": 100.0 + 240,
        "requirements:time_up": 100.0 + 300,
        "requirements:overrun": 100.0 + 450,
        "idle": 100.0 + 1200,
    }


@pytest.mark.parametrize(
    ("data_flow", "expected"),
    [
        (False, ["requirements", "core_entities", "api", "high_level_design", "deep_dives"]),
        (True, ["requirements", "core_entities", "api", "data_flow", "high_level_design", "deep_dives"]),
    ],
)
def test_next_walks_every_phase_in_order_and_skips_data_flow_where_absent(
    tiny, tiny_with_data_flow, data_flow, expected
):
    problem = tiny_with_data_flow if data_flow else tiny
    iv, _ = started(problem)
    seen = [iv.phase]
    for i in range(len(expected) - 1):
        iv, effects = step(iv, Control(10.0 * (i + 1), "next"))
        seen.append(iv.phase)
        assert f"{expected[i]}:warning" in cancelled(effects)
        assert f"{expected[i + 1]}:time_up" in timers(effects)
    assert seen == expected
    iv, effects = step(iv, Control(100.0, "next"))
    assert iv.status == "ended" and iv.end_reason == "completed"
    assert any(isinstance(e, Finish) for e in effects)


# (events after start, what the bot says last, its kind)
CONTROL_TABLE = [
    ([Control(5, "hint")], "Hint: First nudge.", "hint"),
    ([Control(5, "hint"), Control(6, "hint")], "Hint: Second nudge.", "hint"),
    (
        [Control(5, "hint"), Control(6, "hint"), Control(7, "hint")],
        "No more hints for Requirements; say `next` when you are ready.",
        "info",
    ),
    (
        [Control(60, "time")],
        "4 minutes left for Requirements; about 33 minutes left in the interview.",
        "info",
    ),
    (
        [Control(400, "time")],
        "Requirements is 1.7 minutes over its 5 minutes; about 29 minutes left in the interview.",
        "info",
    ),
    ([Control(5, "pause")], "Paused: the clock is stopped. Say `resume` to carry on.", "info"),
    ([Control(5, "pause"), Control(6, "pause")], "Already paused; say `resume` to carry on.", "info"),
    ([Control(5, "resume")], "The interview is not paused.", "info"),
    ([Control(5, "pause"), Control(9, "next")], "The clock is paused; say `resume` first.", "info"),
    ([Control(5, "pause"), Control(65, "resume")], "Resumed. 5 minutes left for Requirements.", "info"),
]


@pytest.mark.parametrize(("events", "text", "kind"), CONTROL_TABLE)
def test_control_words(tiny, events, text, kind):
    iv, _ = started(tiny)
    iv, effects = run(iv, *events)
    assert said(effects[-1], kind)[-1] == text


def test_end_finishes_with_a_recap_of_what_there_was(tiny):
    iv, _ = started(tiny)
    iv, effects = run(iv, Answer(30, "users create paste and read paste later"), Control(40, "end"))
    finish = [e for e in effects[-1] if isinstance(e, Finish)][0]
    assert iv.status == "ended" and finish.reason == "ended"
    assert finish.recap["phases"][0]["phase"] == "requirements"
    assert "Create paste" in " ".join(finish.recap["phases"][0]["covered"]).capitalize()
    assert {"idle", "requirements:warning"} <= cancelled(effects[-1])


def test_control_words_are_recognised_in_any_case_and_spacing():
    assert parse_control("  NEXT ") == "next"
    assert parse_control("\tHint\n") == "hint"
    assert parse_control("next please") is None
    assert parse_control("") is None


def test_answer_gets_a_follow_up_about_the_most_important_missing_concept(tiny):
    iv, _ = started(tiny)
    iv, effects = step(iv, Answer(20, "users can create paste, and that is it"))
    assert said(effects, "follow_up") == ["How does someone see it later?"]
    assert "create_paste" in iv.covered


def test_follow_ups_never_repeat_and_stop_at_three_per_phase(tiny):
    iv, _ = started(tiny)
    asked = []
    for i in range(6):
        iv, effects = step(iv, Answer(10 + i, "hmm let me think about it"))
        asked += said(effects, "follow_up")
    assert len(asked) == 3
    assert len(set(asked)) == 3


def test_follow_ups_never_name_the_missing_concept(bank):
    from flows.matching import matcher_for

    for problem in bank.values():
        matcher = matcher_for(problem)
        for phase, guide in problem.phases.items():
            for c in guide.concepts:
                found = matcher.evidence(matcher.analyse([c.follow_up]), phase)
                assert c.id not in found, f"{problem.slug} {phase}.{c.id}: follow-up gives it away"


def test_when_the_key_points_are_covered_the_bot_says_so_once(tiny):
    iv, _ = started(tiny)
    iv, effects = run(
        iv,
        Answer(10, "users create paste and read paste, 10k qps"),
        Answer(20, "also paste links expire"),
    )
    assert said(effects[0], "info") == [
        "That covers the key points of Requirements. Add more, or say `next`."
    ]
    assert said(effects[1]) == []


def test_an_edit_replaces_the_answer_and_its_coverage(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Answer(10, "we need a cache", message_id="m1"))
    assert iv.covered == ()
    iv, effects = step(iv, Edit(15, "m1", "users create paste"))
    assert effects == []
    assert [t.text for t in iv.turns if t.role == "candidate"] == ["users create paste"]
    assert iv.covered == ("create_paste",)


def test_an_edit_of_an_unknown_message_changes_nothing(tiny):
    iv, _ = started(tiny)
    after, effects = step(iv, Edit(15, "nope", "text"))
    assert after == iv and effects == []


def test_pause_cancels_warnings_and_resume_shifts_them_by_the_pause(tiny):
    iv, _ = started(tiny, at=0.0)
    iv, effects = step(iv, Control(100, "pause"))
    assert {"requirements:warning", "requirements:time_up", "requirements:overrun", "idle"} <= cancelled(
        effects
    )
    iv, effects = step(iv, Control(700, "resume"))
    # 600 s paused: every pending warning moves 600 s later
    assert timers(effects) == {
        "requirements:warning": 840.0,
        "requirements:time_up": 900.0,
        "requirements:overrun": 1050.0,
        "idle": 700.0 + 1200,
    }
    iv, _ = step(iv, Control(800, "next"))
    assert iv.phases[0].paused == 600 and iv.phases[0].ended_at == 800


def test_a_warning_fires_once_with_its_message(tiny):
    iv, _ = started(tiny)
    iv, first = step(iv, TimerFired(240, "requirements:warning"))
    iv, again = step(iv, TimerFired(241, "requirements:warning"))
    assert said(first, "warning") == ["1 minute left for Requirements."]
    assert again == []


def test_time_up_names_the_next_phase(tiny):
    iv, _ = started(tiny)
    iv, effects = step(iv, TimerFired(300, "requirements:time_up"))
    assert said(effects, "warning") == [
        "Time's up for Requirements. Wrap up and say `next` to move to Core Entities."
    ]
    assert iv.phase == "requirements"


def test_a_warning_for_a_phase_that_has_ended_is_never_emitted(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Control(100, "next"))
    iv2, effects = step(iv, TimerFired(240, "requirements:warning"))
    assert effects == [] and iv2 == iv


def test_a_warning_firing_early_is_re_armed_not_emitted(tiny):
    iv, _ = started(tiny)
    iv, _ = run(iv, Control(100, "pause"), Control(160, "resume"))
    iv, effects = step(iv, TimerFired(240, "requirements:warning"))  # the old, unshifted due time
    assert said(effects) == [] and timers(effects) == {"requirements:warning": 300.0}


def test_a_warning_while_paused_is_not_emitted(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Control(100, "pause"))
    _, effects = step(iv, TimerFired(240, "requirements:warning"))
    assert effects == []


def test_a_phase_150_percent_over_budget_moves_on_by_itself(tiny):
    iv, _ = started(tiny)
    iv, effects = step(iv, TimerFired(450, "requirements:overrun"))
    assert iv.phase == "core_entities"
    assert (
        said(effects, "warning")[0]
        == "We're well past the time for Requirements; let's move on to Core Entities."
    )
    assert iv.phases[0].ended_at == 450


def test_overrun_of_the_last_phase_ends_the_interview(tiny):
    iv, _ = started(tiny)
    for i in range(4):
        iv, _ = step(iv, Control(i + 1, "next"))
    assert iv.phase == "deep_dives"
    iv, effects = step(iv, TimerFired(4 + 900, "deep_dives:overrun"))
    assert iv.status == "ended" and any(isinstance(e, Finish) for e in effects)


def test_idle_for_twenty_minutes_closes_with_a_recap(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Answer(60, "users create paste"))
    iv, early = step(iv, Idle(600))
    assert iv.status == "running" and timers(early) == {"idle": 1260.0}
    iv, effects = step(iv, TimerFired(1260, "idle"))
    assert iv.status == "ended" and iv.end_reason == "idle"
    finish = [e for e in effects if isinstance(e, Finish)][0]
    assert finish.recap["phases"][0]["covered"]


@pytest.mark.parametrize(("minutes", "budget"), [(17, 150.0), (68, 600.0), (None, 300.0)])
def test_minutes_scale_every_budget_and_the_idle_limit(tiny, minutes, budget):
    iv, effects = started(tiny, minutes=minutes)
    assert timers(effects)["requirements:time_up"] == budget
    assert timers(effects)["idle"] == pytest.approx(1200 * budget / 300)


def test_deep_dives_adapt_to_the_level(tiny):
    openings = {}
    for level in ("junior", "senior", "staff"):
        iv, _ = started(tiny, level=level)
        for i in range(3):
            iv, effects = step(iv, Control(i + 1, "next"))
        iv, _ = step(iv, Answer(4, "pastes go to object storage (S3), because blobs are cheap there"))
        iv, effects = step(iv, Control(5, "next"))
        openings[level] = said(effects, "phase")[0]
    assert "I'll pick the first topic: hot" in openings["junior"]
    assert "One paste goes viral" in openings["junior"]
    assert "Which parts would you improve" in openings["senior"]
    assert "Take the lead" in openings["staff"]


def test_deep_dives_do_not_claim_a_working_design_that_was_never_described(tiny):
    iv, _ = started(tiny, level="senior")
    for i in range(4):
        iv, effects = step(iv, Control(i + 1, "next"))
    opening = said(effects, "phase")[0]
    assert "working design" not in opening
    assert "does not have object storage" in opening.lower() or "blob" in opening.lower()


def test_a_clarifying_question_gets_the_problems_answer(bank):
    iv = new_interview("c1", bank["rate-limiter"], "senior", None)
    iv, _ = step(iv, Start(0))
    iv, effects = step(iv, Answer(10, "How many requests per second must it handle at peak?"))
    replies = said(effects, "clarify")
    assert replies and "1M requests per second" in replies[0]
    assert not said(effects, "follow_up")  # the question is answered, not met with another question
    iv, effects = step(iv, Answer(20, "and what's the peak qps again?"))
    assert said(effects, "clarify")[0].startswith("As I said:")


def test_a_direct_question_is_answered_after_the_follow_ups_run_out(tiny):
    iv, _ = started(tiny)
    for i in range(6):
        iv, effects = step(iv, Answer(10 + i, "hmm let me think about it"))
    iv, effects = step(iv, Answer(30, "should the pastes be editable?"))
    assert effects and any("assumption" in t for t in said(effects, "info"))


def test_what_was_said_in_an_earlier_phase_is_not_asked_again(bank):
    iv = new_interview("c2", bank["rate-limiter"], "senior", None)
    iv, _ = step(iv, Start(0))
    iv, _ = step(
        iv, Answer(10, "We keep the counters in Redis, a central in-memory store shared by every server.")
    )
    for i in range(3):
        iv, _ = step(iv, Control(20 + i, "next"))
    assert iv.phase == "high_level_design"
    assert "shared_store" in iv.covered


def test_a_one_word_on_topic_answer_is_not_called_unrelated(bank):
    iv = new_interview("c3", bank["rate-limiter"], "senior", None)
    iv, _ = step(iv, Start(0))
    iv, effects = step(iv, Answer(10, "Redis."))
    assert not any("relates to" in t for t in said(effects, "follow_up") + said(effects, "info"))


def test_staff_candidates_get_fewer_deep_dive_prompts(tiny):
    counts = {}
    for level in ("senior", "staff"):
        iv, _ = started(tiny, level=level)
        for i in range(4):
            iv, _ = step(iv, Control(i + 1, "next"))
        asked = 0
        for i in range(5):
            iv, effects = step(iv, Answer(10 + i, "thinking about it"))
            asked += len(said(effects, "follow_up"))
        counts[level] = asked
    assert counts == {"senior": 3, "staff": 1}


def test_a_huge_message_is_cut_and_the_candidate_told(tiny):
    iv, _ = started(tiny)
    iv, effects = step(iv, Answer(10, "create paste " * 100_000))
    assert len([t for t in iv.turns if t.role == "candidate"][0].text) == 10_000
    assert said(effects, "notice") == ["That message was long; I kept its first 10,000 characters."]


def test_off_topic_answers_are_called_out(tiny):
    iv, _ = started(tiny)
    iv, effects = step(iv, Answer(10, "asdf qwerty lorem ipsum"))
    assert said(effects)[0].startswith("I'm not sure how that relates to Paste Bin.")


def test_events_after_the_end_change_nothing(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Control(10, "end"))
    for ev in (Answer(11, "hi"), Control(12, "next"), TimerFired(13, "idle"), Start(14)):
        after, effects = step(iv, ev)
        assert after is iv and effects == []


def test_the_transcript_carries_each_turn_with_its_phase_and_time(tiny):
    iv, _ = started(tiny, at=1000.0)
    iv, _ = run(iv, Answer(1010, "users create paste"), Control(1020, "next"), Answer(1030, "paste record"))
    transcript = to_transcript(iv)
    cand = [(t["at"], t["phase"]) for t in transcript["turns"] if t["role"] == "candidate"]
    assert cand == [(10.0, "requirements"), (30.0, "core_entities")]
    assert transcript["phases"][0] == {
        "phase": "requirements",
        "started_at": 0.0,
        "ended_at": 20.0,
        "paused": 0.0,
    }


def test_snapshots_round_trip(tiny):
    from flows.snapshot import from_snapshot, to_snapshot

    iv, _ = started(tiny)
    iv, _ = run(
        iv, Answer(10, "users create paste", message_id="a"), Control(11, "hint"), Control(12, "pause")
    )
    assert from_snapshot(to_snapshot(iv), tiny) == iv


# ---------------------------------------------------------------- pair interviews


def pair_started(problem):
    iv = new_interview("pair-1", problem, "senior", mode="pair")
    return step(iv, Start(0.0))


def test_a_pair_interview_opens_phases_without_asking_questions(tiny):
    iv, effects = pair_started(tiny)
    assert said(effects, "phase") == ["*Requirements* (5 minutes) has started."]
    assert timers(effects)["requirements:checkpoint"] == 150.0


@pytest.mark.parametrize(
    ("role", "stored_as"),
    [("candidate", "candidate"), ("interviewer", "interviewer")],
)
def test_pair_turns_keep_their_role_and_get_no_follow_up(tiny, role, stored_as):
    iv, _ = pair_started(tiny)
    iv, effects = step(iv, Answer(10, "what about scale?", message_id="m", role=role))
    assert iv.turns[-1].role == stored_as
    assert said(effects) == []


def test_a_solo_interview_ignores_a_claimed_interviewer_role(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Answer(10, "users create paste", role="interviewer"))
    assert [t.role for t in iv.turns if t.role != "bot"] == ["candidate"]


PAIR_TIMERS = [
    ("requirements:checkpoint", 150, [], ["Halfway through Requirements. Not yet discussed: create_paste."]),
    ("requirements:warning", 240, ["1 minute left for Requirements."], ["Requirements is running long"]),
    ("requirements:time_up", 300, ["Time's up for Requirements."], ["press *Next phase*"]),
    ("requirements:overrun", 450, [], ["well past its time"]),
]


@pytest.mark.parametrize(("timer", "at", "in_thread", "nudges"), PAIR_TIMERS)
def test_pair_timers_warn_both_and_nudge_the_interviewer_alone(tiny, timer, at, in_thread, nudges):
    from flows.events import Nudge

    iv, _ = pair_started(tiny)
    iv, effects = step(iv, TimerFired(at, timer))
    assert said(effects, "warning") == in_thread
    private = [e.text for e in effects if isinstance(e, Nudge)]
    assert len(private) == len(nudges)
    for text, expected in zip(private, nudges, strict=True):
        assert expected.replace("create_paste", "create paste") in text
    assert iv.phase == "requirements"  # in a pair interview only the interviewer moves on


def test_the_checkpoint_says_nothing_once_the_core_came_up(tiny):
    from flows.events import Nudge

    iv, _ = pair_started(tiny)
    iv, _ = step(iv, Answer(10, "users create paste and read paste", message_id="m"))
    _, effects = step(iv, TimerFired(150, "requirements:checkpoint"))
    assert not [e for e in effects if isinstance(e, Nudge)]


# ---------------------------------------------------------------- buttons are for the moment they were shown


@pytest.mark.parametrize(
    ("first", "second", "second_applies"),
    [
        ("next", "next", False),  # a double click moves one phase
        ("hint", "hint", False),  # the same message's hint button gives one hint
        ("hint", "next", True),  # a hint does not make the phase's next button stale
        ("pause", "pause", False),
        ("next", "end", False),  # end was shown for the phase that has gone
    ],
)
def test_a_button_shown_for_an_earlier_moment_is_already_done(tiny, first, second, second_applies):
    from flows.engine import ALREADY_DONE, control_token
    from flows.events import Tell

    iv, _ = started(tiny)
    shown = control_token(iv)
    iv, _ = step(iv, Control(10, first, "U1", shown_for=shown))
    after, effects = step(iv, Control(11, second, "U1", shown_for=shown))
    if second_applies:
        assert after != iv
    else:
        assert after == iv and effects == [Tell("U1", ALREADY_DONE)]


def test_typed_control_words_are_never_stale(tiny):
    iv, _ = started(tiny)
    iv, _ = step(iv, Control(10, "hint", "U1"))
    iv, effects = step(iv, Control(11, "hint", "U1"))
    assert said(effects, "hint")


def test_cancel_ends_without_a_recap_and_stops_every_timer(tiny):
    from flows.events import Cancel, Tell

    iv, _ = started(tiny)
    iv, effects = step(iv, Cancel(30, by="<@U9>", user="U9"))
    assert iv.status == "ended" and iv.end_reason == "cancelled"
    assert not [e for e in effects if isinstance(e, Finish)]
    assert {e.timer_id for e in effects if isinstance(e, CancelTimer)} >= {"idle", "requirements:warning"}
    assert said(effects) == ["<@U9> cancelled this pair interview."]
    assert step(iv, Cancel(31, user="U9"))[1] == [Tell("U9", "This interview has already ended.")]
    assert step(iv, Control(31, "next", "U1"))[1] == [Tell("U1", "This interview has ended.")]


def test_a_concept_said_in_other_words_is_not_probed_right_after(bank):
    iv = new_interview("c4", bank["rate-limiter"], "senior", None)
    iv, _ = step(iv, Start(0))
    iv, effects = step(iv, Answer(10, "The limit must be global across all fifty servers, not per box."))
    assert "distributed" in iv.covered
    assert not any("still hold" in t for t in said(effects, "follow_up"))
