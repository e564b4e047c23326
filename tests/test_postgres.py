"""The same storage and the same at-most-once guarantees on a real PostgreSQL server (asyncpg)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import insert, select, text, update

from bot.db import open_database
from bot.models import InboxRow
from bot.repository import InterviewRepository, Placement, StaleInterview
from flows.engine import new_interview, step
from flows.events import Answer, Start
from tests import slack_payloads as sp
from tests.postgres_server import PostgresServer
from tests.slack_harness import _pg_query, eventually, slack_ts, start_bot, stop_bot
from tests.slack_standin import SlackStandIn


@pytest.fixture(scope="module")
def pg_url():
    server = PostgresServer().start()
    yield server.url
    server.stop()


async def _fresh(url: str):
    engine, sessions = await open_database(url)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE interviews, inbox, outbox CASCADE"))
    return engine, sessions


async def test_migrations_and_the_repository_work_on_postgresql(pg_url, tiny):
    engine, sessions = await _fresh(pg_url)
    try:
        repo = InterviewRepository(sessions, bank={"paste-bin": tiny})
        iv, _ = step(new_interview("pg-1", tiny), Start(0))
        await repo.add(iv, Placement("slack", "C1", "1.0", "U1"))
        a, _ = step(iv, Answer(5, "users create paste", message_id="1"))
        assert await repo.save(a, expected_version=0) == 1
        b, _ = step(iv, Answer(5, "lost update", message_id="2"))
        with pytest.raises(StaleInterview):
            await repo.save(b, expected_version=0)
        loaded, row = await repo.load("pg-1")
        assert loaded == a and row.version == 1
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert version == "0007"
    finally:
        await engine.dispose()


async def test_two_bot_processes_on_one_postgresql_handle_an_event_and_a_warning_once(pg_url, tmp_path):
    engine, _ = await _fresh(pg_url)
    await engine.dispose()
    async with SlackStandIn() as slack:
        first = await start_bot(slack, tmp_path / "a", pace=600, database_url=pg_url)
        second = await start_bot(slack, tmp_path / "b", pace=600, database_url=pg_url)
        try:
            thread = slack_ts()
            event = sp.event_callback(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
            body = sp.json_body(event)
            results = await asyncio.gather(
                first.post(body, "application/json"), second.post(body, "application/json")
            )
            assert [status for status, _ in results] == [200, 200]
            await eventually(lambda: any("*Requirements*" in t for t in first.thread_texts(thread)))
            await second.bot.service.rearm()
            await eventually(
                lambda: "1 minute left for Requirements." in first.thread_texts(thread), timeout=5
            )
            await asyncio.sleep(0.5)
            texts = first.thread_texts(thread)
            assert sum("URL Shortener" in t and "level" in t for t in texts) == 1
            assert texts.count("1 minute left for Requirements.") == 1
        finally:
            await stop_bot(second)
            await stop_bot(first)


async def test_an_answer_with_nul_bytes_is_stored_on_postgresql_without_them(pg_url, tmp_path):
    engine, _ = await _fresh(pg_url)
    await engine.dispose()
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1, database_url=pg_url)
        try:
            thread = slack_ts()
            await running.event(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
            await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
            answer = "users shorten\x00 links\x00 and get redirected"
            status, _ = await running.event(
                sp.message_event("C1", "U1", answer, slack_ts(), thread_ts=thread)
            )
            assert status == 200
            await running.bot.runner.inbox.settle()

            async def stored() -> list[str]:
                async with running.bot.runner.sessions() as session:
                    rows = await session.execute(text("SELECT text FROM turns WHERE role = 'candidate'"))
                    return [r[0] for r in rows]

            for _ in range(100):
                if await stored():
                    break
                await asyncio.sleep(0.05)
            assert await stored() == ["users shorten links and get redirected"]
        finally:
            await stop_bot(running)


async def test_a_single_statement_write_leaves_the_pooled_connection_transactional(pg_url):
    # write_one runs without BEGIN/COMMIT (autocommit); the connection it used goes back to the
    # pool, and the next write on it must again be one transaction that a failure rolls back.
    engine, sessions = await _fresh(pg_url)
    try:
        inbox = InboxRow.__table__
        row = {"key": "k1", "kind": "message", "channel": "C1", "thread_ts": "1.0", "user_id": "U1"}
        row |= {"ts": "1.0", "text": "hi", "data": "{}", "state": "pending", "received_at": 1.0}
        rows, count = await sessions.write_one(insert(inbox).returning(inbox.c.key), [row])
        assert [tuple(r) for r in rows] == [("k1",)] and count == 1

        def insert_then_fail(connection):
            connection.execute(insert(inbox).values(**(row | {"key": "k2"})))
            raise RuntimeError("after the insert")

        with pytest.raises(RuntimeError):
            await sessions.write_rows(insert_then_fail)
        _, count = await sessions.write_one(update(inbox).where(inbox.c.key == "k1").values(state="applied"))
        assert count == 1
        async with engine.connect() as conn:
            keys = (await conn.execute(select(inbox.c.key, inbox.c.state).order_by(inbox.c.key))).all()
        assert [tuple(k) for k in keys] == [("k1", "applied")]  # k2 rolled back with its transaction
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def _bot_and_a_thread(slack, pg_url, path):
    """A bot on the PostgreSQL database (emptied first) and an interview it started in a thread."""
    engine, _ = await _fresh(pg_url)
    await engine.dispose()
    running = await start_bot(slack, path, pace=1, database_url=pg_url)
    thread = slack_ts()
    await running.event(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    return running, thread


async def _two_bots_and_a_thread(slack, pg_url, tmp_path):
    first, thread = await _bot_and_a_thread(slack, pg_url, tmp_path / "a")
    second = await start_bot(slack, tmp_path / "b", pace=1, database_url=pg_url)
    return first, second, thread


async def _answers_once(running, thread, count: int) -> list[str]:
    """The candidate's answers stored in the thread, once there are `count` (or after 10 s)."""
    for _ in range(100):
        answers = await _answers(running, thread)
        if len(answers) >= count:
            return answers
        await asyncio.sleep(0.1)
    return await _answers(running, thread)


