"""A user's own history: `/interview history` (and `export`), the App Home trend, and `/interview forget me`."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from bot.models import InterviewRow
from bot.render import VERDICTS
from bot.slack.blocks import Subcommand, _section
from bot.slack.escape import escape
from bot.slack.service import InterviewService, StartRequest
from flows.engine import to_transcript
from flows.framework import PHASE_SPECS
from flows.problem import Problem

log = logging.getLogger("interview_bot.slack")

HISTORY_LIMIT = 10
MAX_HOME_BLOCKS = 50  # Slack allows 100 in a Home view; half keeps us well clear
ACTION_HOME_START = "home_start"
ACTION_FORGET_CONFIRM = "forget_confirm"
ACTION_FORGET_CANCEL = "forget_cancel"
EXPORT_FILENAME = "interview-history.json"


@dataclass(frozen=True)
class PastInterview:
    """One of a user's interviews, with its recap when it has one."""

    row: InterviewRow
    recap: dict | None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------- reading a user's history


async def past_interviews(
    service: InterviewService, user: str, limit: int | None = None
) -> list[PastInterview]:
    """The user's interviews (as the candidate), newest first, each with its recap if any."""
    return [PastInterview(row, recap) for row, recap in await service.history.of_user(user, limit)]


def _title(service: InterviewService, slug: str) -> str:
    """A problem's title, escaped for mrkdwn."""
    problem = service.bank.get(slug)
    return escape(problem.title if problem else slug)


def _date(row: InterviewRow) -> str:
    return row.created_at.strftime("%Y-%m-%d") if row.created_at else "?"


async def _permalink(service: InterviewService, row: InterviewRow) -> str | None:
    if not row.channel or not row.thread_ts:
        return None
    try:
        answer = await service.client.chat_getPermalink(channel=row.channel, message_ts=row.thread_ts)
    except SlackApiError:
        return None
    return answer.get("permalink")


async def history_blocks(service: InterviewService, user: str) -> tuple[str, list[dict]]:
    """The `/interview history` answer: fallback text and blocks of the last interviews."""
    past = await past_interviews(service, user, HISTORY_LIMIT)
    if not past:
        text = "You have no interviews yet. Start one with `/interview start`."
        return text, [_section(text)]
    links = await asyncio.gather(*(_permalink(service, p.row) for p in past))
    lines = []
    for p, link in zip(past, links, strict=True):
        title = _title(service, p.row.problem)
        name = f"<{link}|{title}>" if link else title
        if p.recap is not None:
            score = f"{p.recap['overall']}/100, {VERDICTS.get(p.recap['verdict'], p.recap['verdict'])}"
        else:
            score = "in progress" if p.row.status != "ended" else "no recap"
        lines.append(f"• *{name}* · {_date(p.row)} · {p.row.level} · {score}")
    head = f"*Your last {len(past)} interview{'s' if len(past) != 1 else ''}*"
    blocks = [_section(head), _section("\n".join(lines))]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "`/interview history export` sends you every transcript and recap.",
                }
            ],
        }
    )
    return head + "\n" + "\n".join(lines), blocks


async def export_document(service: InterviewService, user: str) -> dict:
    """All of the user's interviews: each transcript and recap in the CONTRACTS.md shapes."""
    out = []
    for p in reversed(await past_interviews(service, user)):
        try:
            transcript = to_transcript(await service.repository.rebuild(p.row))
        except (KeyError, ValueError):  # a problem no longer in the bank
            transcript = None
        out.append(
            {
                "id": p.row.id,
                "title": _title(service, p.row.problem),
                "started": p.row.created_at.isoformat() if p.row.created_at else None,
                "status": p.row.status,
                "transcript": transcript,
                "recap": p.recap,
            }
        )
    return {"user": user, "exported_at": datetime.now(UTC).isoformat(), "interviews": out}


async def _dm(service: InterviewService, user: str) -> str:
    opened = await service.client.conversations_open(users=user)
    return opened["channel"]["id"]


# ---------------------------------------------------------------- the trend on App Home


