"""Terminal practice: the engine driven by lines of standard input, timers on APScheduler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.render import recap_text
from bot.repository import InterviewRepository, Placement
from flows.engine import Interview, step, to_transcript
from flows.events import (
    Answer,
    CancelTimer,
    Control,
    Effect,
    Event,
    Finish,
    Say,
    ScheduleTimer,
    Start,
    TimerFired,
)
from flows.framework import parse_control

# Replayed (piped) input: a message takes as long as a person needs to write it.
REPLAY_SECONDS_PER_WORD = 2.0
REPLAY_MIN_SECONDS = 20.0
REPLAY_MAX_SECONDS = 90.0

_EOF = object()
_INTERRUPT = object()
_FINISHED = object()


class PacedClock:
    """Interview seconds since the start, running `pace` times faster than the wall clock."""

    def __init__(self, pace: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> float:
        """Interview seconds elapsed."""
        return (self._monotonic() - self._origin) * self.pace

    def real_delay(self, interview_seconds: float) -> float:
        """Wall seconds that `interview_seconds` of interview time take."""
        return max(0.0, interview_seconds / self.pace)


def replay_seconds(text: str) -> float:
    """Interview seconds a replayed message takes to write."""
    words = len(text.split())
    return min(REPLAY_MAX_SECONDS, max(REPLAY_MIN_SECONDS, words * REPLAY_SECONDS_PER_WORD))


@dataclass
class TerminalResult:
    """How a terminal interview ended."""

    exit_code: int
    interview: Interview
    recap: dict = field(default_factory=dict)


class TerminalInterview:
    """Runs one interview against a text stream, printing the bot's side and storing every step."""

    def __init__(
        self,
        interview: Interview,
        repository: InterviewRepository,
        clock: PacedClock,
        out: TextIO,
        replay: bool,
    ) -> None:
        self.interview = interview
        self.repository = repository
        self.clock = clock
        self.out = out
        self.replay = replay
        self.recap: dict = {}
        self._lock = asyncio.Lock()
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    # -- effects

    def _print(self, text: str, kind: str = "") -> None:
        marker = {"warning": "[time] ", "hint": "[hint] ", "notice": "[note] "}.get(kind, "")
        for i, line in enumerate(text.replace("*", "").splitlines() or [""]):
            prefix = f"bot> {marker}" if i == 0 else "     "
            self.out.write(prefix + line + "\n")
        self.out.flush()

    async def apply(self, event: Event) -> None:
        """Step the engine, store the result, and carry out the effects."""
        async with self._lock:
            if self.interview.status == "ended":
                return
            self.interview, effects = step(self.interview, event)
            await self.repository.save(self.interview)
            for effect in effects:
                await self._carry_out(effect)

    async def _carry_out(self, effect: Effect) -> None:
        if isinstance(effect, Say):
            self._print(effect.text, effect.kind)
        elif isinstance(effect, ScheduleTimer):
            delay = self.clock.real_delay(effect.due_at - self.clock.now())
            self._scheduler.add_job(
                self._fire,
                DateTrigger(run_date=datetime.now(UTC) + timedelta(seconds=delay)),
                args=[effect.timer_id],
                id=effect.timer_id,
                replace_existing=True,
                misfire_grace_time=None,
            )
        elif isinstance(effect, CancelTimer):
            if self._scheduler.get_job(effect.timer_id):
                self._scheduler.remove_job(effect.timer_id)
        elif isinstance(effect, Finish):
            self.recap = effect.recap
            await self.repository.add_recap(self.interview.id, effect.recap)
            self._inbox.put_nowait(_FINISHED)

    async def _fire(self, timer_id: str) -> None:
        await self.apply(TimerFired(self.clock.now(), timer_id))

    # -- input

    def _start_reader(self, stream: BinaryIO) -> None:
        loop = asyncio.get_running_loop()

        fd = stream.fileno()

        def read() -> None:
            # os.read on the descriptor, not the buffered reader: a daemon thread blocked here
            # holds no interpreter lock, so the process can exit while it waits.
            pending = b""
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    if pending:
                        loop.call_soon_threadsafe(self._inbox.put_nowait, pending)
                    loop.call_soon_threadsafe(self._inbox.put_nowait, _EOF)
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    loop.call_soon_threadsafe(self._inbox.put_nowait, line + b"\n")

        threading.Thread(target=read, name="stdin-reader", daemon=True).start()

    async def _wait(self, interview_seconds: float) -> None:
        """Let interview time pass (replay), while timers fire."""
        delay = self.clock.real_delay(interview_seconds)
        if delay > 0:
            await asyncio.sleep(delay)

    async def run(self, stream: BinaryIO) -> int:
        """Run until the end of input, `end`, a timer closing it, or Ctrl-C; return the exit code."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
            loop.add_signal_handler(signal.SIGINT, self._inbox.put_nowait, _INTERRUPT)
        self._scheduler.start()
        try:
            await self.apply(Start(self.clock.now()))
            self._start_reader(stream)
            pending: list = []
            while True:
                item = pending.pop(0) if pending else await self._inbox.get()
                if item is _FINISHED:
                    return 0
                if item is _INTERRUPT:
                    await self.apply(Control(self.clock.now(), "end"))
                    self.out.write("\nInterrupted: the interview is saved as ended.\n")
                    return 130
                if item is _EOF:
                    await self.apply(Control(self.clock.now(), "end"))
                    return 0
                text = item.decode("utf-8", errors="replace").rstrip("\r\n")
                if "\ufffd" in text and b"\xef\xbf\xbd" not in item:
                    self._print("Some bytes of that line were not UTF-8; I replaced them.", "notice")
                if self.replay:
                    await self._replay_delay(text)
                    while not self._inbox.empty():  # a timer may have closed it meanwhile
                        queued = self._inbox.get_nowait()
                        if queued in (_FINISHED, _INTERRUPT):
                            pending.insert(0, queued)
                        else:
                            pending.append(queued)
                    if pending and pending[0] in (_FINISHED, _INTERRUPT):
                        pending.append(item)
                        continue
                    self.out.write(f"you> {text[:200]}{'…' if len(text) > 200 else ''}\n")
                word = parse_control(text)
                now = self.clock.now()
                if word:
                    await self.apply(Control(now, word))
                elif text.strip():
                    await self.apply(Answer(now, text, message_id=uuid.uuid4().hex))
                if self.interview.status == "ended":
                    return 0
        finally:
            self._scheduler.shutdown(wait=False)
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    async def _replay_delay(self, text: str) -> None:
        word = parse_control(text)
        if word == "next" and self.interview.status == "running":
            # A scripted candidate uses the phase's whole budget, so its warnings show.
            phase = self.interview.phase
            left = self.interview.budget() - self.interview.phase_elapsed(self.clock.now())
            await self._wait(left)
            deadline = time.monotonic() + 2.0
            while (
                self.interview.phase == phase
                and f"{phase}:time_up" not in self.interview.fired
                and self.interview.status == "running"
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.005)
        elif word is None and text.strip():
            await self._wait(replay_seconds(text))


async def practice(
    interview: Interview,
    repository: InterviewRepository,
    pace: float,
    minutes: float | None,
    stream: BinaryIO,
    out: TextIO,
    replay: bool,
    transcript_out: Path | None = None,
    chart_out: Path | None = None,
) -> TerminalResult:
    """Run a terminal interview from start to recap; store it; write the transcript and chart."""
    clock = PacedClock(pace)
    await repository.add(interview, Placement(surface="terminal", pace=pace), minutes=minutes)
    session = TerminalInterview(interview, repository, clock, out, replay)
    code = await session.run(stream)
    if session.recap:
        out.write("\n" + recap_text(session.recap) + "\n")
    if transcript_out is not None:
        transcript_out.write_text(json.dumps(to_transcript(session.interview), indent=2) + "\n")
        out.write(f"Transcript written to {transcript_out}\n")
    if chart_out is not None and session.recap:
        from bot.chart import recap_chart_png

        chart_out.write_bytes(recap_chart_png(session.recap))
        out.write(f"Chart written to {chart_out}\n")
    out.flush()
    return TerminalResult(code, session.interview, session.recap)


def stdin_is_interactive() -> bool:
    """Whether standard input is a person at a terminal (not a pipe or a file)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