async def _answers(running, thread) -> list[str]:
    async with running.bot.runner.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT t.text FROM turns t JOIN interviews i ON i.id = t.interview_id "
                "WHERE i.thread_ts = :thread AND t.role = 'candidate' ORDER BY t.seq"
            ),
            {"thread": thread},
        )
        return [r for (r,) in rows]


async def test_messages_of_one_thread_sent_to_two_processes_are_stepped_by_one_none_thrown_away(
    pg_url, tmp_path
):
    # A load balancer sends a thread's messages to either process. The one holding the interview
    # steps them all (the other stores and tells it), so no step is computed on an old copy and
    # thrown away, and they are applied in the order they were sent.
    async with SlackStandIn() as slack:
        first, second, thread = await _two_bots_and_a_thread(slack, pg_url, tmp_path)
        try:
            sent = [f"answer {i}: users shorten links" for i in range(12)]
            for i, answer in enumerate(sent):
                running = (first, second)[i % 2]
                status, _ = await running.event(
                    sp.message_event("C1", "U1", answer, slack_ts(), thread_ts=thread)
                )
                assert status == 200
                await asyncio.sleep(0.05)
            assert await _answers_once(first, thread, len(sent)) == sent
            assert first.bot.runner.discarded == second.bot.runner.discarded == 0
            interview_id = next(iter(first.bot.runner._cache))
            assert first.bot.runner.holds.holds(interview_id)
            assert not second.bot.runner.holds.holds(interview_id)
        finally:
            await stop_bot(second)
            await stop_bot(first)


