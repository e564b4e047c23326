"""The recap: phase scores earned from content, tips and pitfalls judged with evidence, a verdict."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flows import framework as fw
from flows.matching import PASTE_SHARE, ConceptEvidence, ProblemMatcher, content_overlap, matcher_for
from flows.problem import Problem
from flows.text import Sentence, content_stems, quote, word_count
from flows.transcript import PhaseTiming, phase_timings

TIP_IDS = (
    "time_management",
    "stay_focused",
    "iterative",
    "handle_ambiguity",
    "trade_offs",
    "common_patterns",
    "communicate_clearly",
    "listen_actively",
)
PITFALL_IDS = (
    "details_too_early",
    "assumed_requirements",
    "max_scale_too_early",
    "monologue",
    "happy_path_only",
    "over_time",
)
PITFALL_PHASE = {
    "details_too_early": "requirements",
    "assumed_requirements": "requirements",
    "max_scale_too_early": "high_level_design",
    "monologue": "api",
    "happy_path_only": "deep_dives",
    "over_time": "requirements",
}

MONOLOGUE_WORDS = 250
PASTE_CHARS_PER_SECOND = 20  # fast typists manage 8-12 characters a second in chat
PASTE_MIN_CHARS = 150
PROMPTED = 0.75  # credit for a concept said only when the interviewer's probe asked for it
OVER_TIME_FACTOR = fw.AUTO_ADVANCE_FACTOR
ON_TIME_FACTOR = 1.25
PITFALL_PENALTY = 0.06

# Phrases, matched on word boundaries in lowercased candidate text.
DETAIL_TERMS = (
    r"consistent hash\w*",
    r"evict\w*",
    r"lru",
    r"lfu",
    r"bloom filters?",
    r"shard\w*",
    r"partition keys?",
    r"partitioning",
    r"write[- ]ahead log",
    r"b-?trees?",
    r"lsm",
    r"quorums?",
    r"vector clocks?",
    r"gossip",
    r"read replicas?",
    r"raft",
    r"paxos",
    r"snowflake ids?",
    r"murmur\w*",
)
SCALE_TERMS = (
    r"multi-?regions?",
    r"multiple regions",
    r"every region",
    r"all regions",
    r"active-active",
    r"active active",
    r"geo-?replicat\w*",
    r"geo-?distributed",
    r"global(?:ly)? replicat\w*",
    r"multiple data ?cent(?:er|re)s",
)
# Partitioning is part of many first designs; it is only too early before any design exists.
SOFT_SCALE_TERMS = (
    r"shard\w*",
    r"\d[\d,]* (?:nodes|shards|servers|machines)",
)
FAILURE_TERMS = (
    r"fail\w*",
    r"retr(?:y|ies|ied|ying)",
    r"time ?outs?",
    r"crash\w*",
    r"goes down",
    r"go down",
    r"is down",
    r"outages?",
    r"fallback",
    r"failover",
    r"idempoten\w*",
    r"duplicates?",
    r"dedup\w*",
    r"edge cases?",
    r"errors?",
    r"dead[- ]letter",
    r"circuit breakers?",
    r"backups?",
    r"what if",
    r"lost",
    r"recover\w*",
    r"redundan\w*",
    r"replicas?",
    r"unavailable",
    r"partial\w*",
    r"back-?off",
    r"race conditions?",
)
ITERATIVE_TERMS = (
    r"start (?:with|simple|small|by)",
    r"first version",
    r"v1",
    r"mvp",
    r"initially",
    r"simple first",
    r"for now",
    r"to begin",
    r"step by step",
    r"once (?:that|this|it) works",
    r"then (?:we|i) (?:can|could|would|will|add|scale|improve)",
    r"later (?:we|i|on)",
    r"evolve",
    r"iterat\w*",
    r"next step",
    r"basic (?:design|version|flow)",
    r"simplest",
    r"simple version",
    r"version first",
    r"first (?:pass|cut|iteration)",
    r"naive (?:version|approach|design)",
    r"single (?:server|node|instance|machine|box|database|db)(?: \w+)? first",
    r"baseline",
    r"(?:then|next) (?:add|scale|harden|improve|optimi[sz]e)",
    r"improve (?:it|on it|that) (?:later|next)",
)
PATTERNS = {
    "caching": r"cach\w*|redis|memcached?",
    "load balancing": r"load balanc\w*|\blbs?\b",
    "queues": r"queue\w*|kafka|sqs|rabbitmq|pub ?sub",
    "replication": r"replica\w*|replicat\w*",
    "sharding": r"shard\w*|partition\w*",
    "CDN": r"\bcdns?\b",
    "indexing": r"\bindex\w*",
    "rate limiting": r"rate limit\w*|throttl\w*",
    "idempotency": r"idempoten\w*",
    "retries with backoff": r"back-?off|retr(?:y|ies)",
    "consistent hashing": r"consistent hash\w*",
    "denormalisation": r"denormali[sz]\w*",
    "async workers": r"workers?|async\w*",
}


def _compile(terms: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(terms) + r")\b")


_DETAIL = _compile(DETAIL_TERMS)
_SCALE = _compile(SCALE_TERMS)
_SOFT_SCALE = _compile(SOFT_SCALE_TERMS)
_FIELD_LIST = re.compile(r"[:{}()\[\]]|\w+_\w+")
_FAILURE = _compile(FAILURE_TERMS)
_ITERATIVE = _compile(ITERATIVE_TERMS)
_PATTERNS = {name: re.compile(r"\b(?:" + rx + r")") for name, rx in PATTERNS.items()}
_NEGATED_BEFORE = re.compile(
    r"\b(no|not|don'?t|doesn'?t|never|without|skip|won'?t|avoid)\b(?:[\s-]+[\w']+){0,2}[\s-]*$"
)
_PHASE_WEIGHTS = {
    "requirements": 5,
    "core_entities": 2,
    "api": 4,
    "data_flow": 4,
    "high_level_design": 12,
    "deep_dives": 10,
}


@dataclass
class PhaseResult:
    """The judgement of one phase."""

    phase: str
    score: int
    raw: float
    minutes_used: float
    minutes_budget: float
    covered: list[str]
    missed: list[str]
    feedback: str
    evidence: dict[str, ConceptEvidence]
    answered: bool
    on_topic: bool
    stuffed: bool
    to_fix: list[dict]
    missed_ids: list[str]


def _first_unnegated(pattern: re.Pattern[str], texts: Iterable[str]) -> str | None:
    for text in texts:
        low = text.lower()
        for m in pattern.finditer(low):
            if not _NEGATED_BEFORE.search(low[max(0, m.start() - 40) : m.start()]):
                return text
    return None


def _round_minutes(x: float) -> float:
    return round(x, 1)


def score_transcript(transcript: dict, problem: Problem, suggestions: dict[str, str] | None = None) -> dict:
    """Score a (validated) transcript against a problem; the recap JSON of CONTRACTS.md."""
    level = transcript.get("level") or "senior"
    scale = fw.scale_for_minutes(transcript.get("minutes"), problem.data_flow)
    # Comments (teammates talking in a solo interview's thread) are kept but never scored.
    transcript = {**transcript, "turns": [t for t in transcript["turns"] if t["role"] != "comment"]}
    all_turns = [t for t in transcript["turns"] if t["phase"] in problem.phase_ids]
    timings = phase_timings(transcript, problem.phase_ids)
    matcher = matcher_for(problem)
    # Pasted text (the problem's own wording, or faster than anyone types) is not the candidate's
    # reasoning: it stays in the transcript and earns nothing.
    pasted = _pasted_turns(all_turns, matcher)
    turns = [t for i, t in enumerate(all_turns) if i not in pasted]
    candidate = [t for t in turns if t["role"] == "candidate"]

    phases = [_judge_phase(ph, problem, matcher, turns, timings.get(ph), scale) for ph in problem.phase_ids]
    for p in phases:
        p.answered = p.answered or any(all_turns[i]["phase"] == p.phase for i in pasted)
    by_id = {p.phase: p for p in phases}
    pitfalls = _pitfalls(problem, turns, candidate, phases, matcher)
    tips = _tips(problem, turns, candidate, phases, pitfalls, matcher)
    proactive, proactive_evidence = _deep_dive_proactivity(problem, turns, matcher)

    answered_any = any(p.answered for p in phases)
    off_topic = answered_any and not any(p.on_topic for p in phases)
    weight = sum(_PHASE_WEIGHTS[p.phase] for p in phases)
    # Mostly the phase scores, with their underlying coverage to separate equal scores.
    phase_part = (
        sum(_PHASE_WEIGHTS[p.phase] * (0.8 * (p.score - 1) / 3 + 0.2 * min(1.0, p.raw / 0.7)) for p in phases)
        / weight
    )
    tips_part = sum(1 for t in tips if t["followed"]) / len(tips)
    triggered = [p for p in pitfalls if p["triggered"]]
    penalty = 1.0 - PITFALL_PENALTY * len(triggered)
    overall = round(100 * (0.85 * phase_part + 0.15 * tips_part) * penalty)
    if not answered_any or off_topic:
        overall = min(overall, 5)
    overall = max(0, min(100, overall))
    verdict, caps = _verdict(
        overall, level, by_id, proactive, off_topic or not answered_any, triggered, len(pasted)
    )

    recap = {
        "problem": problem.slug,
        "title": problem.title,
        "level": level,
        "overall": overall,
        "verdict": verdict,
        "summary": _summary(problem, phases, overall, verdict, answered_any, off_topic, caps),
        "verdict_caps": caps,
        "phases": [
            {
                "phase": p.phase,
                "name": fw.PHASE_SPECS[p.phase].name,
                "score": p.score,
                "minutes_used": p.minutes_used,
                "minutes_budget": p.minutes_budget,
                "covered": p.covered,
                "missed": p.missed,
                "to_fix": p.to_fix,
                "feedback": p.feedback,
                "source": "rubric",
            }
            for p in phases
        ],
        "pasted": [
            {
                "phase": all_turns[i]["phase"],
                "at": all_turns[i]["at"],
                "quote": quote(all_turns[i]["text"], 100),
                "why": why,
            }
            for i, why in sorted(pasted.items())
        ],
        "tips": tips,
        "pitfalls": pitfalls,
        "proactive_deep_dive": {"proactive": proactive, "evidence": proactive_evidence},
        "next_steps": _next_steps(problem, phases, triggered, suggestions or {}),
    }
    recap["contributions"], recap["contributed_concepts"] = team_contributions(problem, candidate, matcher)
    return recap


def team_contributions(
    problem: Problem, candidate: list[dict], matcher: ProblemMatcher | None = None
) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """Per author: messages by phase, and the concepts their own messages cover (evidence-based)."""
    matcher = matcher or matcher_for(problem)
    texts: dict[str, dict[str, list[str]]] = {}
    for t in candidate:
        if t.get("user"):
            texts.setdefault(t["user"], {}).setdefault(t["phase"], []).append(t["text"])
    counts: dict[str, dict[str, int]] = {}
    concepts: dict[str, list[str]] = {}
    for user, by_phase in texts.items():
        ordered = [ph for ph in problem.phase_ids if ph in by_phase]
        counts[user] = {ph: len(by_phase[ph]) for ph in ordered}
        names: list[str] = []
        for ph in ordered:
            evidence = matcher.evidence(matcher.analyse(by_phase[ph]), ph)
            for e in sorted(evidence.values(), key=lambda e: -e.concept.weight):
                if e.concept.name not in names:
                    names.append(e.concept.name)
        concepts[user] = names
    return counts, concepts


# ---------------------------------------------------------------- phases


def _judge_phase(
    phase: str,
    problem: Problem,
    matcher: ProblemMatcher,
    turns: list[dict],
    timing: PhaseTiming | None,
    scale: float,
) -> PhaseResult:
    guide = problem.guide(phase)
    budget = fw.phase_budget_seconds(phase, scale) / 60.0
    used = timing.minutes_used if timing else 0.0
    texts = [t["text"] for t in turns if t["phase"] == phase and t["role"] == "candidate"]
    evidence = matcher.evidence(matcher.analyse(texts), phase)
    # A claim stays a claim: a later phase that contradicts this one's concept counts against it.
    later = problem.phase_ids[problem.phase_ids.index(phase) + 1 :]
    later_texts = [t["text"] for t in turns if t["phase"] in later and t["role"] == "candidate"]
    for cid, ev in matcher.evidence(matcher.analyse(later_texts), phase).items():
        if ev.wrong and not (cid in evidence and evidence[cid].wrong):
            evidence[cid] = ev
    wrong = {cid: ev for cid, ev in evidence.items() if ev.wrong}
    right = {cid: ev for cid, ev in evidence.items() if not ev.wrong}
    probes = _probes(phase, guide, turns)
    unanswered_probes = _failed_probes(probes, evidence)
    prompted = _prompted_only(phase, probes, turns, matcher, set(right))
    total = guide.total_weight
    # What the candidate raised earns full credit; what came only once the interviewer asked for it
    # by name earns less, as it does with a human interviewer.
    coverage = sum(
        e.concept.weight * e.credit * (PROMPTED if cid in prompted else 1.0) for cid, e in right.items()
    )
    coverage /= total
    # A wrong claim costs more than silence, and a probe answered with nothing is evidence of a gap.
    coverage -= sum(0.5 * e.concept.weight for e in wrong.values()) / total
    coverage -= sum(0.25 * c.weight for c, _q, _r in unanswered_probes) / total
    coverage = max(0.0, coverage)
    depth = sum(e.concept.weight * e.credit * e.quality for e in right.values()) / total
    core = [c for c in guide.concepts if c.weight == 3]
    core_done = sum(1 for c in core if c.id in right and right[c.id].credit >= 0.6)
    core_share = core_done / len(core) if core else 1.0
    raw = 0.7 * coverage + 0.3 * depth
    if raw >= 0.5 and core_share >= 0.75:
        score = 4
    elif raw >= 0.3 and core_share >= 0.34:
        score = 3
    elif raw >= 0.1:
        score = 2
    else:
        score = 1
    if wrong and score > 1 and any(e.concept.weight == 3 for e in wrong.values()):
        score -= 1  # a core claim that is wrong is not "solid"
    over = used > budget * OVER_TIME_FACTOR
    if over:
        score = max(1, score - 1)
    stuffed = bool(right) and sum(e.stuffed for e in right.values()) * 2 >= len(right)
    on_topic = bool(evidence)
    covered = [e.concept.name for e in sorted(right.values(), key=lambda e: -e.concept.weight)]
    missed = [c.name for c in sorted(guide.concepts, key=lambda c: -c.weight) if c.id not in right]
    to_fix = [
        {
            "concept": e.concept.name,
            "quote": quote(e.quote, 120),
            "why": _why_wrong(e),
            "kind": "wrong",
            "core": e.concept.weight == 3,
        }
        for e in sorted(wrong.values(), key=lambda e: -e.concept.weight)
    ] + [
        {
            "concept": c.name,
            "quote": quote(reply, 120) if reply else "",
            "why": f'Asked "{quote(question, 90)}"; '
            + ("the answer did not address it." if reply else "it was left unanswered."),
            "kind": "unanswered",
            "core": c.weight == 3,
        }
        for c, question, reply in unanswered_probes
    ]
    feedback = _phase_feedback(
        phase, problem, texts, right, missed, score, used, budget, over, stuffed, to_fix
    )
    return PhaseResult(
        phase,
        score,
        raw,
        _round_minutes(used),
        _round_minutes(budget),
        covered,
        missed,
        feedback,
        right,
        bool(texts),
        on_topic,
        stuffed,
        to_fix,
        [c.id for c in sorted(guide.concepts, key=lambda c: -c.weight) if c.id not in right],
    )


def _why_wrong(e: ConceptEvidence) -> str:
    if e.wrong == "misconception":
        return f"This contradicts {e.concept.name.lower()}."
    return f"{e.wrong[0].upper()}{e.wrong[1:]} for {e.concept.name.lower()}."


def _probes(phase: str, guide, turns: list[dict]) -> list[tuple]:
    """The interviewer's probes in a phase: (concept probed, question, reply or None)."""
    by_question = {c.follow_up.strip(): c for c in guide.concepts if c.follow_up.strip()}
    out = []
    for question, reply in _follow_ups(turns):
        if question["phase"] != phase:
            continue
        concept = next((c for q, c in by_question.items() if q in question["text"]), None)
        if concept is not None:
            out.append((concept, question, reply))
    return out


