"""Terminal practice: the engine driven by lines of standard input, timers on APScheduler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import BinaryIO, TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.app.outbox import OutboxSender
from bot.app.ports import Place
from bot.app.runner import InterviewRunner
from bot.app.timers import SchedulerTimers
from bot.llm import LlmConfig
from bot.render import recap_text
from bot.repository import Placement
from flows.engine import Interview, to_transcript
from flows.events import Answer, Control
from flows.framework import parse_control
from flows.problem import Problem

# Replayed (piped) input: a message takes as long as a person needs to write it.
REPLAY_SECONDS_PER_WORD = 2.0
REPLAY_MIN_SECONDS = 20.0
REPLAY_MAX_SECONDS = 90.0

_EOF = object()
_INTERRUPT = object()
_FINISHED = object()


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


PROMPT = "you> "
MAX_WIDTH = 100  # longer lines are hard to read, however wide the window
MIN_WIDTH = 20  # below this, folding only makes it worse; the terminal wraps on its own


def is_terminal(out: TextIO) -> bool:
    """Whether `out` is a terminal (not a pipe, a file or a closed stream)."""
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width(out: TextIO) -> int | None:
    """Columns to fold bot messages to when `out` is a terminal (none for a pipe or a file)."""
    if not is_terminal(out):
        return None
    columns = shutil.get_terminal_size(fallback=(80, 24)).columns
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


def plain(text: str) -> str:
    """A bot message without Slack's mrkdwn marks (*bold*, `code`), for a terminal."""
    return text.replace("*", "").replace("`", "")


class TerminalSurface:
    """The terminal as a surface: the bot's side printed, the recap handed back to the session.

    At a terminal, messages are folded to its width (as it is now: the window may have been
    resized), and one that arrives while the person is typing (a time warning) is printed above
    their line, which is then drawn again. A fixed `width` is for tests.
    """

    def __init__(self, out: TextIO, interactive: bool = False, width: int | None = None) -> None:
        self.out = out
        self.interactive = interactive
        self.fixed_width = width
        self.prompting = False  # the reader thread is waiting at the prompt
        self.finished: Callable[[dict], None] = lambda recap: None

    @property
    def width(self) -> int | None:
        """Columns to fold to, or none (a pipe or a file: one line per message, for scripts)."""
        return self.fixed_width or terminal_width(self.out)

    def lines(self, text: str, kind: str = "") -> list[str]:
        """The printed lines of one bot message."""
        marker = {"warning": "[time] ", "hint": "[hint] ", "notice": "[note] "}.get(kind, "")
        width = self.width
        out = []
        for i, line in enumerate(plain(text).splitlines() or [""]):
            prefix = f"bot> {marker}" if i == 0 else "     "
            if width:
                # A long word (a URL) stays whole, past the edge, rather than broken in two.
                out += textwrap.wrap(
                    prefix + line,
                    width,
                    subsequent_indent=" " * 5,
                    break_on_hyphens=False,
                    break_long_words=False,
                ) or [prefix.rstrip()]
            else:
                out.append(prefix + line)
        return out

    def _print(self, text: str, kind: str = "") -> None:
        body = "\n".join(self.lines(text, kind)) + "\n"
        if self.prompting and self.redraws:
            # Above the line being typed: clear it, print, then draw the prompt and the typing again.
            body = "\r\x1b[K" + body + PROMPT + _typed_so_far()
        self.out.write(body)
        self.out.flush()

    @property
    def redraws(self) -> bool:
        """Whether lines may be cleared and drawn again: a person at a terminal, not a log file."""
        return self.interactive and is_terminal(self.out)

    def leave_prompt(self) -> None:
        """Clear the last line (a prompt still waiting, or the one Ctrl-D left) before the recap."""
        if self.redraws:
            self.out.write("\r\x1b[K")

    async def say(self, place: Place, text: str, kind: str, token: str, ref: str) -> None:
        """Print a bot message."""
        self._print(text, kind)

    async def nudge(self, place: Place, text: str) -> None:
        """Pair interviews do not run in a terminal."""

    async def tell(self, place: Place, user: str, text: str) -> None:
        """A private reply is just a reply here."""
        self._print(text, "notice")

    async def finish(self, place: Place, recap: dict, kind: str, ref: str) -> None:
        """The recap is printed by `practice` at the end; the chart is written there too."""
        if kind == "recap":
            self.finished(recap)

    async def delivered(self, place: Place, ref: str) -> bool:
        """A terminal keeps no record of what it printed."""
        return False


