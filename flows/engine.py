"""The interview as a state machine: step(interview, event) -> (interview, effects)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flows import framework as fw
from flows.events import (
    Answer,
    Cancel,
    CancelTimer,
    Control,
    Edit,
    Effect,
    Event,
    Finish,
    Idle,
    Nudge,
    Say,
    ScheduleTimer,
    Start,
    Tell,
    TimerFired,
)
from flows.matching import matcher_for
from flows.problem import Problem
from flows.text import content_stems

# A timer may come due this many interview seconds early (scheduler jitter) and still count.
TIMER_TOLERANCE = 1.0
TIMER_KINDS = ("checkpoint", "warning", "time_up", "overrun")
# In a pair interview the bot only keeps time: the human asks the questions and moves the phases.
PAIR = "pair"


@dataclass(frozen=True)
class Turn:
    """One message of the interview, stamped with its phase and interview time."""

    at: float
    phase: str
    role: str  # candidate, interviewer, bot, comment
    text: str
    message_id: str = ""
    user: str = ""
    kind: str = ""


@dataclass(frozen=True)
class PhaseRecord:
    """When a phase ran, and how long it was paused."""

    phase: str
    started_at: float
    ended_at: float | None = None
    paused: float = 0.0


@dataclass(frozen=True)
class Interview:
    """The whole state of one interview; the engine stores nothing else."""

    id: str
    problem: Problem
    level: str = "senior"
    scale: float = 1.0
    status: str = "new"  # new, running, paused, ended
    phase_index: int = 0
    started_at: float = 0.0
    paused_at: float | None = None
    last_activity: float = 0.0
    turns: tuple[Turn, ...] = ()
    phases: tuple[PhaseRecord, ...] = ()
    covered: tuple[str, ...] = ()  # concept ids covered so far in the current phase
    asked: tuple[str, ...] = ()  # "phase:concept" follow-ups asked
    hints_given: tuple[str, ...] = ()  # one phase id per hint given
    fired: tuple[str, ...] = ()  # timer ids already emitted
    wrapped: tuple[str, ...] = ()  # phases where the bot said the key points are covered
    end_reason: str = ""
    suggestions: tuple[tuple[str, str], ...] = ()  # (phase or pitfall, problem title)
    team: bool = False
    mode: str = "solo"  # solo, pair
    pauses: int = 0  # pause and resume toggles, so a stale pause or resume button is recognised

    @property
    def phase(self) -> str:
        """The id of the current phase."""
        return self.problem.phase_ids[min(self.phase_index, len(self.problem.phase_ids) - 1)]

    @property
    def phase_name(self) -> str:
        """The display name of the current phase."""
        return fw.PHASE_SPECS[self.phase].name

    def budget(self, phase: str | None = None) -> float:
        """A phase's budget in interview seconds."""
        return fw.phase_budget_seconds(phase or self.phase, self.scale)

    def phase_elapsed(self, at: float) -> float:
        """Seconds the current phase has run, pauses excluded."""
        if not self.phases:
            return 0.0
        record = self.phases[-1]
        now = self.paused_at if self.paused_at is not None else at
        return max(0.0, now - record.started_at - record.paused)

    @property
    def idle_limit(self) -> float:
        """Seconds of silence after which the interview closes."""
        return fw.IDLE_MINUTES * 60.0 * self.scale


def new_interview(
    interview_id: str,
    problem: Problem,
    level: str = "senior",
    minutes: float | None = None,
    suggestions: dict[str, str] | None = None,
    team: bool = False,
    mode: str = "solo",
) -> Interview:
    """A fresh interview, not yet started."""
    if level not in fw.LEVELS:
        raise ValueError(f"level must be one of {', '.join(fw.LEVELS)}")
    if mode not in ("solo", PAIR):
        raise ValueError("mode must be solo or pair")
    return Interview(
        id=interview_id,
        problem=problem,
        level=level,
        scale=fw.scale_for_minutes(minutes, problem.data_flow),
        suggestions=tuple(sorted((suggestions or {}).items())),
        team=team,
        mode=mode,
    )