def _failed_probes(probes: list[tuple], said: dict[str, ConceptEvidence]) -> list[tuple]:
    """Concepts the interviewer probed whose probe got an empty or unrelated answer."""
    return [
        (concept, question["text"], reply["text"] if reply else "")
        for concept, question, reply in probes
        if concept.id not in said
    ]


def _prompted_only(
    phase: str, probes: list[tuple], turns: list[dict], matcher: ProblemMatcher, covered: set[str]
) -> set[str]:
    """Concepts covered only in the answer to the interviewer's probe for that very concept."""
    replies = {c.id: r["text"] for c, _q, r in probes if r is not None and c.id in covered}
    if not replies:
        return set()
    out = set()
    texts = [t["text"] for t in turns if t["phase"] == phase and t["role"] == "candidate"]
    for cid, reply in replies.items():
        others = [t for t in texts if t != reply]
        if cid not in matcher.evidence(matcher.analyse(others), phase):
            out.add(cid)
    return out


def _pasted_turns(turns: list[dict], matcher: ProblemMatcher) -> dict[int, str]:
    """Candidate turns that are pasted: the bank's own wording, or typed faster than a person can.

    Typing time runs from the candidate's own previous message (a warning the bot posts while they
    type does not shorten it), or for their first one from the interview's first message.
    """
    out: dict[int, str] = {}
    previous: float | None = None  # nothing to time the first message from until a turn precedes it
    for i, t in enumerate(turns):
        if t["role"] != "candidate":
            if previous is None:
                previous = t["at"]
            continue
        share = matcher.pasted_share(t["text"])
        chars = len(t["text"])
        gap = t["at"] - previous if previous is not None else None
        if share >= PASTE_SHARE:
            out[i] = f"{round(100 * share)}% of it is the problem's own wording"
        elif gap is not None and chars >= PASTE_MIN_CHARS and chars > PASTE_CHARS_PER_SECOND * max(gap, 0.1):
            out[i] = (
                f"{chars} characters arrived {gap:.0f} s after the candidate's previous message, faster than anyone types"
            )
        previous = t["at"]
    return out


