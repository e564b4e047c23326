"""Block Kit for the interview: phase messages with controls, and the recap within Slack's limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.render import PITFALL_NAMES, TIP_NAMES, VERDICTS, claim_fixes, minutes, score_label, scored_by
from bot.slack.escape import escape, escape_all

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150

ACTION_NEXT = "interview_next"
ACTION_HINT = "interview_hint"
ACTION_END = "interview_end"
ACTION_PAUSE = "interview_pause"
ACTION_RESUME = "interview_resume"
CONTROL_ACTIONS = {
    ACTION_NEXT: "next",
    ACTION_HINT: "hint",
    ACTION_END: "end",
    ACTION_PAUSE: "pause",
    ACTION_RESUME: "resume",
}


def _section(text: str) -> dict:
    if len(text) > MAX_SECTION_CHARS:
        text = text[: MAX_SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    """One button element."""
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def button_row(block_id: str, *buttons: dict) -> dict:
    """An actions block of buttons."""
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def control_value(interview_id: str, token: str = "") -> str:
    """A control button's value: the interview and the moment it was shown for (see control_token)."""
    return f"{interview_id}|{token}" if token else interview_id


def parse_control_value(value: str) -> tuple[str, str]:
    """(interview id, the token it was shown for) from a control button's value."""
    interview_id, _, token = (value or "").partition("|")
    return interview_id, token


def controls(interview_id: str, mode: str = "solo", token: str = "") -> dict:
    """The buttons: next, hint and end; in a pair interview (the interviewer's) next, pause, resume, end."""
    buttons = [
        ("Next phase", ACTION_NEXT, "primary"),
        ("Hint", ACTION_HINT, None),
        ("End", ACTION_END, "danger"),
    ]
    if mode == "pair":
        buttons = [
            ("Next phase", ACTION_NEXT, "primary"),
            ("Pause", ACTION_PAUSE, None),
            ("Resume", ACTION_RESUME, None),
            ("End", ACTION_END, "danger"),
        ]
    return button_row(
        "controls",
        *(
            button(label, action_id, control_value(interview_id, token), style)
            for label, action_id, style in buttons
        ),
    )


def bot_message(text: str, kind: str, interview_id: str, mode: str = "solo", token: str = "") -> list[dict]:
    """Blocks of one bot message (plain engine text, escaped here); phase openings carry the controls."""
    blocks = [_section(escape(text))]
    if kind == "phase" or (kind == "intro" and mode != "pair"):
        blocks.append(controls(interview_id, mode, token))
    return blocks


def _phase_line(p: dict) -> str:
    bar = "●" * p["score"] + "○" * (4 - p["score"])
    head = (
        f"*{p.get('name', p['phase'])}*  {bar} {score_label(p)} · "
        f"{minutes(p['minutes_used'])} of {minutes(p['minutes_budget'])} min"
    )
    return f"{head}\n{p['feedback']}"


def recap_blocks(recap: dict) -> list[dict]:
    """The whole recap as blocks (may exceed one message; see `split_messages`).

    Every string of the recap (quotes of what people wrote, problem text) is escaped first.
    """
    title = f"Recap: {recap.get('title', recap['problem'])}"[:MAX_HEADER_CHARS]  # plain_text: no markup
    recap = escape_all(recap)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        _section(
            f"*{recap['overall']}/100 · {VERDICTS[recap['verdict']]}* ({recap['level']})\n"
            f"{recap.get('summary', '')}"
        ),
        {"type": "divider"},
    ]
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Phases {scored_by(recap)}."}]}
    )
    blocks += [_section(_phase_line(p)) for p in recap["phases"]]
    blocks.append({"type": "divider"})
    good = [f"✅ *{TIP_NAMES[t['id']]}*: {t['evidence']}" for t in recap["tips"] if t["followed"]]
    bad = [f"❗ {line}" for line in claim_fixes(recap)]
    bad += [f"⚠️ *{PITFALL_NAMES[p['id']]}*: {p['evidence']}" for p in recap["pitfalls"] if p["triggered"]]
    bad += [f"▫️ *{TIP_NAMES[t['id']]}*: {t['evidence']}" for t in recap["tips"] if not t["followed"]]
    if good:
        blocks += _chunked("*Strengths*", good)
    if bad:
        blocks += _chunked("*What to fix*", bad)
    blocks += _chunked("*Practise next*", [f"• {s}" for s in recap["next_steps"]])
    return blocks


def _chunked(title: str, lines: list[str]) -> list[dict]:
    """Sections of at most MAX_SECTION_CHARS, the first headed by `title`."""
    out: list[dict] = []
    current = title
    for line in lines:
        line = line[: MAX_SECTION_CHARS - 10]
        if len(current) + 1 + len(line) > MAX_SECTION_CHARS:
            out.append(_section(current))
            current = line
        else:
            current += "\n" + line
    out.append(_section(current))
    return out


def split_messages(blocks: list[dict], limit: int = MAX_BLOCKS) -> list[list[dict]]:
    """Split blocks over messages of at most `limit` blocks each."""
    return [blocks[i : i + limit] for i in range(0, len(blocks), limit)] or [[]]


def recap_fallback_text(recap: dict) -> str:
    """Plain text for notifications and clients without Block Kit."""
    return f"Recap: {recap['overall']}/100, {VERDICTS[recap['verdict']]}"


def problems_text(bank: dict) -> str:
    """The bank as a short list for `/interview problems`."""
    lines = [f"• *{escape(p.title)}* (`{p.slug}`) {p.category}" for p in bank.values()]
    return "*Problems*\n" + "\n".join(lines) + "\nStart one: `/interview start url shortener senior 45`"


@dataclass(frozen=True)
class Subcommand:
    """One `/interview` subcommand: how to call it, what it does, and its handler."""

    usage: str
    summary: str
    handler: Callable | None = None  # async (ack, command, respond, rest); None: handled by the app


def help_text(subcommands: dict[str, Subcommand]) -> str:
    """`/interview help`, generated from the registered subcommands."""
    lines = ["*Mock system-design interviews*"]
    lines += [f"• `/interview {c.usage}`: {c.summary}" for c in subcommands.values()]
    lines.append("• `@interview-bot start [problem]`: start one in this thread")
    lines.append(
        "In the thread, answer in messages; the words `next`, `hint`, `time`, `pause`, `resume` and `end` "
        "are controls. I keep time, ask follow-ups, and finish with a scored recap."
    )
    return "\n".join(lines)