def control_token(interview: Interview) -> str:
    """What a message's buttons were shown for: the phase, the hints given in it, the pauses so far."""
    hints = interview.hints_given.count(interview.phase)
    return f"{interview.phase_index}.{hints}.{interview.pauses}"


def _stale(iv: Interview, word: str, shown_for: str) -> bool:
    """Whether a button shown for `shown_for` has already been acted on (its moment has passed)."""
    if not shown_for:
        return False
    now = control_token(iv).split(".")
    then = shown_for.split(".")
    if len(then) != 3 or then[0] != now[0]:
        return True  # shown in an earlier phase: next, end and the rest were for that phase
    if word == "hint":
        return then[1] != now[1]
    if word in ("pause", "resume"):
        return then[2] != now[2]
    return False


ALREADY_DONE = "Already done: that button was for an earlier moment of the interview."


def step(interview: Interview, event: Event) -> tuple[Interview, list[Effect]]:
    """Apply one event; return the new interview and the effects for the adapter to carry out."""
    if interview.status == "ended":
        if isinstance(event, Control) and event.user:
            text = ALREADY_DONE if event.shown_for else "This interview has ended."
            return interview, [Tell(event.user, text)]
        if isinstance(event, Cancel) and event.user:
            return interview, [Tell(event.user, "This interview has already ended.")]
        return interview, []
    if isinstance(event, Start):
        return _start(interview, event.at)
    if interview.status == "new":
        return interview, []
    if isinstance(event, Answer):
        return _answer(interview, event)
    if isinstance(event, Edit):
        return _edit(interview, event)
    if isinstance(event, Control):
        if _stale(interview, event.word, event.shown_for):
            return interview, [Tell(event.user, ALREADY_DONE)] if event.user else []
        return _control(interview, event)
    if isinstance(event, Cancel):
        return _cancel(interview, event)
    if isinstance(event, TimerFired):
        return _timer(interview, event)
    if isinstance(event, Idle):
        return _idle(interview, event.at)
    raise TypeError(f"unknown event {event!r}")


# ---------------------------------------------------------------- phases and timers


def _start(iv: Interview, at: float) -> tuple[Interview, list[Effect]]:
    if iv.status != "new":
        return iv, []
    iv = replace(iv, status="running", started_at=at, last_activity=at)
    p = iv.problem
    intro = (
        f"*{p.title}* ({iv.level} level, about {round(_total_minutes(iv))} minutes)\n{p.prompt}\n"
        "Controls: `next`, `hint`, `time`, `pause`, `resume`, `end`."
    )
    if iv.team:
        intro += "\nTeam interview: everyone in this thread answers, and anyone can use the controls."
    iv = _say(iv, at, intro, "intro")
    effects: list[Effect] = [Say(intro, "intro", iv.phase)]
    iv, opened = _open_phase(iv, at)
    effects += opened
    effects.append(ScheduleTimer("idle", at + iv.idle_limit))
    return iv, effects


def _total_minutes(iv: Interview) -> float:
    return sum(iv.budget(ph) for ph in iv.problem.phase_ids) / 60.0


def _open_phase(iv: Interview, at: float) -> tuple[Interview, list[Effect]]:
    phase = iv.phase
    spec = fw.PHASE_SPECS[phase]
    guide = iv.problem.guide(phase)
    iv = replace(iv, phases=iv.phases + (PhaseRecord(phase, at),), covered=())
    if iv.mode != PAIR:  # what the candidate already said in earlier phases is never asked again
        iv = replace(iv, covered=_carried_coverage(iv))
    minutes = _fmt_minutes(iv.budget(phase))
    if iv.mode == PAIR:
        message = f"*{spec.name}* ({minutes}) has started."
        iv = _say(iv, at, message, "phase")
        return iv, [Say(message, "phase", phase), *_schedule_phase_timers(iv, at)]
    if phase == "deep_dives":
        text, asked = _deep_dive_opening(iv)
        iv = replace(iv, asked=iv.asked + asked)
    else:
        text = " ".join(guide.questions or tuple(q.format(title=iv.problem.title) for q in spec.questions))
    message = f"*{spec.name}* ({minutes}). {text}"
    iv = _say(iv, at, message, "phase")
    return iv, [Say(message, "phase", phase), *_schedule_phase_timers(iv, at)]