def _phase_feedback(
    phase: str,
    problem: Problem,
    texts: list[str],
    evidence: dict[str, ConceptEvidence],
    missed: list[str],
    score: int,
    used: float,
    budget: float,
    over: bool,
    stuffed: bool,
    to_fix: list[dict],
) -> str:
    name = fw.PHASE_SPECS[phase].name
    if not texts:
        return f"Nothing was answered in {name}."
    parts: list[str] = []
    if not evidence and any(f["kind"] == "wrong" for f in to_fix):
        parts.append("Nothing here was right yet.")
    elif not evidence:
        parts.append(
            f"The answers here were off-topic for {problem.title}: nothing about "
            f"{', '.join(missed[:3]).lower()}."
        )
    elif stuffed:
        sample = next(e for e in evidence.values() if e.stuffed)
        parts.append(
            f'Keywords were listed without explanation ("{quote(sample.quote, 90)}"): '
            "say what each part does and why."
        )
    else:
        best = max(evidence.values(), key=lambda e: (e.concept.weight, e.quality, e.credit))
        strength = "with reasons" if best.quality >= 0.5 else "briefly"
        parts.append(
            f"Covered {len(evidence)} of {len(evidence) + len(missed)} key points, "
            f'{best.concept.name.lower()} {strength} ("{quote(best.quote, 90)}").'
        )
        if missed:
            parts.append(f"Missed: {', '.join(missed[:3]).lower()}.")
    wrong = [f for f in to_fix if f["kind"] == "wrong"]
    if wrong:
        parts.append(f'To fix: "{quote(wrong[0]["quote"], 80)}": {wrong[0]["why"]}')
    if over:
        parts.append(f"{name} took {used:.1f} of {budget:g} minutes.")
    return " ".join(parts)


