"""Delivery guarantees, end to end: nothing acknowledged is lost, nothing decided goes unsaid or doubled."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
from datetime import UTC, datetime

import aiohttp

from tests import slack_payloads as sp
from tests.slack_harness import SECRET, blocks_of, eventually, slack_ts, start_bot, stop_bot
from tests.slack_standin import SlackStandIn
from tests.test_slack_restart import _free_port, _healthy, _serve

CHANNEL = "C1"


def _refs(slack: SlackStandIn) -> list[str]:
    """The outbox row each successful thread post came from, in the order Slack received them."""
    refs = []
    for call in slack.calls_to("chat.postMessage"):
        meta = call.params.get("metadata")
        meta = json.loads(meta) if isinstance(meta, str) else meta
        if call.ok and meta:
            refs.append(str(meta["event_payload"]["ref"]))
    return refs


async def _interview_started(running) -> str:
    """A url-shortener interview started in a new thread, its first phase posted; the thread."""
    thread = slack_ts()
    await running.event(sp.app_mention_event(CHANNEL, "U1", "<@UBOT> start url shortener", thread))
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    return thread


async def test_web_api_down_for_30_seconds_every_post_arrives_after_in_order_none_doubled(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            thread = await _interview_started(running)
            await slack.go_offline()
            answers = ["users shorten a long url", "what scale do we expect?", "redirects must be fast"]
            for text in answers:
                status, _ = await running.event(
                    sp.message_event(CHANNEL, "U1", text, slack_ts(), thread_ts=thread)
                )
                assert status == 200  # acknowledged while Slack is unreachable
            status, _ = await running.event(
                sp.message_event(CHANNEL, "U1", "next", slack_ts(), thread_ts=thread)
            )
            assert status == 200
            await asyncio.sleep(30)
            unsent = running.rows("SELECT count(*) FROM outbox WHERE state != 'sent'")[0][0]
            assert unsent >= 4  # follow-ups and the next phase, all waiting
            await slack.go_online()
            await eventually(
                lambda: running.rows("SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)], 20
            )
            texts = running.thread_texts(thread)
            assert any("*Core Entities*" in t for t in texts)
            refs = _refs(slack)
            assert len(refs) == len(set(refs))  # none doubled
            assert refs == sorted(refs, key=int)  # in the order they were decided
            stored = [r[0] for r in running.rows("SELECT id FROM outbox WHERE kind = 'say' ORDER BY id")]
            assert [int(r) for r in refs] == stored  # every one arrived
            turns = running.rows("SELECT text FROM turns WHERE role = 'candidate' ORDER BY seq")
            assert [t[0] for t in turns] == answers
        finally:
            await stop_bot(running)


async def _press_value(running, slack, thread: str, phase_title: str, action_id: str) -> tuple[dict, str]:
    """The real button of a phase message: its element and the message's ts."""
    calls = await eventually(
        lambda: [
            c
            for c in slack.calls_to("chat.postMessage")
            if c.ok and c.params.get("thread_ts") == thread and phase_title in c.params.get("text", "")
        ]
    )
    blocks = blocks_of(calls[0])
    element = next(
        e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id
    )
    return element, calls[0].response["ts"]


