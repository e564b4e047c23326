"""Pair interviews through signed HTTP against the stand-in: guide, roles, controls, scorecard, recap."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.slack import blocks as bk
from bot.slack import pair as pair_mod
from tests import slack_payloads as sp
from tests.slack_harness import blocks_of, eventually, start_bot, stop_bot
from tests.slack_standin import SlackStandIn

CHANNEL = "C1"
INTERVIEWER, CANDIDATE, CREATOR, OTHER = "UINT", "UCAND", "UCREATOR", "UOTHER"


class MovableClock:
    """The wall clock, plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
async def slack():
    async with SlackStandIn() as standin:
        for user in (INTERVIEWER, CANDIDATE, CREATOR, OTHER):
            standin.add_user(user)
        standin.add_user("UROBOT", is_bot=True)
        standin.add_user("UGONE", deleted=True)
        yield standin


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
async def running(slack, tmp_path, clock):
    bot = await start_bot(slack, tmp_path, pace=60, clock=clock)
    yield bot
    await stop_bot(bot)


async def start_pair(running, slack, text=f"<@{INTERVIEWER}|ann> <@{CANDIDATE}|bo> url shortener senior 30"):
    status, _ = await running.command(f"pair {text}", user=CREATOR, channel=CHANNEL)
    assert status == 200
    await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
    iid, thread = running.rows("SELECT id, thread_ts FROM interviews")[0]
    return iid, thread


def dm_channel(user: str) -> str:
    return "D" + user


def posts_to(slack, channel: str) -> list:
    return [c for c in slack.calls_to("chat.postMessage") if c.ok and c.params.get("channel") == channel]


async def message(running, thread, user, text):
    status, _ = await running.event(sp.message_event(CHANNEL, user, text, sp.new_ts(), thread_ts=thread))
    assert status == 200


async def press(running, user, action_id, value, thread):
    body = sp.block_actions(user, action_id, value, CHANNEL, thread, thread_ts=thread)
    return await running.post(body, "application/x-www-form-urlencoded")


def scorecard_values(problem_phases, **override) -> dict:
    values = {
        f"score_{p}": {"score": {"type": "static_select", "selected_option": {"value": "3"}}}
        for p in problem_phases
    }
    values["tips"] = {"tips": {"type": "checkboxes", "selected_options": [{"value": "handle_ambiguity"}]}}
    values["pitfalls"] = {"pitfalls": {"type": "checkboxes", "selected_options": []}}
    values["verdict"] = {"verdict": {"type": "static_select", "selected_option": {"value": "hire"}}}
    values["strengths"] = {"text": "Clear requirements <!channel> and a clean data model."}
    values["to_fix"] = {"text": "Go deeper on code generation."}
    values["destination"] = {"destination": {"type": "radio_buttons", "selected_option": {"value": "thread"}}}
    values.update(override)
    return values


PHASES = ("requirements", "core_entities", "api", "high_level_design", "deep_dives")


async def submit(running, user, iid, values, editing=False):
    body = sp.view_submission(
        user, "pair_scorecard", values, private_metadata=json.dumps({"interview_id": iid, "editing": editing})
    )
    return await running.post(body, "application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        (f"<@{INTERVIEWER}> url shortener", "Mention both people"),
        ("url shortener", "Mention both people"),
        (f"<@{INTERVIEWER}> <@{INTERVIEWER}>", "two different people"),
        (f"<@{INTERVIEWER}> <@UROBOT>", "is a bot"),
        (f"<@UNOBODY> <@{CANDIDATE}>", "not a member of this workspace"),
        (f"<@UGONE> <@{CANDIDATE}>", "no longer a member"),
        (f"<@{INTERVIEWER}> <@{CANDIDATE}> toaster", "I don't know the problem 'toaster'"),
    ],
)
async def test_bad_pair_commands_get_a_clear_reply_and_start_nothing(running, slack, text, reply):
    status, _ = await running.command(f"pair {text}", user=CREATOR)
    assert status == 200
    posts = await slack.wait_for_response_url()
    assert reply in posts[0]["text"] and posts[0].get("response_type") == "ephemeral"
    assert running.rows("SELECT count(*) FROM interviews") == [(0,)]
    assert not slack.calls_to("conversations.open")


