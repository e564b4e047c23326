"""Which of a problem's concepts an answer covers, and how well: judged on content, not length."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flows.problem import Concept, Problem
from flows.text import STOPWORDS, Sentence, TypoIndex, analyse_sentence, raw_tokens, split_sentences, term_key

# Credit for a concept by how it was said.
CREDIT_EXPLAINED = 1.0
CREDIT_BARE = 0.6  # named in a fragment, nothing said about it
CREDIT_STUFFED = 0.1  # one of a pasted list of keywords


_NOTATION = re.compile(r"[{}()\[\]]|->|=>|\w=|\b(?:get|post|put|patch|delete)\s+/|\w/\w|:\s*\w+\s*[,}]")


@dataclass(frozen=True)
class Hit:
    """A concept named in a sentence."""

    phase: str
    concept: str
    sentence: int
    start: int
    end: int
    negated: bool


@dataclass(frozen=True)
class ConceptEvidence:
    """The best evidence that a concept was covered in a phase."""

    concept: Concept
    quote: str
    credit: float
    quality: float  # 0..1: a reason, an alternative, numbers where numbers belong
    stuffed: bool


@dataclass(frozen=True)
class AnalysedText:
    """The sentences of some candidate messages, read once."""

    sentences: tuple[Sentence, ...]
    message_of: tuple[int, ...]  # per sentence: index of the message it came from


class ProblemMatcher:
    """Finds a problem's concepts in chat text."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._first: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        self._first_exact: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        vocabulary: set[str] = set()
        for phase, guide in problem.phases.items():
            for concept in guide.concepts:
                for term in concept.terms:
                    key, exact = term_key(term)
                    if key:
                        index = self._first_exact if exact else self._first
                        index.setdefault(key[0], []).append((key, phase, concept.id))
                    vocabulary.update(raw_tokens(term))
        for index in (self._first, self._first_exact):
            for entries in index.values():
                entries.sort(key=lambda e: -len(e[0]))
        self.typos = TypoIndex(vocabulary)
        self.concepts = {(phase, c.id): c for phase, guide in problem.phases.items() for c in guide.concepts}

    def analyse(self, messages: Sequence[str]) -> AnalysedText:
        """Split messages into sentences and read each once."""
        sentences: list[Sentence] = []
        owner: list[int] = []
        for m, message in enumerate(messages):
            for text in split_sentences(message):
                sentences.append(analyse_sentence(text, len(sentences), self.typos))
                owner.append(m)
        return AnalysedText(tuple(sentences), tuple(owner))

    def hits(self, sentence: Sentence) -> list[Hit]:
        """Every concept term found in a sentence (longest term first at each position)."""
        found: list[Hit] = []
        content = sentence.content
        stems = sentence.stems
        seq = [stems[i] for i in content]
        for ci, first in enumerate(seq):
            for key, phase, concept in self._first.get(first, ()):
                n = len(key)
                if tuple(seq[ci : ci + n]) == key:
                    start, end = content[ci], content[ci + n - 1]
                    negated = any(sentence.negated[start : end + 1]) and not _term_negates(key)
                    found.append(Hit(phase, concept, sentence.index, start, end, negated))
        if self._first_exact:
            for i, first in enumerate(stems):
                for key, phase, concept in self._first_exact.get(first, ()):
                    n = len(key)
                    if stems[i : i + n] == key:
                        end = i + n - 1
                        negated = any(sentence.negated[i : end + 1]) and not _term_negates(key)
                        found.append(Hit(phase, concept, sentence.index, i, end, negated))
        return found

    def evidence(self, analysed: AnalysedText, phase: str) -> dict[str, ConceptEvidence]:
        """For one phase's concepts: the best evidence of each in the analysed text."""
        best: dict[str, ConceptEvidence] = {}
        negated_only: set[str] = set()
        by_message: dict[int, list[Sentence]] = {}
        for s in analysed.sentences:
            by_message.setdefault(analysed.message_of[s.index], []).append(s)
        for s in analysed.sentences:
            hits = self.hits(s)
            if not hits:
                continue
            # Naming the entities in a list is what the Core Entities phase asks for.
            stuffed = phase != "core_entities" and is_stuffed(s, hits)
            message = by_message[analysed.message_of[s.index]]
            for h in hits:
                if h.phase != phase:
                    continue
                if h.negated:
                    negated_only.add(h.concept)
                    continue
                concept = self.concepts[(phase, h.concept)]
                credit = CREDIT_STUFFED if stuffed else _credit(s)
                quality = 0.0 if stuffed else _quality(concept, s, message)
                ev = ConceptEvidence(concept, s.text, credit, quality, stuffed)
                old = best.get(h.concept)
                if old is None or (ev.credit, ev.quality) > (old.credit, old.quality):
                    best[h.concept] = ev
        return best


def _term_negates(key: tuple[str, ...]) -> bool:
    return any(k in ("no", "not", "without", "never", "nev") for k in key)


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


def _credit(sentence: Sentence) -> float:
    function_words = sentence.word_count - len(sentence.content)
    if sentence.word_count >= 4 and function_words >= 1:
        return CREDIT_EXPLAINED
    return CREDIT_BARE


def _quality(concept: Concept, sentence: Sentence, message: list[Sentence]) -> float:
    reasoned = any(s.has_reason or s.has_alternative for s in message)
    quality = 0.5 if reasoned else 0.0
    if concept.quantitative:
        if sentence.has_number or any(s.has_number for s in message):
            quality += 0.5
    elif sentence.word_count >= 8 and sentence.word_count - len(sentence.content) >= 2:
        quality += 0.5
    return quality


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
