"""Pair interviews: the interviewer's private guide, their controls and nudges, the scorecard and the merged recap."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError

from bot.app.ports import Place
from bot.app.runner import FALLBACK_TIMER
from bot.models import InterviewRow, ScorecardRow
from bot.repository import Placement
from bot.slack import blocks as bk
from bot.slack import pair_views as pv
from bot.slack.escape import from_slack
from bot.slack.service import InterviewService, StartRequest, parse_start
from bot.stores import ScorecardStore
from flows.engine import new_interview

log = logging.getLogger("interview_bot.slack.pair")

EDIT_WINDOW_SECONDS = 3600
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")

ACTION_CANCEL = "pair_cancel"
ACTION_SCORECARD = "pair_scorecard_open"
ACTION_SELF_RATING = "pair_self_rating_open"
PAIR_USAGE = "Usage: `/interview pair @interviewer @candidate [problem] [junior|senior|staff] [minutes]`"


def parse_pair(text: str) -> tuple[list[str], StartRequest]:
    """The mentioned users (in order) and the rest of the start request."""
    users = _USER.findall(text)
    return users, parse_start(from_slack(_USER.sub(" ", text)))


class PairService:
    """The pair-interview side of the bot, on top of the interview service's write path."""

    def __init__(self, interviews: InterviewService) -> None:
        self.iv = interviews
        self.client = interviews.client
        self.scorecards = ScorecardStore(interviews.runner.sessions)

    # ------------------------------------------------------------ starting and cancelling

    async def start(
        self, channel: str, creator: str, text: str, tell: Callable[[str], Awaitable[None]]
    ) -> str | None:
        """`/interview pair @interviewer @candidate [problem] [level] [minutes]`."""
        users, request = parse_pair(text)
        if len(users) < 2:
            await tell(f"Mention both people. {PAIR_USAGE}")
            return None
        interviewer, candidate = users[0], users[1]
        if interviewer == candidate:
            await tell("The interviewer and the candidate must be two different people.")
            return None
        for who in (interviewer, candidate):
            problem = await self._member_problem(who)
            if problem:
                await tell(problem)
                return None
        problem = await self.iv.choose_problem(request, candidate, tell)
        if problem is None:
            return None
        interview_id = uuid.uuid4().hex
        text = (
            f"*Pair interview*: <@{interviewer}> interviews <@{candidate}> on *{problem.title}* "
            f"({request.level}). The interview runs in this thread; <@{interviewer}> has the guide in a "
            "direct message and moves the phases."
        )
        cancel = bk.button_row("pair", bk.button("Cancel interview", ACTION_CANCEL, interview_id, "danger"))
        try:
            root = await self.client.chat_postMessage(
                channel=channel, text=text, blocks=[bk._section(text), cancel]
            )
        except SlackApiError as exc:
            await tell(self.iv.explain(exc))
            return None
        interview = new_interview(
            interview_id,
            problem,
            request.level,
            request.minutes,
            suggestions=await self.iv.suggestions(problem),
            mode="pair",
        )
        placement = Placement(
            "slack",
            channel,
            root["ts"],
            candidate,
            self.iv.pace,
            self.iv.clock(),
            interviewer_id=interviewer,
            creator_id=creator,
        )
        await self._send_guide(interviewer, problem, request.level)
        if await self.iv.runner.create(interview, placement, minutes=request.minutes) is None:
            return None
        return interview_id

    async def _member_problem(self, user: str) -> str | None:
        """Why `user` cannot take part, or None."""
        try:
            info = await self.client.users_info(user=user)
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "users_not_found"):
                return f"<@{user}> is not a member of this workspace."
            raise
        person = info.get("user", {})
        if person.get("is_bot") or person.get("id") == "USLACKBOT":
            return f"<@{user}> is a bot; a pair interview needs two people."
        if person.get("deleted"):
            return f"<@{user}> is no longer a member of this workspace."
        return None

    async def _send_guide(self, interviewer: str, problem, level: str) -> None:
        dm = await self.client.conversations_open(users=interviewer)
        channel = dm["channel"]["id"]
        for chunk in bk.split_messages(pv.guide_blocks(problem, level)):
            await self.client.chat_postMessage(
                channel=channel, text=pv.guide_text(problem, level), blocks=chunk
            )

    # ------------------------------------------------------------ the end: scorecard

    async def finished(self, place: Place) -> None:
        """The interview ended: ask the interviewer for the scorecard (the runner set the fallback timer)."""
        button = bk.button_row(
            "scorecard", bk.button("Open scorecard", ACTION_SCORECARD, place.interview_id, "primary")
        )
        text = (
            f"The interview is over. <@{place.interviewer}>, please fill in the scorecard; "
            "the recap follows it."
        )
        await self.client.chat_postMessage(
            channel=place.channel, thread_ts=place.thread_ts, text=text, blocks=[bk._section(text), button]
        )

    async def open_scorecard(self, interview_id: str, user: str, trigger_id: str) -> str | None:
        """Open the scorecard modal for the interviewer (prefilled for an edit within the hour)."""
        row, card = await self._row_and_card(interview_id)
        if row is None:
            return "That interview no longer exists."
        if user != row.interviewer_id:
            return "Only the interviewer can fill in the scorecard."
        if row.status != "ended":
            return "The scorecard opens when the interview has ended."
        problem = self.iv.bank[row.problem]
        if card is None:
            view = pv.scorecard_view(interview_id, problem)
        elif self.iv.clock() - card.submitted_at <= EDIT_WINDOW_SECONDS:
            view = pv.scorecard_view(interview_id, problem, prefill=json.loads(card.data), editing=True)
        else:
            return "The scorecard was submitted more than an hour ago and can no longer be edited."
        await self.client.views_open(trigger_id=trigger_id, view=view)
        return None

    async def check_scorecard(self, user: str, view: dict) -> tuple[dict | None, dict]:
        """Validate a scorecard submission: (scorecard, errors for the modal)."""
        meta = json.loads(view.get("private_metadata") or "{}")
        row, card = await self._row_and_card(meta.get("interview_id", ""))
        first_block = "score_requirements"
        if row is None:
            return None, {first_block: "This interview no longer exists."}
        if user != row.interviewer_id:
            return None, {first_block: "Only the interviewer can submit this scorecard."}
        if card is not None and not meta.get("editing"):
            return None, {first_block: "A scorecard was already submitted for this interview."}
        if card is not None and self.iv.clock() - card.submitted_at > EDIT_WINDOW_SECONDS:
            return None, {first_block: "The hour for editing this scorecard has passed."}
        scorecard, errors = pv.parse_scorecard(view["state"]["values"], self.iv.bank[row.problem])
        return (None, errors) if errors else (scorecard, {})

    async def save_scorecard(self, user: str, view: dict, scorecard: dict) -> None:
        """Store the scorecard and post (or update) the merged recap where the interviewer chose."""
        interview_id = json.loads(view["private_metadata"])["interview_id"]
        row, card = await self._row_and_card(interview_id)
        await self.scorecards.save(interview_id, user, scorecard, self.iv.clock())
        await self.iv.runner.cancel_timer(interview_id, FALLBACK_TIMER)
        await self._post_merged(row, card)

    async def _post_merged(self, row: InterviewRow, previous: ScorecardRow | None) -> None:
        card = (await self._row_and_card(row.id))[1]
        scorecard = json.loads(card.data)
        recap = await self._auto_recap(row.id)
        self_rating = json.loads(card.self_rating) if card.self_rating else None
        blocks = pv.merged_recap_blocks(recap, scorecard, row.interviewer_id, row.user_id, self_rating)
        blocks.append(self._self_rating_button(row.id))
        text = f"Recap of the pair interview: <@{row.interviewer_id}> and <@{row.user_id}>"
        messages = bk.split_messages(blocks)
        if previous is not None and card.posted_ts and len(messages) == 1:
            await self.client.chat_update(
                channel=card.posted_channel, ts=card.posted_ts, text=text, blocks=messages[0]
            )
            return
        if scorecard["destination"] == "candidate":
            channel, thread_ts = (
                (await self.client.conversations_open(users=row.user_id))["channel"]["id"],
                None,
            )
        else:
            channel, thread_ts = row.channel, row.thread_ts
        first = None
        for chunk in messages:
            posted = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=chunk
            )
            first = first or posted
        await self.scorecards.posted(row.id, first["channel"], first["ts"])

    @staticmethod
    def _self_rating_button(interview_id: str) -> dict:
        return bk.button_row("self_rating", bk.button("Add my self-rating", ACTION_SELF_RATING, interview_id))

    # ------------------------------------------------------------ the candidate's self-rating

    async def open_self_rating(self, interview_id: str, user: str, trigger_id: str) -> str | None:
        """Open the self-rating modal for the candidate."""
        row, card = await self._row_and_card(interview_id)
        if row is None or card is None:
            return "There is no scorecard to compare with yet."
        if user != row.user_id:
            return "Only the candidate can add a self-rating."
        await self.client.views_open(
            trigger_id=trigger_id, view=pv.self_rating_view(interview_id, self.iv.bank[row.problem])
        )
        return None

    async def check_self_rating(self, user: str, view: dict) -> tuple[dict | None, dict]:
        """Validate a self-rating submission."""
        meta = json.loads(view.get("private_metadata") or "{}")
        row, card = await self._row_and_card(meta.get("interview_id", ""))
        first = "self_requirements"
        if row is None or card is None:
            return None, {first: "There is no scorecard to compare with."}
        if user != row.user_id:
            return None, {first: "Only the candidate can rate themselves here."}
        rating, errors = pv.parse_self_rating(view["state"]["values"], self.iv.bank[row.problem])
        return (None, errors) if errors else (rating, {})

    async def save_self_rating(self, view: dict, rating: dict) -> None:
        """Store the self-rating and say where it differs from the interviewer's scores."""
        interview_id = json.loads(view["private_metadata"])["interview_id"]
        await self.scorecards.rate_self(interview_id, rating)
        row, card = await self._row_and_card(interview_id)
        diffs = pv.self_differences(json.loads(card.data), rating)
        if diffs:
            lines = [f"• {bk_phase(p)}: <@{row.user_id}> rated {s}, the interviewer {i}" for p, s, i in diffs]
            text = "Self-rating added. Where it differs from the interviewer's:\n" + "\n".join(lines)
        else:
            text = "Self-rating added: it matches the interviewer's scores in every phase."
        await self.client.chat_postMessage(
            channel=card.posted_channel, thread_ts=self._thread_of(row, card), text=text
        )
        await self._post_merged(row, card)

    @staticmethod
    def _thread_of(row: InterviewRow, card: ScorecardRow) -> str | None:
        return row.thread_ts if card.posted_channel == row.channel else None

    # ------------------------------------------------------------ 24-hour fallback

    async def fallback(self, place: Place, recap: dict) -> None:
        """No scorecard 24 hours after the end: the candidate gets the automatic recap, marked as such."""
        if (await self._row_and_card(place.interview_id))[1] is not None:
            return  # the scorecard came after all
        blocks = pv.merged_recap_blocks(recap, None, place.interviewer, place.candidate, automatic_only=True)
        dm = await self.client.conversations_open(users=place.candidate)
        for chunk in bk.split_messages(blocks):
            await self.client.chat_postMessage(
                channel=dm["channel"]["id"],
                text="Automatic recap of your pair interview (the interviewer did not send a scorecard)",
                blocks=chunk,
            )

    # ------------------------------------------------------------ helpers

    async def _row_and_card(self, interview_id: str) -> tuple[InterviewRow | None, ScorecardRow | None]:
        return await self.scorecards.interview_and_card(interview_id)

    async def _auto_recap(self, interview_id: str) -> dict:
        return await self.iv.repository.recap(interview_id) or {}


def bk_phase(phase: str) -> str:
    """A phase's display name."""
    from flows.framework import PHASE_SPECS

    return PHASE_SPECS[phase].name
