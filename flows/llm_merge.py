"""Put an LLM's per-phase judgements beside a rubric recap: the rubric decides, the LLM can only confirm it."""

from __future__ import annotations

import copy

MAX_LLM_EVIDENCE = 3
"""Quotes of the LLM's evidence kept per phase."""
DISAGREEMENT = 2
"""Points apart at which the two scores are said to disagree (and the rubric's score stands)."""


def combined_score(rubric: int, llm: int) -> int:
    """Two 1-4 scores a point apart (or equal): the lower one, since a score must be earned twice."""
    return min(rubric, llm)


def merge_llm(recap: dict, judgements: dict[str, dict], model: str) -> dict:
    """A new recap with each phase's LLM judgement merged in; the input recap is left unchanged.

    `judgements` maps a phase id to {"score": 1-4, "evidence": [quotes], "reason": str} or to
    {"error": "<short reason>"}; an error may carry "note" (what to say after the phase name) to replace the
    usual "LLM unavailable (<reason>); rubric used". Every phase gets "rubric_score" and "source" ("both"
    when a judgement was used, else "rubric"); a used judgement adds "llm_score", "llm_evidence" and
    "llm_reason", and "disagreement": true when the scores are DISAGREEMENT or more apart. recap["llm"] holds
    the model and the notes. "overall" and "verdict" are the rubric's and are not recomputed.
    """
    merged = copy.deepcopy(recap)
    notes: list[str] = []
    for phase in merged.get("phases", []):
        name = phase.get("name") or phase.get("phase", "?")
        rubric = phase.get("rubric_score", phase.get("score"))
        for key in ("llm_score", "llm_evidence", "llm_reason", "disagreement"):
            phase.pop(key, None)  # merging an already merged recap starts from the rubric again
        phase["rubric_score"] = rubric
        phase["score"] = rubric
        judgement = judgements.get(phase.get("phase", ""))
        if not _usable(judgement) or not _is_score(rubric):
            phase["source"] = "rubric"
            notes.append(f"{name}: {_fallback_note(judgement, rubric)}")
            continue
        llm = int(judgement["score"])
        phase["source"] = "both"
        phase["llm_score"] = llm
        phase["llm_evidence"] = list(judgement["evidence"][:MAX_LLM_EVIDENCE])
        phase["llm_reason"] = judgement.get("reason") if isinstance(judgement.get("reason"), str) else ""
        if abs(llm - rubric) >= DISAGREEMENT:
            phase["disagreement"] = True
            notes.append(f"{name}: rubric {rubric}, LLM {llm}: they disagree; the rubric's score stands")
        else:
            phase["score"] = combined_score(rubric, llm)
    merged["llm"] = {"model": model, "notes": notes}
    return merged


def _is_score(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4


def _usable(judgement: object) -> bool:
    if not isinstance(judgement, dict) or "error" in judgement:
        return False
    evidence = judgement.get("evidence")
    return (
        _is_score(judgement.get("score"))
        and isinstance(evidence, list)
        and bool(evidence)
        and all(isinstance(q, str) and q.strip() for q in evidence)
    )


def _fallback_note(judgement: object, rubric: object) -> str:
    if not _is_score(rubric):
        return "the rubric gave no score to compare with; rubric used"
    if judgement is None:
        reason = "no judgement"
    elif not isinstance(judgement, dict):
        reason = "malformed judgement"
    elif isinstance(judgement.get("note"), str) and judgement["note"].strip():
        return judgement["note"].strip()
    elif isinstance(judgement.get("error"), str) and judgement["error"].strip():
        reason = judgement["error"].strip()
    else:
        reason = "malformed judgement"
    return f"LLM unavailable ({reason}); rubric used"