class TerminalInterview:
    """Runs one interview against a text stream, over the runner: every step stored, then printed."""

    def __init__(
        self,
        interview: Interview,
        runner: InterviewRunner,
        surface: TerminalSurface,
        out: TextIO,
        replay: bool,
        pace: float,
        origin: float,
    ) -> None:
        self.interview = interview
        self.origin = origin
        self.runner = runner
        self.surface = surface
        self.out = out
        self.replay = replay
        self.pace = pace
        self.recap: dict = {}
        self._inbox: asyncio.Queue = asyncio.Queue()
        surface.finished = self._finished

    def _finished(self, recap: dict) -> None:
        self.recap = recap
        self._inbox.put_nowait(_FINISHED)

    async def apply(self, event_at) -> None:
        """Step the engine through the runner (stored first), then print what it said."""
        after = await self.runner.apply(self.interview.id, lambda iv, row, now: event_at(now))
        await self.stepped(after)

    async def stepped(self, after: Interview | None) -> None:
        """After a step (an input or a timer): keep the state for the replay, print what was said."""
        if after is not None:
            self.interview = after
        await self.runner.outbox.flush(self.interview.id)

    def _print(self, text: str, kind: str = "") -> None:
        self.surface._print(text, kind)

    # -- input

    def _start_reader(self, stream: BinaryIO) -> None:
        if self.surface.interactive:
            self._start_prompt_reader()
            return
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

    def _start_prompt_reader(self) -> None:
        """A person at a terminal: input() with readline editing and a prompt, in a thread."""
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - importing it gives input() line editing

        loop = asyncio.get_running_loop()
        surface = self.surface

        def read() -> None:
            while True:
                surface.prompting = True
                try:
                    line = input(PROMPT)
                except (EOFError, OSError):
                    loop.call_soon_threadsafe(self._inbox.put_nowait, _EOF)
                    return
                finally:
                    surface.prompting = False
                loop.call_soon_threadsafe(
                    self._inbox.put_nowait, line.encode("utf-8", "surrogateescape") + b"\n"
                )

        threading.Thread(target=read, name="stdin-prompt", daemon=True).start()

    async def _wait(self, interview_seconds: float) -> None:
        """Let interview time pass (replay), while timers fire."""
        delay = max(0.0, interview_seconds / self.pace)
        if delay > 0:
            await asyncio.sleep(delay)

    async def run(self, stream: BinaryIO) -> int:
        """Run until the end of input, `end`, a timer closing it, or Ctrl-C; return the exit code."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
            loop.add_signal_handler(signal.SIGINT, self._inbox.put_nowait, _INTERRUPT)
        try:
            await self.stepped(None)  # the opening, stored when the interview was created
            self._start_reader(stream)
            pending: list = []
            while True:
                item = pending.pop(0) if pending else await self._inbox.get()
                if item is _FINISHED:
                    return 0
                if item is _INTERRUPT:
                    await self.apply(lambda now: Control(now, "end"))
                    self.out.write("\nInterrupted: the interview is saved as ended.\n")
                    return 130
                if item is _EOF:
                    await self.apply(lambda now: Control(now, "end"))
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
                    self.out.write(f"{PROMPT}{text[:200]}{'…' if len(text) > 200 else ''}\n")
                word = parse_control(text)
                if word:
                    await self.apply(lambda now, word=word: Control(now, word))
                elif text.strip():
                    mid = uuid.uuid4().hex
                    await self.apply(lambda now, text=text, mid=mid: Answer(now, text, message_id=mid))
                if self.interview.status == "ended":
                    return 0
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    async def _replay_delay(self, text: str) -> None:
        word = parse_control(text)
        if word == "next" and self.interview.status == "running":
            # A scripted candidate uses the phase's whole budget, so its warnings show.
            phase = self.interview.phase
            started = self.interview.phases[-1].started_at if self.interview.phases else 0.0
            now = (time.time() - self.origin) * self.pace
            left = self.interview.budget() - self.interview.phase_elapsed(max(now, started))
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
    sessions: async_sessionmaker,
    bank: dict[str, Problem],
    pace: float,
    minutes: float | None,
    stream: BinaryIO,
    out: TextIO,
    replay: bool,
    transcript_out: Path | None = None,
    chart_out: Path | None = None,
    llm: LlmConfig | None = None,
) -> TerminalResult:
    """Run a terminal interview from start to recap; store it; write the transcript and chart."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    surface = TerminalSurface(out, interactive=not replay)
    outbox = OutboxSender(sessions, {"terminal": surface})
    timers = SchedulerTimers(scheduler)
    runner = InterviewRunner(sessions, bank, timers, outbox, llm=llm)
    origin = time.time()
    placement = Placement(surface="terminal", pace=pace, clock_origin=origin)
    started = await runner.create(interview, placement, minutes)
    if started is None:
        raise RuntimeError("the interview could not be stored")
    session = TerminalInterview(started, runner, surface, out, replay, pace, origin)

    async def fire(interview_id: str, timer_id: str) -> None:
        await session.stepped(await runner.fire(interview_id, timer_id))

    timers.fire = fire
    scheduler.start()
    saved = _terminal_mode(stream)
    try:
        code = await session.run(stream)
        await runner.stop()
        await outbox.flush(interview.id)
    finally:
        scheduler.shutdown(wait=False)
        await outbox.stop()
        _restore_terminal_mode(stream, saved)
    if session.recap:
        surface.leave_prompt()  # the reader thread asked for the next line before the end came
        out.write("\n" + recap_text(session.recap, surface.width) + "\n")
    if transcript_out is not None:
        transcript_out.write_text(json.dumps(to_transcript(session.interview), indent=2) + "\n")
        out.write(f"Transcript written to {transcript_out}\n")
    if chart_out is not None and session.recap:
        from bot.chart import recap_chart_png

        chart_out.write_bytes(recap_chart_png(session.recap))
        out.write(f"Chart written to {chart_out}\n")
    out.flush()
    return TerminalResult(code, session.interview, session.recap)


def _terminal_mode(stream: BinaryIO) -> list | None:
    """The terminal's settings, so they can be put back if the prompt is left mid-line."""
    try:
        import termios

        return termios.tcgetattr(stream.fileno())
    except Exception:  # noqa: BLE001 - not a terminal (termios.error), or no termios here
        return None


def _restore_terminal_mode(stream: BinaryIO, saved: list | None) -> None:
    if saved is None:
        return
    with contextlib.suppress(Exception):  # termios.error is not an OSError
        import termios

        termios.tcsetattr(stream.fileno(), termios.TCSADRAIN, saved)


def _typed_so_far() -> str:
    """What the person has typed at the prompt so far (readline's buffer), if readline is there."""
    try:
        import readline

        return readline.get_line_buffer()
    except (ImportError, AttributeError):
        return ""


def stdin_is_interactive() -> bool:
    """Whether standard input is a person at a terminal (not a pipe or a file)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