async def test_a_double_click_on_next_phase_moves_one_phase_and_the_second_is_already_done(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            thread = slack_ts()
            await running.event(sp.app_mention_event(CHANNEL, "U1", "<@UBOT> start url shortener", thread))
            button, message_ts = await _press_value(
                running, slack, thread, "*Requirements*", "interview_next"
            )
            body = sp.block_actions(
                "U1", "interview_next", button["value"], CHANNEL, message_ts, thread_ts=thread
            )
            body2 = sp.block_actions(
                "U1", "interview_next", button["value"], CHANNEL, message_ts, thread_ts=thread
            )
            results = await asyncio.gather(
                running.post(body, "application/x-www-form-urlencoded"),
                running.post(body2, "application/x-www-form-urlencoded"),
                running.post(body, "application/x-www-form-urlencoded"),  # a replay of the first request
            )
            assert [status for status, _ in results] == [200, 200, 200]
            await eventually(lambda: any("*Core Entities*" in t for t in running.thread_texts(thread)))
            done = await eventually(
                lambda: [
                    c
                    for c in slack.calls_to("chat.postEphemeral")
                    if "Already done" in c.params.get("text", "")
                ]
            )
            await asyncio.sleep(0.5)
            assert not any("*API" in t for t in running.thread_texts(thread))
            state = json.loads(running.rows("SELECT state FROM interviews")[0][0])
            assert state["phase_index"] == 1
            done = [
                c for c in slack.calls_to("chat.postEphemeral") if "Already done" in c.params.get("text", "")
            ]
            assert len(done) == 2 and all(c.params["user"] == "U1" for c in done)
        finally:
            await stop_bot(running)


async def test_a_second_press_of_hint_on_the_same_message_gives_no_second_hint(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            thread = slack_ts()
            await running.event(sp.app_mention_event(CHANNEL, "U1", "<@UBOT> start url shortener", thread))
            button, message_ts = await _press_value(
                running, slack, thread, "*Requirements*", "interview_hint"
            )
            for _ in range(2):
                body = sp.block_actions("U1", "interview_hint", button["value"], CHANNEL, message_ts, thread)
                assert (await running.post(body, "application/x-www-form-urlencoded"))[0] == 200
            await eventually(
                lambda: [
                    c for c in slack.calls_to("chat.postEphemeral") if "Already done" in c.params["text"]
                ]
            )
            hints = [t for t in running.thread_texts(thread) if t.startswith("Hint:")]
            assert len(hints) == 1
            await running.event(sp.message_event(CHANNEL, "U1", "hint", slack_ts(), thread_ts=thread))
            await eventually(
                lambda: len([t for t in running.thread_texts(thread) if t.startswith("Hint:")]) == 2
            )
        finally:
            await stop_bot(running)


async def test_a_replayed_slash_command_start_starts_nothing_new(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            body = sp.slash_command("start url shortener", user_id="U1", channel_id=CHANNEL)
            first = await running.post(body, "application/x-www-form-urlencoded")
            await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(1,)])
            again = await asyncio.gather(
                *(running.post(body, "application/x-www-form-urlencoded") for _ in range(3))
            )
            assert first[0] == 200 and [s for s, _ in again] == [200, 200, 200]
            await asyncio.sleep(0.5)
            assert running.rows("SELECT count(*) FROM interviews") == [(1,)]
            roots = [c for c in slack.calls_to("chat.postMessage") if c.ok and not c.params.get("thread_ts")]
            assert len(roots) == 1
        finally:
            await stop_bot(running)


async def test_forget_me_racing_a_busy_interview_always_answers_and_leaves_nothing_20_times(tmp_path):
    from bot.slack import history as hist

    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)

        def deleted_answers() -> list[dict]:
            return [
                p for p in slack.response_url_posts if p.get("text", "").startswith("Deleted 1 interview")
            ]

        try:
            for i in range(20):
                user = f"UF{i:02d}"
                thread = slack_ts()
                await running.event(sp.app_mention_event(CHANNEL, user, "<@UBOT> start rate limiter", thread))
                await eventually(lambda t=thread: any("*Requirements*" in x for x in running.thread_texts(t)))
                burst = [
                    running.event(
                        sp.message_event(CHANNEL, user, f"answer {n} of {user}", slack_ts(n / 1000), thread)
                    )
                    for n in range(8)
                ]
                confirm = running.press(user, hist.ACTION_FORGET_CONFIRM, user, CHANNEL, slack_ts())
                await asyncio.gather(*burst[:4], confirm, *burst[4:])
                await eventually(lambda n=i + 1: len(deleted_answers()) == n)
                await running.bot.runner.inbox.settle()
                assert running.rows("SELECT count(*) FROM interviews WHERE user_id = ?", user) == [(0,)]
                assert running.rows("SELECT count(*) FROM turns WHERE user_id = ?", user) == [(0,)]
                assert running.rows("SELECT count(*) FROM inbox WHERE user_id = ? AND text != ''", user) == [
                    (0,)
                ]
            answers = [p["text"] for p in slack.response_url_posts if p.get("text", "").startswith("Deleted")]
            assert len(answers) == 20
            assert not [p for p in slack.response_url_posts if "could not delete" in p.get("text", "")]
        finally:
            await stop_bot(running)


