"""The interview framework as data: one table of phases, the control words, the levels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseSpec:
    """One phase of the framework: its id, name, budget and key questions."""

    id: str
    name: str
    budget_minutes: float
    questions: tuple[str, ...]
    listens_for: str


PHASES: tuple[PhaseSpec, ...] = (
    PhaseSpec(
        "requirements",
        "Requirements",
        5,
        (
            "What should users be able to do? Name the top three features of {title}.",
            "What clarifying questions do you have for me before we go on?",
            "Which non-functional requirements matter here: consistency or availability, "
            "latency targets with numbers, scale, durability?",
        ),
        "functional features, clarifying questions, non-functional requirements with numbers",
    ),
    PhaseSpec(
        "core_entities",
        "Core Entities",
        2,
        ("What are the core entities {title} stores and exchanges? Start simple.",),
        "the main things the system stores, well named",
    ),
    PhaseSpec(
        "api",
        "API / System Interface",
        5,
        (
            "Which protocol would you use for {title}'s API, and why?",
            "Walk me through the endpoints: verbs, resources, what goes in and what comes back.",
        ),
        "protocol choice, endpoints, identity from the auth token, pagination, real-time channels",
    ),
    PhaseSpec(
        "data_flow",
        "Data Flow",
        5,
        ("Describe the data flow of {title} step by step, from ingestion to where it is served.",),
        "the sequence of processing steps",
    ),
    PhaseSpec(
        "high_level_design",
        "High-Level Design",
        12,
        (
            "Sketch the high-level design of {title}, endpoint by endpoint: which components, "
            "and how does a request travel from the client to storage and back?",
            "What does the data model look like: which fields matter, and in which database?",
        ),
        "components, request paths, data model; functional requirements first",
    ),
    PhaseSpec(
        "deep_dives",
        "Deep Dives",
        10,
        (),
        "non-functional requirements, bottlenecks, scaling, reliability, security, caching",
    ),
)

PHASE_SPECS: dict[str, PhaseSpec] = {p.id: p for p in PHASES}
DEFAULT_TOTAL_MINUTES = sum(p.budget_minutes for p in PHASES if p.id != "data_flow")

CONTROL_WORDS: tuple[str, ...] = ("next", "hint", "time", "pause", "resume", "end")
LEVELS: tuple[str, ...] = ("junior", "senior", "staff")

MAX_FOLLOW_UPS_PER_PHASE = 3
IDLE_MINUTES = 20
WARNING_LEAD_MINUTES = 1
AUTO_ADVANCE_FACTOR = 1.5
MAX_MESSAGE_CHARS = 10_000

DEEP_DIVE_OPENINGS: dict[str, str] = {
    "junior": "Let's go deeper. I'll pick the first topic: {topic}",
    "senior": (
        "You have a working design. Which parts would you improve or harden first, and why? "
        "Think about the non-functional requirements, bottlenecks and failure modes."
    ),
    "staff": (
        "Take the lead: drive a comprehensive deep dive. Pick the bottlenecks, failure modes, "
        "scaling and operational concerns that matter most for {title}, and justify the order."
    ),
}

DEEP_DIVE_WITHOUT_DESIGN = (
    "Before we harden anything: the design does not have {gaps} yet. Which would you add first, "
    "and once it works, which part would you improve or harden first, and why?"
)
# The answer to a question the problem's data does not cover, so a direct question is never ignored.
NO_MORE_DETAIL = "I don't have more detail on that: make the assumption you think is reasonable, say it out loud, and go on."

# How many follow-ups the bot asks in the deep dives: a staff candidate is expected to lead.
DEEP_DIVE_FOLLOW_UPS: dict[str, int] = {"junior": 3, "senior": 3, "staff": 1}


def parse_control(text: str) -> str | None:
    """The control word a message is, if it is exactly one (any case, spaces ignored)."""
    word = text.strip().lower()
    return word if word in CONTROL_WORDS else None


def phase_budget_seconds(phase: str, scale: float) -> float:
    """A phase's budget in interview seconds, scaled by `--minutes`."""
    return PHASE_SPECS[phase].budget_minutes * 60.0 * scale


def scale_for_minutes(minutes: float | None, data_flow: bool) -> float:
    """The factor that makes a problem's phase budgets add up to `minutes`."""
    if not minutes:
        return 1.0
    total = DEFAULT_TOTAL_MINUTES + (PHASE_SPECS["data_flow"].budget_minutes if data_flow else 0)
    return float(minutes) / total
