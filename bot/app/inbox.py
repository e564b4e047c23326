"""The inbox: what people send, stored before it is acknowledged, applied in order per thread.

Storing an item is also the claim on its key (a Slack event id, a request's trigger id), so a
retry or a replay is a no-op. A lane per thread applies its pending rows in order through the
runner; a poll picks up what a crashed process (or another process) left pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from sqlalchemy import Insert, bindparam, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from bot.db import Sessions, insert_ignoring_duplicates
from bot.models import InboxRow, InterviewRow
from flows.engine import Interview
from flows.events import Answer, Cancel, Control, Edit, Event, Tell
from flows.framework import parse_control

if TYPE_CHECKING:
    from bot.app.runner import InterviewRunner, MakeEvent

log = logging.getLogger("interview_bot.inbox")

SAVE_ATTEMPTS = 12
INBOX_POLL_SECONDS = 1.0
INBOX_BATCH = 100
STORE_BATCH = 500  # inbox items stored in one transaction (group commit) at most
THREADS_KEPT = 20000  # thread -> interview id, remembered (a thread never changes its interview)
CANCEL_REFUSAL = "Only the interviewer, the candidate or whoever started it can cancel this interview."


@dataclass(frozen=True)
class InboxItem:
    """Something a person sent: stored as an inbox row before it is acknowledged."""

    key: str  # the Slack event id or the request's trigger id: unique, so a retry is a no-op
    kind: str  # message, edit, control, or a kind a surface registered a handler for
    channel: str = ""
    thread_ts: str = ""
    user: str = ""
    ts: str = ""  # when it was sent (wall-clock seconds, as Slack's ts)
    text: str = ""
    data: dict = field(default_factory=dict)


@dataclass(slots=True)
class Pending:
    """An inbox row as this process stored it, handed to its lane: the columns of InboxRow, in a
    plain object (an ORM instance cost more to build than the rest of the acknowledgement)."""

    key: str
    kind: str
    channel: str
    thread_ts: str
    user_id: str
    ts: str
    text: str
    data: str
    state: str
    received_at: float
    id: int = 0

    def values(self) -> dict:
        """The row to insert (its id is the database's to give)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "user_id": self.user_id,
            "ts": self.ts,
            "text": self.text,
            "data": self.data,
            "state": self.state,
            "received_at": self.received_at,
        }


def row_json(row: InboxRow | Pending) -> str:
    """A stored inbox row as JSON, to pass on to another process (`InboxWorker.hand_over`)."""
    return json.dumps({name: getattr(row, name) for name in _PENDING_FIELDS})


_PENDING_FIELDS = tuple(f.name for f in fields(Pending))


def role_of(row: InterviewRow, user: str, word: str | None) -> tuple[str, str | None]:
    """How a message by `user` counts: (role, control word) with role '' for one that does not count."""
    if row.mode == "pair":
        if user not in (row.user_id, row.interviewer_id):
            return "", None
        role = "interviewer" if user == row.interviewer_id else "candidate"
        if word and word != "time" and role == "candidate":
            return "", None  # phase control belongs to the interviewer
        return role, word
    if row.team or user == row.user_id:
        return "candidate", word  # in a team interview everyone answers and anyone's control counts
    return "comment", None  # a teammate talking in a solo interview: kept, not scored


def control_refusal(row: InterviewRow, user: str) -> str | None:
    """Why `user` may not press this interview's controls, or None."""
    if row.mode == "pair" and user != row.interviewer_id:
        return "Only the interviewer can do that."
    if row.mode != "pair" and not row.team and user != row.user_id:
        return "Only the candidate can do that."
    return None