async def test_the_guide_goes_to_the_interviewer_alone(running, slack):
    iid, thread = await start_pair(running, slack)
    root = [c for c in posts_to(slack, CHANNEL) if not c.params.get("thread_ts")][0]
    assert f"<@{INTERVIEWER}>" in root.params["text"] and f"<@{CANDIDATE}>" in root.params["text"]
    opened = slack.calls_to("conversations.open")
    assert [c.params.get("users") for c in opened] == [INTERVIEWER]
    guide = posts_to(slack, dm_channel(INTERVIEWER))
    assert guide and "Interviewer guide" in json.dumps([g.params for g in guide])
    problem = running.bot.service.bank["url-shortener"]
    secret = problem.guide("requirements").concepts[0].follow_up
    assert secret in json.dumps([g.params for g in guide])
    everything_else = [c for c in slack.calls if c.params.get("channel") != dm_channel(INTERVIEWER)]
    assert not any(
        secret in json.dumps(c.params) or "Interviewer guide" in json.dumps(c.params) for c in everything_else
    )
    assert running.rows("SELECT mode, interviewer_id, user_id, creator_id FROM interviews") == [
        ("pair", INTERVIEWER, CANDIDATE, CREATOR)
    ]


async def test_turns_carry_their_roles_and_others_are_ignored(running, slack):
    iid, thread = await start_pair(running, slack)
    await message(running, thread, INTERVIEWER, "What should the system do?")
    await message(running, thread, CANDIDATE, "users shorten urls and get redirected")
    await message(running, thread, OTHER, "go bo!")
    await message(running, thread, CANDIDATE, "next")  # phase control is the interviewer's
    await eventually(lambda: len(running.rows("SELECT role FROM turns WHERE role != 'bot'")) == 2)
    await asyncio.sleep(0.2)
    turns = running.rows("SELECT role, text, phase FROM turns WHERE role != 'bot' ORDER BY seq")
    assert turns == [
        ("interviewer", "What should the system do?", "requirements"),
        ("candidate", "users shorten urls and get redirected", "requirements"),
    ]
    bot_questions = [t for t in running.thread_texts(thread) if t.endswith("?")]
    assert bot_questions == []  # the bot keeps time but asks nothing itself


async def test_controls_belong_to_the_interviewer(running, slack):
    iid, thread = await start_pair(running, slack)
    phase_posts = await eventually(
        lambda: [c for c in posts_to(slack, CHANNEL) if "*Requirements*" in c.params.get("text", "")]
    )
    phase_post = phase_posts[0]
    ids = {e["action_id"] for b in blocks_of(phase_post) if b["type"] == "actions" for e in b["elements"]}
    assert ids == {bk.ACTION_NEXT, bk.ACTION_PAUSE, bk.ACTION_RESUME, bk.ACTION_END}
    before = running.rows("SELECT state, version FROM interviews")
    for user in (CANDIDATE, OTHER):
        await press(running, user, bk.ACTION_NEXT, iid, thread)
    refusals = await slack.wait_for("chat.postEphemeral", count=2)
    assert {c.params["user"] for c in refusals} == {CANDIDATE, OTHER}
    assert all("Only the interviewer can do that" in c.params["text"] for c in refusals)
    assert running.rows("SELECT state, version FROM interviews") == before
    await press(running, INTERVIEWER, bk.ACTION_NEXT, iid, thread)
    await eventually(lambda: any("*Core Entities*" in t for t in running.thread_texts(thread)))


async def test_the_interviewer_is_nudged_privately_about_missing_areas(running, slack):
    iid, thread = await start_pair(running, slack)
    # pace 60: Requirements' halfway checkpoint comes after 2.5 s, its warning after 4 s
    nudge = await slack.wait_for(
        "chat.postEphemeral", where=lambda c: "Not yet discussed" in c.params.get("text", ""), timeout=10
    )
    assert nudge[0].params["user"] == INTERVIEWER and nudge[0].params["thread_ts"] == thread
    assert not any("Not yet discussed" in c.params.get("text", "") for c in posts_to(slack, CHANNEL))


