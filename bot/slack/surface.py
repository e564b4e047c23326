"""The Slack surface: what the runner decided, said in an interview's thread (delivered by the outbox)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.ports import DeliveryFailed, Place
from bot.slack import blocks as bk
from bot.slack.escape import escape, mention

log = logging.getLogger("interview_bot.slack")

OUTBOX_EVENT = "interview_bot_outbox"  # message metadata naming the outbox row a message came from
RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def delivery_failure(exc: BaseException) -> DeliveryFailed:
    """A Web API failure as the outbox sees it: worth retrying (down, 5xx, 429) or not (refused)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = response.get("error", "") if response is not None else ""
        retry_after = None
        if status == 429:
            try:
                retry_after = float(response.headers.get("Retry-After", "1"))
            except (TypeError, ValueError):
                retry_after = 1.0
        retryable = status == 429 or status >= 500 or error in RETRYABLE_ERRORS
        return DeliveryFailed(error or f"http {status}", retryable, retry_after)
    return DeliveryFailed(exc.__class__.__name__, retryable=True)


class SlackSurface:
    """Posts in interview threads; every Web API failure becomes a DeliveryFailed for the outbox."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.pair = None  # the PairService: a pair interview's end and its fallback are its own

    async def _call(self, call) -> dict:
        try:
            return await call
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise delivery_failure(exc) from None

    async def say(self, place: Place, text: str, kind: str, token: str, ref: str) -> None:
        """A bot message in the thread; phase openings carry the controls for this moment (token)."""
        await self._call(
            self.client.chat_postMessage(
                channel=place.channel,
                thread_ts=place.thread_ts,
                text=escape(text),
                blocks=bk.bot_message(text, kind, place.interview_id, place.mode, token),
                metadata={"event_type": OUTBOX_EVENT, "event_payload": {"ref": ref}},
            )
        )

    async def nudge(self, place: Place, text: str) -> None:
        """Only the interviewer sees it."""
        await self._call(
            self.client.chat_postEphemeral(
                channel=place.channel, user=place.interviewer, thread_ts=place.thread_ts, text=escape(text)
            )
        )

    async def tell(self, place: Place, user: str, text: str) -> None:
        """Only `user` sees it."""
        await self._call(
            self.client.chat_postEphemeral(
                channel=place.channel, user=user, thread_ts=place.thread_ts, text=text
            )
        )

    async def finish(self, place: Place, recap: dict, kind: str, ref: str) -> None:
        """The recap (or a pair interview's scorecard request), its chart, or the pair fallback.

        The recap's last message carries the outbox ref, so `delivered` finds a recap only when all
        of it arrived: one cut short is posted again whole (its first messages twice)."""
        if place.mode == "pair":
            if self.pair is None:
                return
            if kind == "recap":
                await self._call(self.pair.finished(place))
            elif kind == "fallback":
                await self._call(self.pair.fallback(place, recap))
            return
        if kind == "recap":
            messages = [
                {"text": bk.recap_fallback_text(recap), "blocks": chunk}
                for chunk in bk.split_messages(bk.recap_blocks(recap))
            ]
            if place.team and recap.get("contributions"):
                messages.append({"text": contributions_text(recap)})
            for i, message in enumerate(messages):
                if i == len(messages) - 1:
                    message["metadata"] = {"event_type": OUTBOX_EVENT, "event_payload": {"ref": ref}}
                await self._call(
                    self.client.chat_postMessage(channel=place.channel, thread_ts=place.thread_ts, **message)
                )
        elif kind == "chart":
            from bot.chart import recap_chart_png

            png = await asyncio.to_thread(recap_chart_png, recap)
            await self._call(
                self.client.files_upload_v2(
                    channel=place.channel,
                    thread_ts=place.thread_ts,
                    content=png,
                    filename="recap.png",
                    title=f"Recap chart: {recap.get('title', recap.get('problem', ''))}",
                )
            )

    async def delivered(self, place: Place, ref: str) -> bool:
        """Whether the thread already holds the message of outbox row `ref` (by its metadata)."""
        if not place.thread_ts:
            return False
        cursor = None
        for _ in range(20):
            page = await self._call(
                self.client.conversations_replies(
                    channel=place.channel,
                    ts=place.thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            )
            for message in page.get("messages", []):
                meta = message.get("metadata") or {}
                if (
                    meta.get("event_type") == OUTBOX_EVENT
                    and str(meta.get("event_payload", {}).get("ref")) == ref
                ):
                    return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False
        return False


def contributions_text(recap: dict) -> str:
    """A team recap's contributions: each person's messages by phase and the concepts they covered."""
    names = {p["phase"]: p.get("name", p["phase"]) for p in recap.get("phases", [])}
    concepts = recap.get("contributed_concepts", {})
    lines = ["*Team contributions* (the team is scored as a whole):"]
    for user, by_phase in recap.get("contributions", {}).items():
        phases = ", ".join(f"{names.get(ph, ph)} {n}" for ph, n in by_phase.items())
        line = f"• {mention(user)}: {escape(phases)}"
        if concepts.get(user):
            line += f"; covered {escape(', '.join(concepts[user]))}"
        lines.append(line)
    return "\n".join(lines)
