"""Shared fixtures: a small problem built from data, the shipped bank, temporary databases."""

from __future__ import annotations

import pytest

from flows.problem import Problem
from problems.loader import load_bank, parse_problem


def concept(cid: str, weight: int, terms: list[str], follow_up: str, **extra) -> dict:
    """One concept table, as a problem file holds it."""
    return {
        "id": cid,
        "name": cid.replace("_", " "),
        "weight": weight,
        "terms": terms,
        "follow_up": follow_up,
        **extra,
    }


def phase(concepts: list[dict], hints: tuple[str, ...] = ("First nudge.", "Second nudge.")) -> dict:
    """One phase table."""
    return {"questions": ["What matters here?"], "hints": list(hints), "concepts": concepts}


def tiny_problem_data(data_flow: bool = False) -> dict:
    """A small, complete problem: a paste bin."""
    phases = {
        "requirements": phase(
            [
                concept("create_paste", 3, ["create paste", "upload text"], "What does a user do first?"),
                concept("read_paste", 3, ["read paste", "view paste"], "How does someone see it later?"),
                concept(
                    "scale", 2, ["qps", "daily active users"], "How big does this get?", quantitative=True
                ),
                concept("expiry", 1, ["expiry", "expire"], "Does anything go away?"),
            ]
        ),
        "core_entities": phase(
            [
                concept("paste", 3, ["paste entity", "paste record"], "What is the main record?"),
                concept("owner", 2, ["owner", "author"], "Who made it?"),
            ]
        ),
        "api": phase(
            [
                concept("post", 3, ["post /pastes", "create endpoint"], "How is one made over the wire?"),
                concept("get", 3, ["get /pastes", "read endpoint"], "How is one fetched?"),
            ]
        ),
        "high_level_design": phase(
            [
                concept("blob", 3, ["object storage", "s3"], "Where do the bytes live?"),
                concept("cache", 2, ["cache", "redis"], "Reads dominate. What keeps them quick?"),
                concept("lb", 2, ["load balancer"], "How is traffic spread?"),
            ]
        ),
        "deep_dives": phase(
            [
                concept(
                    "hot", 3, ["hot paste", "hot key"], "One paste goes viral. Then?", good="Replicate it."
                ),
                concept(
                    "abuse", 2, ["rate limit", "abuse"], "Someone floods you. Then?", good="Limit per user."
                ),
                concept("ids", 2, ["unique id", "base62"], "How are keys made?", good="Counter + base62."),
            ]
        ),
    }
    if data_flow:
        phases["data_flow"] = phase(
            [
                concept("ingest", 3, ["ingest", "collector"], "Where does it come in?"),
                concept("aggregate", 3, ["aggregate", "rollup"], "What happens to it then?"),
            ]
        )
    return {
        "slug": "paste-bin",
        "title": "Paste Bin",
        "aliases": ["pastebin"],
        "category": "storage",
        "difficulty": "easy",
        "data_flow": data_flow,
        "prompt": "Design a paste bin.",
        "opening": "Open with the prompt.",
        "phases": phases,
    }


@pytest.fixture
def tiny() -> Problem:
    """The paste-bin problem, without a data-flow phase."""
    return parse_problem(tiny_problem_data(), "paste-bin.toml")


@pytest.fixture
def tiny_with_data_flow() -> Problem:
    """The paste-bin problem, with a data-flow phase."""
    return parse_problem(tiny_problem_data(data_flow=True), "paste-bin.toml")


@pytest.fixture(scope="session")
def bank() -> dict[str, Problem]:
    """The shipped problem bank."""
    return load_bank()


@pytest.fixture
def db_url(tmp_path) -> str:
    """A fresh SQLite file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def slack():
    """A running Slack stand-in (tests may override it to add users)."""
    from tests.slack_standin import SlackStandIn

    async with SlackStandIn() as standin:
        yield standin


@pytest.fixture
async def running(slack, tmp_path):
    """The real bot at pace 600, served on 127.0.0.1 against the stand-in."""
    from tests.slack_harness import start_bot, stop_bot

    bot = await start_bot(slack, tmp_path, pace=600)
    yield bot
    await stop_bot(bot)
