"""The problem bank's data model: what a problem says a good answer covers, phase by phase."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

PHASE_IDS: tuple[str, ...] = (
    "requirements",
    "core_entities",
    "api",
    "data_flow",
    "high_level_design",
    "deep_dives",
)

CATEGORIES: tuple[str, ...] = (
    "infrastructure",
    "storage",
    "messaging",
    "social",
    "media",
    "search",
    "geo",
    "commerce",
    "data-processing",
    "collaboration",
)


@dataclass(frozen=True)
class Concept:
    """One thing a good answer covers in a phase, with the words that show it was said."""

    id: str
    name: str
    weight: int
    terms: tuple[str, ...]
    follow_up: str
    quantitative: bool = False
    good: str = ""
    misconceptions: tuple[str, ...] = ()  # phrases that assert the opposite or a known wrong design
    magnitude: Magnitude | None = None  # where quantitative: the plausible range of its figures


@dataclass(frozen=True)
class Magnitude:
    """The plausible range of a quantitative concept's figures, in one unit family."""

    unit: str  # one of UNITS
    low: float
    high: float


UNITS: tuple[str, ...] = ("per_second", "bytes", "seconds", "count")


@dataclass(frozen=True)
class Clarification:
    """An interviewer's answer to a common clarifying question about the problem."""

    id: str
    terms: tuple[str, ...]  # words a question about it contains
    answer: str


@dataclass(frozen=True)
class PhaseGuide:
    """What the problem expects in one phase: questions, concepts, hints and red flags."""

    phase: str
    questions: tuple[str, ...]
    concepts: tuple[Concept, ...]
    hints: tuple[str, ...]
    red_flags: tuple[str, ...] = ()

    @property
    def total_weight(self) -> int:
        """Sum of the concept weights: the most a phase can earn."""
        return sum(c.weight for c in self.concepts)


@dataclass(frozen=True)
class Problem:
    """A system-design problem from the bank."""

    slug: str
    title: str
    aliases: tuple[str, ...]
    category: str
    difficulty: str
    data_flow: bool
    prompt: str
    opening: str
    phases: dict[str, PhaseGuide] = field(default_factory=dict)
    source: str = ""
    clarifications: tuple[Clarification, ...] = ()

    @cached_property  # asked at every step (a frozen dataclass: the value never changes)
    def phase_ids(self) -> tuple[str, ...]:
        """The phases this problem runs, in order (data_flow only where the data marks it)."""
        return tuple(p for p in PHASE_IDS if p != "data_flow" or self.data_flow)

    def guide(self, phase: str) -> PhaseGuide:
        """The problem's guide for one phase."""
        return self.phases[phase]