# ---------------------------------------------------------------- pitfalls


def _phase_texts(turns: list[dict], *phases: str) -> list[str]:
    return [t["text"] for t in turns if t["role"] == "candidate" and t["phase"] in phases]


def _follow_ups(turns: list[dict]) -> list[tuple[dict, dict | None]]:
    """Each bot question asked after the candidate had answered in that phase, with the reply."""
    pairs: list[tuple[dict, dict | None]] = []
    answered_in: set[str] = set()
    for i, t in enumerate(turns):
        if t["role"] == "candidate":
            answered_in.add(t["phase"])
            continue
        if t["role"] not in ("bot", "interviewer") or "?" not in t["text"]:
            continue
        if t["phase"] not in answered_in:
            continue
        reply = None
        for u in turns[i + 1 :]:
            if u["phase"] != t["phase"] or u["role"] in ("bot", "interviewer"):
                break
            if u["role"] == "candidate":
                reply = u
                break
        pairs.append((t, reply))
    return pairs


def _answered(question: dict, reply: dict | None, matcher: ProblemMatcher) -> bool:
    if reply is None:
        return False
    if content_overlap(question["text"], reply["text"]) >= 1:
        return True
    analysed = matcher.analyse([reply["text"]])
    return bool(matcher.evidence(analysed, reply["phase"]))


