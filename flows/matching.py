"""Which of a problem's concepts an answer covers, and how well: judged on content, not length."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from flows.problem import Clarification, Concept, Problem
from flows.text import (
    NEGATIONS,
    STOPWORDS,
    Sentence,
    TypoIndex,
    analyse_sentence,
    normalise,
    raw_tokens,
    split_sentences,
    stem,
    term_key,
)

# Credit for a concept by how it was said.
CREDIT_EXPLAINED = 1.0  # named, however briefly: a terse precise answer earns what a long one does
CREDIT_STUFFED = 0.1  # one of a pasted list of keywords
CREDIT_VAGUE = 0.4  # named in a message of buzzwords and hedges, with no figure or decision in it
VAGUE_CUES_PER_MESSAGE = 3


_NOTATION = re.compile(r"[{}()\[\]]|->|=>|\w=|\b(?:get|post|put|patch|delete)\s+/|\w/\w|:\s*\w+\s*[,}]")


SENTENCE_CACHE = 4096  # sentences whose reading and hits a matcher keeps (the same text is read often)
# A phrase of n words matches when all of them occur within n + WINDOW_SLACK content words, in any order.
WINDOW_SLACK = 2
# Copy detection: share of a message's word 4-grams found in the problem's own wording.
PASTE_GRAM = 4
PASTE_SHARE = 0.5
PASTE_MIN_WORDS = 8

# Words that make a "reason" sound like one without adding information.
_FILLER = frozenset(
    stem(w)
    for w in [
        "modern",
        "cloud",
        "native",
        "everywhere",
        "industry",
        "standard",
        "best",
        "practice",
        "practices",
        "scalable",
        "scalability",
        "robust",
        "reliable",
        "reliability",
        "important",
        "always",
        "everyone",
        "popular",
        "common",
        "good",
        "great",
        "better",
        "nice",
        "easy",
        "architecture",
        "architectures",
        "system",
        "systems",
        "design",
        "solution",
        "approach",
        "technology",
        "tool",
        "thing",
        "things",
        "way",
        "need",
        "needs",
        "use",
        "using",
        "work",
        "works",
        "make",
        "makes",
        "today",
        "nowadays",
        "world",
        "enterprise",
        "grade",
        "powerful",
        "flexible",
        "efficient",
        "efficiency",
        "performance",
        "performant",
        "fast",
        "faster",
        "proven",
        "battle",
        "tested",
        "trend",
    ]
)


@dataclass(frozen=True)
class Hit:
    """A concept (or one of its misconceptions) named in a sentence."""

    phase: str
    concept: str
    sentence: int
    start: int
    end: int
    negated: bool
    wrong: bool = False  # a misconception of the concept, not the concept


@dataclass(frozen=True)
class ConceptEvidence:
    """The best evidence that a concept was covered in a phase (or that it was claimed wrongly)."""

    concept: Concept
    quote: str
    credit: float
    quality: float  # 0..1: a reason that adds information, an alternative, a concrete detail
    stuffed: bool
    wrong: str = ""  # why the claim is wrong ("" when it is not): misconception or implausible figure


@dataclass(frozen=True)
class AnalysedText:
    """The sentences of some candidate messages, read once."""

    sentences: tuple[Sentence, ...]
    message_of: tuple[int, ...]  # per sentence: index of the message it came from


_Entry = tuple[tuple[str, ...], str, str, bool]
_ENTITY_SUFFIXES = frozenset(stem(w) for w in ("entity", "table", "record", "model"))
_LIST_SPLIT = re.compile(r"[,:;\n()]|\band\b|\s[-–]\s")


def _list_items(text: str) -> set[str]:
    """The stems of one-word items of a list ("ShortURL, User, Click" -> shorturl, user, click)."""
    parts = _LIST_SPLIT.split(text)
    if len(parts) < 2:
        return set()
    out = set()
    for part in parts:
        words = [w for w in raw_tokens(part) if w not in STOPWORDS]
        if len(words) == 1:
            out.add(stem(words[0]))
    return out


class ProblemMatcher:
    """Finds a problem's concepts, and claims that contradict them, in chat text."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._loose: dict[str, list[_Entry]] = {}  # by every stem of the phrase
        self._exact: dict[str, list[_Entry]] = {}  # by the first stem: phrases with stopwords
        vocabulary: set[str] = set()
        term_stems: set[str] = set()
        for phase, guide in problem.phases.items():
            for concept in guide.concepts:
                phrases = [(t, False) for t in concept.terms] + [(m, True) for m in concept.misconceptions]
                for phrase, wrong in phrases:
                    key, exact = term_key(phrase)
                    if not key:
                        continue
                    entry = (key, phase, concept.id, wrong)
                    if exact:
                        self._exact.setdefault(key[0], []).append(entry)
                    else:
                        for st in set(key):
                            self._loose.setdefault(st, []).append(entry)
                    vocabulary.update(raw_tokens(phrase))
                    if not wrong:
                        term_stems.update(key)
        self.typos = TypoIndex(vocabulary)
        self.term_stems = frozenset(term_stems - STOPWORDS)
        self.concepts = {(phase, c.id): c for phase, guide in problem.phases.items() for c in guide.concepts}
        self._bank_grams = _grams(_bank_wording(problem))
        self._entity_heads: dict[str, list[str]] = {}
        for c in problem.phases["core_entities"].concepts if "core_entities" in problem.phases else ():
            for term in c.terms:
                key, _exact = term_key(term)
                if len(key) == 2 and key[1] in _ENTITY_SUFFIXES and key[0] not in STOPWORDS:
                    heads = self._entity_heads.setdefault(key[0], [])
                    if c.id not in heads:
                        heads.append(c.id)
        self._read: dict[str, Sentence] = {}
        self._hits: dict[str, list[Hit]] = {}
        self._clarify = [
            (term_key(term)[0], c) for c in problem.clarifications for term in c.terms if term_key(term)[0]
        ]
        for clarification in problem.clarifications:
            self.typos.add(w for term in clarification.terms for w in raw_tokens(term))

    def clarification_for(self, text: str) -> Clarification | None:
        """The problem's answer to a clarifying question the text asks, if it has one."""
        best: tuple[int, Clarification] | None = None
        for s in self.analyse([text]).sentences:
            if not s.is_question:
                continue
            seq = [s.stems[i] for i in s.content]
            for key, clarification in self._clarify:
                said = any(_window(seq, ci, key) is not None for ci in range(len(seq)) if seq[ci] == key[0])
                if said and (best is None or len(key) > best[0]):
                    best = (len(key), clarification)
        return best[1] if best else None

    def analyse(self, messages: Sequence[str]) -> AnalysedText:
        """Split messages into sentences and read each once (a sentence seen before is not re-read)."""
        sentences: list[Sentence] = []
        owner: list[int] = []
        for m, message in enumerate(messages):
            for text in split_sentences(message):
                read = self._read.get(text)
                if read is None:
                    if len(self._read) > SENTENCE_CACHE:
                        self._read.clear()
                    read = self._read[text] = analyse_sentence(text, 0, self.typos)
                sentences.append(
                    read if read.index == len(sentences) else replace(read, index=len(sentences))
                )
                owner.append(m)
        return AnalysedText(tuple(sentences), tuple(owner))

    def hits(self, sentence: Sentence) -> list[Hit]:
        """Every concept phrase found in a sentence: its words close together, in any order."""
        cached = self._hits.get(sentence.text)
        if cached is None:
            if len(self._hits) > SENTENCE_CACHE:
                self._hits.clear()
            cached = self._hits[sentence.text] = self._find(sentence)
        if cached and cached[0].sentence != sentence.index:
            return [replace(h, sentence=sentence.index) for h in cached]
        return list(cached)

    def _find(self, sentence: Sentence) -> list[Hit]:
        found: dict[tuple[str, str, bool, int], Hit] = {}
        content = sentence.content
        stems = sentence.stems
        seq = [stems[i] for i in content]
        present = set(seq)
        items = _list_items(sentence.text) if self._entity_heads else set()
        if items:
            # Core Entities asks for a list of names: "ShortURL, User, Click" names the User entity.
            for ci, word in enumerate(seq):
                if word not in items:
                    continue
                for concept in self._entity_heads.get(word, ()):
                    i = content[ci]
                    found.setdefault(
                        ("core_entities", concept, False, i),
                        Hit("core_entities", concept, sentence.index, i, i, sentence.negated[i], False),
                    )
        for ci, first in enumerate(seq):
            for key, phase, concept, wrong in self._loose.get(first, ()):
                if len(key) > 1 and not present.issuperset(key):
                    continue
                span = _window(seq, ci, key, ordered=wrong)
                if span is None:
                    continue
                start, end = content[ci], content[span]
                negated = any(sentence.negated[start : end + 1]) and not _term_negates(key)
                found.setdefault(
                    (phase, concept, wrong, start),
                    Hit(phase, concept, sentence.index, start, end, negated, wrong),
                )
        for i, first in enumerate(stems):
            for key, phase, concept, wrong in self._exact.get(first, ()):
                n = len(key)
                if stems[i : i + n] == key:
                    end = i + n - 1
                elif not wrong and (span := _window(list(stems), i, key, ordered=True, slack=1)) is not None:
                    end = span  # "my exact rank" for "my rank": in order, a word or two between
                else:
                    continue
                negated = any(sentence.negated[i : end + 1]) and not _term_negates(key)
                found.setdefault(
                    (phase, concept, wrong, i),
                    Hit(phase, concept, sentence.index, i, end, negated, wrong),
                )
        return list(found.values())

    def evidence(self, analysed: AnalysedText, phase: str) -> dict[str, ConceptEvidence]:
        """For one phase's concepts: the best evidence of each in the analysed text.

        A concept the text also claims wrongly (a misconception, or a figure off by more than
        10x) is returned with no credit and the reason in `wrong`.
        """
        best: dict[str, ConceptEvidence] = {}
        wrong: dict[str, ConceptEvidence] = {}
        by_message: dict[int, list[Sentence]] = {}
        for s in analysed.sentences:
            by_message.setdefault(analysed.message_of[s.index], []).append(s)
        for s in analysed.sentences:
            hits = self.hits(s)
            if not hits:
                continue
            # Naming the entities in a list is what the Core Entities phase asks for.
            stuffed = is_keyword_salad(s) or (
                phase != "core_entities" and is_stuffed(s, [h for h in hits if not h.wrong])
            )
            message = by_message[analysed.message_of[s.index]]
            vague = _vague(message)
            for h in hits:
                if h.phase != phase or h.negated:
                    continue
                concept = self.concepts[(phase, h.concept)]
                if h.wrong and (s.is_question or _rejected(s, h)):
                    continue  # asking about a wrong design, or rejecting it, is not claiming it
                if h.wrong:
                    wrong.setdefault(
                        h.concept, ConceptEvidence(concept, s.text, 0.0, 0.0, False, "misconception")
                    )
                    continue
                off = implausible(concept, s.text) or _implausible_in(concept, message)
                if off:
                    wrong.setdefault(h.concept, ConceptEvidence(concept, s.text, 0.0, 0.0, False, off))
                    continue
                credit = CREDIT_STUFFED if stuffed else CREDIT_VAGUE if vague else CREDIT_EXPLAINED
                quality = 0.0 if stuffed or vague else self._quality(concept, s, message, hits)
                ev = ConceptEvidence(concept, s.text, credit, quality, stuffed)
                old = best.get(h.concept)
                if old is None or (ev.credit, ev.quality) > (old.credit, old.quality):
                    best[h.concept] = ev
        best.update(wrong)  # a wrong claim outweighs any right-sounding words about the same thing
        return best

    def _quality(
        self, concept: Concept, sentence: Sentence, message: list[Sentence], hits: list[Hit]
    ) -> float:
        """How well a concept was argued: a reason that adds information or an alternative weighed,
        and a concrete detail (numbers where numbers belong). Never the length of the text."""
        quality = 0.5 if any(self.informative_reason(s) or s.has_alternative for s in message) else 0.0
        if concept.quantitative:
            if sentence.has_number or any(s.has_number for s in message):
                quality += 0.5
        elif sentence.has_number or _NOTATION.search(sentence.text) or len({h.concept for h in hits}) >= 2:
            quality += 0.5
        return quality

    def informative_reason(self, sentence: Sentence) -> bool:
        """A reason that says something the claim did not: a term of the problem or a figure."""
        if not sentence.has_reason:
            return False
        added = sentence.reason_stems - _FILLER
        return bool(added & self.term_stems) or (bool(added) and sentence.has_number)

    def pasted_share(self, text: str) -> float:
        """The share of a message's word 4-grams that are the problem's own wording."""
        grams = _grams(text)
        if len(grams) + PASTE_GRAM - 1 < PASTE_MIN_WORDS:
            return 0.0
        return len(grams & self._bank_grams) / len(grams)


