"""The runner and its outbox over a real SQLite file, with a fake surface and fake timers."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

from sqlalchemy import event

from bot.app.outbox import OutboxSender
from bot.app.ports import DeliveryFailed, Place
from bot.app.runner import InterviewRunner
from bot.db import open_database
from bot.repository import Placement
from flows.engine import new_interview
from flows.events import Answer, Control, Edit

ROOT = Path(__file__).resolve().parents[1]


class FakeSurface:
    """Records what it is asked to say; fails on demand like a surface that is down or refuses."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []
        self.refs: list[int] = []  # the outbox ids of what was said in the thread, in order
        self.down = 0  # the next this many calls fail as if unreachable
        self.refuse: set[str] = set()  # texts refused for good

    def _maybe_fail(self, text: str) -> None:
        if self.down:
            self.down -= 1
            raise DeliveryFailed("unreachable", retryable=True)
        if text in self.refuse:
            raise DeliveryFailed("msg_too_long", retryable=False)

    async def say(self, place: Place, text: str, kind: str, token: str, ref: str) -> None:
        self._maybe_fail(text)
        self.said.append(("say", text))
        self.refs.append(int(ref))

    async def nudge(self, place: Place, text: str) -> None:
        self.said.append(("nudge", text))

    async def tell(self, place: Place, user: str, text: str) -> None:
        self._maybe_fail(text)
        self.said.append(("tell", text))

    async def finish(self, place: Place, recap: dict, kind: str, ref: str) -> None:
        self._maybe_fail(kind)
        self.said.append((kind, str(recap.get("overall"))))

    async def delivered(self, place: Place, ref: str) -> bool:
        return False


class FakeTimers:
    """Remembers what is armed; nothing fires unless a test fires it."""

    def __init__(self) -> None:
        self.armed: dict[tuple[str, str], float] = {}

    def arm(self, interview_id: str, timer_id: str, due_wall: float) -> None:
        self.armed[(interview_id, timer_id)] = due_wall

    def disarm(self, interview_id: str, timer_id: str) -> None:
        self.armed.pop((interview_id, timer_id), None)

    def stop(self) -> None:
        pass


def make_runner(sessions, bank, surface: FakeSurface | None = None) -> tuple[InterviewRunner, FakeSurface]:
    """A runner on `sessions` speaking through a fake terminal surface."""
    surface = surface or FakeSurface()
    outbox = OutboxSender(sessions, {"terminal": surface})
    return InterviewRunner(sessions, bank, FakeTimers(), outbox), surface


async def _started(db_url, tiny, interview_id="r1"):
    engine, sessions = await open_database(db_url)
    runner, surface = make_runner(sessions, {"paste-bin": tiny})
    assert await runner.create(new_interview(interview_id, tiny), Placement()) is not None
    return engine, runner, surface


def _rows(tmp_path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "test.db") as conn:
        return conn.execute(sql).fetchall()


async def test_a_step_stores_what_it_will_say_and_the_sender_says_it_in_order(tiny, db_url, tmp_path):
    engine, runner, surface = await _started(db_url, tiny)
    try:
        # Stored with the interview, before anything was said, already leased to this process's
        # sender (nothing of the interview waits before them), so it needs no claim of its own.
        assert surface.said == []
        assert _rows(tmp_path, "SELECT kind, state FROM outbox ORDER BY id")[:2] == [
            ("say", "sending"),
            ("say", "sending"),
        ]
        await runner.apply("r1", lambda iv, row, now: Answer(now, "users upload text", message_id="m1"))
        await runner.outbox.flush("r1")
        texts = [t for _, t in surface.said]
        assert texts[0].startswith("*Paste Bin*") and "*Requirements*" in texts[1]
        assert len(texts) == _rows(tmp_path, "SELECT count(*) FROM outbox")[0][0]
        assert _rows(tmp_path, "SELECT DISTINCT state, data FROM outbox") == [("sent", "{}")]
        assert runner.timers.armed  # the phase timers, from the stored rows
    finally:
        await runner.outbox.stop()
        await engine.dispose()


