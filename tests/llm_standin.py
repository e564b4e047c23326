"""A local stand-in for an OpenAI-compatible LLM server: POST /v1/chat/completions, scripted per call or phase.

It reads which phase a request judges from the <rubric> block of the user message, answers with a judgement
quoting the candidate's own words (or with a scripted fault), and records every request so tests can assert
on headers, body and prompt layout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_RUBRIC = re.compile(r"<rubric>\s*(.*?)\s*</rubric>", re.DOTALL)
_CANDIDATE = re.compile(r"<candidate_text>\s*(.*?)\s*</candidate_text>", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """How the stand-in answers one request.

    By default a chat completion whose content is the judgement {"score", "evidence", "reason"}; evidence None
    quotes the request's first candidate message verbatim. `content` replaces the judgement with raw assistant
    content, `body` replaces the whole HTTP body; `status` and `headers` set the HTTP status and headers;
    `delay_s` waits before answering.
    """

    score: Any = 3
    evidence: tuple[str, ...] | None = None
    reason: str = "Stand-in judgement."
    content: str | None = None
    body: str | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    fenced: bool = False


def good(score: int = 3, evidence: tuple[str, ...] | None = None, fenced: bool = False) -> Reply:
    """A valid judgement; evidence None quotes the candidate's first message."""
    return Reply(score=score, evidence=evidence, fenced=fenced)


def out_of_range(score: Any = 7) -> Reply:
    """A judgement whose score is not 1-4."""
    return Reply(score=score)


def ungrounded(score: int = 4) -> Reply:
    """A judgement whose quotes the candidate never said."""
    return Reply(
        score=score, evidence=("we shard the counters with consistent hashing across 64 Redis nodes",)
    )


def malformed_content() -> Reply:
    """A chat completion whose content is not JSON."""
    return Reply(content='{"score": 3, "evidence": ["unterminated')


def non_json_body() -> Reply:
    """An HTTP 200 whose body is not JSON at all."""
    return Reply(body="<html><body>Bad gateway</body></html>")


def no_choices() -> Reply:
    """A JSON body without choices."""
    return Reply(body=json.dumps({"id": "chatcmpl-x", "object": "chat.completion", "choices": []}))


def no_content() -> Reply:
    """A chat completion whose message has no content (as when a model refuses)."""
    return Reply(
        body=json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]})
    )


def server_error(status: int = 500) -> Reply:
    """An HTTP error with an OpenAI-style error body."""
    return Reply(status=status, body=json.dumps({"error": {"message": "stand-in failure", "type": "server"}}))


def rate_limited(retry_after: str | None = "1") -> Reply:
    """HTTP 429, with Retry-After when given."""
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Reply(
        status=429,
        headers=headers,
        body=json.dumps({"error": {"message": "rate limit reached", "type": "requests"}}),
    )


def slow(delay_s: float, score: int = 3) -> Reply:
    """A valid judgement, sent only after `delay_s` seconds."""
    return Reply(score=score, delay_s=delay_s)


@dataclass
class Request:
    """One request received: headers, JSON body (None if it was not JSON), the phase it judges, the reply."""

    headers: dict[str, str]
    body: Any
    phase: str | None
    at: float
    reply: Reply | None = None
    status: int = 200
    candidate_messages: list[str] = field(default_factory=list)

    def message(self, role: str) -> str:
        """The content of the first message with this role ("" if none)."""
        for m in (self.body or {}).get("messages", []):
            if isinstance(m, dict) and m.get("role") == role:
                return m.get("content") or ""
        return ""


class LlmStandIn:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 at an ephemeral port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None) -> None:
        """Not listening yet; with `api_key`, requests without "Authorization: Bearer <api_key>" get 401."""
        self.host = host
        self.port = port
        self.api_key = api_key
        self.default = good(3)
        self.requests: list[Request] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._calls: list[Reply] = []
        self._phases: dict[str, list[Reply]] = {}
        self._phase_defaults: dict[str, Reply] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> LlmStandIn:
        """Listen on the host and port (0: ephemeral)."""
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop listening; delayed replies are cut short."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LlmStandIn:
        """Start; `async with LlmStandIn() as llm:`."""
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop."""
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL a client is configured with (it appends /chat/completions)."""
        return f"http://{self.host}:{self.port}/v1"

    # ------------------------------------------------------------ scripting and inspection

    def script_phase(self, phase: str, *replies: Reply) -> None:
        """Answer the next requests judging `phase` with `replies`, in order; then the phase's default."""
        self._phases.setdefault(phase, []).extend(replies)

    def answer_phase_with(self, phase: str, reply: Reply) -> None:
        """Answer every request judging `phase` with `reply` once its scripted replies are used up."""
        self._phase_defaults[phase] = reply

    def script_calls(self, *replies: Reply) -> None:
        """Answer the next requests, whatever their phase, with `replies` in order (before any phase script)."""
        self._calls.extend(replies)

    def requests_for(self, phase: str) -> list[Request]:
        """Recorded requests judging `phase`, in order."""
        return [r for r in self.requests if r.phase == phase]

    # ------------------------------------------------------------ the endpoint

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await self._answer(request)
        finally:
            self._in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        phase, candidate = _phase_and_candidate(body)
        record = Request(dict(request.headers), body, phase, time.monotonic(), candidate_messages=candidate)
        self.requests.append(record)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(record, 401, "invalid_api_key", "Incorrect API key provided.")
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return self._error(record, 400, "invalid_request_error", "model and messages are required")
        reply = self._next_reply(phase)
        record.reply = reply
        record.status = reply.status
        if reply.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), reply.delay_s)
        headers = dict(reply.headers)
        if reply.body is not None:
            return web.Response(
                status=reply.status, text=reply.body, headers=headers, content_type=_type(reply)
            )
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _content(reply, candidate)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
        return web.json_response(completion, status=reply.status, headers=headers)

    def _next_reply(self, phase: str | None) -> Reply:
        if self._calls:
            return self._calls.pop(0)
        queue = self._phases.get(phase or "")
        if queue:
            return queue.pop(0)
        return self._phase_defaults.get(phase or "", self.default)

    @staticmethod
    def _error(record: Request, status: int, kind: str, message: str) -> web.Response:
        record.status = status
        return web.json_response({"error": {"message": message, "type": kind}}, status=status)


def _type(reply: Reply) -> str:
    return "application/json" if reply.body.lstrip().startswith(("{", "[")) else "text/html"


def _content(reply: Reply, candidate: list[str]) -> str:
    if reply.content is not None:
        return reply.content
    evidence = list(reply.evidence) if reply.evidence is not None else candidate[:1]
    text = json.dumps({"score": reply.score, "evidence": evidence, "reason": reply.reason})
    return f"```json\n{text}\n```" if reply.fenced else text


def _phase_and_candidate(body: Any) -> tuple[str | None, list[str]]:
    """The phase named in the user message's <rubric> block and the candidate_messages of its field."""
    if not isinstance(body, dict):
        return None, []
    user = next(
        (
            m.get("content")
            for m in body.get("messages") or []
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        None,
    )
    if not isinstance(user, str):
        return None, []
    phase: str | None = None
    candidate: list[str] = []
    rubric = _RUBRIC.search(user)
    if rubric:
        try:
            phase = json.loads(rubric.group(1)).get("phase")
        except (ValueError, AttributeError):
            phase = None
    field_ = _CANDIDATE.search(user)
    if field_:
        try:
            candidate = list(json.loads(field_.group(1)).get("candidate_messages") or [])
        except (ValueError, AttributeError, TypeError):
            candidate = []
    return phase, candidate
