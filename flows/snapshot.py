"""An interview as plain JSON-ready data and back, so adapters can store it and pick it up later."""

from __future__ import annotations

from dataclasses import asdict, fields

from flows.engine import Interview, PhaseRecord, Turn
from flows.problem import Problem

SNAPSHOT_VERSION = 1
_TUPLE_FIELDS = ("covered", "asked", "hints_given", "fired", "wrapped")


def to_snapshot(interview: Interview) -> dict:
    """The interview's state as JSON-ready data (the problem by its slug)."""
    data = {f.name: getattr(interview, f.name) for f in fields(interview) if f.name != "problem"}
    data["problem"] = interview.problem.slug
    data["turns"] = [asdict(t) for t in interview.turns]
    data["phases"] = [asdict(p) for p in interview.phases]
    data["suggestions"] = [list(s) for s in interview.suggestions]
    for name in _TUPLE_FIELDS:
        data[name] = list(data[name])
    data["snapshot_version"] = SNAPSHOT_VERSION
    return data


def from_snapshot(data: dict, problem: Problem) -> Interview:
    """Rebuild an interview from `to_snapshot` data and its problem."""
    if data.get("problem") != problem.slug:
        raise ValueError(f"snapshot is for {data.get('problem')!r}, not {problem.slug!r}")
    known = {f.name for f in fields(Interview)}
    values = {k: v for k, v in data.items() if k in known and k != "problem"}
    values["turns"] = tuple(Turn(**t) for t in data.get("turns", []))
    values["phases"] = tuple(PhaseRecord(**p) for p in data.get("phases", []))
    values["suggestions"] = tuple(tuple(s) for s in data.get("suggestions", []))
    for name in _TUPLE_FIELDS:
        values[name] = tuple(data.get(name, []))
    return Interview(problem=problem, **values)