def _carried_coverage(iv: Interview) -> tuple[str, ...]:
    """The current phase's concepts that the candidate already covered in earlier phases."""
    texts = [t.text for t in iv.turns if t.role == "candidate" and t.phase != iv.phase]
    if not texts:
        return ()
    matcher = matcher_for(iv.problem)
    return tuple(c for c, e in matcher.evidence(matcher.analyse(texts), iv.phase).items() if not e.wrong)


def _design_gaps(iv: Interview) -> list[str]:
    """Core high-level design components the candidate has not described (empty: a working design)."""
    texts = [t.text for t in iv.turns if t.role == "candidate" and t.phase == "high_level_design"]
    matcher = matcher_for(iv.problem)
    found = {
        c for c, e in matcher.evidence(matcher.analyse(texts), "high_level_design").items() if not e.wrong
    }
    core = [c for c in iv.problem.guide("high_level_design").concepts if c.weight == 3]
    missing = [c.name for c in core if c.id not in found]
    return missing if len(missing) * 2 > len(core) else []


def _deep_dive_opening(iv: Interview) -> tuple[str, tuple[str, ...]]:
    template = fw.DEEP_DIVE_OPENINGS[iv.level]
    if iv.level != "junior":
        gaps = _design_gaps(iv)
        if gaps:
            return fw.DEEP_DIVE_WITHOUT_DESIGN.format(gaps="; ".join(gaps[:3]).lower()), ()
        return template.format(title=iv.problem.title), ()
    concepts = sorted(iv.problem.guide("deep_dives").concepts, key=lambda c: -c.weight)
    topic = concepts[0]
    text = template.format(topic=f"{topic.name}. {topic.follow_up}")
    return text, (f"deep_dives:{topic.id}",)


def _timer_id(phase: str, kind: str) -> str:
    return f"{phase}:{kind}"


def _warning_lead(iv: Interview) -> float:
    return min(fw.WARNING_LEAD_MINUTES * 60.0 * iv.scale, iv.budget() / 2)


def _phase_timer_offsets(iv: Interview) -> dict[str, float]:
    budget = iv.budget()
    offsets = {
        "warning": budget - _warning_lead(iv),
        "time_up": budget,
        "overrun": budget * fw.AUTO_ADVANCE_FACTOR,
    }
    if iv.mode == PAIR:
        offsets["checkpoint"] = budget / 2
    return offsets


def _schedule_phase_timers(iv: Interview, at: float) -> list[Effect]:
    """Timers for what is still ahead in the current phase, due at their true remaining time."""
    elapsed = iv.phase_elapsed(at)
    effects: list[Effect] = []
    for kind, offset in _phase_timer_offsets(iv).items():
        tid = _timer_id(iv.phase, kind)
        if tid not in iv.fired and offset > elapsed:
            effects.append(ScheduleTimer(tid, at + offset - elapsed))
    return effects


def _cancel_phase_timers(phase: str) -> list[Effect]:
    return [CancelTimer(_timer_id(phase, kind)) for kind in TIMER_KINDS]


def _advance(iv: Interview, at: float, reason: str) -> tuple[Interview, list[Effect]]:
    effects: list[Effect] = _cancel_phase_timers(iv.phase)
    iv = _close_phase(iv, at)
    if iv.phase_index + 1 >= len(iv.problem.phase_ids):
        iv2, more = _finish(iv, at, "completed")
        return iv2, effects + more
    iv = replace(iv, phase_index=iv.phase_index + 1)
    iv, opened = _open_phase(iv, at)
    return iv, effects + opened


def _close_phase(iv: Interview, at: float) -> Interview:
    if not iv.phases or iv.phases[-1].ended_at is not None:
        return iv
    last = iv.phases[-1]
    paused = last.paused + (at - iv.paused_at if iv.paused_at is not None else 0.0)
    return replace(iv, phases=iv.phases[:-1] + (replace(last, ended_at=at, paused=paused),))