def _pitfall(pid: str, triggered: bool, evidence: str) -> dict:
    return {"id": pid, "triggered": triggered, "evidence": evidence if triggered else ""}


def _pitfalls(
    problem: Problem,
    turns: list[dict],
    candidate: list[dict],
    phases: list[PhaseResult],
    matcher: ProblemMatcher,
) -> list[dict]:
    out: list[dict] = []
    # Implementation details in Requirements, or in Core Entities outside a list of fields (a
    # partition_key field is an entity's attribute, "we'll shard with consistent hashing" is not).
    early = _phase_texts(turns, "requirements") + [
        sentence
        for text in _phase_texts(turns, "core_entities")
        for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text)
        if not _FIELD_LIST.search(sentence)
    ]
    detail = _first_unnegated(_DETAIL, early)
    out.append(_pitfall("details_too_early", detail is not None, f'Early on: "{quote(detail or "")}"'))

    req = _phase_texts(turns, "requirements")
    asked = _first_question(req)
    if req:
        ev = f'No clarifying question in Requirements; it opened with "{quote(req[0], 100)}"'
    else:
        ev = "No clarifying question in Requirements: nothing was said there."
    out.append(_pitfall("assumed_requirements", asked is None and bool(candidate), ev))

    # Scale before a design: in the API phase, or in High-Level Design before any message that lays
    # out the core components (a first component list that names shards is a design, not a detour).
    hld = _phase_texts(turns, "high_level_design")
    before_design: list[str] = []
    for text in hld:
        if len(matcher.evidence(matcher.analyse([text]), "high_level_design")) >= 2:
            break
        before_design.append(text)
    api = _phase_texts(turns, "api")
    scale = _first_unnegated(_SCALE, api + hld[:1]) or _first_unnegated(_SOFT_SCALE, api + before_design)
    out.append(
        _pitfall(
            "max_scale_too_early",
            scale is not None,
            f'Before a basic design worked: "{quote(scale or "")}"',
        )
    )

    long_turn = next((t for t in candidate if word_count(t["text"]) > MONOLOGUE_WORDS), None)
    pairs = [(q, r) for q, r in _follow_ups(turns) if r is not None]  # moving on is not ignoring
    unanswered = [q for q, r in pairs if not _answered(q, r, matcher)]
    monologue = long_turn is not None or (len(pairs) >= 3 and len(unanswered) * 3 > len(pairs) * 2)
    if long_turn is not None:
        name = fw.PHASE_SPECS[long_turn["phase"]].name
        ev = f'A {word_count(long_turn["text"])}-word message in {name}: "{quote(long_turn["text"], 100)}"'
    else:
        ev = f'{len(unanswered)} of {len(pairs)} follow-ups went unanswered, e.g. "{quote(unanswered[0]["text"]) if unanswered else ""}"'
    out.append(_pitfall("monologue", monologue, ev))

    failure = _first_unnegated(_FAILURE, (t["text"] for t in candidate))
    out.append(
        _pitfall(
            "happy_path_only",
            failure is None and bool(candidate),
            f"No failure mode, retry, timeout or edge case in {len(candidate)} candidate messages.",
        )
    )

    over = [p for p in phases if p.minutes_used > p.minutes_budget * OVER_TIME_FACTOR]
    worst = max(over, key=lambda p: p.minutes_used / p.minutes_budget, default=None)
    ev = (
        f"{fw.PHASE_SPECS[worst.phase].name} took {worst.minutes_used:.1f} of {worst.minutes_budget:g} minutes."
        if worst
        else ""
    )
    out.append(_pitfall("over_time", worst is not None, ev))
    return out