class InboxWorker:
    """Stores inbox items and applies them through the runner, one lane (task) per thread."""

    def __init__(self, runner: InterviewRunner) -> None:
        self.runner = runner
        self.sessions = runner.sessions
        self.clock = runner.clock
        # Surfaces add handlers for inbox kinds the runner does not know (a Slack mention that starts).
        self.handlers: dict[str, Callable[[InboxItem], Awaitable[None]]] = {}
        self._lanes: dict[str, asyncio.Task] = {}
        self._dirty: set[str] = set()  # lanes kicked since their last look at the inbox
        # Rows stored by this process, handed to their lane directly: no read of the inbox to find them.
        self._handed: dict[str, deque[Pending]] = {}
        # Ids of rows this process holds (handed, or being applied): the poll and a lane's read of
        # the inbox leave them alone, so a backlog never makes a row be stepped twice.
        self._held: set[int] = set()
        self._threads: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._poll: asyncio.Task | None = None
        # Items waiting to be stored: one transaction stores all that arrived meanwhile (group commit).
        self._to_store: list[tuple[InboxItem, asyncio.Future]] = []
        self._storing: asyncio.Task | None = None

    def start(self) -> None:
        """Apply what a previous run stored but did not apply, and keep watching."""
        if self._poll is None:
            self._poll = asyncio.create_task(self._poll_inbox(), name="inbox")

    async def stop(self) -> None:
        """Stop watching (rows left pending are applied by the next start)."""
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
            self._poll = None

    async def submit(self, item: InboxItem) -> bool:
        """Store what a person sent (this is the claim on its key); False if it was stored before.

        Items submitted while a store is under way are stored together in the next transaction,
        so under load the acknowledgements share commits instead of queueing for one each."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._to_store.append((item, future))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._store_waiting(), name="inbox-store")
        row = await future
        if row is None:
            return False
        if item.kind != "seen":
            self._hand(row)
        return True

    def _hand(self, row: Pending) -> None:
        """A stored row to its thread's lane, in memory: applied in the order handed, not read."""
        lane = f"{row.channel}|{row.thread_ts}"
        self._handed.setdefault(lane, deque()).append(row)
        self._held.add(row.id)
        self._start_lane(row.channel, row.thread_ts)

    def hand_over(self, work: str) -> bool:
        """A row another process stored for an interview this one holds, passed on with its notice
        (`row_json`); False if it cannot be read (the caller then kicks the thread's lane)."""
        try:
            row = Pending(**json.loads(work))
        except (ValueError, TypeError):
            return False
        text_fields = (row.key, row.kind, row.channel, row.thread_ts, row.user_id, row.ts, row.text, row.data)
        if (
            not all(isinstance(value, str) for value in text_fields)
            or type(row.id) is not int
            or row.id <= 0
            or not isinstance(row.received_at, int | float)
        ):
            return False
        if row.id not in self._held:
            self._hand(row)
        return True

    async def _store_waiting(self) -> None:
        while self._to_store:
            batch, self._to_store = self._to_store[:STORE_BATCH], self._to_store[STORE_BATCH:]
            try:
                stored = await self._store(batch)
            except Exception as exc:  # noqa: BLE001 - every waiting acknowledgement hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            seen: set[str] = set()
            for item, future in batch:
                key = item.key[:160]
                row = stored.get(key) if key not in seen else None  # the same key twice: one claim
                seen.add(key)
                if not future.done():
                    future.set_result(row)

    async def _store(self, batch: list[tuple[InboxItem, asyncio.Future]]) -> dict[str, Pending]:
        """Insert the items, skipping keys already claimed; the rows stored, by key."""
        rows = {}
        for item, _ in batch:
            rows.setdefault(item.key[:160], self._inbox_row(item))
        values = [r.values() for r in rows.values()]
        for attempt in range(SAVE_ATTEMPTS):
            try:
                stored_rows, _ = await self.sessions.write_one(_insert_new(self.sessions.dialect), values)
                break
            except OperationalError:  # briefly locked: the callers have not acknowledged yet, so wait
                await asyncio.sleep(0.02 * (attempt + 1))
        else:
            raise RuntimeError("the database stayed locked while storing an inbox item")
        stored = {}
        for inbox_id, key in stored_rows:
            rows[key].id = inbox_id
            stored[key] = rows[key]
        return stored

    def _inbox_row(self, item: InboxItem) -> Pending:
        return Pending(
            key=item.key[:160],
            kind=item.kind,
            channel=item.channel,
            thread_ts=item.thread_ts,
            user_id=item.user,
            ts=item.ts,
            text=item.text.replace("\x00", ""),  # PostgreSQL refuses NUL in text; nobody meant it
            data=json.dumps(item.data),
            state="applied" if item.kind == "seen" else "pending",
            received_at=self.clock(),
        )

    def kick(self, channel: str, thread_ts: str) -> None:
        """Apply the pending inbox rows of one thread (in order), starting now."""
        self._dirty.add(f"{channel}|{thread_ts}")
        self._start_lane(channel, thread_ts)

    def _start_lane(self, channel: str, thread_ts: str) -> None:
        lane = f"{channel}|{thread_ts}"
        task = self._lanes.get(lane)
        if task is None or task.done():
            task = asyncio.create_task(self._run_lane(channel, thread_ts), name=f"inbox:{lane}")
            self._lanes[lane] = task
            task.add_done_callback(lambda t, k=lane: self._lane_done(k, t))

    def _lane_done(self, lane: str, task: asyncio.Task) -> None:
        current = self._lanes.get(lane) is task  # else a new lane took over its thread already
        if current:
            del self._lanes[lane]
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox lane failed: %r", task.exception())
            if current:
                # What was handed to it is stored and pending: let go of it, so that the poll finds
                # it (the poll leaves held rows to their lane, and this lane is gone).
                for row in self._handed.pop(lane, ()):
                    self._held.discard(row.id)

    async def flush(self, channel: str, thread_ts: str) -> None:
        """Apply the pending inbox rows of one thread before returning."""
        self.kick(channel, thread_ts)
        task = self._lanes.get(f"{channel}|{thread_ts}")
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def settle(self) -> None:
        """Apply every pending inbox row before returning (for whoever must see the inbox drained)."""
        for _ in range(3):
            lanes = await self._pending_lanes(None)
            for channel, thread_ts in lanes:
                self.kick(channel, thread_ts)
            running = list(self._lanes.values())
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            if not lanes:
                return

    async def _pending_lanes(self, received_before: float | None) -> set[tuple[str, str]]:
        """Threads with pending rows this process does not hold (received before the given time)."""
        query = select(InboxRow.id, InboxRow.channel, InboxRow.thread_ts).where(InboxRow.state == "pending")
        if received_before is not None:
            query = query.where(InboxRow.received_at < received_before)
        async with self.sessions() as session:
            rows = await session.execute(query)
            return {(c, t) for inbox_id, c, t in rows.all() if inbox_id not in self._held}

    async def _poll_inbox(self) -> None:
        # The first look takes everything a previous run left; later ones only rows that have waited
        # a while (another process may be applying a fresh one right now).
        received_before = None
        while True:
            try:
                for channel, thread_ts in await self._pending_lanes(received_before):
                    self.kick(channel, thread_ts)
            except OperationalError as exc:
                log.warning("inbox poll failed: %s", exc.__class__.__name__)
            await asyncio.sleep(INBOX_POLL_SECONDS)
            received_before = self.clock() - INBOX_POLL_SECONDS

    async def _run_lane(self, channel: str, thread_ts: str) -> None:
        lane = f"{channel}|{thread_ts}"
        while True:
            if lane in self._dirty:
                # Kicked by the poll (rows another process or a previous run left) or by a restart:
                # those are older than anything handed since, so they go first.
                self._dirty.discard(lane)
                async with self.sessions() as session:
                    rows = list(
                        await session.scalars(
                            select(InboxRow)
                            .where(
                                InboxRow.state == "pending",
                                InboxRow.channel == channel,
                                InboxRow.thread_ts == thread_ts,
                            )
                            .order_by(InboxRow.id)
                            .limit(INBOX_BATCH)
                        )
                    )
                for row in rows:
                    if row.id not in self._held:  # a handed one is applied from the hand below
                        with self.runner.busy():
                            await self._take(row)
                if len(rows) == INBOX_BATCH and rows[-1].id not in self._held:
                    self._dirty.add(lane)  # more where these came from
                continue
            handed = self._handed.get(lane)
            if not handed:
                self._handed.pop(lane, None)
                return
            row = handed.popleft()
            try:
                with self.runner.busy():
                    await self._take(row)
            finally:
                self._held.discard(row.id)

    async def _take(self, row: InboxRow | Pending) -> None:
        item = InboxItem(
            row.key, row.kind, row.channel, row.thread_ts, row.user_id, row.ts, row.text, json.loads(row.data)
        )
        try:
            if item.kind in ("message", "edit", "control"):
                interview_id = await self._interview_for(item)
                if interview_id is None:
                    await settle_inbox_row(self.sessions, row.id, "dropped")
                    return
                await self.runner.apply(
                    interview_id, self._event_for(item), inbox_id=row.id, work=lambda: row_json(row)
                )
                return
            handler = self.handlers.get(item.kind)
            if handler is not None:
                await handler(item)
            await settle_inbox_row(self.sessions, row.id, "applied" if handler else "dropped")
        except (OperationalError, SQLAlchemyTimeout) as exc:
            # The database is busy or out of connections for now: the row stays pending and the
            # poll applies it again within a second (never marked failed for a passing reason).
            log.warning(
                "inbox item %s (%s) waits for the database: %s", row.id, row.kind, exc.__class__.__name__
            )
        except Exception:
            # One bad item must not hold up its thread; it is kept (state failed) for a look.
            log.exception("could not apply inbox item %s (%s)", row.id, row.kind)
            try:
                await settle_inbox_row(self.sessions, row.id, "failed", keep_text=True)
            except Exception as exc:  # noqa: BLE001 - it stays pending: the poll tries it again
                log.warning("inbox item %s could not be marked failed: %s", row.id, exc.__class__.__name__)

    def remember_thread(self, channel: str, thread_ts: str, interview_id: str) -> None:
        """A new interview in a thread: its messages need not look it up."""
        self._threads[(channel, thread_ts)] = interview_id
        while len(self._threads) > THREADS_KEPT:
            self._threads.popitem(last=False)

    def forget_threads(self, interview_ids: set[str] | None = None) -> None:
        """Interviews deleted (forget me, a purge): their threads may hold a new one later."""
        for where, interview_id in list(self._threads.items()):
            if interview_ids is None or interview_id in interview_ids:
                del self._threads[where]

    async def _interview_for(self, item: InboxItem) -> str | None:
        """The id of the interview an item is for (a message: the open one in its thread)."""
        if item.kind == "control":
            return item.data.get("interview_id") or None
        where = (item.channel, item.thread_ts)
        known = self._threads.get(where)
        if known is not None:
            return known  # an interview that has ended since ignores it (see _event_for)
        async with self.sessions() as session:
            found = await session.scalar(
                select(InterviewRow.id).where(
                    InterviewRow.channel == item.channel,
                    InterviewRow.thread_ts == item.thread_ts,
                    InterviewRow.status != "ended",
                )
            )
        if found is not None:
            self.remember_thread(item.channel, item.thread_ts, found)
        return found

    def _event_for(self, item: InboxItem) -> MakeEvent:
        """The engine event an inbox item is, decided against the row it is applied to."""

        def make(iv: Interview, row: InterviewRow, now: float) -> Event | Tell | None:
            if item.kind in ("message", "edit") and iv.status == "ended":
                return None  # said in the thread after the interview ended: not part of it
            if item.kind == "control" and item.data.get("word") == "cancel":
                if item.user not in (row.interviewer_id, row.user_id, row.creator_id):
                    return Tell(item.user, CANCEL_REFUSAL)
                return Cancel(now, by=item.data.get("by", ""), user=item.user)
            if item.kind == "control":
                refusal = control_refusal(row, item.user)
                if refusal:
                    return Tell(item.user, refusal)
                return Control(now, item.data["word"], item.user, shown_for=item.data.get("shown_for", ""))
            if item.kind == "edit":
                if row.mode == "pair" and item.user not in (row.user_id, row.interviewer_id):
                    return None
                return Edit(now, item.ts, item.text)
            role, word = role_of(row, item.user, parse_control(item.text))
            if not role:
                return None
            if word:
                return Control(now, word, item.user)
            return Answer(
                self.runner.at(row, float(item.ts)), item.text, message_id=item.ts, user=item.user, role=role
            )

        return make