def _finish(iv: Interview, at: float, reason: str) -> tuple[Interview, list[Effect]]:
    from flows.scoring import score_transcript  # scoring reads the transcript this builds

    effects: list[Effect] = _cancel_phase_timers(iv.phase) + [CancelTimer("idle")]
    iv = _close_phase(iv, at)
    iv = replace(iv, status="ended", end_reason=reason, paused_at=None)
    recap = score_transcript(to_transcript(iv), iv.problem, dict(iv.suggestions))
    recap["ended_because"] = reason
    effects.append(Finish(reason, recap))
    return iv, effects


def _cancel(iv: Interview, ev: Cancel) -> tuple[Interview, list[Effect]]:
    """Called off: the timers stop and the interview ends without a recap."""
    effects: list[Effect] = _cancel_phase_timers(iv.phase) + [CancelTimer("idle")]
    iv = _close_phase(iv, ev.at)
    iv = replace(iv, status="ended", end_reason="cancelled", paused_at=None)
    text = f"{ev.by or 'Someone'} cancelled this pair interview."
    iv = _say(iv, ev.at, text, "notice")
    return iv, effects + [Say(text, "notice", iv.phase)]


# ---------------------------------------------------------------- answers


def _say(iv: Interview, at: float, text: str, kind: str) -> Interview:
    turn = Turn(at, iv.phase, "bot", text, kind=kind)
    return replace(iv, turns=iv.turns + (turn,))


def _clean(text: str) -> str:
    """The text without NUL characters (no store keeps them) and surrounding space."""
    return text.replace("\x00", "").strip()


def _answer(iv: Interview, ev: Answer) -> tuple[Interview, list[Effect]]:
    text = _clean(ev.text)
    if not text:
        return iv, []
    if ev.role == "comment" and iv.mode != PAIR:
        return _comment(iv, ev, text), []
    effects: list[Effect] = []
    if len(text) > fw.MAX_MESSAGE_CHARS:
        text = text[: fw.MAX_MESSAGE_CHARS]
        notice = f"That message was long; I kept its first {fw.MAX_MESSAGE_CHARS:,} characters."
        effects.append(Say(notice, "notice", iv.phase))
    role = ev.role if iv.mode == PAIR and ev.role == "interviewer" else "candidate"
    turn = Turn(ev.at, iv.phase, role, text, ev.message_id, ev.user)
    iv = replace(iv, turns=_in_order(iv.turns, turn), last_activity=max(iv.last_activity, ev.at))
    if iv.status == "paused":
        if iv.mode != PAIR:
            effects.append(Say("The clock is paused; say `resume` to carry on.", "info", iv.phase))
        return iv, effects
    effects.append(ScheduleTimer("idle", ev.at + iv.idle_limit))
    if iv.mode == PAIR:  # the human asks the questions; the bot only tracks what came up
        if role == "candidate":
            iv = replace(iv, covered=_phase_coverage(iv))
        return iv, effects
    matcher = matcher_for(iv.problem)
    analysed = matcher.analyse([text])
    found = matcher.evidence(analysed, iv.phase)
    new = tuple(c for c, e in found.items() if c not in iv.covered and not e.wrong)
    iv = replace(iv, covered=iv.covered + new)
    asks = any(s.is_question for s in analysed.sentences)
    clarification = matcher.clarification_for(text) if asks else None
    if clarification is not None:  # a clarifying question gets the problem's answer, not a new question
        key = f"clarify:{clarification.id}"
        reply = clarification.answer if key not in iv.asked else f"As I said: {clarification.answer}"
        iv = replace(iv, asked=iv.asked + ((key,) if key not in iv.asked else ()))
        iv = _say(iv, ev.at, reply, "clarify")
        return iv, effects + [Say(reply, "clarify", iv.phase)]
    related = any(matcher.hits(s) for s in analysed.sentences) or bool(
        content_stems(text) & matcher.term_stems
    )
    iv, follow = _follow_up(iv, ev.at, off_topic=not related and not iv.covered, asks=asks)
    return iv, effects + follow


