"""The runner's ports: where an interview runs, the surfaces that speak there, timers and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

Clock = Callable[[], float]  # wall-clock seconds (time.time, or a clock a test moves)


@dataclass(frozen=True)
class Place:
    """Where an interview runs and who sits it: everything a surface needs to speak there."""

    surface: str
    interview_id: str
    channel: str = ""
    thread_ts: str = ""
    mode: str = "solo"
    team: bool = False
    candidate: str = ""
    interviewer: str = ""

    def to_dict(self) -> dict:
        """JSON-ready, for an outbox row. (Not `dataclasses.asdict`, which deep-copies every field:
        this runs for every message a step stores.)"""
        return {name: getattr(self, name) for name in _PLACE_FIELDS}


_PLACE_FIELDS = tuple(f.name for f in fields(Place))


class DeliveryFailed(Exception):
    """A surface could not deliver a message; `retryable` says whether trying again can help."""

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Surface(Protocol):
    """A place interviews are spoken on (a Slack thread, a terminal). Each call may raise DeliveryFailed."""

    async def say(self, place: Place, text: str, kind: str, token: str, ref: str) -> None:
        """Post a bot message; `token` is what its buttons are for, `ref` the outbox row it comes from."""

    async def nudge(self, place: Place, text: str) -> None:
        """A private hint to the human interviewer of a pair interview."""

    async def tell(self, place: Place, user: str, text: str) -> None:
        """A private reply to one person."""

    async def finish(self, place: Place, recap: dict, kind: str, ref: str) -> None:
        """The recap (`kind` recap), its chart (chart), or a pair interview's automatic fallback (fallback)."""

    async def delivered(self, place: Place, ref: str) -> bool:
        """Whether the message of outbox row `ref` already arrived (a send cut short by a crash)."""


class Timers(Protocol):
    """Arms wake-ups for timer rows; the rows in the database are the truth, jobs derive from them."""

    def arm(self, interview_id: str, timer_id: str, due_wall: float) -> None:
        """Call the runner's fire(interview_id, timer_id) at wall-clock time `due_wall`."""

    def disarm(self, interview_id: str, timer_id: str) -> None:
        """Drop an armed wake-up, if any."""

    def stop(self) -> None:
        """Fire nothing more (the runner is stopping; pending rows wait for the next start)."""