def _vague(message: list[Sentence]) -> bool:
    """A message that talks around the problem: buzzwords and hedges, and no figure or notation."""
    if sum(s.vague for s in message) < VAGUE_CUES_PER_MESSAGE:
        return False
    return not any(s.has_number or _NOTATION.search(s.text) for s in message)


def _window(
    seq: list[str], ci: int, key: tuple[str, ...], ordered: bool = False, slack: int = WINDOW_SLACK
) -> int | None:
    """Where a phrase starting at content position ci ends, if all its words are close by (in its
    order when `ordered`: a misconception's direction matters, "consistency over availability")."""
    if len(key) == 1:
        return ci if seq[ci] == key[0] else None
    window = seq[ci : ci + len(key) + slack]
    used: set[int] = set()
    last = -1
    for k in key:
        j = next(
            (j for j, w in enumerate(window) if w == k and j not in used and (not ordered or j > last)), None
        )
        if j is None:
            return None
        used.add(j)
        last = j
    if 0 not in used:  # anchored at its first word, so each occurrence is found once
        return None
    return ci + max(used)


def _bank_wording(problem: Problem) -> list[str]:
    texts = [problem.prompt, problem.opening]
    for guide in problem.phases.values():
        texts += [*guide.questions, *guide.hints, *guide.red_flags]
        for c in guide.concepts:
            texts += [c.name, c.follow_up, c.good]
    texts += [c.answer for c in problem.clarifications]
    return texts


