"""Team practice end to end: team interviews, teammates' comments and `/interview stats` over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from tests import slack_payloads as sp
from tests.slack_harness import BACKEND, eventually, slack_ts

CHANNEL = "C1"
ALICE, BOB, CAROL = "U1", "U2", "U3"


async def say(running, thread_ts: str, user: str, text: str) -> str:
    ts = slack_ts()
    status, _ = await running.event(sp.message_event(CHANNEL, user, text, ts, thread_ts=thread_ts))
    assert status == 200
    return ts


def recap_of(running, interview_id: str) -> dict:
    rows = running.rows("SELECT data FROM recaps WHERE interview_id = ?", interview_id)
    return json.loads(rows[0][0]) if rows else {}


async def team_interview(running, slack) -> tuple[str, str]:
    """Alice starts a team interview; Alice and Bob answer; Bob ends it. Returns (id, thread)."""
    status, _ = await running.command("start team url shortener 30", user=ALICE)
    assert status == 200
    root = (await slack.wait_for("chat.postMessage"))[0]
    assert (
        "team interview" in root.params["text"] and "everyone in this thread answers" in root.params["text"]
    )
    rows = await eventually(lambda: running.rows("SELECT id, thread_ts FROM interviews WHERE team"))
    interview_id, thread = rows[0]
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    await say(running, thread, ALICE, "users shorten a long url and get a short code back")
    await say(running, thread, BOB, "do we need custom aliases? and people get redirected from the short url")
    await eventually(lambda: len(running.rows("SELECT 1 FROM turns WHERE role = 'candidate'")) == 2)
    await say(running, thread, BOB, "next")  # a control word from anyone counts in a team interview
    await eventually(lambda: any("*Core Entities*" in t for t in running.thread_texts(thread)))
    await say(running, thread, ALICE, "the entities are the url mapping and the user")
    await eventually(lambda: len(running.rows("SELECT 1 FROM turns WHERE role = 'candidate'")) == 3)
    await say(running, thread, BOB, "end")
    await eventually(lambda: recap_of(running, interview_id), timeout=20)
    return interview_id, thread


async def test_a_team_interview_takes_everyones_answers_and_credits_each_person_by_phase(running, slack):
    interview_id, thread = await team_interview(running, slack)
    turns = running.rows(
        "SELECT user_id, phase FROM turns WHERE interview_id = ? AND role = 'candidate' ORDER BY seq",
        interview_id,
    )
    assert turns == [(ALICE, "requirements"), (BOB, "requirements"), (ALICE, "core_entities")]
    recap = recap_of(running, interview_id)
    assert recap["contributions"] == {
        ALICE: {"requirements": 1, "core_entities": 1},
        BOB: {"requirements": 1},
    }
    assert set(recap["contributed_concepts"]) == {ALICE, BOB}
    assert running.rows("SELECT status, end_reason FROM interviews") == [("ended", "ended")]
    posted = await eventually(lambda: [t for t in running.thread_texts(thread) if "Team contributions" in t])
    assert f"<@{ALICE}>" in posted[0] and f"<@{BOB}>" in posted[0]


async def test_a_teammates_message_in_a_solo_interview_is_kept_as_a_comment_and_not_scored(running, slack):
    thread = slack_ts()
    await running.event(sp.app_mention_event(CHANNEL, ALICE, "<@UBOT> start url shortener", thread))
    interview_id = (await eventually(lambda: running.rows("SELECT id FROM interviews")))[0][0]
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    await say(running, thread, ALICE, "users shorten a long url and get a short code back")
    await eventually(lambda: running.rows("SELECT 1 FROM turns WHERE role = 'candidate'"))
    await eventually(lambda: running.rows("SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)])
    posts_before = len(_replies(running, thread))  # the follow-up to Alice has arrived
    await say(running, thread, BOB, "great start, maybe mention custom aliases")
    await say(running, thread, BOB, "end")  # a teammate's control word is only a comment in a solo interview
    comments = await eventually(
        lambda: (
            running.rows("SELECT user_id, text FROM turns WHERE role = 'comment' ORDER BY seq")
            if len(running.rows("SELECT 1 FROM turns WHERE role = 'comment'")) == 2
            else None
        )
    )
    assert comments == [(BOB, "great start, maybe mention custom aliases"), (BOB, "end")]
    assert len(_replies(running, thread)) == posts_before  # no follow-up to a comment
    assert running.rows("SELECT status FROM interviews") == [("running",)]
    await say(running, thread, ALICE, "end")
    recap = await eventually(lambda: recap_of(running, interview_id), timeout=20)
    assert recap["contributions"] == {ALICE: {"requirements": 1}}
    assert not any(
        "maybe mention" in json.dumps(x) for x in (recap["tips"], recap["pitfalls"], recap["phases"])
    )


def _replies(running, thread: str) -> list[str]:
    """What the bot said in a thread, without the clock's warnings (they come on their own time)."""
    return [t for t in running.thread_texts(thread) if " left for " not in t and "Time's up" not in t]


def _stamp(moment: datetime):
    """A created_at value as the database stores it (SQLite: text; PostgreSQL: a timestamp)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return naive if BACKEND == "postgresql" else naive.isoformat(sep=" ")


async def test_stats_lists_this_weeks_interviews_participants_phase_averages_and_streaks(running, slack):
    team_id, _ = await team_interview(running, slack)
    # Alice sat a solo interview yesterday too, and Carol one ten days ago (not this week).
    now = datetime.now(UTC)
    for user, days_ago in ((ALICE, 1), (CAROL, 10)):
        await running.command("start rate limiter", user=user)
        await eventually(
            lambda u=user: running.rows("SELECT id FROM interviews WHERE user_id = ? AND NOT team", u)
        )
        solo_id = running.rows("SELECT id FROM interviews WHERE user_id = ? AND NOT team", user)[0][0]
        # in a thread: a blocking write on the event loop would stall the bot holding the lock
        stamp = _stamp(now - timedelta(days=days_ago))
        await asyncio.to_thread(
            running.rows, "UPDATE interviews SET created_at = ? WHERE id = ?", stamp, solo_id
        )

    status, _ = await running.command("stats", user=BOB)
    assert status == 200
    reply = (await slack.wait_for_response_url())[-1]
    assert reply.get("response_type") == "ephemeral"
    text = reply["text"]
    assert "2 interviews (1 team)" in text
    assert f"Participants: <@{ALICE}>, <@{BOB}>" in text
    assert f"<@{CAROL}>" not in text
    requirements = recap_of(running, team_id)["phases"][0]["score"]
    assert f"over 1 recap: Requirements {requirements:.1f}" in text
    assert f"<@{ALICE}> 2 days" in text and f"<@{BOB}> 1 day" in text


async def test_stats_in_a_quiet_channel_says_there_is_nothing_yet(running, slack):
    status, _ = await running.command("stats", channel="C9")
    assert status == 200
    reply = (await slack.wait_for_response_url())[-1]
    assert "No interviews" in reply["text"] and reply.get("response_type") == "ephemeral"
