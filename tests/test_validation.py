"""The rubric against the validation set's adversarial classes, written and graded before tuning.

tests/transcripts/grades.json holds the set author's grades (as a senior interviewer, made without running the rubric); benchmarks/eval_validation.py prints the
rank correlation and verdict agreement. These tests hold the lines a user relies on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.scoring import score_transcript

DIRECTORY = Path(__file__).parent / "transcripts"
GRADES = json.loads((DIRECTORY / "grades.json").read_text())
PROBLEMS = sorted({name.split("--")[0] for name in GRADES if name.endswith("--pasted.json")})


def _recap(bank, name: str) -> dict:
    transcript = json.loads((DIRECTORY / f"{name}.json").read_text())
    return score_transcript(transcript, bank[transcript["problem"]])


@pytest.fixture(scope="module")
def recaps(bank):
    return {
        f"{slug}--{kind}": _recap(bank, f"{slug}--{kind}")
        for slug in PROBLEMS
        for kind in (
            "strong",
            "medium",
            "weak",
            "terse_strong",
            "synonym",
            "wrong_confident",
            "pasted",
            "verbose_weak",
        )
    }


def test_the_set_has_every_adversarial_class_on_three_problems():
    assert len(PROBLEMS) >= 3
    for slug in PROBLEMS:
        for kind in ("terse_strong", "synonym", "wrong_confident", "pasted", "verbose_weak"):
            assert f"{slug}--{kind}.json" in GRADES


@pytest.mark.parametrize("slug", PROBLEMS)
def test_honest_candidates_rank_strong_medium_weak(recaps, slug):
    strong, medium, weak = (recaps[f"{slug}--{k}"]["overall"] for k in ("strong", "medium", "weak"))
    assert strong > medium > weak


@pytest.mark.parametrize("slug", PROBLEMS)
@pytest.mark.parametrize("kind", ["pasted", "wrong_confident", "verbose_weak"])
def test_pasted_wrong_and_vague_candidates_stay_below_the_honest_medium_and_are_not_hired(recaps, slug, kind):
    recap = recaps[f"{slug}--{kind}"]
    assert recap["overall"] < recaps[f"{slug}--medium"]["overall"]
    assert recap["verdict"] in ("no_hire", "lean_no_hire")


@pytest.mark.parametrize("slug", PROBLEMS)
def test_a_terse_strong_answer_earns_what_its_long_twin_does(recaps, slug):
    assert abs(recaps[f"{slug}--terse_strong"]["overall"] - recaps[f"{slug}--strong"]["overall"]) <= 5


@pytest.mark.parametrize("slug", PROBLEMS)
def test_synonyms_and_notation_are_read_as_content(recaps, slug):
    assert recaps[f"{slug}--synonym"]["overall"] > recaps[f"{slug}--medium"]["overall"] - 15
    assert recaps[f"{slug}--synonym"]["verdict"] in ("hire", "strong_hire")


@pytest.mark.parametrize("slug", PROBLEMS)
@pytest.mark.parametrize("kind", ["strong", "terse_strong"])
def test_strong_candidates_hit_no_pitfall(recaps, slug, kind):
    assert [p["id"] for p in recaps[f"{slug}--{kind}"]["pitfalls"] if p["triggered"]] == []


@pytest.mark.parametrize("slug", PROBLEMS)
def test_pasted_text_is_named_in_the_recap_and_earns_nothing(recaps, slug):
    recap = recaps[f"{slug}--pasted"]
    assert recap["pasted"], "the pasted messages are listed"
    assert all(p["why"] and p["quote"] for p in recap["pasted"])
    assert any("pasted" in c["reason"] for c in recap["verdict_caps"]) or recap["verdict"] == "no_hire"


@pytest.mark.parametrize("slug", PROBLEMS)
def test_wrong_claims_are_quoted_under_to_fix(recaps, slug):
    recap = recaps[f"{slug}--wrong_confident"]
    wrong = [f for p in recap["phases"] for f in p["to_fix"] if f["kind"] == "wrong"]
    assert wrong, "a confidently wrong design is told what was wrong"
    assert all(f["quote"] and f["why"] for f in wrong)


@pytest.mark.parametrize("slug", PROBLEMS)
def test_no_honest_transcript_is_marked_pasted(recaps, slug):
    for kind in ("strong", "medium", "weak", "terse_strong", "synonym", "verbose_weak"):
        assert recaps[f"{slug}--{kind}"]["pasted"] == [], kind