def _grams(texts: str | Sequence[str]) -> set[tuple[str, ...]]:
    if isinstance(texts, str):
        texts = [texts]
    out: set[tuple[str, ...]] = set()
    for text in texts:
        toks = raw_tokens(text)
        out.update(tuple(toks[i : i + PASTE_GRAM]) for i in range(len(toks) - PASTE_GRAM + 1))
    return out


# ---------------------------------------------------------------- figures

_MULT = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_NUM = r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|mm|m|million|bn|b|billion)?\s*"
_BYTE_WORD = r"(?:kb|mb|gb|tb|pb|eb|bytes?|kilobytes?|megabytes?|gigabytes?|terabytes?|petabytes?)\b"
_RATE = re.compile(
    _NUM + r"(?:(?!" + _BYTE_WORD + r")[a-z]+\s+){0,2}?"
    r"(?:qps|rps|tps|(?:/\s*|per\s+|a\s+)(s|sec|second|min|minute|h|hr|hour|d|day)\b)"
)
# A figure for one item ("500 bytes per row") is not the concept's total.
_PER_ITEM = re.compile(
    r"^\s*(?:per|each|/|a|an)\s*(?:row|item|key|user|message|msg|request|record|entry|event|post|link|"
    r"object|file|page|url|tweet|photo|video|click|document|doc|connection|client|session)\b"
)
_BYTES = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(" + _BYTE_WORD[:-2] + r")\b(?!\s*(?:/|per\b))")
_SECONDS = re.compile(
    r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(us|µs|microseconds?|ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|"
    r"h|hrs?|hours?)\b(?!\s*(?:/|per\b))"
)
_COUNT = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|mm|m|million|bn|b|billion)?\s+(?=[a-z])")
_PERIOD = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_BYTE = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15, "e": 1e18}
_SECOND = {"u": 1e-6, "µ": 1e-6, "mi": 1e-3, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def figures(text: str, unit: str) -> list[float]:
    """The figures of one unit family in a text, in base units (per second, bytes, seconds, count)."""
    low = normalise(text)
    out: list[float] = []
    if unit == "per_second":
        for m in _RATE.finditer(low):
            if _PER_ITEM.match(low[m.end() :]):
                continue
            value = _number(m.group(1)) * _MULT.get(m.group(2) or "", 1)
            out.append(value / _PERIOD.get(m.group(3) or "s", 1))
    elif unit == "bytes":
        for m in _BYTES.finditer(low):
            if _PER_ITEM.match(low[m.end() :]):
                continue
            u = m.group(2)
            out.append(_number(m.group(1)) * (1 if u.startswith("byte") else _BYTE[u[0]]))
    elif unit == "seconds":
        for m in _SECONDS.finditer(low):
            u = m.group(2)
            factor = _SECOND["ms" if u == "ms" else "mi" if u.startswith("milli") else u[0]]
            if u.startswith("min"):
                factor = 60
            out.append(_number(m.group(1)) * factor)
    elif unit == "count":
        for m in _COUNT.finditer(low):
            if _PER_ITEM.match(low[m.end() :]):
                continue
            out.append(_number(m.group(1)) * _MULT.get(m.group(2) or "", 1))
    return out


def implausible(concept: Concept, text: str) -> str:
    """Why a figure given for a quantitative concept is off by more than 10x ("" if none is)."""
    mag = concept.magnitude
    if mag is None:
        return ""
    found = figures(text, mag.unit)
    if not found or any(mag.low / 10 <= v <= mag.high * 10 for v in found):
        return ""
    return f"implausible figure: expected roughly {_fmt(mag.low, mag.unit)} to {_fmt(mag.high, mag.unit)}"


def _implausible_in(concept: Concept, message: list[Sentence]) -> str:
    """Why the figures of a whole message are implausible for a concept ("" if they are not)."""
    return implausible(concept, " ".join(s.text for s in message)) if concept.magnitude else ""


def _fmt(value: float, unit: str) -> str:
    """A figure in its unit, the way people write it: 10 TB, 50k/s, 5 ms, 2M."""
    if unit == "bytes":
        steps, tail = ((1e15, " PB"), (1e12, " TB"), (1e9, " GB"), (1e6, " MB"), (1e3, " kB")), " bytes"
    elif unit == "seconds":
        if value < 1:
            return f"{value * 1000:g} ms"
        steps, tail = ((3600, " h"), (60, " min")), " s"
    else:
        steps, tail = ((1e9, "B"), (1e6, "M"), (1e3, "k")), ""
        tail = "/s" if unit == "per_second" else ""
        steps = tuple((size, suffix + tail) for size, suffix in steps)
    for size, suffix in steps:
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}{tail}"


