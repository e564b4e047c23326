"""What goes into the engine (events) and what comes out (effects): plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

# Events. `at` is interview-clock seconds (the adapter applies the pace); the engine has no clock.


@dataclass(frozen=True)
class Start:
    """The interview begins."""

    at: float


@dataclass(frozen=True)
class Answer:
    """A message in the interview: the candidate's answer, or in a pair interview the interviewer's."""

    at: float
    text: str
    message_id: str = ""
    user: str = ""
    role: str = "candidate"


@dataclass(frozen=True)
class Edit:
    """An answer was edited: the new text replaces the old."""

    at: float
    message_id: str
    text: str


@dataclass(frozen=True)
class Control:
    """A control word: next, hint, time, pause, resume or end.

    `shown_for` is the control token of the message whose button sent it (empty when typed): a
    button pressed twice, or a request replayed, finds the token stale and changes nothing.
    """

    at: float
    word: str
    user: str = ""
    shown_for: str = ""


@dataclass(frozen=True)
class Cancel:
    """The interview is called off (a pair interview's cancel button): ended without a recap."""

    at: float
    by: str = ""  # how the surface names who cancelled it
    user: str = ""


@dataclass(frozen=True)
class TimerFired:
    """A timer the engine scheduled has come due."""

    at: float
    timer_id: str


@dataclass(frozen=True)
class Idle:
    """A check for idleness: closes the interview if nobody has spoken for too long."""

    at: float


Event = Start | Answer | Edit | Control | Cancel | TimerFired | Idle

# Effects.


@dataclass(frozen=True)
class Say:
    """Post a message in the interview."""

    text: str
    kind: str  # intro, phase, follow_up, clarify, hint, warning, info, notice
    phase: str = ""


@dataclass(frozen=True)
class Nudge:
    """A private hint to the human interviewer of a pair interview (never shown to the candidate)."""

    text: str
    phase: str = ""


@dataclass(frozen=True)
class Tell:
    """A private reply to one person (a refused or already-done control): not part of the transcript."""

    user: str
    text: str


@dataclass(frozen=True)
class ScheduleTimer:
    """Arrange for TimerFired(timer_id) at `due_at` (replaces a timer of the same id)."""

    timer_id: str
    due_at: float


@dataclass(frozen=True)
class CancelTimer:
    """Drop a pending timer."""

    timer_id: str


@dataclass(frozen=True)
class Finish:
    """The interview is over; here is its recap."""

    reason: str  # completed, ended, idle
    recap: dict = field(default_factory=dict)


Effect = Say | Nudge | Tell | ScheduleTimer | CancelTimer | Finish
