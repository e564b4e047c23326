"""Which process steps an interview, when several share one PostgreSQL database.

Slack sends each event to whichever process its load balancer picks, so a thread's messages
arrive at all of them. If each process stepped what it received, every step would find the copy
it keeps of the interview out of date (another process saved since), throw its work away, read
the interview again and step again; under load the processes take turns doing that on the same
threads and two do no more than one. So one process at a time holds an interview: a session-level
advisory lock on a connection kept for the purpose. The others store what they receive (that is
the acknowledgement, as ever) and leave it to the holder, whom they tell with a NOTIFY that carries
the stored inbox row (when it fits in a notice), so that the holder applies it without reading the
inbox, in order with its other messages.

This only decides who does the work. Correctness does not depend on it: every step is still a
conditional write on the interview's version. If the holder dies its connection closes and its
locks go with it; whatever it left pending is taken by whoever next gets the lock (the inbox poll
looks again every second), and a lost notice costs at most that second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("interview_bot.holds")

CHANNEL = "interview_bot_inbox"
NAMESPACE = 7215  # the first key of our advisory locks: (NAMESPACE, hashtext(interview id))
RECONNECT_SECONDS = 1.0  # after the connection is lost, try to open another this often
HELD_MAX = 1000  # locks one process keeps at most (they share PostgreSQL's lock table); least recent go

NOTICE_MAX = 7900  # bytes: PostgreSQL refuses a NOTIFY payload of 8,000 or more

# Take the interview's lock if nobody holds it; if somebody does, tell them (one round trip).
_TAKE = (
    "SELECT got, CASE WHEN NOT got THEN pg_notify($3, $4) END "
    "FROM (SELECT pg_try_advisory_lock($2, hashtext($1)) AS got) AS attempt"
)
_RELEASE = "SELECT pg_advisory_unlock($2, hashtext($1))"


class Holds:
    """This process's advisory locks on interviews, and the notices it receives for them."""

    def __init__(self, engine: AsyncEngine, on_notice: Callable[[str, str | None], None]) -> None:
        self._engine = engine
        # Called with an interview id another process received work for, and the work itself (the
        # inbox row as JSON) when it fitted in the notice.
        self._on_notice = on_notice
        self._mine: OrderedDict[str, None] = OrderedDict()  # most recently used last
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # the asyncpg connection under it
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._closed = False
        self._reconnecting: asyncio.Task | None = None

    async def start(self, quiet: bool = False) -> None:
        """Open the connection that holds the locks and listens (kept out of the pool for good)."""
        self._closed = False
        connection = None
        try:
            connection = await self._engine.connect()
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            await driver.add_listener(CHANNEL, self._notice)
            driver.add_termination_listener(self._terminated)
        except Exception as exc:  # noqa: BLE001 - without it every process steps what it receives
            if not quiet:
                log.warning(
                    "no interview holds (%s): each process steps what it receives", exc.__class__.__name__
                )
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.invalidate()
            return
        self._connection, self._driver = connection, driver

    async def stop(self) -> None:
        """Let every lock go (closing the connection does) and stop listening."""
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        connection, self._connection, self._driver = self._connection, None, None
        self._mine.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()  # not back to the pool with its locks and listener
            with contextlib.suppress(Exception):
                await connection.close()

    def holds(self, interview_id: str) -> bool:
        return interview_id in self._mine

    async def take(self, interview_id: str, work: Callable[[], str] | None = None) -> bool:
        """Whether this process may step the interview: it holds it, or has just taken it. False
        if another process holds it (it has been told); True when there are no holds at all.

        `work`: what this process has for the interview (an inbox row as JSON), sent with the
        notice if it fits, so that the holder need not read it from the inbox."""
        if interview_id in self._mine:
            self._mine.move_to_end(interview_id)
            return True
        if self._driver is None:
            return True
        notice = interview_id
        if work is not None:
            carried = f"{interview_id}\n{work()}"
            if len(carried.encode()) <= NOTICE_MAX:
                notice = carried
        try:
            async with self._lock:
                got, _ = await self._driver.fetchrow(_TAKE, interview_id, NAMESPACE, CHANNEL, notice)
        except Exception as exc:  # noqa: BLE001 - the connection went: no holds from now on
            self._lost(exc)
            return True
        if got:
            self._mine[interview_id] = None
            while len(self._mine) > HELD_MAX:
                oldest, _ = self._mine.popitem(last=False)
                self._unlock_soon(oldest)
        return bool(got)

    def release(self, interview_id: str) -> None:
        """Nothing more to do for it here (it ended, or this process forgot it)."""
        if self._mine.pop(interview_id, "absent") is None:
            self._unlock_soon(interview_id)

    def _unlock_soon(self, interview_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._unlock(interview_id))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _unlock(self, interview_id: str) -> None:
        if self._driver is None:
            return
        try:
            async with self._lock:
                await self._driver.fetchval(_RELEASE, interview_id, NAMESPACE)
        except Exception as exc:  # noqa: BLE001
            self._lost(exc)

    def _notice(self, _connection, _pid, _channel, payload: str) -> None:
        interview_id, _, work = payload.partition("\n")
        if interview_id in self._mine:
            self._on_notice(interview_id, work or None)

    def _terminated(self, _connection) -> None:
        self._lost(None)

    def _lost(self, exc: BaseException | None) -> None:
        """The connection went, and its locks with it: hold nothing, and open another."""
        if self._driver is None or self._closed:
            return
        log.warning("the holds connection was lost (%s)", exc.__class__.__name__ if exc else "closed")
        self._driver = None
        self._mine.clear()
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect(), name="holds-reconnect")

    async def _reconnect(self) -> None:
        old, self._connection = self._connection, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.invalidate()
        while not self._closed and self._driver is None:
            await asyncio.sleep(RECONNECT_SECONDS)
            if not self._closed:
                await self.start(quiet=True)
        if self._driver is not None:
            log.info("the holds connection is back")