def weakest_phase(recaps: list[dict]) -> str | None:
    """The phase with the lowest average score over the recaps (ties: the earlier phase)."""
    scores: dict[str, list[int]] = defaultdict(list)
    for recap in recaps:
        for p in recap.get("phases", []):
            scores[p["phase"]].append(int(p["score"]))
    if not scores:
        return None
    order = list(PHASE_SPECS)
    return min(
        scores,
        key=lambda ph: (sum(scores[ph]) / len(scores[ph]), order.index(ph) if ph in order else len(order)),
    )


def suggest_problem(bank: dict[str, Problem], phase: str, done: set[str]) -> Problem | None:
    """A problem not done yet with the most weight-3 concepts in `phase` (ties: as practice_suggestions)."""
    ranked = [
        (sum(1 for c in p.phases[phase].concepts if c.weight == 3), p.slug, p)
        for p in bank.values()
        if p.slug not in done and phase in p.phases
    ]
    if not ranked:
        return None
    return max(ranked, key=lambda r: (r[0], r[1]))[2]


def scores_chart_png(points: list[tuple[str, int]]) -> bytes:
    """The overall score of each interview, oldest first, as a small line chart (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.subplots()
    xs = list(range(1, len(points) + 1))
    ax.plot(xs, [s for _, s in points], marker="o", color="#337ab7")
    ax.set_ylim(0, 100)
    ax.set_xticks(xs, [d for d, _ in points], rotation=30, fontsize=7)
    ax.set_ylabel("Overall (0-100)")
    ax.set_title("Your scores over time")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def home_view(
    service: InterviewService,
    past: list[PastInterview],
    chart_file_id: str | None,
    weakest: str | None,
    suggestion: Problem | None,
) -> dict:
    """The Home tab: scores over time, weakest phase, and the problem to do next with its button."""
    scored = [p for p in past if p.recap is not None]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your interview practice"}}
    ]
    if not past:
        blocks.append(_section("No interviews yet. Start one with `/interview start` in a channel."))
    else:
        blocks.append(_section(f"{_plural(len(past), 'interview')}, {len(scored)} scored."))
    if chart_file_id:
        blocks.append(
            {
                "type": "image",
                "slack_file": {"id": chart_file_id},
                "alt_text": "Overall scores over time: "
                + ", ".join(str(p.recap["overall"]) for p in reversed(scored))[:1900],
            }
        )
    elif scored:
        only = scored[0]
        blocks.append(
            _section(
                f"Score so far: *{only.recap['overall']}/100* on {_title(service, only.row.problem)} "
                f"({_date(only.row)}). Do one more scored interview to see your trend."
            )
        )
    if weakest:
        blocks.append(_section(f"*Weakest phase:* {PHASE_SPECS[weakest].name}"))
    if suggestion is not None:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Suggested next:* {escape(suggestion.title)}"},
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Start it"},
                    "style": "primary",
                    "action_id": ACTION_HOME_START,
                    "value": suggestion.slug,
                },
            }
        )
    elif weakest:
        blocks.append(_section("You have done every problem that exercises it: try one again."))
    recent = past[:5]
    if recent:
        lines = []
        for p in recent:
            score = f"{p.recap['overall']}/100" if p.recap else p.row.status
            lines.append(f"• {_title(service, p.row.problem)} · {_date(p.row)} · {score}")
        blocks.append({"type": "divider"})
        blocks.append(_section("*Recent*\n" + "\n".join(lines)))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


# ---------------------------------------------------------------- forgetting a user


def forget_blocks(user: str) -> list[dict]:
    """The confirmation asked before `forget me` deletes anything."""
    return [
        _section(
            "This deletes *all your interviews* (transcripts, recaps, timers, scorecards) and your "
            "messages in other people's interviews. It cannot be undone. Go ahead?"
        ),
        {
            "type": "actions",
            "block_id": "forget",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Delete everything"},
                    "style": "danger",
                    "action_id": ACTION_FORGET_CONFIRM,
                    "value": user,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "action_id": ACTION_FORGET_CANCEL,
                    "value": user,
                },
            ],
        },
    ]


# ---------------------------------------------------------------- Slack listeners


def register(app, service: InterviewService, subcommands: dict) -> None:
    """Add `/interview history`, `/interview forget`, the App Home tab and their buttons to the app."""
    charts: dict[str, tuple[tuple, str]] = {}  # user -> (the scores drawn, the uploaded file id)

    async def history(*, ack, command, respond, rest) -> None:
        await ack()
        user = command["user_id"]
        if rest.strip().lower() == "export":
            await _export(user, respond)
            return
        text, blocks = await history_blocks(service, user)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    async def _export(user: str, respond) -> None:
        document = await export_document(service, user)
        try:
            channel = await _dm(service, user)
            await service.client.files_upload_v2(
                channel=channel,
                content=json.dumps(document, indent=2, ensure_ascii=False),
                filename=EXPORT_FILENAME,
                title="Your interview history",
            )
        except SlackApiError as exc:
            log.warning("history export failed: %s", exc.response.get("error"))
            await respond(
                text="I couldn't send the file. Please try again.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        n = len(document["interviews"])
        await respond(
            text=f"Sent {_plural(n, 'interview')} to our direct messages as `{EXPORT_FILENAME}`.",
            response_type="ephemeral",
            replace_original=False,
        )

    async def forget(*, ack, command, respond, rest) -> None:
        if rest.strip().lower() != "me":
            await ack(text="Say `/interview forget me` to delete your interviews.")
            return
        await ack()
        await respond(
            text="Delete all your interviews?",
            blocks=forget_blocks(command["user_id"]),
            response_type="ephemeral",
            replace_original=False,
        )

    subcommands["history"] = Subcommand(
        "history [export]", "your last interviews (export: all of them, as a file by direct message)", history
    )
    subcommands["forget"] = Subcommand(
        "forget me", "delete all your interviews and your words in others'", forget
    )

    @app.action(ACTION_FORGET_CONFIRM)
    async def forget_confirmed(ack, body, action, respond) -> None:
        await ack()
        user = body["user"]["id"]
        if action.get("value") != user:
            await respond(
                text="Only the person who asked can confirm this.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        try:
            forgotten = await service.runner.forget(user)
        except Exception:  # noqa: BLE001 - the person always gets an answer
            log.exception("forget me failed")
            await respond(
                text="I could not delete your interviews just now (the database is busy). Nothing was "
                "changed; please try again in a minute.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        charts.pop(user, None)
        await respond(text=forgotten.sentence() + ".", response_type="ephemeral", replace_original=True)

    @app.action(ACTION_FORGET_CANCEL)
    async def forget_cancelled(ack, respond) -> None:
        await ack()
        await respond(text="Nothing was deleted.", response_type="ephemeral", replace_original=True)

    @app.event("app_home_opened")
    async def home_opened(event) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        past = await past_interviews(service, user)
        scored = [p for p in reversed(past) if p.recap is not None]  # oldest first
        chart_file_id = None
        if len(scored) >= 2:
            points = tuple((_date(p.row), int(p.recap["overall"])) for p in scored)
            cached = charts.get(user)
            if cached and cached[0] == points:
                chart_file_id = cached[1]
            else:
                chart_file_id = await _upload_chart(user, points)
                if chart_file_id:
                    charts[user] = (points, chart_file_id)
        weakest = weakest_phase([p.recap for p in scored])
        done = {p.row.problem for p in past}
        suggestion = suggest_problem(service.bank, weakest, done) if weakest else None
        view = home_view(service, past, chart_file_id, weakest, suggestion)
        await service.client.views_publish(user_id=user, view=view)

    async def _upload_chart(user: str, points: tuple) -> str | None:
        png = await asyncio.to_thread(scores_chart_png, list(points))
        try:
            uploaded = await service.client.files_upload_v2(
                channel=await _dm(service, user),
                content=png,
                filename="scores.png",
                title="Your scores over time",
            )
        except SlackApiError as exc:
            log.warning("score chart upload failed: %s", exc.response.get("error"))
            return None
        file = uploaded.get("file") or (uploaded.get("files") or [{}])[0]
        return file.get("id")

    @app.action(ACTION_HOME_START)
    async def home_start(ack, body, action) -> None:
        await ack()
        user = body["user"]["id"]
        channel = await _dm(service, user)

        async def tell(text: str) -> None:
            await service.client.chat_postMessage(channel=channel, text=text)

        await service.start(channel, user, StartRequest(action["value"], "senior", None), None, tell)
