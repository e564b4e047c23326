"""Storage: migrations make the schema, stored interviews survive an upgrade, writes keep every turn."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import StorageError, open_database
from bot.repository import InterviewRepository, Placement, StaleInterview
from flows.engine import new_interview, step
from flows.events import Answer, Control, Edit, Start


async def test_opening_a_new_file_migrates_it_to_head(tmp_path, db_url):
    engine, _ = await open_database(db_url)
    await engine.dispose()
    with sqlite3.connect(tmp_path / "test.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"interviews", "turns", "recaps", "alembic_version"} <= tables
    assert version and journal == "wal"


def test_the_pinned_schema_head_is_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.db import MIGRATIONS, SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


async def test_interviews_survive_reopening_and_rerunning_migrations(tiny, db_url):
    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions, bank={"paste-bin": tiny})
    iv = new_interview("keep-me", tiny)
    iv, _ = step(iv, Start(0))
    await repo.add(iv, Placement())
    iv, _ = step(iv, Answer(5, "users create paste", message_id="m1"))
    await repo.save(iv)
    await engine.dispose()

    engine, sessions = await open_database(db_url)  # upgrade to head again: a no-op that keeps data
    repo = InterviewRepository(sessions, bank={"paste-bin": tiny})
    loaded, row = await repo.load("keep-me")
    assert loaded == iv and row.status == "running"
    assert [t.text for t in await repo.turns("keep-me") if t.role == "candidate"] == ["users create paste"]
    await engine.dispose()


async def test_edits_and_the_recap_are_written(tiny, db_url):
    from tests.test_runner import make_runner

    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions, bank={"paste-bin": tiny})
    runner, _ = make_runner(sessions, {"paste-bin": tiny})
    await runner.create(new_interview("e", tiny), Placement())
    await runner.apply("e", lambda iv, row, now: Answer(5, "first", message_id="m1"))
    await runner.apply("e", lambda iv, row, now: Edit(6, "m1", "users create paste"))
    await runner.apply("e", lambda iv, row, now: Control(7, "end"))
    turns = await repo.turns("e")
    assert [t.text for t in turns if t.role == "candidate"] == ["users create paste"]
    assert (await repo.recap("e"))["problem"] == "paste-bin"
    await engine.dispose()


async def test_a_stale_write_is_refused_and_loses_nothing(tiny, db_url):
    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions)
    iv, _ = step(new_interview("s", tiny), Start(0))
    await repo.add(iv, Placement())
    a, _ = step(iv, Answer(5, "one", message_id="1"))
    v1 = await repo.save(a, expected_version=0)
    b, _ = step(iv, Answer(5, "two", message_id="2"))
    with pytest.raises(StaleInterview):
        await repo.save(b, expected_version=0)
    assert v1 == 1
    assert [t.text for t in await repo.turns("s") if t.role == "candidate"] == ["one"]
    await engine.dispose()


async def test_a_locked_database_waits_instead_of_failing(tiny, tmp_path, db_url):
    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions)
    iv, _ = step(new_interview("l", tiny), Start(0))
    await repo.add(iv, Placement())
    blocker = sqlite3.connect(tmp_path / "test.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock briefly

    import asyncio

    async def release():
        await asyncio.sleep(0.5)
        blocker.execute("COMMIT")

    iv2, _ = step(iv, Answer(5, "users create paste", message_id="m"))
    await asyncio.gather(release(), repo.save(iv2))
    assert [t.text for t in await repo.turns("l") if t.role == "candidate"] == ["users create paste"]
    blocker.close()
    await engine.dispose()


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite:////nonexistent/dir/x.db", "nonsense://", "postgresql+nosuchdriver://u@h/db"],
)
async def test_a_database_that_cannot_be_opened_is_one_clear_error(url):
    with pytest.raises(StorageError) as err:
        await open_database(url)
    assert "\n" not in str(err.value)


def test_passwords_are_hidden_when_a_url_is_shown():
    from bot.db import describe

    assert "secret" not in describe("postgresql+asyncpg://bot:secret@db.example/iv")


async def test_the_snapshot_is_plain_json(tiny, db_url):
    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions)
    iv, _ = step(new_interview("j", tiny), Start(0))
    await repo.add(iv, Placement(surface="slack", channel="C1", thread_ts="1.2", user_id="U1"))
    async with create_async_engine(db_url).connect() as conn:
        from sqlalchemy import text

        state = (await conn.execute(text("SELECT state FROM interviews WHERE id='j'"))).scalar_one()
    assert json.loads(state)["problem"] == "paste-bin"
    await engine.dispose()


async def test_the_setup_is_stored_once_and_a_step_rewrites_only_the_state(tiny, tmp_path, db_url):
    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions, bank={"paste-bin": tiny})
    suggestions = {"requirements": "URL Shortener", "api": "Rate Limiter"}
    iv, _ = step(new_interview("s1", tiny, suggestions=suggestions), Start(0))
    await repo.add(iv, Placement())
    with sqlite3.connect(tmp_path / "test.db") as conn:
        conn.execute(
            "UPDATE interviews SET setup = ? WHERE id = 's1'", ('{"suggestions": [["api", "Mark"]]}',)
        )
    after, _ = step(iv, Answer(5, "users create paste", message_id="m1"))
    await repo.save(after, expected_version=0, before=iv)
    with sqlite3.connect(tmp_path / "test.db") as conn:
        state, setup = conn.execute("SELECT state, setup FROM interviews WHERE id = 's1'").fetchone()
    # The step wrote the state, without the suggestions, and left the setup column alone (the mark
    # put there stays); a save with no state to compare with writes the setup again.
    assert "suggestions" not in json.loads(state) and json.loads(state)["id"] == "s1"
    assert json.loads(setup) == {"suggestions": [["api", "Mark"]]}
    await repo.save(after)
    loaded, _ = await repo.load("s1")
    assert loaded == after and dict(loaded.suggestions) == suggestions
    await engine.dispose()


async def test_an_older_database_keeps_its_suggestions_through_the_upgrade(tiny, tmp_path, db_url):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from bot.db import MIGRATIONS
    from flows.snapshot import to_snapshot

    old = create_engine(f"sqlite:///{tmp_path / 'test.db'}")
    with old.begin() as connection:  # the schema as the previous release left it
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    old.dispose()
    iv, _ = step(new_interview("o1", tiny, suggestions={"api": "Rate Limiter"}), Start(0))
    with sqlite3.connect(tmp_path / "test.db") as conn:  # a row as the previous release stored it
        conn.execute(
            "INSERT INTO interviews (id, problem, level, surface, status, end_reason, team, pace, "
            "clock_origin, state, version, created_at, mode) VALUES "
            "('o1', 'paste-bin', 'senior', 'terminal', 'running', '', 0, 1, 0, ?, 0, '2026-12-01', 'solo')",
            (json.dumps(to_snapshot(iv, with_turns=False)),),
        )
    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions, bank={"paste-bin": tiny})
    loaded, row = await repo.load("o1")
    assert loaded == dataclasses.replace(iv, turns=())  # (its turn rows were left out above)
    assert dict(loaded.suggestions) == {"api": "Rate Limiter"}
    assert "suggestions" not in json.loads(row.state)
    assert json.loads(row.setup) == {"suggestions": [["api", "Rate Limiter"]]}
    await engine.dispose()


async def test_a_writer_collected_while_another_thread_pool_takes_work_closes_without_deadlock(tiny, db_url):
    import concurrent.futures.thread as pool_threads
    import threading

    engine, sessions = await open_database(db_url)
    repo = InterviewRepository(sessions)
    iv, _ = step(new_interview("gc", tiny), Start(0))
    await repo.add(iv, Placement())
    await repo.save(step(iv, Answer(5, "users create paste", message_id="m"))[0], 0)  # its writer connection
    # The garbage collector can run the writer's finalizer inside any ThreadPoolExecutor.submit(),
    # which holds a lock that every submit() takes: the finalizer must not need it.
    closed = threading.Event()
    with pool_threads._global_shutdown_lock:
        closer = threading.Thread(target=lambda: (sessions._finalizer(), closed.set()), daemon=True)
        closer.start()
        closer.join(5)
    assert closed.is_set()
    await engine.dispose()


def _beat(connection, name: str, fail: bool = False) -> str:
    connection.execute(text("INSERT INTO heartbeat (name, at) VALUES (:n, 1.0)"), {"n": name})
    if fail:
        raise ValueError(f"{name} fails after its insert")
    return name.upper()


async def _queued_behind_a_busy_writer(sessions, writes):
    """Run `writes` (args of write_rows, or calls that start a write) queued while the writer
    thread is busy with another."""
    import asyncio
    import threading

    busy, started = threading.Event(), threading.Event()

    def hold(_connection):
        started.set()
        busy.wait(5)

    holding = asyncio.ensure_future(sessions.write_rows(hold))
    await asyncio.to_thread(started.wait, 5)
    tasks = [asyncio.ensure_future(w() if callable(w) else sessions.write_rows(*w)) for w in writes]
    await asyncio.sleep(0.05)  # all of them are queued now
    busy.set()
    await holding
    return await asyncio.gather(*tasks, return_exceptions=True)


def _names(tmp_path) -> list[str]:
    with sqlite3.connect(tmp_path / "test.db") as conn:
        return sorted(n for (n,) in conn.execute("SELECT name FROM heartbeat"))


async def test_writes_queued_together_commit_together_and_each_caller_gets_its_own_result(tmp_path, db_url):
    engine, sessions = await open_database(db_url)
    commits: list[int] = []
    event.listen(sessions._engine, "commit", lambda _conn: commits.append(1))
    try:
        results = await _queued_behind_a_busy_writer(sessions, [(_beat, f"w{i}") for i in range(10)])
        assert results == [f"W{i}" for i in range(10)]
        assert _names(tmp_path) == sorted(f"w{i}" for i in range(10))
        assert len(commits) == 2  # the busy one alone, then the ten that queued behind it together
    finally:
        await engine.dispose()


async def test_a_write_that_fails_in_a_batch_fails_only_its_own_caller(tmp_path, db_url):
    engine, sessions = await open_database(db_url)
    try:
        writes = [(_beat, "before"), (_beat, "bad", True), (_beat, "after")]
        before, bad, after = await _queued_behind_a_busy_writer(sessions, writes)
        assert (before, after) == ("BEFORE", "AFTER")
        assert isinstance(bad, ValueError)
        assert _names(tmp_path) == ["after", "before"]  # the failing one's insert was rolled back
        # the writer goes on
        assert await sessions.write_rows(_beat, "later") == "LATER"
    finally:
        await engine.dispose()


async def test_a_database_locked_past_the_timeout_fails_the_batch_and_keeps_what_was_stored(
    tmp_path, db_url, monkeypatch
):
    import bot.db

    monkeypatch.setattr(bot.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine, sessions = await open_database(db_url)
    try:
        assert await sessions.write_rows(_beat, "kept") == "KEPT"
        blocker = sqlite3.connect(tmp_path / "test.db", timeout=0, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock for long
        try:
            results = await _queued_behind_a_busy_writer(sessions, [(_beat, "a"), (_beat, "b")])
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        assert all(isinstance(r, OperationalError) and "locked" in str(r) for r in results)
        assert _names(tmp_path) == ["kept"]
        assert await sessions.write_rows(_beat, "a") == "A"  # the callers' retry goes through
        assert _names(tmp_path) == ["a", "kept"]
    finally:
        await engine.dispose()


async def test_session_writes_queued_among_core_writes_keep_their_order(tmp_path, db_url):
    # An ORM write (`write`) between Core writes (`write_rows`) in one batch: the Core writes before
    # it commit first, it runs in its own transaction, then the ones after it.
    from bot.models import HeartbeatRow

    def orm_beat(session, name: str) -> str:
        seen = session.scalar(text("SELECT count(*) FROM heartbeat"))
        session.add(HeartbeatRow(name=name, at=2.0))
        return f"{name} after {seen}"

    engine, sessions = await open_database(db_url)
    try:
        writes = [(_beat, "a"), lambda: sessions.write(orm_beat, "b"), (_beat, "c")]
        results = await _queued_behind_a_busy_writer(sessions, writes)
        assert results == ["A", "b after 1", "C"]
        assert _names(tmp_path) == ["a", "b", "c"]
    finally:
        await engine.dispose()