async def test_the_holder_is_handed_what_the_other_process_stored_without_reading_the_inbox(pg_url, tmp_path):
    # The notice carries the stored row, so the holder applies it from memory; a row too long for a
    # notice (PostgreSQL takes under 8,000 bytes) is read from the inbox as before.
    from sqlalchemy import event

    async with SlackStandIn() as slack:
        first, second, thread = await _two_bots_and_a_thread(slack, pg_url, tmp_path)
        lane_reads: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if "FROM inbox" in statement and "ORDER BY inbox.id" in statement:
                lane_reads.append(statement)

        engine = first.bot.runner.sessions.engine.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            short = "users shorten links and follow them"
            status, _ = await second.event(sp.message_event("C1", "U1", short, slack_ts(), thread_ts=thread))
            assert status == 200
            assert await _answers_once(first, thread, 1) == [short]
            assert lane_reads == []  # handed over with the notice
            long = ("users shorten links " + "and they follow them " * 450).strip()  # ~9,500 characters
            status, _ = await second.event(sp.message_event("C1", "U1", long, slack_ts(), thread_ts=thread))
            assert status == 200
            assert await _answers_once(first, thread, 2) == [short, long]
            assert len(lane_reads) >= 1  # too long for a notice: the holder read it from the inbox
            assert first.bot.runner.discarded == second.bot.runner.discarded == 0
        finally:
            event.remove(engine, "before_cursor_execute", record)
            await stop_bot(second)
            await stop_bot(first)


async def test_malformed_notices_are_ignored_and_the_holder_goes_on(pg_url, tmp_path, caplog):
    # Anything may arrive on the channel (another version, a person with psql): a notice whose
    # row cannot be read falls back to reading the inbox, and breaks nothing.
    async with SlackStandIn() as slack:
        first, second, thread = await _two_bots_and_a_thread(slack, pg_url, tmp_path)
        try:
            interview_id = next(iter(first.bot.runner._cache))
            row = {
                "key": "k",
                "kind": "message",
                "channel": "C1",
                "thread_ts": thread,
                "user_id": "U1",
                "ts": "1.0",
                "text": "forged",
                "data": "{}",
                "state": "pending",
                "received_at": 1.0,
                "id": 1,
            }
            for work in (
                "{not json",
                "[]",
                '{"id": 1}',
                json.dumps({**row, "id": "x"}),
                json.dumps(row)[:-1],
            ):
                await asyncio.to_thread(
                    _pg_query,
                    pg_url,
                    "SELECT pg_notify(?, ?)",
                    ("interview_bot_inbox", f"{interview_id}\n{work}"),
                )
            await asyncio.to_thread(
                _pg_query, pg_url, "SELECT pg_notify(?, ?)", ("interview_bot_inbox", "no such interview\n{}")
            )
            answer = "users shorten links and follow them"
            status, _ = await second.event(sp.message_event("C1", "U1", answer, slack_ts(), thread_ts=thread))
            assert status == 200
            assert await _answers_once(first, thread, 1) == [answer]
            assert first.bot.runner.holds.holds(interview_id)
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == []  # no inbox lane broke on a forged row
        finally:
            await stop_bot(second)
            await stop_bot(first)


async def test_when_the_holding_process_stops_the_other_takes_the_thread_over(pg_url, tmp_path):
    async with SlackStandIn() as slack:
        first, second, thread = await _two_bots_and_a_thread(slack, pg_url, tmp_path)
        try:
            await first.event(
                sp.message_event("C1", "U1", "users shorten links", slack_ts(), thread_ts=thread)
            )
            assert await _answers_once(first, thread, 1) == ["users shorten links"]
            await stop_bot(first)  # its connection, and the interview's lock with it, is gone
            status, _ = await second.event(
                sp.message_event("C1", "U1", "they are redirected", slack_ts(), thread_ts=thread)
            )
            assert status == 200
            assert await _answers_once(second, thread, 2) == ["users shorten links", "they are redirected"]
        finally:
            await stop_bot(second)


async def test_a_lost_holds_connection_is_opened_again_and_messages_go_on(pg_url, tmp_path):
    async with SlackStandIn() as slack:
        running, thread = await _bot_and_a_thread(slack, pg_url, tmp_path)
        try:
            holds = running.bot.runner.holds
            await eventually(lambda: holds._driver is not None)
            lost = holds._driver.get_server_pid()
            await asyncio.to_thread(_pg_query, pg_url, "SELECT pg_terminate_backend(?)", (lost,))
            await eventually(lambda: holds._driver is not None and holds._driver.get_server_pid() != lost)
            await running.event(
                sp.message_event("C1", "U1", "users shorten links", slack_ts(), thread_ts=thread)
            )
            assert await _answers_once(running, thread, 1) == ["users shorten links"]
            interview_id = next(iter(running.bot.runner._cache))
            assert holds.holds(interview_id)  # held again, on the new connection
        finally:
            await stop_bot(running)
