"""Pair interviews in Block Kit: the interviewer's guide, the scorecard and self-rating modals, the merged recap.

Pure functions: they build and read Slack payloads and never call Slack. Text from the problem bank is
escaped for mrkdwn, and so is text people typed (bot.slack.escape), so it never pings anyone.
"""

from __future__ import annotations

import json

from bot.render import PITFALL_NAMES, TIP_NAMES, VERDICTS
from bot.slack.blocks import MAX_HEADER_CHARS, MAX_SECTION_CHARS, recap_blocks
from bot.slack.escape import escape, mention
from flows import framework as fw
from flows.problem import Concept, Problem
from flows.scoring import PITFALL_IDS, TIP_IDS

SCORECARD_CALLBACK = "pair_scorecard"
SELF_RATING_CALLBACK = "pair_self_rating"
SCORE_ACTION = "score"
TEXT_ACTION = "text"
MAX_FEEDBACK_CHARS = 3000
MAX_OPTION_CHARS = 75
MAX_VIEW_BLOCKS = 100
CALIBRATION_GAP = 2

SCORE_LEVELS: dict[int, str] = {
    1: "Missing: skipped, or none of the phase's core points came up.",
    2: "Weak: some points made, but core ones missed or given without reasons.",
    3: "Solid: the core points covered with reasons; a few gaps remain.",
    4: "Strong: complete and well reasoned, trade-offs weighed unprompted.",
}

TIP_DESCRIPTIONS: dict[str, str] = {
    "time_management": "Kept each phase within its time budget.",
    "stay_focused": "Had a working system before optimising it.",
    "iterative": "Started simple, then enhanced the design step by step.",
    "handle_ambiguity": "Asked targeted clarifying questions early.",
    "trade_offs": "Weighed pros and cons and named alternatives.",
    "common_patterns": "Used the standard caching, queueing and scaling answers well.",
    "communicate_clearly": "Explained each choice clearly, with reasons.",
    "listen_actively": "Answered the follow-up that was actually asked.",
}
PITFALL_DESCRIPTIONS: dict[str, str] = {
    "details_too_early": "Sharding, hashing or eviction during requirements or entities.",
    "assumed_requirements": "Committed to features without asking clarifying questions.",
    "max_scale_too_early": "Multi-region or sharding before a basic design worked.",
    "monologue": "Walls of text; follow-ups left unanswered.",
    "happy_path_only": "No failure mode, retry, timeout or edge case anywhere.",
    "over_time": "A phase ran far past its budget.",
}
DESTINATIONS: dict[str, tuple[str, str]] = {
    "thread": ("In the interview thread", "Everyone who can see the thread can read it."),
    "candidate": ("Privately to the candidate", "Only the candidate sees it, in a direct message."),
}
LEVEL_EXPECTATIONS: dict[str, str] = {
    "junior": (
        "*Junior: you lead.* Pick the topics yourself, core ones (⭐) first, and open each with its "
        "question. Expect to guide them; judge how well they reason once a topic is on the table."
    ),
    "senior": (
        "*Senior: they should propose improvements unprompted.* Open broadly and wait; step in with a "
        "topic from the menu only if they don't raise one. Note which topics came from them."
    ),
    "staff": (
        "*Staff: they should lead a comprehensive discussion.* Let them choose the bottlenecks, failure "
        "modes and operational concerns and justify the order; mostly listen, and push on depth."
    ),
}


# ---------------------------------------------------------------- helpers


def _plain(text: str, limit: int) -> dict:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text}


def _mrkdwn(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(text: str) -> dict:
    return {"type": "header", "text": _plain(text, MAX_HEADER_CHARS)}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}]}


