"""The recap as text and markdown: strengths first, then what to fix, each with its evidence."""

from __future__ import annotations

import textwrap

TIP_NAMES = {
    "time_management": "Time management",
    "stay_focused": "Stayed focused",
    "iterative": "Iterative design",
    "handle_ambiguity": "Handled ambiguity",
    "trade_offs": "Trade-off thinking",
    "common_patterns": "Common patterns",
    "communicate_clearly": "Clear communication",
    "listen_actively": "Active listening",
}
PITFALL_NAMES = {
    "details_too_early": "Details too early",
    "assumed_requirements": "Assumed requirements",
    "max_scale_too_early": "Maximum scale too early",
    "monologue": "Monologue",
    "happy_path_only": "Happy path only",
    "over_time": "Over time",
}
VERDICTS = {
    "strong_hire": "Strong hire",
    "hire": "Hire",
    "lean_no_hire": "Lean no hire",
    "no_hire": "No hire",
}


def minutes(value: float) -> str:
    """Minutes to one decimal, without a trailing .0: 4.41176 -> "4.4", 5.0 -> "5"."""
    return f"{float(value):.1f}".removesuffix(".0")


def score_label(p: dict) -> str:
    """A phase's score and where it came from: the rubric, or the rubric and an LLM judge."""
    if p.get("llm_score") is None:
        return f"{p['score']}/4"  # the rubric's: `scored_by` says so once for the whole table
    if p.get("disagreement"):
        return f"{p['score']}/4 (rubric {p['rubric_score']}, LLM {p['llm_score']}: they disagree)"
    return f"{p['score']}/4 (rubric {p.get('rubric_score', p['score'])}, LLM {p['llm_score']})"


def scored_by(recap: dict) -> str:
    """Where the phase scores came from, said once above them."""
    llm = recap.get("llm")
    if not llm:
        return "scored by the rubric"
    if any(p.get("llm_score") is not None for p in recap["phases"]):
        return f"scored by the rubric and the LLM judge {llm['model']}; each score names its sources"
    return f"scored by the rubric (the LLM judge {llm['model']} gave no usable judgement)"


def _phase_rows(recap: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for p in recap["phases"]:
        over = " (over)" if p["minutes_used"] > p["minutes_budget"] * 1.1 else ""
        rows.append(
            (
                p.get("name", p["phase"]),
                score_label(p),
                f"{minutes(p['minutes_used'])} of {minutes(p['minutes_budget'])} min{over}",
                p["feedback"],
            )
        )
    return rows


def strengths(recap: dict) -> list[str]:
    """What went well, with evidence: followed tips and phases scored 3 or 4."""
    out = [f"{TIP_NAMES[t['id']]}: {t['evidence']}" for t in recap["tips"] if t["followed"]]
    return out


def fixes(recap: dict) -> list[str]:
    """What to fix, with evidence: verdict caps, wrong claims, pasted text, pitfalls, then tips."""
    out = claim_fixes(recap)
    out += [f"{PITFALL_NAMES[p['id']]}: {p['evidence']}" for p in recap["pitfalls"] if p["triggered"]]
    out += [f"{TIP_NAMES[t['id']]}: {t['evidence']}" for t in recap["tips"] if not t["followed"]]
    return out


def claim_fixes(recap: dict) -> list[str]:
    """Why the verdict is capped, which claims were wrong, what was pasted, and the LLM's notes."""
    out = [
        f"Verdict capped at {VERDICTS[c['cap']].lower()}: {c['reason']}"
        for c in recap.get("verdict_caps", [])
    ]
    for p in recap["phases"]:
        for f in p.get("to_fix", []):
            said = f' "{f["quote"]}"' if f["quote"] else ""
            out.append(f"{p.get('name', p['phase'])}, {f['concept']}:{said} {f['why']}")
    out += [f'Pasted, no credit ({p["why"]}): "{p["quote"]}"' for p in recap.get("pasted", [])]
    out += [f"LLM judge: {note}" for note in recap.get("llm", {}).get("notes", [])]
    return out


def _fold(line: str, width: int, hang: int) -> list[str]:
    """One line folded at word boundaries, continuation lines `hang` columns in; a word stays whole."""
    indent = " " * hang
    return textwrap.wrap(
        line, width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
    ) or [""]


def _wrapped(lines: list[str], width: int | None) -> list[str]:
    """Lines folded to `width`, continuation lines indented under their item."""
    if not width:
        return lines
    out = []
    for line in lines:
        lead = len(line) - len(line.lstrip(" "))
        out += _fold(line, width, lead + 2 if lead else 2)
    return out


# Feedback narrower than this reads better starting again at the left than hung under its column.
MIN_FEEDBACK_COLUMNS = 30


def _phase_lines(rows: list[tuple[str, str, str, str]], width: int | None) -> list[str]:
    """The phase table; folded, a row's feedback continues under the feedback column."""
    name_width = max(len(r[0]) for r in rows)
    out = []
    for name, score, used, feedback in rows:
        line = f"  {name:<{name_width}}  {score}  {used:<22} {feedback}"
        column = len(line) - len(feedback)
        if width and width - column >= MIN_FEEDBACK_COLUMNS:
            out += _fold(line, width, column)
        else:
            out.append(line)  # folded (or not) with the other lines
    return out


def recap_text(recap: dict, width: int | None = None) -> str:
    """The recap for a terminal; with `width`, long lines are folded to it."""
    lines = [
        f"Recap: {recap.get('title', recap['problem'])} ({recap['level']})",
        f"Overall {recap['overall']}/100, {VERDICTS[recap['verdict']]}",
        recap.get("summary", ""),
        "",
        f"Phases ({scored_by(recap)}):",
    ]
    lines += _phase_lines(_phase_rows(recap), width)
    lines += ["", "Strengths:"]
    lines += [f"  + {s}" for s in strengths(recap)] or ["  (none yet)"]
    lines += ["", "To fix:"]
    lines += [f"  - {s}" for s in fixes(recap)] or ["  (nothing flagged)"]
    lines += ["", "Practise next:"]
    lines += [f"  * {s}" for s in recap["next_steps"]]
    return "\n".join(_wrapped(lines, width))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def recap_markdown(recap: dict) -> str:
    """The recap as markdown."""
    lines = [
        f"# Recap: {recap.get('title', recap['problem'])}",
        "",
        f"**Overall {recap['overall']}/100 · {VERDICTS[recap['verdict']]}** · level {recap['level']}",
        "",
        recap.get("summary", ""),
        "",
        "## Strengths",
        "",
    ]
    lines += [f"- {_cell(s)}" for s in strengths(recap)] or ["- (none yet)"]
    lines += ["", "## What to fix", ""]
    lines += [f"- {_cell(s)}" for s in fixes(recap)] or ["- (nothing flagged)"]
    lines += [
        "",
        "## Phases",
        "",
        f"Phases {scored_by(recap)}.",
        "",
        "| Phase | Score | Time used | Feedback |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {_cell(d)} |" for a, b, c, d in _phase_rows(recap)]
    lines += ["", "## Practise next", ""]
    lines += [f"- {_cell(s)}" for s in recap["next_steps"]]
    return "\n".join(lines) + "\n"