def _comment(iv: Interview, ev: Answer, text: str) -> Interview:
    """A teammate's remark in a solo interview: kept in the transcript, never scored or answered."""
    # No idle timer or follow-up: the interview waits on the candidate, not on onlookers.
    turn = Turn(ev.at, iv.phase, "comment", text[: fw.MAX_MESSAGE_CHARS], ev.message_id, ev.user)
    return replace(iv, turns=_in_order(iv.turns, turn))


def _in_order(turns: tuple[Turn, ...], turn: Turn) -> tuple[Turn, ...]:
    """Turns stay ordered by when they were said, even if a message arrives late."""
    index = len(turns)
    while index > 0 and turns[index - 1].at > turn.at:
        index -= 1
    return turns[:index] + (turn,) + turns[index:]


def _follow_up(
    iv: Interview, at: float, off_topic: bool, asks: bool = False
) -> tuple[Interview, list[Effect]]:
    """Ask about the most important thing still missing in this phase, if any is left to ask."""
    phase = iv.phase
    limit = fw.MAX_FOLLOW_UPS_PER_PHASE
    if phase == "deep_dives":
        limit = fw.DEEP_DIVE_FOLLOW_UPS[iv.level] + (1 if iv.level == "junior" else 0)
    asked_here = [a for a in iv.asked if a.startswith(phase + ":")]
    guide = iv.problem.guide(phase)
    missing = [
        c
        for c in sorted(guide.concepts, key=lambda c: -c.weight)
        if c.id not in iv.covered and f"{phase}:{c.id}" not in iv.asked and c.weight >= 2
    ]
    prefix = f"I'm not sure how that relates to {iv.problem.title}. " if off_topic else ""
    if missing and len(asked_here) < limit:
        concept = missing[0]
        text = prefix + concept.follow_up
        iv = replace(iv, asked=iv.asked + (f"{phase}:{concept.id}",))
        iv = _say(iv, at, text, "follow_up")
        return iv, [Say(text, "follow_up", phase)]
    core_missing = [c for c in guide.concepts if c.weight >= 2 and c.id not in iv.covered]
    if not core_missing and phase not in iv.wrapped:
        text = f"That covers the key points of {fw.PHASE_SPECS[phase].name}. Add more, or say `next`."
        iv = replace(iv, wrapped=iv.wrapped + (phase,))
        iv = _say(iv, at, text, "info")
        return iv, [Say(text, "info", phase)]
    if prefix:
        text = prefix + "Let's stay on the problem."
        iv = _say(iv, at, text, "info")
        return iv, [Say(text, "info", phase)]
    if asks:  # a direct question always gets an answer, even when the follow-ups are used up
        text = fw.NO_MORE_DETAIL
        iv = _say(iv, at, text, "info")
        return iv, [Say(text, "info", phase)]
    return iv, []


def _edit(iv: Interview, ev: Edit) -> tuple[Interview, list[Effect]]:
    text = _clean(ev.text)[: fw.MAX_MESSAGE_CHARS]
    index = next(
        (i for i, t in enumerate(iv.turns) if t.message_id == ev.message_id and t.role != "bot"),
        None,
    )
    if index is None or not text:
        return iv, []
    turns = list(iv.turns)
    turns[index] = replace(turns[index], text=text)
    iv = replace(iv, turns=tuple(turns), last_activity=max(iv.last_activity, ev.at))
    if turns[index].phase == iv.phase:
        iv = replace(iv, covered=_phase_coverage(iv))
    return iv, []


def _phase_coverage(iv: Interview) -> tuple[str, ...]:
    """The current phase's concepts covered so far: in this phase, or carried from earlier ones."""
    texts = [t.text for t in iv.turns if t.phase == iv.phase and t.role == "candidate"]
    matcher = matcher_for(iv.problem)
    here = tuple(c for c, e in matcher.evidence(matcher.analyse(texts), iv.phase).items() if not e.wrong)
    carried = _carried_coverage(iv) if iv.mode != PAIR else ()
    return carried + tuple(c for c in here if c not in carried)


# ---------------------------------------------------------------- controls