async def test_sigkill_during_a_burst_of_200_answers_over_50_threads_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "bot.db"
    db_url = f"sqlite+aiosqlite:///{db}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    async with SlackStandIn() as slack, aiohttp.ClientSession() as http:

        async def post(event: dict, event_id: str) -> int:
            body = sp.json_body(sp.event_callback(event, event_id=event_id))
            try:
                status, _ = await sp.post_signed(
                    http, url + "/slack/events", body, "application/json", SECRET
                )
                return status
            except (TimeoutError, aiohttp.ClientError):
                return 0  # the process died under it: not acknowledged, Slack would retry

        def rows(sql: str, *args) -> list[tuple]:
            with sqlite3.connect(db) as conn:
                return conn.execute(sql, args).fetchall()

        proc = _serve(slack, db_url, port, pace=1.0)
        try:
            await _healthy(http, url)
            threads = [slack_ts(i / 1000) for i in range(50)]
            for n, thread in enumerate(threads):
                event = sp.app_mention_event(CHANNEL, f"U{n:03d}", "<@UBOT> start url shortener", thread)
                assert await post(event, f"EvStart{n}") == 200
            await eventually(lambda: rows("SELECT count(*) FROM interviews") == [(50,)], 60)
            answers = []  # (event id, thread, user, text, ts), four per thread, in order within a thread
            for k in range(4):
                for n, thread in enumerate(threads):
                    ts = slack_ts(1 + k + n / 1000)
                    answers.append((f"EvAns{n}-{k}", thread, f"U{n:03d}", f"answer {k} in thread {n}", ts))
            acked: set[str] = set()

            async def send(item) -> None:
                event_id, thread, user, text, ts = item
                if await post(sp.message_event(CHANNEL, user, text, ts, thread_ts=thread), event_id) == 200:
                    acked.add(event_id)

            async def burst() -> None:
                for start in range(0, len(answers), 20):
                    await asyncio.gather(*(send(a) for a in answers[start : start + 20]))

            task = asyncio.create_task(burst())
            await eventually(lambda: len(acked) >= 100, 60, interval=0.001)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            await task
            acknowledged = len(acked)

            proc = _serve(slack, db_url, port, pace=1.0)
            await _healthy(http, url)
            for item in answers:  # Slack retries what was not acknowledged (same event id)
                if item[0] not in acked:
                    await send(item)
            assert len(acked) == 200

            def stored() -> list[str]:
                return [r[0] for r in rows("SELECT text FROM turns WHERE role = 'candidate'")]

            await eventually(lambda: len(stored()) >= 200, 60)
            await eventually(lambda: rows("SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)], 60)
            texts = stored()
            assert sorted(texts) == sorted(a[3] for a in answers)  # every one, once
            for n in range(50):  # in order within each thread
                ordered = [
                    r[0]
                    for r in rows(
                        "SELECT t.text FROM turns t JOIN interviews i ON i.id = t.interview_id "
                        "WHERE t.role = 'candidate' AND i.thread_ts = ? ORDER BY t.seq",
                        threads[n],
                    )
                ]
                assert ordered == [f"answer {k} in thread {n}" for k in range(4)]
            refs = _refs(slack)
            doubled = len(refs) - len(set(refs))
            posted = len(set(refs))
            said = rows("SELECT count(*) FROM outbox WHERE kind = 'say'")[0][0]
            print(
                f"SIGKILL figures: acknowledged before the kill {acknowledged}, stored {len(texts)}, "
                f"bot posts {posted} of {said} decided, doubled {doubled}"
            )
            assert doubled == 0 and posted == said
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _interview_and_schedule(running, slack) -> str:
    thread = slack_ts()
    await running.event(sp.app_mention_event(CHANNEL, "U1", "<@UBOT> start url shortener", thread))
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    await running.event(sp.message_event(CHANNEL, "U1", "users shorten links", slack_ts(), thread_ts=thread))
    await running.command("daily 09:00 UTC", user="U1")
    await eventually(lambda: running.rows("SELECT count(*) FROM schedules") == [(1,)])
    return thread


async def test_removing_the_app_stops_all_work_and_deletes_everything_it_stored(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=120.0)  # a warning would come within 2 s
        try:
            await _interview_and_schedule(running, slack)
            status, _ = await running.event({"type": "app_uninstalled", "event_ts": slack_ts()})
            assert status == 200
            await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(0,)])
            for table in ("turns", "timers", "recaps", "outbox", "schedules", "inbox"):
                assert running.rows(f"SELECT count(*) FROM {table}") == [(0,)], table
            assert not [
                j.id for j in running.bot.scheduler.get_jobs() if j.id not in ("retention", "timer-window")
            ]
            await asyncio.sleep(0.5)  # a post already on the wire when the event came may still land
            calls = len(slack.calls)
            await asyncio.sleep(3)  # past the Requirements warning: nothing more is sent
            assert len(slack.calls) == calls
        finally:
            await stop_bot(running)