_NEGATION_STEMS = frozenset(stem(w.replace("'", "")) for w in NEGATIONS)
# Before a misconception, words that reject it ("instead of hash mod N"); after it, words that say
# it fails ("round robin across hosts would break politeness").
_REJECTED_BEFORE = re.compile(
    r"\b(?:instead of|rather than|unlike|not|never|no|avoid|avoiding|without|don'?t|won'?t|"
    r"isn'?t|wouldn'?t|shouldn'?t|vs\.?|versus|over)\W+(?:[\w'/()-]+\W+){0,5}$"
)
_REJECTED_AFTER = re.compile(
    r"^\W*(?:[\w'/()-]+\W+){0,4}?(?:would break|breaks|won'?t work|doesn'?t work|does not work|"
    r"is wrong|fails|would fail|is a bad idea|falls over|is naive|is too naive|doesn'?t scale)\b"
)


def _term_negates(key: tuple[str, ...]) -> bool:
    return any(k in _NEGATION_STEMS for k in key)


def _rejected(sentence: Sentence, hit: Hit) -> bool:
    """A misconception named only to be rejected ("rather than a counter per server")."""
    words = sentence.text.lower().split()
    # Token positions and whitespace words differ; locate the hit's words by share of the text.
    share = len(sentence.stems) or 1
    cut_start = round(len(words) * hit.start / share)
    cut_end = round(len(words) * (hit.end + 1) / share)
    before = " ".join(words[:cut_start]) + " "
    after = " " + " ".join(words[cut_end:])
    return bool(_REJECTED_BEFORE.search(before) or _REJECTED_AFTER.search(after))