async def test_end_opens_the_scorecard_and_missing_fields_are_errors_in_the_modal(running, slack):
    iid, thread = await start_pair(running, slack)
    await message(running, thread, CANDIDATE, "users shorten urls; 100M links a month")
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    opened = await slack.wait_for("views.open")
    view = opened[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "pair_scorecard" and opened[0].ok
    assert {b.get("block_id") for b in view["blocks"]} >= {f"score_{p}" for p in PHASES} | {
        "verdict",
        "strengths",
    }
    values = scorecard_values(PHASES)
    del values["score_api"]
    values["strengths"] = {"text": "   "}
    status, text = await submit(running, INTERVIEWER, iid, values)
    answer = json.loads(text)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"score_api", "strengths"}
    assert running.rows("SELECT count(*) FROM scorecards") == [(0,)]


async def test_a_valid_scorecard_posts_the_merged_recap_in_the_thread_once(running, slack):
    iid, thread = await start_pair(running, slack)
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    await slack.wait_for("views.open")
    status, text = await submit(running, OTHER, iid, scorecard_values(PHASES))
    assert json.loads(text)["response_action"] == "errors"  # only the interviewer may submit
    status, text = await submit(running, INTERVIEWER, iid, scorecard_values(PHASES))
    assert status == 200 and text in ("", "{}")
    recap = await eventually(
        lambda: [c for c in posts_to(slack, CHANNEL) if "Recap of the pair" in c.params["text"]]
    )
    body = json.dumps(recap[0].params["blocks"])
    assert body.index("Clear requirements") < body.index("automatic")
    assert "<!channel>" not in body
    assert not slack.calls_to("views.open")[1:]
    status, text = await submit(running, INTERVIEWER, iid, scorecard_values(PHASES))
    assert "already submitted" in json.dumps(json.loads(text)["errors"])


async def test_the_recap_can_go_privately_to_the_candidate(running, slack):
    iid, thread = await start_pair(running, slack)
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    await slack.wait_for("views.open")
    choice = {"destination": {"type": "radio_buttons", "selected_option": {"value": "candidate"}}}
    await submit(running, INTERVIEWER, iid, scorecard_values(PHASES, destination=choice))
    recap = await eventually(lambda: posts_to(slack, dm_channel(CANDIDATE)))
    assert "Recap of the pair" in recap[0].params["text"]
    assert not [c for c in posts_to(slack, CHANNEL) if "Recap of the pair" in c.params["text"]]


async def test_the_scorecard_can_be_edited_for_an_hour_and_not_after(running, slack, clock):
    iid, thread = await start_pair(running, slack)
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    await slack.wait_for("views.open")
    await submit(running, INTERVIEWER, iid, scorecard_values(PHASES))
    await eventually(
        lambda: (
            running.rows("SELECT posted_ts FROM scorecards")[0][0]
            if running.rows("SELECT posted_ts FROM scorecards")
            else None
        )
    )
    clock.offset = 30 * 60
    edited = scorecard_values(PHASES, to_fix={"text": "Deeper on caching."})
    status, text = await submit(running, INTERVIEWER, iid, edited, editing=True)
    assert text in ("", "{}")
    await eventually(lambda: "Deeper on caching." in running.rows("SELECT data FROM scorecards")[0][0])
    await slack.wait_for("chat.update")
    clock.offset = 61 * 60
    status, text = await submit(running, INTERVIEWER, iid, scorecard_values(PHASES), editing=True)
    assert "hour" in json.dumps(json.loads(text)["errors"])


