"""The Slack bot end to end: signed HTTP requests in, Web API calls out to the local stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import pytest

from bot.slack import blocks as bk
from tests import slack_payloads as sp
from tests.slack_harness import SECRET, blocks_of, eventually, slack_ts

CHANNEL = "C1"
CANDIDATE = "U1"


def interview_id(running) -> str:
    return running.rows("SELECT id FROM interviews")[0][0]


async def mention_start(running, text: str = "start url shortener") -> str:
    ts = slack_ts()
    status, _ = await running.event(sp.app_mention_event(CHANNEL, CANDIDATE, f"<@UBOT> {text}", ts))
    assert status == 200
    return ts


async def answer(running, thread_ts: str, text: str, user: str = CANDIDATE) -> str:
    ts = slack_ts()
    status, _ = await running.event(sp.message_event(CHANNEL, user, text, ts, thread_ts=thread_ts))
    assert status == 200
    return ts


async def test_a_whole_interview_from_a_mention_runs_in_its_thread_with_warnings_recap_and_chart(
    running, slack
):
    thread = await mention_start(running)
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    # at pace 600 the Requirements warning (4 minutes) comes after about 0.4 s
    await eventually(lambda: "1 minute left for Requirements." in running.thread_texts(thread), timeout=5)
    await answer(running, thread, "do we need custom aliases? users shorten urls and get redirected")
    for _ in range(5):
        await answer(running, thread, "next")
    await slack.wait_for("files.completeUploadExternal", timeout=20)
    texts = running.thread_texts(thread)
    assert any(t.startswith("Recap:") for t in texts)
    assert all(c.params.get("thread_ts") == thread for c in slack.calls_to("chat.postMessage"))
    phase_posts = [t for t in texts if t.startswith("*")]
    assert [p.split("*")[1] for p in phase_posts[1:]] == [
        "Requirements",
        "Core Entities",
        "API / System Interface",
        "High-Level Design",
        "Deep Dives",
    ]
    upload = slack.calls_to("files.completeUploadExternal")[0]
    assert upload.params.get("thread_ts") == thread
    assert any(data[:4] == b"\x89PNG" for data in _upload_bytes(slack))
    assert running.rows("SELECT status, end_reason FROM interviews") == [("ended", "completed")]
    assert running.rows("SELECT count(*) FROM recaps") == [(1,)]


def _upload_bytes(slack) -> list[bytes]:
    out = []
    for value in slack.uploads.values():
        out.append(value[0] if isinstance(value, tuple) else getattr(value, "content", value))
    return out


async def test_slash_command_start_posts_a_root_message_and_runs_in_its_thread(running, slack):
    status, _ = await running.command("start rate limiter staff 40")
    assert status == 200
    root = (await slack.wait_for("chat.postMessage"))[0]
    assert "thread_ts" not in root.params or not root.params.get("thread_ts")
    assert "Rate Limiter" in root.params["text"]
    root_ts = (await eventually(lambda: running.rows("SELECT thread_ts FROM interviews")))[0][0]
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(root_ts)))
    assert running.rows("SELECT level, minutes, user_id FROM interviews") == [("staff", 40.0, CANDIDATE)]


async def test_the_same_event_delivered_four_times_at_once_gets_one_reply(running, slack):
    ts = slack_ts()
    event = sp.app_mention_event(CHANNEL, CANDIDATE, "<@UBOT> start url shortener", ts)
    body = sp.json_body(sp.event_callback(event, event_id="Ev0DUPLICATE"))
    results = await asyncio.gather(*(running.post(body, "application/json") for _ in range(4)))
    assert [status for status, _ in results] == [200] * 4
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(ts)))
    await asyncio.sleep(0.3)
    assert running.rows("SELECT count(*) FROM interviews") == [(1,)]
    intros = [t for t in running.thread_texts(ts) if "URL Shortener" in t and "level" in t]
    assert len(intros) == 1


@pytest.mark.parametrize("fault", ["forged", "stale", "missing", "no_timestamp", "garbled_timestamp"])
async def test_bad_signatures_get_401_and_change_nothing(running, slack, fault, caplog):
    caplog.set_level(logging.DEBUG)
    before = len(slack.calls)
    event = sp.event_callback(
        sp.app_mention_event(CHANNEL, CANDIDATE, "<@UBOT> start SECRET-BODY-MARKER", slack_ts())
    )
    body = sp.json_body(event)
    if fault == "forged":
        headers = sp.sign(body, "not-the-secret")
    elif fault == "stale":
        headers = sp.sign(body, SECRET, timestamp=int(time.time()) - 6 * 60)
    elif fault == "missing":
        headers = {"X-Slack-Request-Timestamp": str(int(time.time()))}
    elif fault == "garbled_timestamp":
        headers = {**sp.sign(body, SECRET), "X-Slack-Request-Timestamp": "yesterday"}
    else:
        headers = {"X-Slack-Signature": sp.sign(body, SECRET)["X-Slack-Signature"]}
    async with running.http.post(
        running.url + "/slack/events", data=body, headers={**headers, "Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 401
    await asyncio.sleep(0.2)
    assert len(slack.calls) == before
    assert running.rows("SELECT count(*) FROM interviews") == [(0,)]
    assert running.rows("SELECT count(*) FROM inbox") == [(0,)]
    assert "SECRET-BODY-MARKER" not in caplog.text


async def test_a_429_from_post_message_waits_retry_after_and_still_delivers(running, slack):
    slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    started = time.monotonic()
    thread = await mention_start(running)
    await eventually(lambda: any("URL Shortener" in t for t in running.thread_texts(thread)), timeout=10)
    assert time.monotonic() - started >= 0.9
    assert [c.status for c in slack.calls_to("chat.postMessage")][:2] == [429, 200]


async def test_two_answers_at_the_same_moment_are_both_stored_in_order(running, slack):
    thread = await mention_start(running)
    await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
    first, second = slack_ts(), slack_ts(0.001)
    await asyncio.gather(
        running.event(sp.message_event(CHANNEL, CANDIDATE, "second answer", second, thread_ts=thread)),
        running.event(sp.message_event(CHANNEL, CANDIDATE, "first answer", first, thread_ts=thread)),
    )
    rows = await eventually(
        lambda: (
            running.rows("SELECT text FROM turns WHERE role='candidate' ORDER BY seq") or None
            if len(running.rows("SELECT text FROM turns WHERE role='candidate'")) == 2
            else None
        )
    )
    assert [r[0] for r in rows] == ["first answer", "second answer"]


async def test_edits_replace_the_answer(running, slack):
    thread = await mention_start(running)
    await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
    ts = await answer(running, thread, "we need a cache")
    await eventually(lambda: running.rows("SELECT text FROM turns WHERE role='candidate'"))
    edit = sp.message_changed_event(CHANNEL, CANDIDATE, "users shorten long urls", ts, thread, slack_ts())
    status, _ = await running.event(edit)
    assert status == 200
    await eventually(
        lambda: (
            running.rows("SELECT text FROM turns WHERE role='candidate'") == [("users shorten long urls",)]
        )
    )


async def test_messages_from_others_and_from_bots_are_ignored(running, slack):
    thread = await mention_start(running)
    await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
    await answer(running, thread, "I'm just watching", user="U2")
    bot_msg = sp.bot_message_event(CHANNEL, "hello from another bot", slack_ts(), thread_ts=thread)
    await running.event(bot_msg)
    await answer(running, thread, "next", user="U2")
    await asyncio.sleep(0.3)
    assert running.rows("SELECT count(*) FROM turns WHERE role='candidate'") == [(0,)]
    assert not any("*Core Entities*" in t for t in running.thread_texts(thread))


async def test_buttons_work_for_the_candidate_and_are_refused_for_anyone_else(running, slack):
    thread = await mention_start(running)
    await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
    iid = interview_id(running)
    phase_calls = await eventually(
        lambda: [
            c for c in slack.calls_to("chat.postMessage") if c.ok and "*Requirements*" in c.params["text"]
        ]
    )
    phase_call = phase_calls[0]
    actions = [b for b in blocks_of(phase_call) if b["type"] == "actions"][0]
    assert {e["action_id"] for e in actions["elements"]} == {bk.ACTION_NEXT, bk.ACTION_HINT, bk.ACTION_END}
    state_before = running.rows("SELECT state, version FROM interviews")
    status, _ = await running.press("U2", bk.ACTION_NEXT, iid, CHANNEL, thread)
    assert status == 200
    refusal = (await slack.wait_for("chat.postEphemeral"))[0]
    assert refusal.params["user"] == "U2" and "Only the candidate can do that" in refusal.params["text"]
    assert running.rows("SELECT state, version FROM interviews") == state_before
    await running.press(CANDIDATE, bk.ACTION_NEXT, iid, CHANNEL, thread)
    await eventually(lambda: any("*Core Entities*" in t for t in running.thread_texts(thread)))
    await running.press(CANDIDATE, bk.ACTION_HINT, iid, CHANNEL, thread)
    await eventually(lambda: any(t.startswith("Hint:") for t in running.thread_texts(thread)))


async def test_an_unknown_problem_gets_the_closest_matches(running, slack):
    thread = await mention_start(running, "start url shortner")
    reply = await eventually(
        lambda: [t for t in running.thread_texts(thread) if "don't know the problem" in t]
    )
    assert "URL Shortener" in reply[0]
    assert running.rows("SELECT count(*) FROM interviews") == [(0,)]


async def test_a_second_interview_in_the_same_thread_is_refused(running, slack):
    thread = await mention_start(running)
    await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
    ts = slack_ts()
    await running.event(
        sp.app_mention_event(CHANNEL, CANDIDATE, "<@UBOT> start rate limiter", ts, thread_ts=thread)
    )
    await eventually(lambda: [t for t in running.thread_texts(thread) if "already has an interview" in t])
    assert running.rows("SELECT count(*) FROM interviews") == [(1,)]


async def test_start_in_a_channel_the_bot_is_not_in_says_to_invite_it(running, slack):
    slack.fail("chat.postMessage", "not_in_channel", times=1)
    status, _ = await running.command("start url shortener")
    assert status == 200
    replies = await eventually(lambda: slack.response_url_posts if slack.response_url_posts else None)
    assert "/invite @interview-bot" in replies[0]["text"]
    assert replies[0].get("response_type") == "ephemeral"
    assert running.rows("SELECT count(*) FROM interviews") == [(0,)]


async def test_help_and_problems_answer_in_the_acknowledgement(running, slack):
    # a plain-text acknowledgement is shown to the user who ran the command, and only to them
    status, text = await running.command("help")
    assert status == 200 and "/interview start" in text
    status, text = await running.command("problems")
    assert "URL Shortener" in text
    status, text = await running.command("juggle")
    assert "I don't know `/interview juggle`" in text


async def test_healthz_answers_when_the_database_is_reachable(running):
    async with running.http.get(running.url + "/healthz") as resp:
        assert resp.status == 200 and (await resp.json()) == {"ok": True}


async def test_tokens_never_reach_the_logs_or_messages(running, slack, caplog):
    caplog.set_level(logging.DEBUG)
    thread = await mention_start(running)
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    assert slack.bot_token not in caplog.text
    assert all(slack.bot_token not in json.dumps(c.params) for c in slack.calls)


def test_recap_blocks_stay_within_slack_limits(bank):
    from flows.scoring import score_transcript

    turns = [
        {"at": float(i), "phase": "high_level_design", "role": "candidate", "text": "x " * 2000 + "cache"}
        for i in range(60)
    ]
    recap = score_transcript({"turns": turns}, bank["url-shortener"])
    recap["next_steps"] = ["y" * 4000] * 3
    recap["phases"][0]["feedback"] = "z" * 5000
    messages = bk.split_messages(bk.recap_blocks(recap) * 5)
    assert len(messages) >= 2
    for message in messages:
        assert len(message) <= 50
        for block in message:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000


@pytest.mark.parametrize(
    "text",
    [
        "<@U2> restarted the cache nodes, so reads stay warm",
        "we started with <@U2>'s idea: a startup script seeds the cache",
        "<@U2> start with the read path",  # start, but said to someone else
    ],
)
async def test_a_thread_answer_that_mentions_someone_and_says_start_is_an_answer(running, slack, text):
    thread = await mention_start(running)
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    await answer(running, thread, text)
    await running.bot.runner.inbox.settle()
    await eventually(lambda: running.rows("SELECT text FROM turns WHERE role = 'candidate'"))
    stored = running.rows("SELECT text FROM turns WHERE role = 'candidate'")[0][0]
    assert "start" in stored and "@U2" in stored and "<@" not in stored  # plain text, as the person saw it
    assert running.rows("SELECT count(*) FROM interviews") == [(1,)]


async def test_healthz_says_unhealthy_while_the_database_cannot_be_written(running):
    async with running.http.get(running.url + "/healthz") as resp:
        assert resp.status == 200
    async with _write_blocked(running), running.http.get(running.url + "/healthz") as resp:
        assert resp.status == 503 and (await resp.json()) == {"ok": False}
    async with running.http.get(running.url + "/healthz") as resp:
        assert resp.status == 200


@contextlib.asynccontextmanager
async def _write_blocked(running):
    """Another connection holds the write lock (SQLite) or a lock on the heartbeat table (PostgreSQL)."""
    if running.database_url.startswith("postgresql"):
        import asyncpg

        conn = await asyncpg.connect(running.database_url.replace("postgresql+asyncpg://", "postgresql://"))
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("LOCK TABLE heartbeat IN EXCLUSIVE MODE")  # reads still work; writes wait
        try:
            yield
        finally:
            await transaction.rollback()
            await conn.close()
        return
    import sqlite3

    blocker = sqlite3.connect(running.db, timeout=0, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # reads still work; writes cannot get in
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


async def test_help_lists_every_subcommand_from_the_registry(running, slack):
    status, body = await running.command("help")
    assert status == 200
    for usage in (
        "/interview start",
        "/interview pair",
        "/interview problems",
        "/interview daily",
        "/interview stats",
        "/interview history",
        "/interview forget me",
        "/interview help",
    ):
        assert usage in body, usage
    status, body = await running.command("teleport <!channel>")
    assert "I don't know `/interview teleport" in body and "/interview daily" in body
    assert "<!channel>" not in body