async def test_a_surface_that_is_down_gets_everything_when_it_returns_in_order_once(tiny, db_url, tmp_path):
    engine, runner, surface = await _started(db_url, tiny)
    try:
        surface.down = 4
        await runner.apply("r1", lambda iv, row, now: Answer(now, "users upload text", message_id="m1"))
        await runner.apply("r1", lambda iv, row, now: Control(now, "next"))
        runner.outbox.start()
        await asyncio.wait_for(
            _until(lambda: _rows(tmp_path, "SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)]), 20
        )
        texts = [t for _, t in surface.said]
        assert len(texts) == len(set(texts)) == _rows(tmp_path, "SELECT count(*) FROM outbox")[0][0]
        assert texts.index(next(t for t in texts if "*Requirements*" in t)) < texts.index(
            next(t for t in texts if "*Core Entities*" in t)
        )
        attempts = _rows(tmp_path, "SELECT max(attempts) FROM outbox")[0][0]
        assert attempts == 5  # the head row waited through four failures; nothing behind it overtook it
    finally:
        await runner.outbox.stop()
        await engine.dispose()


async def test_a_message_refused_for_good_is_marked_failed_and_the_rest_still_go(tiny, db_url, tmp_path):
    engine, runner, surface = await _started(db_url, tiny)
    try:
        surface.refuse = {"Paused: the clock is stopped. Say `resume` to carry on."}
        await runner.apply("r1", lambda iv, row, now: Control(now, "pause"))
        await runner.apply("r1", lambda iv, row, now: Control(now, "resume"))
        await runner.outbox.flush("r1")
        assert any(t.startswith("Resumed.") for _, t in surface.said)
        assert _rows(tmp_path, "SELECT state, error FROM outbox WHERE state != 'sent'") == [
            ("failed", "msg_too_long")
        ]
    finally:
        await runner.outbox.stop()
        await engine.dispose()


async def test_the_end_stores_the_recap_and_its_messages_in_the_same_step(tiny, db_url, tmp_path):
    engine, runner, surface = await _started(db_url, tiny)
    try:
        await runner.apply(
            "r1", lambda iv, row, now: Answer(now, "users create paste and read paste", message_id="m")
        )
        await runner.apply("r1", lambda iv, row, now: Control(now, "end"))
        assert _rows(tmp_path, "SELECT count(*) FROM recaps") == [(1,)]
        kinds = [k for (k,) in _rows(tmp_path, "SELECT kind FROM outbox WHERE state != 'sent' ORDER BY id")]
        assert kinds[-2:] == ["recap", "chart"]
        await runner.outbox.flush("r1")
        assert [k for k, _ in surface.said][-2:] == ["recap", "chart"]
        assert _rows(tmp_path, "SELECT count(*) FROM timers WHERE state = 'pending'") == [(0,)]
    finally:
        await runner.outbox.stop()
        await engine.dispose()


async def test_a_briefly_locked_database_delays_a_step_and_stores_it_once(tiny, db_url, tmp_path):
    engine, runner, surface = await _started(db_url, tiny)
    blocker = sqlite3.connect(tmp_path / "test.db", timeout=0, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock

        async def release():
            await asyncio.sleep(0.5)
            blocker.execute("COMMIT")

        answer = runner.apply("r1", lambda iv, row, now: Answer(now, "users upload text", message_id="m1"))
        after, _ = await asyncio.gather(answer, release())
        assert after is not None
        turns = _rows(tmp_path, "SELECT text FROM turns WHERE role = 'candidate'")
        assert turns == [("users upload text",)]
        assert _rows(tmp_path, "SELECT version FROM interviews") == [(1,)]  # saved once
        reloaded, _ = await runner.repository.load("r1")  # from the rows, not from memory
        assert [t.text for t in reloaded.turns if t.role == "candidate"] == ["users upload text"]
    finally:
        blocker.close()
        await runner.outbox.stop()
        await engine.dispose()


def test_only_the_runner_writes_interview_turn_timer_and_recap_rows():
    """The write path is one: no module outside bot/app (and the storage code it calls) writes these."""
    tables = r"(InterviewRow|TurnRow|TimerRow|RecapRow)"
    writes = re.compile(
        rf"(update|delete|insert)\({tables}\b|\b{tables}\(|\.(save_in|add_in|save|add)\(\s*(session|interview|iv)\b"
    )
    allowed = {ROOT / "bot" / "repository.py", ROOT / "bot" / "models.py"}
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "app" in path.relative_to(ROOT / "bot").parts[:1] or path in allowed or "migrations" in path.parts:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if writes.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.05)


def test_no_slack_module_imports_sqlalchemy():
    """Slack is a surface: its storage goes through the runner, the repository and bot/stores.py."""
    imports = re.compile(r"^\s*(from|import)\s+sqlalchemy\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "bot" / "slack").rglob("*.py"))
        if imports.search(path.read_text())
    ]
    assert offenders == []


async def test_with_a_timer_window_only_timers_due_soon_hold_a_job_and_later_ones_are_armed_as_they_near(
    tiny, db_url
):
    engine, sessions = await open_database(db_url)
    clock = [1_000_000.0]
    surface = FakeSurface()
    outbox = OutboxSender(sessions, {"terminal": surface})
    timers = FakeTimers()
    runner = InterviewRunner(
        sessions, {"paste-bin": tiny}, timers, outbox, clock=lambda: clock[0], timer_window=120
    )
    try:
        await runner.create(new_interview("w", tiny), Placement(clock_origin=clock[0]))
        # Requirements: warning at 4 min, time's up at 5, overrun at 7.5, idle at 20: none within 2 min
        assert timers.armed == {}
        clock[0] += 150  # 2.5 minutes on: the warning (at 4 min) is now within the window
        counts = await runner.arm_window()
        assert set(timers.armed) == {("w", "requirements:warning")} and counts["armed"] == 1
        clock[0] += 200  # almost 6 minutes on: time's up (5 min) and the overrun (7.5 min) are near too
        await runner.arm_window()
        assert {t for _, t in timers.armed} >= {
            "requirements:warning",
            "requirements:time_up",
            "requirements:overrun",
        }
        assert ("w", "idle") not in timers.armed
    finally:
        await outbox.stop()
        await engine.dispose()


async def test_the_stored_state_keeps_the_same_size_however_many_turns(tiny, db_url, tmp_path):
    engine, runner, _ = await _started(db_url, tiny)
    try:
        sizes = []
        for n in range(60):
            text = f"users paste text number {n} and get a short link back"
            await runner.apply("r1", lambda iv, row, now, t=text, n=n: Answer(now, t, message_id=f"m{n}"))
            if n in (9, 59):
                sizes.append(_rows(tmp_path, "SELECT length(state) FROM interviews")[0][0])
        turns = _rows(tmp_path, "SELECT count(*) FROM turns WHERE role = 'candidate'")[0][0]
        assert turns == 60  # every turn is a row of its own
        assert abs(sizes[1] - sizes[0]) < 200, sizes  # 50 more answers, the state not 50 texts longer
        reloaded, _ = await runner.repository.load("r1")  # rebuilt from the rows, not from memory
        assert [t.message_id for t in reloaded.turns if t.role == "candidate"] == [f"m{n}" for n in range(60)]
    finally:
        await runner.outbox.stop()
        await engine.dispose()


async def test_a_runner_steps_from_what_another_process_stored_not_from_its_memory(tiny, db_url, tmp_path):
    engine, first, _ = await _started(db_url, tiny)
    second, _ = make_runner(first.sessions, {"paste-bin": tiny})  # as another process would
    try:

        def answer(text):
            return lambda iv, row, now: Answer(now, text, message_id=text)

        await first.apply("r1", answer("one"))
        await second.apply("r1", answer("two"))  # the first runner's copy is now one version behind
        after = await first.apply("r1", answer("three"))
        assert [t.text for t in after.turns if t.role == "candidate"] == ["one", "two", "three"]
        texts = _rows(tmp_path, "SELECT text FROM turns WHERE role = 'candidate' ORDER BY seq")
        assert texts == [("one",), ("two",), ("three",)]
    finally:
        await first.outbox.stop()
        await second.outbox.stop()
        await engine.dispose()


async def test_messages_are_not_handed_over_ahead_of_another_processes_unsent_ones(tiny, db_url, tmp_path):
    engine, first, surface = await _started(db_url, tiny)
    second, down = make_runner(first.sessions, {"paste-bin": tiny})  # another process
    down.down = 1000  # whose Slack calls fail for now: its message waits in the table for a retry
    try:
        await first.outbox.flush("r1")  # the openings are out: nothing of r1 waits for the first sender
        await second.apply("r1", lambda iv, row, now: Control(now, "time"))
        await second.outbox.flush("r1")
        (waiting,) = _rows(tmp_path, "SELECT max(id) FROM outbox WHERE state = 'pending'")[0]
        assert waiting is not None  # the second process's answer waits in the table
        await first.apply("r1", lambda iv, row, now: Control(now, "time"))
        # Not leased to the first sender (it would post it before the earlier one): it queues behind.
        assert _rows(tmp_path, f"SELECT state FROM outbox WHERE id > {waiting}") == [("pending",)]
        await second.outbox.stop()  # the second process goes away; the first sends what it left
        await asyncio.sleep(0.3)  # its retry is due
        await first.outbox.flush("r1")
        ids = [i for (i,) in _rows(tmp_path, "SELECT id FROM outbox ORDER BY id")]
        assert surface.refs == ids  # every message, the other process's first, in the order decided
        assert _rows(tmp_path, "SELECT DISTINCT state FROM outbox") == [("sent",)]
    finally:
        await first.outbox.stop()
        await second.outbox.stop()
        await engine.dispose()


async def test_a_step_of_an_interview_held_in_memory_reads_nothing_from_the_database(tiny, db_url, tmp_path):
    # Its copy is current (the conditional write proves it) and the sender holds every unsent row
    # of it, so neither the interview nor the outbox is read: the step only writes.
    engine, runner, surface = await _started(db_url, tiny)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    for each in (engine.sync_engine, runner.sessions._engine):
        event.listen(each, "before_cursor_execute", record)
    try:
        await runner.apply("r1", lambda iv, row, now: Answer(now, "users upload text", message_id="m1"))
        await runner.apply("r1", lambda iv, row, now: Control(now, "pause"))
        assert statements and "SELECT" not in statements, statements
        await runner.outbox.flush("r1")
        ids = [i for (i,) in _rows(tmp_path, "SELECT id FROM outbox ORDER BY id")]
        assert surface.refs == ids  # and it was all said, in order
    finally:
        for each in (engine.sync_engine, runner.sessions._engine):
            event.remove(each, "before_cursor_execute", record)
        await runner.outbox.stop()
        await engine.dispose()


async def test_a_reply_waiting_on_a_retry_is_not_overtaken_after_a_silent_step(tiny, db_url, tmp_path):
    engine, runner, surface = await _started(db_url, tiny)
    try:
        await runner.outbox.flush("r1")  # the openings are out
        surface.down = 1  # the reply to the first answer fails once: it waits in the table
        await runner.apply("r1", lambda iv, row, now: Answer(now, "users upload text", message_id="m1"))
        await runner.outbox.flush("r1")
        assert _rows(tmp_path, "SELECT count(*) FROM outbox WHERE state = 'pending'") == [(1,)]
        # An edit says nothing; the sender looks at the table and finds only a row not due yet.
        await runner.apply("r1", lambda iv, row, now: Edit(now, "m1", "users upload text and read it"))
        await runner.outbox.flush("r1")
        await runner.apply("r1", lambda iv, row, now: Answer(now, "and it expires", message_id="m2"))
        # The second reply is not handed over ahead of the first: it queues behind it in the table.
        assert _rows(tmp_path, "SELECT state FROM outbox ORDER BY id")[-2:] == [("pending",), ("pending",)]
        await asyncio.sleep(0.3)  # the retry is due
        await runner.outbox.flush("r1")
        ids = [i for (i,) in _rows(tmp_path, "SELECT id FROM outbox ORDER BY id")]
        assert surface.refs == ids
    finally:
        await runner.outbox.stop()
        await engine.dispose()
