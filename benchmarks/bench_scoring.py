"""Benchmark: scoring a 100-turn transcript, and one engine step with a 300-word answer.

Run: .venv/bin/python benchmarks/bench_scoring.py   (prints median and worst, in milliseconds)
Bounds from the issue: scoring <= 50 ms median, a step <= 2 ms median.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from flows.engine import new_interview, step
from flows.events import Answer, Start
from flows.scoring import practice_suggestions, score_transcript
from problems import load_bank

ROOT = Path(__file__).resolve().parent.parent


def hundred_turns(source: dict) -> dict:
    """A 100-turn transcript built from a real one: its turns repeated in order, times stretched."""
    base = source["turns"]
    turns = []
    for i in range(100):
        t = dict(base[i % len(base)])
        t["at"] = float(i * 20)
        turns.append(t)
    phases_seen = []
    for t in turns:
        if t["phase"] not in phases_seen:
            phases_seen.append(t["phase"])
    # phases in the problem's order so times stay ordered
    order = ["requirements", "core_entities", "api", "data_flow", "high_level_design", "deep_dives"]
    turns.sort(key=lambda t: (order.index(t["phase"]), t["at"]))
    for i, t in enumerate(turns):
        t["at"] = float(i * 20)
    return {"problem": source["problem"], "level": "senior", "turns": turns}


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    bank = load_bank()
    source = json.loads((ROOT / "tests/transcripts/url-shortener--strong.json").read_text())
    problem = bank[source["problem"]]
    transcript = hundred_turns(source)
    suggestions = practice_suggestions(bank.values(), problem)
    score_transcript(transcript, problem, suggestions)  # warm the matcher once
    scoring = timed(lambda: score_transcript(transcript, problem, suggestions), 60)
    print(
        f"score 100-turn transcript: median {statistics.median(scoring):.2f} ms, worst {max(scoring):.2f} ms"
    )

    words = " ".join(
        t["text"] for t in source["turns"] if t["role"] == "candidate" and t["phase"] == "high_level_design"
    ).split()
    answer = " ".join((words * 10)[:300])
    iv, _ = step(new_interview("bench", problem), Start(0.0))
    steps = []
    for i in range(200):
        t0 = time.perf_counter()
        step(iv, Answer(10.0 + i, answer, message_id=str(i)))
        steps.append((time.perf_counter() - t0) * 1000)
    print(
        f"engine step, 300-word answer: median {statistics.median(steps):.3f} ms, worst {max(steps):.3f} ms"
    )


if __name__ == "__main__":
    main()