def _control(iv: Interview, ev: Control) -> tuple[Interview, list[Effect]]:
    word = ev.word.strip().lower()
    at = ev.at
    if word == "end":
        return _finish(iv, at, "ended")
    if word == "pause":
        if iv.status == "paused":
            return _info(iv, at, "Already paused; say `resume` to carry on.")
        iv = replace(iv, status="paused", paused_at=at, pauses=iv.pauses + 1)
        effects: list[Effect] = _cancel_phase_timers(iv.phase) + [CancelTimer("idle")]
        iv, said = _info(iv, at, "Paused: the clock is stopped. Say `resume` to carry on.")
        return iv, effects + said
    if word == "resume":
        if iv.status != "paused" or iv.paused_at is None:
            return _info(iv, at, "The interview is not paused.")
        gap = at - iv.paused_at
        last = iv.phases[-1]
        iv = replace(
            iv,
            status="running",
            paused_at=None,
            phases=iv.phases[:-1] + (replace(last, paused=last.paused + gap),),
            last_activity=at,
            pauses=iv.pauses + 1,
        )
        left = _fmt_minutes(max(0.0, iv.budget() - iv.phase_elapsed(at)))
        iv, said = _info(iv, at, f"Resumed. {left} left for {iv.phase_name}.")
        return iv, said + _schedule_phase_timers(iv, at) + [ScheduleTimer("idle", at + iv.idle_limit)]
    if iv.status == "paused":
        return _info(iv, at, "The clock is paused; say `resume` first.")
    if word == "next":
        return _advance(iv, at, "next")
    if word == "hint":
        return _hint(iv, at)
    if word == "time":
        return _info(iv, at, _time_left(iv, at))
    return iv, []


def _info(iv: Interview, at: float, text: str) -> tuple[Interview, list[Effect]]:
    return _say(iv, at, text, "info"), [Say(text, "info", iv.phase)]


def _hint(iv: Interview, at: float) -> tuple[Interview, list[Effect]]:
    hints = iv.problem.guide(iv.phase).hints
    given = iv.hints_given.count(iv.phase)
    if given >= len(hints):
        return _info(iv, at, f"No more hints for {iv.phase_name}; say `next` when you are ready.")
    text = f"Hint: {hints[given]}"
    iv = replace(iv, hints_given=iv.hints_given + (iv.phase,))
    iv = _say(iv, at, text, "hint")
    return iv, [Say(text, "hint", iv.phase)]


def _time_left(iv: Interview, at: float) -> str:
    used = iv.phase_elapsed(at)
    budget = iv.budget()
    ahead = sum(iv.budget(p) for p in iv.problem.phase_ids[iv.phase_index + 1 :])
    overall = max(0.0, budget - used) + ahead
    if used <= budget:
        here = f"{_fmt_minutes(budget - used)} left for {iv.phase_name}"
    else:
        here = f"{iv.phase_name} is {_fmt_minutes(used - budget)} over its {_fmt_minutes(budget)}"
    return f"{here}; about {_fmt_minutes(overall)} left in the interview."


def _fmt_minutes(seconds: float) -> str:
    minutes = seconds / 60.0
    if minutes >= 1.95 or abs(minutes - round(minutes)) < 0.05:
        value = round(minutes)
        return f"{value} minute{'s' if value != 1 else ''}"
    if minutes >= 1:
        return f"{minutes:.1f} minutes"
    return f"{max(1, round(seconds))} seconds"


# ---------------------------------------------------------------- timers and idleness