async def test_the_candidate_adds_a_self_rating_and_differences_are_named(running, slack):
    iid, thread = await start_pair(running, slack)
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    await slack.wait_for("views.open")
    await submit(running, INTERVIEWER, iid, scorecard_values(PHASES))
    await eventually(
        lambda: (
            running.rows("SELECT posted_ts FROM scorecards")[0][0]
            if running.rows("SELECT posted_ts FROM scorecards")
            else None
        )
    )
    await press(running, OTHER, pair_mod.ACTION_SELF_RATING, iid, thread)
    refusal = await slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == OTHER)
    assert "Only the candidate" in refusal[0].params["text"]
    await press(running, CANDIDATE, pair_mod.ACTION_SELF_RATING, iid, thread)
    await slack.wait_for("views.open", count=2)
    rating = {
        f"self_{p}": {"score": {"type": "static_select", "selected_option": {"value": "3"}}} for p in PHASES
    }
    rating["self_api"] = {"score": {"type": "static_select", "selected_option": {"value": "1"}}}
    body = sp.view_submission(
        CANDIDATE, "pair_self_rating", rating, private_metadata=json.dumps({"interview_id": iid})
    )
    status, text = await running.post(body, "application/x-www-form-urlencoded")
    assert status == 200
    note = await eventually(
        lambda: [c for c in posts_to(slack, CHANNEL) if "Self-rating added" in c.params["text"]]
    )
    assert (
        "API / System Interface" in note[0].params["text"]
        and "rated 1, the interviewer 3" in note[0].params["text"]
    )


async def test_without_a_scorecard_the_candidate_gets_the_automatic_recap_after_24_hours(
    running, slack, clock
):
    iid, thread = await start_pair(running, slack)
    await message(running, thread, CANDIDATE, "users shorten urls and get redirected")
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    await slack.wait_for("views.open")
    clock.offset = 23 * 3600
    await running.bot.service.rearm()
    await asyncio.sleep(0.3)
    assert not posts_to(slack, dm_channel(CANDIDATE))
    clock.offset = 24 * 3600 + 5
    await running.bot.service.rearm()
    recap = await eventually(lambda: posts_to(slack, dm_channel(CANDIDATE)))
    assert "did not send a scorecard" in recap[0].params["text"]
    assert "automatic" in json.dumps(recap[0].params["blocks"]).lower()
    await running.bot.service.rearm()  # claimed once: never sent twice
    await asyncio.sleep(0.3)
    assert len(posts_to(slack, dm_channel(CANDIDATE))) == len(recap)


async def test_cancel_is_for_the_two_people_or_whoever_started_it(running, slack):
    iid, thread = await start_pair(running, slack)
    await press(running, OTHER, pair_mod.ACTION_CANCEL, iid, thread)
    refusal = await slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == OTHER)
    assert "Only the interviewer, the candidate or whoever started it" in refusal[0].params["text"]
    assert running.rows("SELECT status FROM interviews") == [("running",)]
    await press(running, CREATOR, pair_mod.ACTION_CANCEL, iid, thread)
    await eventually(
        lambda: running.rows("SELECT status, end_reason FROM interviews") == [("ended", "cancelled")]
    )
    await eventually(lambda: any("cancelled this pair interview" in t for t in running.thread_texts(thread)))
    assert running.rows("SELECT count(*) FROM timers WHERE state = 'pending'") == [(0,)]


@pytest.mark.parametrize(("destination", "public"), [("candidate", False), ("thread", True)])
async def test_stats_show_a_pair_interviews_scores_only_if_its_recap_was_posted_in_the_channel(
    running, slack, destination, public
):
    iid, thread = await start_pair(running, slack)
    await message(running, thread, CANDIDATE, "users shorten urls and get redirected")
    await press(running, INTERVIEWER, bk.ACTION_END, iid, thread)
    await slack.wait_for("views.open")
    choice = {"destination": {"type": "radio_buttons", "selected_option": {"value": destination}}}
    await submit(running, INTERVIEWER, iid, scorecard_values(PHASES, destination=choice))
    await eventually(lambda: running.rows("SELECT posted_ts FROM scorecards WHERE posted_ts IS NOT NULL"))
    await running.command("stats", user=OTHER, channel=CHANNEL)
    reply = (await slack.wait_for_response_url())[-1]["text"]
    assert ("Average score per phase" in reply) is public
    assert ("No recaps yet this week" in reply) is not public