_STRUCTURE = re.compile(r"[,:;(){}\[\]=<>]|->|=>|\d")
# Words that relate others: a sentence with one of them says something about its nouns.
_RELATING = re.compile(
    r"\b(?:per|via|vs|see|sees|get|gets|goes|go|use|uses|through|across|behind|before|after|between|"
    r"until|while|because|since|need|needs|keep|keeps|send|sends|store|stores|read|reads|write|writes)\b"
)


def is_keyword_salad(sentence: Sentence) -> bool:
    """Words strung together with nothing that relates them: no function word, no punctuation of
    a list or a schema, no figure ("redis cluster sharding consistent hashing hash slot hot key")."""
    return (
        sentence.word_count >= 5
        and len(sentence.content) == sentence.word_count
        and not _STRUCTURE.search(sentence.text)
        and not _RELATING.search(sentence.text.lower())
    )


def is_stuffed(sentence: Sentence, hits: Iterable[Hit]) -> bool:
    """A sentence that is a pasted list of keywords rather than an explanation."""
    if _NOTATION.search(sentence.text):  # an endpoint or a schema written out is precise, not stuffing
        return False
    hits = list(hits)
    concepts = {(h.phase, h.concept) for h in hits}
    phases = {h.phase for h in hits}
    # A list of one phase's concepts (entities with their fields) is an answer, not stuffing.
    if len(concepts) < 3 or sentence.word_count < 4:
        return False
    if len(phases) < 3 and (len(phases) < 2 or len(concepts) < 4):
        return False
    covered: set[int] = set()
    for h in hits:
        covered.update(range(h.start, h.end + 1))
    words = sentence.word_count
    function_words = words - len(sentence.content)
    density = len(covered) / max(1, len(sentence.content))
    return function_words / words < 0.12 or (density >= 0.6 and function_words / words < 0.25)


_MATCHERS: dict[tuple[str, int], ProblemMatcher] = {}


def matcher_for(problem: Problem) -> ProblemMatcher:
    """The (memoised) matcher of a problem."""
    key = (problem.slug, id(problem))
    matcher = _MATCHERS.get(key)
    if matcher is None:
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        matcher = _MATCHERS[key] = ProblemMatcher(problem)
    return matcher


def content_overlap(question: str, answer: str) -> int:
    """How many content words an answer shares with a question (listening, roughly)."""
    q = {t for t in raw_tokens(question) if t not in STOPWORDS and len(t) > 3}
    a = {t for t in raw_tokens(answer) if t not in STOPWORDS and len(t) > 3}
    return len(q & a)