def _timer(iv: Interview, ev: TimerFired) -> tuple[Interview, list[Effect]]:
    if ev.timer_id == "idle":
        return _idle(iv, ev.at)
    if iv.status != "running" or ev.timer_id in iv.fired:
        return iv, []
    phase, _, kind = ev.timer_id.partition(":")
    if phase != iv.phase or kind not in TIMER_KINDS:
        return iv, []  # a warning for a phase that has ended is never emitted
    offset = _phase_timer_offsets(iv)[kind]
    elapsed = iv.phase_elapsed(ev.at)
    if elapsed + TIMER_TOLERANCE < offset:  # fired early (a stale due time): re-arm it
        return iv, [ScheduleTimer(ev.timer_id, ev.at + offset - elapsed)]
    iv = replace(iv, fired=iv.fired + (ev.timer_id,))
    at = ev.at
    if iv.mode == PAIR:
        return _pair_timer(iv, at, phase, kind)
    if kind == "overrun":
        following = _following_name(iv)
        text = f"We're well past the time for {iv.phase_name}; " + (
            f"let's move on to {following}." if following else "let's wrap up."
        )
        iv = _say(iv, at, text, "warning")
        iv, more = _advance(iv, at, "overrun")
        return iv, [Say(text, "warning", phase), *more]
    if kind == "warning":
        text = f"{_fmt_minutes(_warning_lead(iv))} left for {iv.phase_name}."
    else:
        following = _following_name(iv)
        text = f"Time's up for {iv.phase_name}. " + (
            f"Wrap up and say `next` to move to {following}."
            if following
            else "Wrap up and say `end` for your recap."
        )
    iv = _say(iv, at, text, "warning")
    return iv, [Say(text, "warning", phase)]


def _pair_timer(iv: Interview, at: float, phase: str, kind: str) -> tuple[Interview, list[Effect]]:
    """Pair interviews: time warnings in the thread for both; nudges to the interviewer alone."""
    missing = [
        c
        for c in sorted(iv.problem.guide(phase).concepts, key=lambda c: -c.weight)
        if c.weight == 3 and c.id not in iv.covered
    ]
    gap = ""
    if missing:
        gap = f" Not yet discussed: {missing[0].name.lower()}. You could ask: \u201c{missing[0].follow_up}\u201d"
    if kind == "checkpoint":
        if not missing:
            return iv, []
        return iv, [Nudge(f"Halfway through {iv.phase_name}.{gap}", phase)]
    if kind == "overrun":
        return iv, [Nudge(f"{iv.phase_name} is well past its time: consider pressing *Next phase*.", phase)]
    if kind == "warning":
        text = f"{_fmt_minutes(_warning_lead(iv))} left for {iv.phase_name}."
        nudge = f"{iv.phase_name} is running long: about a minute left.{gap}"
    else:
        text = f"Time's up for {iv.phase_name}."
        nudge = f"{iv.phase_name} has used its time: press *Next phase* when you are ready."
    iv = _say(iv, at, text, "warning")
    return iv, [Say(text, "warning", phase), Nudge(nudge, phase)]


def _following_name(iv: Interview) -> str:
    ids = iv.problem.phase_ids
    if iv.phase_index + 1 < len(ids):
        return fw.PHASE_SPECS[ids[iv.phase_index + 1]].name
    return ""


def _idle(iv: Interview, at: float) -> tuple[Interview, list[Effect]]:
    if iv.status != "running":
        return iv, []
    quiet = at - iv.last_activity
    if quiet + TIMER_TOLERANCE < iv.idle_limit:
        return iv, [ScheduleTimer("idle", iv.last_activity + iv.idle_limit)]
    text = f"No answer for {_fmt_minutes(quiet)}: closing the interview with a recap of what there was."
    iv = _say(iv, at, text, "notice")
    iv, effects = _finish(iv, at, "idle")
    return iv, [Say(text, "notice", iv.phase), *effects]


# ---------------------------------------------------------------- transcripts


def to_transcript(iv: Interview) -> dict:
    """The interview in the transcript JSON shape of CONTRACTS.md (times since the start)."""
    t0 = iv.started_at

    def rel(x: float) -> float:
        return round(max(0.0, x - t0), 3)

    turns = []
    for t in iv.turns:
        item = {"at": rel(t.at), "phase": t.phase, "role": t.role, "text": t.text}
        if t.user:
            item["user"] = t.user
        turns.append(item)
    phases = [
        {
            "phase": r.phase,
            "started_at": rel(r.started_at),
            "ended_at": rel(r.ended_at if r.ended_at is not None else r.started_at),
            "paused": round(r.paused, 3),
        }
        for r in iv.phases
    ]
    return {
        "problem": iv.problem.slug,
        "level": iv.level,
        "minutes": round(_total_minutes(iv), 3),
        "turns": turns,
        "phases": phases,
    }