def _insert_new(dialect: str) -> Insert:
    """Inserts inbox rows, skipping keys already claimed; returns (id, key) of those inserted."""
    if dialect not in _INSERT_NEW:  # built once per dialect: it keeps its compiled form
        table = InboxRow.__table__
        _INSERT_NEW[dialect] = insert_ignoring_duplicates(dialect, table, ["key"]).returning(
            table.c.id, table.c.key
        )
    return _INSERT_NEW[dialect]


_INSERT_NEW: dict[str, Insert] = {}
_SETTLE = (
    update(InboxRow.__table__)
    .where(InboxRow.__table__.c.id == bindparam("b_id"))
    .values(state=bindparam("b_state"), text=bindparam("b_text"))
)
_SETTLE_KEEPING_TEXT = (
    update(InboxRow.__table__)
    .where(InboxRow.__table__.c.id == bindparam("b_id"))
    .values(state=bindparam("b_state"))
)


async def settle_inbox_row(sessions: Sessions, inbox_id: int, state: str, keep_text: bool = False) -> None:
    """Mark an inbox row applied, dropped or failed; its text goes (it lives in the turns) unless kept."""
    statement = _SETTLE_KEEPING_TEXT if keep_text else _SETTLE
    for attempt in range(SAVE_ATTEMPTS):
        try:
            await sessions.write_one(statement, {"b_id": inbox_id, "b_state": state, "b_text": ""})
            return
        except OperationalError:
            await asyncio.sleep(0.02 * (attempt + 1))
