"""An interview as plain JSON-ready data and back, so adapters can store it and pick it up later."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

from flows.engine import Interview, PhaseRecord, Turn
from flows.problem import Problem

# 2: the turns may be kept apart (an adapter that stores each turn as its own row); 1 always held them.
SNAPSHOT_VERSION = 2
_TUPLE_FIELDS = ("covered", "asked", "hints_given", "fired", "wrapped")


# Field names, looked up once (`dataclasses.fields` is not cheap, and a step stores a snapshot).
_NAMES = {kind: tuple(f.name for f in fields(kind)) for kind in (Turn, PhaseRecord)}
_STATE_NAMES = tuple(f.name for f in fields(Interview) if f.name not in ("problem", "turns"))


def _plain(record) -> dict:
    """A flat dataclass (Turn, PhaseRecord) as a dict; their fields are all plain values."""
    return {name: getattr(record, name) for name in _NAMES[type(record)]}


def to_snapshot(interview: Interview, with_turns: bool = True) -> dict:
    """The interview's state as JSON-ready data (the problem by its slug).

    `with_turns=False` leaves the turns out, for an adapter that stores them apart (one row per
    turn, appended): the snapshot then stays the same size however long the interview runs, and
    `from_snapshot` takes the turns back as an argument."""
    data = {name: getattr(interview, name) for name in _STATE_NAMES}
    data["problem"] = interview.problem.slug
    if with_turns:
        data["turns"] = [_plain(t) for t in interview.turns]
    data["phases"] = [_plain(p) for p in interview.phases]
    data["suggestions"] = [list(s) for s in interview.suggestions]
    for name in _TUPLE_FIELDS:
        data[name] = list(data[name])
    data["snapshot_version"] = SNAPSHOT_VERSION
    return data


def from_snapshot(data: dict, problem: Problem, turns: Iterable[Turn] | None = None) -> Interview:
    """Rebuild an interview from `to_snapshot` data and its problem; `turns` for a snapshot taken
    without them (the turns the snapshot holds win, if it holds any)."""
    if data.get("problem") != problem.slug:
        raise ValueError(f"snapshot is for {data.get('problem')!r}, not {problem.slug!r}")
    known = {f.name for f in fields(Interview)}
    values = {k: v for k, v in data.items() if k in known and k != "problem"}
    if "turns" in data:
        values["turns"] = tuple(Turn(**t) for t in data["turns"])
    else:
        values["turns"] = tuple(turns or ())
    values["phases"] = tuple(PhaseRecord(**p) for p in data.get("phases", []))
    values["suggestions"] = tuple(tuple(s) for s in data.get("suggestions", []))
    for name in _TUPLE_FIELDS:
        values[name] = tuple(data.get(name, []))
    return Interview(problem=problem, **values)