def _first_question(texts: list[str]) -> str | None:
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
            s = sentence.strip()
            if s.endswith("?") or re.match(
                r"^(do|does|should|is|are|can|will|would|what|which|how|who|when|where|any)\b.*\?",
                s.lower(),
            ):
                return s
    return None


# ---------------------------------------------------------------- tips


def _tip(tid: str, followed: bool, evidence: str) -> dict:
    return {"id": tid, "followed": followed, "evidence": evidence}


def _tips(
    problem: Problem,
    turns: list[dict],
    candidate: list[dict],
    phases: list[PhaseResult],
    pitfalls: list[dict],
    matcher: ProblemMatcher,
) -> list[dict]:
    fired = {p["id"]: p for p in pitfalls if p["triggered"]}
    by_id = {p.phase: p for p in phases}
    texts = [t["text"] for t in candidate]
    out: list[dict] = []

    ran = [p for p in phases if p.minutes_used > 0]
    worst = max(ran, key=lambda p: p.minutes_used / p.minutes_budget, default=None)
    on_time = bool(ran) and all(p.minutes_used <= p.minutes_budget * ON_TIME_FACTOR for p in ran)
    # Keeping to time only counts for an interview that happened: every phase answered on topic.
    on_time = on_time and all(p.answered and p.on_topic for p in phases)
    ev = (
        f"{fw.PHASE_SPECS[worst.phase].name} took {worst.minutes_used:.1f} of {worst.minutes_budget:g} minutes"
        + (" (the longest against its budget)." if on_time else ".")
        if worst
        else "No phase ran."
    )
    if worst and not on_time and all(p.minutes_used <= p.minutes_budget * ON_TIME_FACTOR for p in ran):
        skipped = [fw.PHASE_SPECS[p.phase].name for p in phases if not (p.answered and p.on_topic)]
        ev = f"Phases were short because {', '.join(skipped[:3])} got no on-topic answer."
    out.append(_tip("time_management", on_time, ev))

    hld = by_id["high_level_design"]
    focused = hld.score >= 3 and "max_scale_too_early" not in fired and "details_too_early" not in fired
    if "max_scale_too_early" in fired:
        ev = fired["max_scale_too_early"]["evidence"]
    elif "details_too_early" in fired:
        ev = fired["details_too_early"]["evidence"]
    elif hld.evidence and focused:
        best = max(hld.evidence.values(), key=lambda e: e.concept.weight)
        ev = f'High-level design built the core first: "{quote(best.quote)}"'
    elif hld.evidence:
        ev = f"High-Level Design scored {hld.score}/4: the core of a working design was not there yet."
    else:
        ev = "No working high-level design was described."
    out.append(_tip("stay_focused", focused, ev))

    later = _phase_texts(turns, "high_level_design", "deep_dives")
    step = _first_unnegated(_ITERATIVE, later)
    iterative = step is not None and "max_scale_too_early" not in fired
    ev = f'"{quote(step)}"' if step else "No simple first version that was then improved."
    if "max_scale_too_early" in fired:
        ev = fired["max_scale_too_early"]["evidence"]
    out.append(_tip("iterative", iterative, ev))

    question = _first_question(_phase_texts(turns, "requirements"))
    out.append(
        _tip(
            "handle_ambiguity",
            question is not None,
            f'Asked early: "{quote(question)}"' if question else "No clarifying question in Requirements.",
        )
    )

    weighed = _sentences_with(matcher, texts, lambda s: s.has_alternative)
    out.append(
        _tip(
            "trade_offs",
            len(weighed) >= 2,
            f'"{quote(weighed[0])}"' if weighed else "No alternative was weighed against another.",
        )
    )

    patterns = _patterns_named(matcher, texts)
    out.append(
        _tip(
            "common_patterns",
            len(patterns) >= 3,
            (
                f'Explained {", ".join(list(patterns)[:4])}: "{quote(next(iter(patterns.values())))}"'
                if len(patterns) >= 3
                else f'Only {" and ".join(patterns)} explained: "{quote(next(iter(patterns.values())))}"'
            )
            if patterns
            else "No standard caching, queueing or scaling pattern was explained.",
        )
    )

    stuffed_phases = [p for p in phases if p.stuffed]
    clear_sentences = _sentences_with(
        matcher, texts, lambda s: matcher.informative_reason(s) and s.word_count <= 60
    )
    clear = (
        "monologue" not in fired
        and not stuffed_phases
        and bool(clear_sentences)
        and not all(not p.on_topic for p in phases if p.answered)
    )
    if "monologue" in fired:
        ev = fired["monologue"]["evidence"]
    elif stuffed_phases:
        ev = stuffed_phases[0].feedback
    elif clear_sentences:
        ev = f'"{quote(clear_sentences[0])}"'
    else:
        ev = "Answers gave no reasons for their choices."
    out.append(_tip("communicate_clearly", clear, ev))

    pairs = [(q, r) for q, r in _follow_ups(turns) if r is not None]
    answered = [(q, r) for q, r in pairs if _answered(q, r, matcher)]
    if not pairs:
        listen, ev = bool(candidate), "No follow-up was needed."
    else:
        listen = len(answered) * 2 >= len(pairs)
        if answered:
            q, r = answered[0]
            ev = f'Asked "{quote(q["text"], 70)}", answered "{quote(r["text"], 70)}" ({len(answered)} of {len(pairs)} answered).'
        else:
            ev = f'Follow-up left unanswered: "{quote(pairs[0][0]["text"])}"'
    out.append(_tip("listen_actively", listen, ev))
    return out


