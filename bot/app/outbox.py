"""The outbox sender: delivers what the runner decided, in order per interview, until it arrives.

Rows are written in the same transaction as the step that decided them, so nothing decided is
lost; the sender claims a row with a lease before sending it, marks it sent after, and retries
with backoff while the surface is down or rate-limited. A row whose sender died mid-send (its
lease ran out) is checked with the surface before it is sent again, where the surface can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.exc import OperationalError

from bot.app.ports import Clock, DeliveryFailed, Place, Surface
from bot.db import Sessions
from bot.models import OutboxRow

log = logging.getLogger("interview_bot.outbox")


@dataclass(slots=True)
class Leased:
    """An outbox row this sender holds, leased to it: what delivering it needs."""

    id: int
    kind: str
    data: str
    attempts: int


LEASE_SECONDS = 15.0
FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 5.0
POLL_SECONDS = 1.0
CLEAR_KEPT = 20000  # interviews known to have nothing waiting (one that is forgotten goes the slow way)
BATCH = 20  # rows leased at once per lane: one transaction to claim them, one to mark them sent  # rows written by another process are picked up at least this often


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: doubling from FIRST_RETRY_SECONDS, capped."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return max(delay, retry_after or 0.0)


class OutboxSender:
    """Delivers outbox rows through the surface each names; one lane (task) per interview."""

    def __init__(
        self,
        sessions: Sessions,
        surfaces: dict[str, Surface],
        clock: Clock = time.time,
    ) -> None:
        self.sessions = sessions
        self.surfaces = surfaces
        self.clock = clock
        self._lanes: dict[str, asyncio.Task] = {}
        self._dirty: set[str] = set()  # lanes kicked since their last look at the table
        # Interviews whose rows this sender has all delivered (or that are new): the runner stores
        # their next rows already leased to it and hands them over, with no claim of their own.
        self._clear: OrderedDict[str, None] = OrderedDict()  # most recent last, at most CLEAR_KEPT
        # Of those, interviews whose every unsent row is one this sender was handed, as of the last
        # step this process stored: new ones, and those whose rows it was handed since. Anything
        # that puts a row of theirs in the table (a retry, a release, rows not handed) takes them out.
        self._sole: set[str] = set()
        self._handed: dict[str, deque[Leased]] = {}
        self._mine: dict[str, set[int]] = {}  # handed rows not yet settled, by interview
        self._to_mark: list[tuple[list[int], asyncio.Future]] = []  # sent rows, marked together
        self._marking: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._stopping = False

    # ------------------------------------------------------------ running

    def start(self) -> None:
        """Start the background loop (it also resends what a previous run left unsent)."""
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop; let lanes mid-send finish (a row left unsent is sent on the next start)."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        lanes = list(self._lanes.values())
        if lanes:
            _, pending = await asyncio.wait(lanes, timeout=timeout)
            for task in pending:
                task.cancel()

    def takes(self, interview_id: str) -> frozenset[int] | None:
        """Whether the next rows of an interview may be stored leased to this sender and handed to
        it (`hand`): None if not; else the ids of its rows this sender holds unsent. The step's
        transaction checks that no other row of the interview is unsent (another process's, or one
        waiting on a retry), so that handing over never lets a later message overtake an earlier."""
        if self._stopping or interview_id not in self._clear:
            return None
        return frozenset(self._mine.get(interview_id, ()))

    def sole(self, interview_id: str) -> bool:
        """Whether every unsent row of the interview is one this sender holds, as of the last step
        this process stored for it. Then a step that finds its stored copy of the interview current
        (no other process has stepped it since) may lease its rows without looking at the table."""
        return not self._stopping and interview_id in self._sole and interview_id in self._clear

    def is_new(self, interview_id: str) -> None:
        """An interview created by this process: it has no rows anywhere yet."""
        self._mark_clear(interview_id)
        self._sole.add(interview_id)

    def _mark_clear(self, interview_id: str) -> None:
        self._clear[interview_id] = None
        self._clear.move_to_end(interview_id)
        while len(self._clear) > CLEAR_KEPT:
            self._sole.discard(self._clear.popitem(last=False)[0])

    def _unclear(self, interview_id: str) -> None:
        """Rows of the interview may be in the table: the next are not handed over until it is read."""
        self._clear.pop(interview_id, None)
        self._sole.discard(interview_id)

    def hand(self, interview_id: str, rows: list[Leased]) -> None:
        """Rows the runner committed leased to this sender (see `takes`): deliver them in order."""
        if not rows:
            return
        if self._stopping or interview_id not in self._clear:
            # The lane started waiting on a retry meanwhile: back in the table, after the row it waits on.
            self._sole.discard(interview_id)
            task = asyncio.create_task(self._release([r.id for r in rows]))
            task.add_done_callback(lambda _: self.kick(interview_id))
            return
        self._sole.add(interview_id)  # leased because nothing else was unsent: still so
        self._handed.setdefault(interview_id, deque()).extend(rows)
        self._mine.setdefault(interview_id, set()).update(r.id for r in rows)
        self._lane(interview_id)

    def kick(self, interview_id: str | None = None) -> None:
        """New rows were committed: start their lane now rather than at the next poll."""
        if self._stopping:
            return
        if interview_id is None:
            self._wake.set()
        else:
            self._dirty.add(interview_id)
            self._sole.discard(interview_id)  # rows stored, not handed: they are in the table
            self._lane(interview_id)

    async def flush(self, interview_id: str) -> None:
        """Deliver what is deliverable for one interview now (a row waiting on a retry stays)."""
        self._dirty.add(interview_id)  # the lane looks again even if it is mid-batch now
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._lane(interview_id))

    def _lane(self, interview_id: str) -> asyncio.Task:
        task = self._lanes.get(interview_id)
        if task is None or task.done():
            task = asyncio.create_task(self._run_lane(interview_id), name=f"outbox:{interview_id}")
            self._lanes[interview_id] = task
            task.add_done_callback(lambda t, i=interview_id: self._forget_lane(i, t))
        return task

    def _forget_lane(self, interview_id: str, task: asyncio.Task) -> None:
        if self._lanes.get(interview_id) is task:
            del self._lanes[interview_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox lane for %s failed: %r", interview_id, task.exception())

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            wait = POLL_SECONDS
            try:
                wait = min(wait, await self._start_due_lanes())
            except OperationalError as exc:  # a busy database: look again shortly
                log.warning("outbox poll failed: %s", exc.__class__.__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.01, wait))

    async def _start_due_lanes(self) -> float:
        """Start a lane for every interview whose oldest unsent row is due; seconds to the next due."""
        now = self.clock()
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxRow.interview_id, OutboxRow.state, OutboxRow.not_before, OutboxRow.lease_until
                    )
                    .where(
                        OutboxRow.state.in_(("pending", "sending")),
                        OutboxRow.surface.in_(list(self.surfaces)),
                    )
                    .order_by(OutboxRow.id)
                )
            ).all()
        heads: dict[str, tuple] = {}
        for interview_id, state, not_before, lease_until in rows:
            heads.setdefault(interview_id, (state, not_before, lease_until))
        soonest = POLL_SECONDS
        for interview_id, (state, not_before, lease_until) in heads.items():
            due = lease_until if state == "sending" else not_before
            if due <= now:
                self._dirty.add(interview_id)  # rows in the table: the lane claims them
                self._lane(interview_id)
            else:
                soonest = min(soonest, due - now)
        return soonest

    # ------------------------------------------------------------ one lane

    async def _run_lane(self, interview_id: str) -> None:
        while not self._stopping:
            handed = self._handed.pop(interview_id, None)
            if handed:
                claimed = [(row, False) for row in handed]
            else:
                if interview_id not in self._dirty and interview_id in self._clear:
                    return  # all handed rows delivered, nothing stored for it by anyone else
                self._dirty.discard(interview_id)
                self._unclear(interview_id)  # until the table shows nothing is left
                claimed = await self._claim_batch(interview_id)
                if not claimed:
                    if interview_id in self._dirty:
                        continue  # kicked while it looked: look again
                    self._mark_clear(interview_id)
                    if self._handed.get(interview_id):
                        continue
                    return
            sent: list[int] = []
            untried: list[int] = []
            go_on = True
            for row, uncertain in claimed:
                outcome = await self._deliver(row, uncertain) if go_on else None
                if outcome is True:
                    sent.append(row.id)
                elif outcome is None:
                    untried.append(row.id)
                else:
                    go_on = outcome == "next"
            if not go_on:
                self._unclear(interview_id)  # later rows go to the table, behind this one
                untried += [r.id for r in self._handed.pop(interview_id, ())]
            await self._mark_sent(sent)
            await self._release(untried)
            mine = self._mine.get(interview_id)
            if mine is not None:  # settled one way or another: in the table as sent, failed or pending
                mine.difference_update([row.id for row, _ in claimed] + untried)
                if not mine:
                    del self._mine[interview_id]
            if not go_on:
                return  # waiting on a retry: the loop starts the lane again when it is due

    async def _claim_batch(self, interview_id: str) -> list[tuple[Leased, bool]]:
        """The lane's oldest unsent rows that are due, leased to this sender (one transaction)."""
        now = self.clock()
        claimed: list[tuple[Leased, bool]] = []
        async with self.sessions.begin() as session:
            rows = await session.scalars(
                select(OutboxRow)
                .where(OutboxRow.interview_id == interview_id, OutboxRow.state.in_(("pending", "sending")))
                .order_by(OutboxRow.id)
                .limit(BATCH)
            )
            for row in rows:
                uncertain = row.state == "sending"
                if (row.lease_until if uncertain else row.not_before) > now:
                    break  # in order: nothing after a row that is not due yet
                leased = Leased(row.id, row.kind, row.data, row.attempts + 1)  # as the update leaves it
                result = await session.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.id == row.id,
                        OutboxRow.state == row.state,
                        OutboxRow.lease_until == row.lease_until,
                    )
                    .values(state="sending", lease_until=now + LEASE_SECONDS, attempts=OutboxRow.attempts + 1)
                )
                if result.rowcount != 1:
                    break  # another sender took it
                claimed.append((leased, uncertain))
        return claimed

    async def _deliver(self, row: Leased, uncertain: bool) -> bool | str:
        """Send one row: True if sent; "next" if it failed for good (the lane goes on); "wait" to retry."""
        data = json.loads(row.data)
        place = Place(**data["place"])
        surface = self.surfaces.get(place.surface)
        if surface is None:
            await self._settle([row.id], "failed", error=f"no surface {place.surface}")
            return "next"
        ref = str(row.id)
        try:
            if uncertain and await surface.delivered(place, ref):
                return True
            await self._send(surface, place, row.kind, data, ref)
        except DeliveryFailed as exc:
            if exc.retryable:
                delay = retry_delay(row.attempts, exc.retry_after)
                log.info("delivery of %s %s deferred %.2fs: %s", row.kind, row.id, delay, exc.reason)
                await self._settle([row.id], "pending", not_before=self.clock() + delay, error=exc.reason)
                return "wait"
            log.warning("delivery of %s %s refused: %s", row.kind, row.id, exc.reason)
            await self._settle([row.id], "failed", error=exc.reason)
            return "next"
        except Exception as exc:  # noqa: BLE001 - a bug in one message must not stop the lane
            log.exception("delivery of %s %s failed", row.kind, row.id)
            await self._settle([row.id], "failed", error=exc.__class__.__name__)
            return "next"
        return True

    @staticmethod
    async def _send(surface: Surface, place: Place, kind: str, data: dict, ref: str) -> None:
        if kind == "say":
            await surface.say(place, data["text"], data.get("kind", ""), data.get("token", ""), ref)
        elif kind == "nudge":
            await surface.nudge(place, data["text"])
        elif kind == "tell":
            await surface.tell(place, data["user"], data["text"])
        elif kind in ("recap", "chart", "fallback"):
            await surface.finish(place, data.get("recap") or {}, kind, ref)
        else:
            raise DeliveryFailed(f"unknown outbox kind {kind}", retryable=False)

    async def _mark_sent(self, row_ids: list[int]) -> None:
        """Mark rows sent; lanes that finish together share one transaction (group commit)."""
        if not row_ids:
            return
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._to_mark.append((row_ids, future))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_waiting(), name="outbox-mark")
        await future

    async def _mark_waiting(self) -> None:
        while self._to_mark:
            batch, self._to_mark = self._to_mark, []
            try:
                await self._settle([i for ids, _ in batch for i in ids], "sent")
            except Exception:  # noqa: BLE001 - left "sending": their lease runs out and they are checked
                log.exception("could not mark %d outbox rows sent", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _release(self, row_ids: list[int]) -> None:
        """Rows leased but not tried (one before them must wait): back in the queue as they were."""
        if row_ids:
            values = {"state": "pending", "lease_until": 0.0, "attempts": OutboxRow.__table__.c.attempts - 1}
            await self.sessions.write_one(_update_rows(row_ids, values))

    async def _settle(self, row_ids: list[int], state: str, not_before: float = 0.0, error: str = "") -> None:
        if not row_ids:
            return
        values: dict = {"state": state, "lease_until": 0.0, "error": error[:64]}
        if state == "sent":
            values.update(sent_at=self.clock(), data="{}")  # the text lives in the turns; keep no copy
        elif state == "pending":
            values["not_before"] = not_before
        for attempt in range(20):
            try:
                if state == "sent" and not error:  # the usual end of a post
                    await self.sessions.write_one(_MARK_SENT, {"b_ids": row_ids, "b_at": values["sent_at"]})
                else:
                    await self.sessions.write_one(_update_rows(row_ids, values))
                return
            except OperationalError:
                await asyncio.sleep(0.05 * (attempt + 1))
        log.error("could not record outbox rows %s as %s", row_ids, state)


def _update_rows(row_ids: list[int], values: dict) -> Update:
    table = OutboxRow.__table__
    return update(table).where(table.c.id.in_(row_ids)).values(**values)


# What every post ends with, built once (a statement object keeps its compiled form). The text
# lives in the turns; the row keeps no copy.
_MARK_SENT = (
    update(OutboxRow.__table__)
    .where(OutboxRow.__table__.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(state="sent", lease_until=0.0, error="", sent_at=bindparam("b_at"), data="{}")
)