def _pieces(line: str, limit: int) -> list[str]:
    """A line cut into pieces of at most `limit` characters, at spaces where possible."""
    out: list[str] = []
    while len(line) > limit:
        cut = line.rfind(" ", limit // 2, limit)
        cut = cut if cut > 0 else limit
        out.append(line[:cut])
        line = line[cut:].lstrip(" ")
    out.append(line)
    return out


def _chunk(title: str, lines: list[str]) -> list[dict]:
    """Sections of at most MAX_SECTION_CHARS holding `title` then `lines`, split only between lines."""
    out: list[dict] = []
    current = title
    for line in lines:
        for piece in _pieces(line, MAX_SECTION_CHARS - 10):
            if current and len(current) + 1 + len(piece) > MAX_SECTION_CHARS:
                out.append(_mrkdwn(current))
                current = piece
            else:
                current = f"{current}\n{piece}" if current else piece
    if current:
        out.append(_mrkdwn(current))
    return out


def _mention(user_id: str) -> str:
    """A ping for a real Slack user id; anything else is shown as escaped text."""
    return mention(user_id)


def _phase_name(phase: str) -> str:
    spec = fw.PHASE_SPECS.get(phase)
    return spec.name if spec else phase.replace("_", " ").title()


def _budget(phase: str) -> str:
    return f"{fw.PHASE_SPECS[phase].budget_minutes:g} min"


def _core_first(concepts: tuple[Concept, ...]) -> list[Concept]:
    return sorted(concepts, key=lambda c: -c.weight)


def _core_mark(concept: Concept) -> str:
    return "⭐ " if concept.weight >= 3 else ""


def _check_level(level: str) -> str:
    lvl = (level or "").strip().lower()
    if lvl not in fw.LEVELS:
        raise ValueError(f"level must be one of {', '.join(fw.LEVELS)}, not {level!r}")
    return lvl


# ---------------------------------------------------------------- the interviewer's guide


def _hint_lines(hints: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    for i, hint in enumerate(hints):
        if i == 0:
            when = "If they stall for a minute or two, give the first hint"
        elif i == 1:
            when = "Only if they are still stuck after that, give the next"
        else:
            when = "Still stuck? Then the last one"
        lines.append(f"{i + 1}. {when}: “{escape(hint)}”")
    lines.append("_One hint at a time; mention in your written feedback which hints were needed._")
    return lines


def _question_lines(problem: Problem, phase: str) -> list[str]:
    questions = problem.guide(phase).questions or tuple(
        q.format(title=problem.title) for q in fw.PHASE_SPECS[phase].questions
    )
    return [f"• {escape(q)}" for q in questions]


def _deep_dive_blocks(problem: Problem, level: str) -> list[dict]:
    guide = problem.guide("deep_dives")
    topics = _core_first(guide.concepts)
    first = topics[0] if topics else None
    opening = fw.DEEP_DIVE_OPENINGS[level].format(
        title=problem.title, topic=f"{first.name}. {first.follow_up}" if first else "the biggest bottleneck"
    )
    blocks = _chunk(
        "*What to expect at this level*",
        [LEVEL_EXPECTATIONS[level], f"To open, you could say: “{escape(opening)}”"],
    )
    if guide.questions:
        blocks += _chunk("*Questions you can ask*", [f"• {escape(q)}" for q in guide.questions])
    blocks += _chunk(
        f"*Topic menu* ({len(topics)} topics, ⭐ = core: a strong answer reaches these)",
        [],
    )
    for concept in topics:
        lines = [f"*{_core_mark(concept)}{escape(concept.name)}*", f"_Ask:_ {escape(concept.follow_up)}"]
        if concept.good.strip():
            lines.append(f"_Good looks like:_ {escape(concept.good.strip())}")
        blocks += _chunk("", lines)
    return blocks


def _phase_blocks(problem: Problem, phase: str, index: int, level: str) -> list[dict]:
    guide = problem.guide(phase)
    spec = fw.PHASE_SPECS[phase]
    blocks: list[dict] = [
        {"type": "divider"},
        _header(f"{index}. {spec.name} · {_budget(phase)}"),
        _context(f"Listen for: {escape(spec.listens_for)}."),
    ]
    if phase == "deep_dives":
        blocks += _deep_dive_blocks(problem, level)
    else:
        concepts = _core_first(guide.concepts)
        blocks += _chunk("*Ask*", _question_lines(problem, phase))
        blocks += _chunk(
            "*A good answer covers* (⭐ = core)",
            [f"• {_core_mark(c)}{escape(c.name)}" for c in concepts],
        )
        blocks += _chunk(
            "*If they miss something, follow up* (core first)",
            [f"• {_core_mark(c)}_{escape(c.name)}:_ {escape(c.follow_up)}" for c in concepts if c.follow_up],
        )
    if guide.red_flags:
        blocks += _chunk("*Red flags*", [f"🚩 {escape(flag)}" for flag in guide.red_flags])
    if guide.hints:
        blocks += _chunk("*Hints, in order*", _hint_lines(guide.hints))
    return blocks


def guide_blocks(problem: Problem, level: str) -> list[dict]:
    """The interviewer's private guide to a problem as Block Kit (may exceed one message: split it)."""
    level = _check_level(level)
    total = sum(fw.PHASE_SPECS[p].budget_minutes for p in problem.phase_ids)
    blocks: list[dict] = [
        _header(f"Interviewer guide: {problem.title}"),
        _context(
            f"Only you can see this · level *{level}* · {len(problem.phase_ids)} phases, about {total:g} min. "
            "You ask the questions and move the phases on; the bot keeps time for you both."
        ),
    ]
    blocks += _chunk("*The problem*", [escape(problem.prompt)])
    blocks += _chunk(
        "*To open, say something like*", [f"> {line}" for line in escape(problem.opening).splitlines()]
    )
    blocks += _chunk(
        "*How to run it*",
        [
            "• Keep the lists below to yourself: ask, then listen, and follow up only on what they miss.",
            "• Let them drive; step in when they drift or a phase runs over its budget.",
            "• At the end you will score each phase from 1 to 4:",
            *[f"    {n}. {escape(text)}" for n, text in SCORE_LEVELS.items()],
        ],
    )
    for i, phase in enumerate(problem.phase_ids, start=1):
        blocks += _phase_blocks(problem, phase, i, level)
    return blocks


def guide_text(problem: Problem, level: str) -> str:
    """The guide's plain-text fallback for notifications and clients without Block Kit."""
    level = _check_level(level)
    phases = ", ".join(f"{fw.PHASE_SPECS[p].name} ({_budget(p)})" for p in problem.phase_ids)
    return "\n".join(
        [
            f"Interviewer guide: {problem.title} ({level} level). Only you can see this.",
            f"Open with: {problem.opening}",
            f"Phases, in order: {phases}.",
            "For each phase: the questions to ask, what a good answer covers, follow-ups, red flags and hints.",
        ]
    )


# ---------------------------------------------------------------- modals


def _option(text: str, value: str, description: str | None = None) -> dict:
    option = {"text": _plain(text, MAX_OPTION_CHARS), "value": value}
    if description:
        option["description"] = _plain(description, MAX_OPTION_CHARS)
    return option


def _score_options() -> list[dict]:
    return [_option(f"{n} · {text}", str(n)) for n, text in SCORE_LEVELS.items()]


def _tip_options() -> list[dict]:
    return [_option(TIP_NAMES[t], t, TIP_DESCRIPTIONS.get(t)) for t in TIP_IDS]


def _pitfall_options() -> list[dict]:
    return [_option(PITFALL_NAMES[p], p, PITFALL_DESCRIPTIONS.get(p)) for p in PITFALL_IDS]


def _verdict_options() -> list[dict]:
    return [_option(name, vid) for vid, name in VERDICTS.items()]


def _destination_options() -> list[dict]:
    return [_option(text, key, description) for key, (text, description) in DESTINATIONS.items()]


def _pick(options: list[dict], value: object) -> dict | None:
    return next((o for o in options if o["value"] == str(value)), None)


def _input(block_id: str, label: str, element: dict, optional: bool = False, hint: str = "") -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def _select(action_id: str, placeholder: str, options: list[dict], initial: object = None) -> dict:
    element = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": _plain(placeholder, 150),
        "options": options,
    }
    chosen = _pick(options, initial) if initial is not None else None
    if chosen:
        element["initial_option"] = chosen
    return element


def _checkboxes(action_id: str, options: list[dict], initial: list | None) -> dict:
    element = {"type": "checkboxes", "action_id": action_id, "options": options}
    chosen = [o for o in options if o["value"] in set(initial or ())]
    if chosen:
        element["initial_options"] = chosen
    return element


def _text_input(placeholder: str, initial: str | None) -> dict:
    element = {
        "type": "plain_text_input",
        "action_id": TEXT_ACTION,
        "multiline": True,
        "max_length": MAX_FEEDBACK_CHARS,
        "placeholder": _plain(placeholder, 150),
    }
    if initial and initial.strip():
        element["initial_value"] = initial[:MAX_FEEDBACK_CHARS]
    return element


def _levels_context() -> dict:
    return _context("\n".join(f"*{n}* {escape(text)}" for n, text in SCORE_LEVELS.items()))


def _modal(callback_id: str, title: str, submit: str, metadata: dict, blocks: list[dict]) -> dict:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps(metadata),
        "title": _plain(title, 24),
        "submit": _plain(submit, 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def scorecard_view(
    interview_id: str, problem: Problem, prefill: dict | None = None, editing: bool = False
) -> dict:
    """The interviewer's scorecard modal, optionally prefilled with a scorecard from `parse_scorecard`."""
    prefill = prefill or {}
    scores = prefill.get("scores") or {}
    intro = (
        f"*{escape(problem.title)}*: you are editing your scorecard; the recap will be updated."
        if editing
        else f"*{escape(problem.title)}*: score each phase against the framework, tick what you saw, and "
        "write the feedback the candidate reads first."
    )
    blocks: list[dict] = [_mrkdwn(intro), _levels_context()]
    for phase in problem.phase_ids:
        blocks.append(
            _input(
                f"score_{phase}",
                fw.PHASE_SPECS[phase].name,
                _select(SCORE_ACTION, "Pick a score", _score_options(), scores.get(phase)),
                hint=f"Listen for: {fw.PHASE_SPECS[phase].listens_for}.",
            )
        )
    blocks += [
        _input(
            "tips",
            "Success tips they followed",
            _checkboxes("tips", _tip_options(), prefill.get("tips")),
            optional=True,
        ),
        _input(
            "pitfalls",
            "Pitfalls you saw",
            _checkboxes("pitfalls", _pitfall_options(), prefill.get("pitfalls")),
            optional=True,
        ),
        _input(
            "verdict",
            "Your verdict",
            _select("verdict", "Pick a verdict", _verdict_options(), prefill.get("verdict")),
        ),
        _input(
            "strengths",
            "What went well",
            _text_input("Specific moments that were strong, and why", prefill.get("strengths")),
        ),
        _input(
            "to_fix",
            "What to fix",
            _text_input(
                "The one or two things that would most improve the next interview", prefill.get("to_fix")
            ),
        ),
    ]
    radio: dict = {"type": "radio_buttons", "action_id": "destination", "options": _destination_options()}
    chosen = _pick(radio["options"], prefill.get("destination")) if prefill.get("destination") else None
    if chosen:
        radio["initial_option"] = chosen
    blocks.append(_input("destination", "Where should the recap go?", radio))
    return _modal(
        SCORECARD_CALLBACK,
        "Edit scorecard" if editing else "Pair scorecard",
        "Save" if editing else "Submit",
        {"interview_id": interview_id, "editing": bool(editing)},
        blocks,
    )


def _state(values: dict, block_id: str, action_id: str) -> dict:
    """One element's state from `view.state.values`: by its action_id, else the block's only element."""
    block = values.get(block_id) if isinstance(values, dict) else None
    if not isinstance(block, dict) or not block:
        return {}
    state = block.get(action_id)
    if state is None:
        state = next(iter(block.values()))
    return state if isinstance(state, dict) else {}


def _selected(values: dict, block_id: str, action_id: str) -> str | None:
    option = _state(values, block_id, action_id).get("selected_option")
    return option.get("value") if isinstance(option, dict) else None


def _selected_many(values: dict, block_id: str, action_id: str, allowed: tuple[str, ...]) -> list[str]:
    options = _state(values, block_id, action_id).get("selected_options") or []
    chosen = {o.get("value") for o in options if isinstance(o, dict)}
    return [x for x in allowed if x in chosen]


def _score(values: dict, block_id: str) -> int | None:
    raw = _selected(values, block_id, SCORE_ACTION)
    return int(raw) if raw in {str(n) for n in SCORE_LEVELS} else None


def parse_scorecard(values: dict, problem: Problem) -> tuple[dict, dict]:
    """A submitted scorecard from `view.state.values`, and Slack `errors` keyed by input block_id."""
    errors: dict[str, str] = {}
    scores: dict[str, int] = {}
    for phase in problem.phase_ids:
        score = _score(values, f"score_{phase}")
        if score is None:
            errors[f"score_{phase}"] = f"Pick a score for {fw.PHASE_SPECS[phase].name}."
        else:
            scores[phase] = score
    verdict = _selected(values, "verdict", "verdict")
    if verdict not in VERDICTS:
        errors["verdict"] = "Pick a verdict."
        verdict = ""
    texts: dict[str, str] = {}
    for block_id, message in (
        ("strengths", "Write at least a line on what went well."),
        ("to_fix", "Write at least a line on what to fix."),
    ):
        texts[block_id] = (_state(values, block_id, TEXT_ACTION).get("value") or "").strip()
        if not texts[block_id]:
            errors[block_id] = message
    destination = _selected(values, "destination", "destination")
    if destination not in DESTINATIONS:
        errors["destination"] = "Choose where the recap goes."
        destination = ""
    scorecard = {
        "scores": scores,
        "tips": _selected_many(values, "tips", "tips", TIP_IDS),
        "pitfalls": _selected_many(values, "pitfalls", "pitfalls", PITFALL_IDS),
        "verdict": verdict,
        "strengths": texts["strengths"],
        "to_fix": texts["to_fix"],
        "destination": destination,
    }
    return scorecard, errors


def self_rating_view(interview_id: str, problem: Problem) -> dict:
    """The candidate's self-rating modal: one 1-4 score per phase."""
    blocks: list[dict] = [
        _mrkdwn(
            f"*{escape(problem.title)}*: how do you think each phase went? Your ratings appear beside "
            "your interviewer's in the recap; they don't change anyone's scores."
        ),
        _levels_context(),
    ]
    for phase in problem.phase_ids:
        blocks.append(
            _input(
                f"self_{phase}",
                fw.PHASE_SPECS[phase].name,
                _select(SCORE_ACTION, "Rate yourself", _score_options()),
            )
        )
    return _modal(SELF_RATING_CALLBACK, "Rate yourself", "Submit", {"interview_id": interview_id}, blocks)


def parse_self_rating(values: dict, problem: Problem) -> tuple[dict[str, int], dict]:
    """The candidate's ratings per phase from `view.state.values`, and Slack `errors` by block_id."""
    ratings: dict[str, int] = {}
    errors: dict[str, str] = {}
    for phase in problem.phase_ids:
        score = _score(values, f"self_{phase}")
        if score is None:
            errors[f"self_{phase}"] = f"Rate {fw.PHASE_SPECS[phase].name}."
        else:
            ratings[phase] = score
    return ratings, errors


# ---------------------------------------------------------------- the merged recap


def calibration(auto_recap: dict, scorecard: dict | None) -> list[tuple[str, int, int]]:
    """(phase, human, automatic) for each phase where the interviewer and the bot are 2+ points apart."""
    human = (scorecard or {}).get("scores") or {}
    out: list[tuple[str, int, int]] = []
    for p in auto_recap.get("phases", []):
        h = human.get(p["phase"])
        if h is not None and abs(int(h) - int(p["score"])) >= CALIBRATION_GAP:
            out.append((p["phase"], int(h), int(p["score"])))
    return out


def self_differences(scorecard: dict | None, self_rating: dict | None) -> list[tuple[str, int, int]]:
    """(phase, self, interviewer) for each phase where the candidate's rating differs from the interviewer's."""
    human = (scorecard or {}).get("scores") or {}
    rating = self_rating or {}
    both = [p for p in fw.PHASE_SPECS if p in human and p in rating]
    both += [p for p in human if p in rating and p not in both]
    return [(p, int(rating[p]), int(human[p])) for p in both if int(rating[p]) != int(human[p])]


def _written(title: str, text: str) -> list[dict]:
    body = escape(text or "").strip() or "_(nothing written)_"
    return _chunk(title, body.splitlines())


def _phase_lines(auto_recap: dict, scorecard: dict, candidate: str, self_rating: dict | None) -> list[str]:
    human = scorecard.get("scores") or {}
    rating = self_rating or {}
    lines: list[str] = []
    for p in auto_recap["phases"]:
        phase, auto = p["phase"], int(p["score"])
        h = human.get(phase)
        parts = [f"interviewer {h}/4" if h is not None else "interviewer –", f"automatic {auto}/4"]
        if phase in rating:
            parts.append(f"candidate {rating[phase]}/4")
        lines.append(f"*{escape(p.get('name') or _phase_name(phase))}*: " + " · ".join(parts))
        if h is not None and abs(int(h) - auto) >= CALIBRATION_GAP:
            lines.append(f"      ⚠️ calibration: {abs(int(h) - auto)} points apart")
        if h is not None and phase in rating and int(rating[phase]) != int(h):
            lines.append(f"      💬 {candidate} rated {rating[phase]}, the interviewer {h}")
    return lines


def _ticked_lines(auto_recap: dict, scorecard: dict) -> list[str]:
    auto_tips = {t["id"]: t["followed"] for t in auto_recap.get("tips", [])}
    auto_pits = {p["id"]: p["triggered"] for p in auto_recap.get("pitfalls", [])}
    lines = [
        f"✅ {TIP_NAMES.get(t, t)}"
        + (" _(the bot agrees)_" if auto_tips.get(t) else " _(the bot did not see it)_")
        for t in scorecard.get("tips") or []
    ]
    lines += [
        f"⚠️ {PITFALL_NAMES.get(p, p)}"
        + (" _(the bot flagged it too)_" if auto_pits.get(p) else " _(the bot did not flag it)_")
        for p in scorecard.get("pitfalls") or []
    ]
    return lines or ["_No tips or pitfalls ticked._"]


def _verdict_name(verdict: str | None) -> str:
    return VERDICTS.get(verdict or "", "none given")


def merged_recap_blocks(
    auto_recap: dict,
    scorecard: dict | None,
    interviewer_id: str,
    candidate_id: str,
    self_rating: dict | None = None,
    automatic_only: bool = False,
) -> list[dict]:
    """The pair recap: the interviewer's feedback and scores first, beside the automatic ones and evidence."""
    if scorecard is None and not automatic_only:
        raise ValueError("a scorecard is required unless automatic_only is set")
    title = auto_recap.get("title", auto_recap["problem"])
    interviewer, candidate = _mention(interviewer_id), _mention(candidate_id)
    auto_evidence = recap_blocks(auto_recap)[1:]  # everything but its header
    if automatic_only:
        blocks: list[dict] = [
            _header(f"Automatic recap only: {title}"),
            _mrkdwn(
                f"⚠️ *Automatic recap only.* The interviewer {interviewer} did not submit a scorecard, so "
                f"there are no human scores or written feedback here: this is the bot's reading of the "
                f"transcript for {candidate}, and nothing more."
            ),
        ]
        if self_rating:
            lines = [
                f"*{escape(p.get('name') or _phase_name(p['phase']))}*: automatic {p['score']}/4"
                + (f" · candidate {self_rating[p['phase']]}/4" if p["phase"] in self_rating else "")
                for p in auto_recap["phases"]
            ]
            blocks += _chunk("*Self-rating beside the automatic scores*", lines)
        return [*blocks, {"type": "divider"}, *auto_evidence]

    blocks = [
        _header(f"Pair interview recap: {title}"),
        _context(f"Interviewer {interviewer} · candidate {candidate} · level {escape(auto_recap['level'])}"),
    ]
    blocks += _written(f"*What went well*, from {interviewer}", scorecard.get("strengths", ""))
    blocks += _written(f"*What to fix*, from {interviewer}", scorecard.get("to_fix", ""))
    blocks.append(
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*Interviewer's verdict*\n{_verdict_name(scorecard.get('verdict'))}",
                },
                {
                    "type": "mrkdwn",
                    "text": f"*Automatic verdict*\n{_verdict_name(auto_recap['verdict'])} · "
                    f"{auto_recap['overall']}/100",
                },
            ],
        }
    )
    blocks.append({"type": "divider"})
    blocks += _chunk("*Phase scores*", _phase_lines(auto_recap, scorecard, candidate, self_rating))
    apart = calibration(auto_recap, scorecard)
    if apart:
        names = ", ".join(_phase_name(p) for p, _, _ in apart)
        blocks.append(
            _context(
                f"⚠️ The interviewer and the bot are {CALIBRATION_GAP}+ points apart on {names}: "
                "worth a second look at the evidence below."
            )
        )
    if self_rating:
        diffs = self_differences(scorecard, self_rating)
        note = (
            f"{candidate}'s self-rating differs from the interviewer's on {len(diffs)} of "
            f"{len(self_rating)} phases."
            if diffs
            else f"{candidate}'s self-rating matches the interviewer's on every phase."
        )
        blocks.append(_context(note))
    blocks += _chunk(f"*What {interviewer} saw*", _ticked_lines(auto_recap, scorecard))
    blocks += [
        {"type": "divider"},
        _header("Automatic evidence"),
        _context("What the bot measured from the transcript: use it to check the scores above."),
        *auto_evidence,
    ]
    return blocks
