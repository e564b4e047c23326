"""The transcript JSON of CONTRACTS.md: validation, and the phase timings it implies."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flows.framework import LEVELS
from flows.problem import PHASE_IDS

ROLES = ("candidate", "interviewer", "bot", "comment")
MAX_TURN_CHARS = 200_000


class TranscriptError(ValueError):
    """A transcript is not in the contract's shape; the message says where."""


@dataclass(frozen=True)
class PhaseTiming:
    """When a phase of a transcript ran."""

    phase: str
    started_at: float
    ended_at: float
    paused: float = 0.0

    @property
    def minutes_used(self) -> float:
        """Minutes the phase ran, pauses excluded."""
        return max(0.0, self.ended_at - self.started_at - self.paused) / 60.0


MIN_MINUTES, MAX_MINUTES = 1, 600  # an interview of a minute to ten hours


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranscriptError(f"{where} must be a number")
    if not math.isfinite(value) or value < 0:
        raise TranscriptError(f"{where} must be a finite, non-negative number")
    return float(value)


def validate_transcript(data: object, phase_ids: tuple[str, ...] | None = None) -> dict:
    """Check a parsed transcript; return it, or raise TranscriptError naming the fault."""
    if not isinstance(data, dict):
        raise TranscriptError("a transcript must be a JSON object")
    if "turns" not in data:
        raise TranscriptError("the transcript has no 'turns'")
    turns = data["turns"]
    if not isinstance(turns, list):
        raise TranscriptError("'turns' must be a list")
    level = data.get("level", "senior")
    if level not in LEVELS:
        raise TranscriptError(f"unknown level '{level}' (use {', '.join(LEVELS)})")
    allowed = phase_ids or PHASE_IDS
    last = 0.0
    for i, turn in enumerate(turns):
        where = f"turns[{i}]"
        if not isinstance(turn, dict):
            raise TranscriptError(f"{where} must be an object")
        at = _number(turn.get("at"), f"{where}.at")
        if at < last:
            raise TranscriptError(f"{where}.at ({at:g}) is earlier than the turn before ({last:g})")
        last = at
        if turn.get("phase") not in allowed:
            raise TranscriptError(f"{where}.phase: unknown phase '{turn.get('phase')}'")
        if turn.get("role") not in ROLES:
            raise TranscriptError(f"{where}.role: unknown role '{turn.get('role')}'")
        text = turn.get("text")
        if not isinstance(text, str):
            raise TranscriptError(f"{where}.text must be a string")
        if len(text) > MAX_TURN_CHARS:
            raise TranscriptError(f"{where}.text is longer than {MAX_TURN_CHARS:,} characters")
    phases = data.get("phases", [])
    if not isinstance(phases, list):
        raise TranscriptError("'phases' must be a list")
    for i, p in enumerate(phases):
        where = f"phases[{i}]"
        if not isinstance(p, dict):
            raise TranscriptError(f"{where} must be an object")
        if p.get("phase") not in allowed:
            raise TranscriptError(f"{where}.phase: unknown phase '{p.get('phase')}'")
        start = _number(p.get("started_at"), f"{where}.started_at")
        end = _number(p.get("ended_at"), f"{where}.ended_at")
        if end < start:
            raise TranscriptError(f"{where}: ended_at is before started_at")
        if "paused" in p:
            _number(p["paused"], f"{where}.paused")
    if "minutes" in data and data["minutes"] is not None:
        minutes = _number(data["minutes"], "minutes")
        if not MIN_MINUTES <= minutes <= MAX_MINUTES:
            raise TranscriptError(f"minutes must be between {MIN_MINUTES} and {MAX_MINUTES}, not {minutes:g}")
    return data


def phase_timings(transcript: dict, phase_ids: tuple[str, ...]) -> dict[str, PhaseTiming]:
    """When each phase ran: from `phases`, or else from the first turn of each phase to the next."""
    given = {p["phase"]: p for p in transcript.get("phases", [])}
    if given:
        return {
            ph: PhaseTiming(ph, float(p["started_at"]), float(p["ended_at"]), float(p.get("paused", 0)))
            for ph, p in given.items()
            if ph in phase_ids
        }
    firsts: dict[str, float] = {}
    lasts: dict[str, float] = {}
    for t in transcript["turns"]:
        firsts.setdefault(t["phase"], float(t["at"]))
        lasts[t["phase"]] = float(t["at"])
    ordered = [ph for ph in phase_ids if ph in firsts]
    timings = {}
    for i, ph in enumerate(ordered):
        end = firsts[ordered[i + 1]] if i + 1 < len(ordered) else lasts[ph]
        timings[ph] = PhaseTiming(ph, firsts[ph], max(end, firsts[ph]))
    return timings