async def test_a_revoked_bot_token_is_handled_like_removal_and_a_user_token_is_not(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            await _interview_and_schedule(running, slack)
            user_only = {"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}, "event_ts": slack_ts()}
            assert (await running.event(user_only))[0] == 200
            await asyncio.sleep(0.5)
            assert running.rows("SELECT count(*) FROM interviews") == [(1,)]
            bot = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}, "event_ts": slack_ts()}
            assert (await running.event(bot))[0] == 200
            await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(0,)])
            assert running.rows("SELECT count(*) FROM schedules") == [(0,)]
        finally:
            await stop_bot(running)


async def test_retention_deletes_interviews_older_than_its_days_on_schedule_and_keeps_the_rest(tmp_path):
    from tests.test_slack_pair import MovableClock

    clock = MovableClock()
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0, clock=clock, retention_days=30)
        try:
            old = slack_ts()
            await running.event(sp.app_mention_event(CHANNEL, "U1", "<@UBOT> start url shortener", old))
            await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(1,)])

            def backdate() -> None:  # it was started 31 days ago
                with sqlite3.connect(running.db, timeout=30) as conn:
                    conn.execute("UPDATE interviews SET created_at = datetime('now', '-31 days')")

            await asyncio.to_thread(backdate)  # off the loop, which the bot needs to finish its writes
            new = slack_ts()
            await running.event(sp.app_mention_event(CHANNEL, "U2", "<@UBOT> start rate limiter", new))
            await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(2,)])
            job = running.bot.scheduler.get_job("retention")
            assert job is not None and job.trigger.interval.total_seconds() == 3600
            job.modify(next_run_time=datetime.now(UTC))  # the hourly run, now
            await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(1,)])
            assert running.rows("SELECT thread_ts FROM interviews") == [(new,)]
            assert running.rows(
                "SELECT count(*) FROM turns WHERE interview_id NOT IN (SELECT id FROM interviews)"
            ) == [(0,)]
        finally:
            await stop_bot(running)


async def test_answers_handed_to_a_lane_that_breaks_are_applied_by_the_poll(tmp_path):
    # A thread's lane can die on an error nobody foresaw; what was handed to it is stored and
    # pending, and must not stay held by a lane that is gone: the inbox poll applies it.
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            thread = await _interview_started(running)
            inbox = running.bot.runner.inbox
            take, broke = inbox._take, []

            async def breaks_once(row):
                await take(row)
                if not broke:  # after the first answer is applied (nothing of the thread is left
                    broke.append(row.id)  # for the poll to restart the lane for)
                    await asyncio.sleep(0.3)  # the second answer is handed to this lane meanwhile
                    raise RuntimeError("unforeseen")

            inbox._take = breaks_once
            first, second = "users shorten links", "and they follow the short links"
            await running.event(sp.message_event(CHANNEL, "U1", first, slack_ts(), thread_ts=thread))
            await asyncio.sleep(0.05)
            await running.event(sp.message_event(CHANNEL, "U1", second, slack_ts(), thread_ts=thread))

            def applied():
                return running.rows("SELECT text FROM turns WHERE role = 'candidate' ORDER BY seq")

            assert await eventually(lambda: applied() == [(first,), (second,)], timeout=10)
            assert running.rows("SELECT count(*) FROM inbox WHERE state = 'pending'") == [(0,)]
        finally:
            await stop_bot(running)