def _sentences_with(matcher: ProblemMatcher, texts: list[str], test) -> list[str]:
    analysed = matcher.analyse(texts)
    return [s.text for s in analysed.sentences if test(s) and _explains(s)]


def _explains(s: Sentence) -> bool:
    return s.word_count >= 3


def _patterns_named(matcher: ProblemMatcher, texts: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for s in matcher.analyse(texts).sentences:
        if not _explains(s):
            continue
        low = s.text.lower()
        for name, rx in _PATTERNS.items():
            if name in found:
                continue
            m = rx.search(low)
            if m and not _NEGATED_BEFORE.search(low[max(0, m.start() - 40) : m.start()]):
                found[name] = s.text
    return found


def _deep_dive_proactivity(problem: Problem, turns: list[dict], matcher: ProblemMatcher) -> tuple[bool, str]:
    """Deep-dive topics the candidate raised before the interviewer's first follow-up."""
    dd = [t for t in turns if t["phase"] == "deep_dives"]
    unprompted: list[str] = []
    seen_answer = False
    for t in dd:
        if t["role"] in ("bot", "interviewer") and seen_answer and "?" in t["text"]:
            break
        if t["role"] == "candidate":
            seen_answer = True
            unprompted.append(t["text"])
    evidence = {
        c: e for c, e in matcher.evidence(matcher.analyse(unprompted), "deep_dives").items() if not e.wrong
    }
    if evidence:
        best = max(evidence.values(), key=lambda e: e.concept.weight)
        topics = "a deep-dive topic" if len(evidence) == 1 else f"{len(evidence)} deep-dive topics"
        return True, f'Raised {topics} before being asked, e.g. "{quote(best.quote)}"'
    if not dd or not unprompted:
        return False, "No deep dive was proposed."
    return False, "Deep-dive topics came only after the interviewer's prompts."


# ---------------------------------------------------------------- verdict and advice


_ORDER = ["no_hire", "lean_no_hire", "hire", "strong_hire"]


def _verdict(
    overall: int,
    level: str,
    phases: dict[str, PhaseResult],
    proactive: bool,
    empty: bool,
    triggered: list[dict],
    pasted: int,
) -> tuple[str, list[dict]]:
    """The verdict from the overall score, and every cap that holds it down, each with its reason."""
    if empty:
        return "no_hire", [{"cap": "no_hire", "reason": "Nothing on topic was answered."}]
    shift = {"junior": -6, "senior": 0, "staff": 6}[level]
    if overall >= 80 + shift:
        verdict = "strong_hire"
    elif overall >= 60 + shift:
        verdict = "hire"
    elif overall >= 40 + shift:
        verdict = "lean_no_hire"
    else:
        verdict = "no_hire"
    caps: list[dict] = []
    if triggered:
        names = ", ".join(p["id"].replace("_", " ") for p in triggered)
        caps.append({"cap": "hire", "reason": f"A pitfall was hit ({names}); strong hire needs none."})
    if level in ("senior", "staff") and not proactive:
        caps.append(
            {
                "cap": "hire",
                "reason": f"A {level} candidate is expected to propose a deep dive before being asked.",
            }
        )
    if level == "staff" and phases["deep_dives"].score <= 2:
        caps.append({"cap": "lean_no_hire", "reason": "At staff level, Deep Dives must score at least 3/4."})
    if phases["high_level_design"].score <= 1:
        caps.append({"cap": "lean_no_hire", "reason": "No working high-level design was described."})
    wrong_core = [f for p in phases.values() for f in p.to_fix if f["kind"] == "wrong" and f["core"]]
    if len(wrong_core) >= 2:
        caps.append(
            {
                "cap": "lean_no_hire",
                "reason": f'{len(wrong_core)} core claims were wrong, e.g. "{quote(wrong_core[0]["quote"], 70)}".',
            }
        )
    if pasted:
        caps.append(
            {
                "cap": "lean_no_hire",
                "reason": f"{pasted} message{'s' if pasted > 1 else ''} pasted rather than reasoned earned no credit.",
            }
        )
    binding = [c for c in caps if _ORDER.index(c["cap"]) < _ORDER.index(verdict)]
    for c in binding:
        verdict = min(verdict, c["cap"], key=_ORDER.index)
    return verdict, binding


def _summary(
    problem: Problem,
    phases: list[PhaseResult],
    overall: int,
    verdict: str,
    answered: bool,
    off_topic: bool,
    caps: list[dict],
) -> str:
    if not answered:
        return f"Nothing was answered, so there is nothing to score for {problem.title}."
    if off_topic:
        return f"The answers were off-topic for {problem.title}; none of its key points came up."
    best = max(phases, key=lambda p: (p.score, p.raw))
    worst = min(phases, key=lambda p: (p.score, p.raw))
    text = (
        f"{overall}/100 ({verdict.replace('_', ' ')}). Strongest: {fw.PHASE_SPECS[best.phase].name} "
        f"({best.score}/4). Weakest: {fw.PHASE_SPECS[worst.phase].name} ({worst.score}/4)."
    )
    if caps:
        strictest = min(caps, key=lambda c: _ORDER.index(c["cap"]))
        text += f" Verdict capped at {strictest['cap'].replace('_', ' ')}: " + " ".join(
            c["reason"] for c in caps
        )
    return text


PITFALL_ADVICE = {
    "details_too_early": "Keep requirements about what and how much; save sharding and eviction for the deep dives.",
    "assumed_requirements": "Open with two or three targeted clarifying questions before you commit to features.",
    "max_scale_too_early": "Get one region and one database working end to end, then scale what the numbers demand.",
    "monologue": "Answer in short messages and answer the follow-up that was asked before moving on.",
    "happy_path_only": "For each component, say what happens when it fails: retries, timeouts, duplicates.",
    "over_time": "Watch the clock: say `time` now and then and move on when a phase's budget is spent.",
}


def _next_steps(
    problem: Problem, phases: list[PhaseResult], triggered: list[dict], suggestions: dict[str, str]
) -> list[str]:
    def practise_on(key: str) -> str:
        title = suggestions.get(key) or problem.title
        return f"Practise it on {title}."

    steps: list[str] = []
    weakest = sorted(phases, key=lambda p: (p.score, p.raw, -_PHASE_WEIGHTS[p.phase]))
    for p in weakest[:2]:
        if p.score >= 4:
            continue
        name = fw.PHASE_SPECS[p.phase].name
        gaps = ", ".join(p.missed[:2]).lower() or "depth and reasons"
        focus = p.missed_ids[0] if p.missed_ids else ""
        key = f"{p.phase}:{focus}" if f"{p.phase}:{focus}" in suggestions else p.phase
        steps.append(f"{name} ({p.score}/4): cover {gaps}. {practise_on(key)}")
    for pit in triggered:
        if len(steps) >= 3:
            break
        steps.append(f"{PITFALL_ADVICE[pit['id']]} {practise_on(PITFALL_PHASE[pit['id']])}")
    if len(steps) < 2:
        steps.append(f"Try a harder problem at a higher level. {practise_on('deep_dives')}")
    return steps[:3]


def practice_suggestions(problems: Iterable[Problem], current: Problem) -> dict[str, str]:
    """Titles of other problems to practise on: per phase (the one whose data exercises the phase
    most) and per concept, as "phase:concept" (the one whose concepts in that phase share the most
    words with it), so advice follows what the candidate actually missed."""
    others = tuple(sorted((p for p in problems if p.slug != current.slug), key=lambda p: p.slug))
    out: dict[str, str] = {}
    for phase in fw.PHASE_SPECS:
        ranked = [
            (sum(c.weight for c in p.phases[phase].concepts if c.weight == 3), p.slug, p.title)
            for p in others
            if phase in p.phases
        ]
        if ranked:
            out[phase] = max(ranked, key=lambda r: (r[0], r[1]))[2]
    for phase, guide in current.phases.items():
        for concept in guide.concepts:
            words = _concept_words(concept)
            best = max(
                (
                    (
                        sum(c.weight for c in p.phases[phase].concepts if words & _concept_words(c)),
                        p.slug,
                        p.title,
                    )
                    for p in others
                    if phase in p.phases
                ),
                default=None,
            )
            if best is not None and best[0] > 0:
                out[f"{phase}:{concept.id}"] = best[2]
    return out


@functools.lru_cache(maxsize=8192)  # a bank's concepts never change; every start asks for all of them
def _concept_words(concept) -> frozenset[str]:
    return frozenset(content_stems(" ".join(concept.terms))) - _GENERIC_WORDS


_GENERIC_WORDS = frozenset(content_stems("service data system user request api store time id key"))
