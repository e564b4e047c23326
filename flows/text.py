"""Reading chat text: tokens, stems, abbreviations, typos, negation, and the cues of a good answer."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

# Abbreviations people type in chat, expanded before stemming; terms are expanded the same way.
ABBREVIATIONS: dict[str, str] = {
    "lb": "load balancer",
    "lbs": "load balancers",
    "alb": "load balancer",
    "elb": "load balancer",
    "db": "database",
    "dbs": "databases",
    "rdbms": "relational database",
    "sql": "sql",
    "qps": "queries per second",
    "rps": "requests per second",
    "tps": "transactions per second",
    "kv": "key value",
    "p50": "p50 latency",
    "p90": "p90 latency",
    "p95": "p95 latency",
    "p99": "p99 latency",
    "p999": "p999 latency",
    "ws": "websocket",
    "wss": "websocket",
    "websockets": "websocket",
    "msg": "message",
    "ops": "operations",
    "op": "operation",
    "sec": "second",
    "secs": "seconds",
    "topk": "top k",
    "kvs": "key value",
    "msgs": "messages",
    "req": "request",
    "reqs": "requests",
    "dau": "daily active users",
    "mau": "monthly active users",
    "repl": "replication",
    "async": "asynchronous",
    "sync": "synchronous",
    "infra": "infrastructure",
    "auth": "authentication",
    "authn": "authentication",
    "authz": "authorization",
    "idempotent": "idempotency",
    "ttl": "ttl expiry",
    "mq": "message queue",
    "pubsub": "pub sub",
    "cdns": "cdn",
    "e2e": "end to end",
    "e2ee": "end to end encryption",
    "geo": "geo",
    "rw": "read write",
    "r/w": "read write",
    "k/v": "key value",
    "w/": "with",
    "w/o": "without",
}

STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "we",
        "i",
        "you",
        "they",
        "he",
        "she",
        "our",
        "your",
        "their",
        "my",
        "me",
        "us",
        "them",
        "so",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "also",
        "just",
        "then",
        "than",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "if",
        "else",
        "into",
        "about",
        "over",
        "under",
        "up",
        "down",
        "out",
        "very",
        "really",
        "quite",
        "some",
        "any",
        "all",
        "each",
        "every",
        "both",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "too",
        "s",
        "t",
        "ll",
        "ve",
        "re",
        "d",
        "m",
        "let",
        "lets",
        "let's",
        "yeah",
        "ok",
        "okay",
        "um",
        "uh",
        "like",
    ]
)

NEGATIONS: frozenset[str] = frozenset(
    [
        "no",
        "not",
        "dont",
        "don't",
        "doesnt",
        "doesn't",
        "didnt",
        "didn't",
        "never",
        "without",
        "skip",
        "avoid",
        "neither",
        "nor",
        "wont",
        "won't",
        "isnt",
        "isn't",
        "arent",
        "aren't",
        "shouldnt",
        "shouldn't",
        "wouldnt",
        "wouldn't",
        "cant",
        "can't",
        "cannot",
        "nothing",
        "none",
        "needn't",
        "neednt",
    ]
)

_CLAUSE_SPLIT = re.compile(r"[,:;()]|\s[-–—]+\s")
# Words that end a negation's reach inside a clause.
_CLAUSE_BREAK = frozenset(["but", "however", "though", "although", "instead", "rather", "except"])

_TOKEN = re.compile(r"k/v|r/w|w/o|w/|[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_NUMBER = re.compile(
    r"\b\d[\d,.]*\s*(?:k|m|b|ms|s|gb|tb|pb|mb|kb|%|x)?\b"
    r"|\b(?:thousand|million|billion|trillion|hundred|dozen)s?\b"
)

REASON_CUES = re.compile(
    r"\b(because|since|so that|so we|so it|so the|so each|so a|so no|which means|that way|in order to|"
    r"to avoid|otherwise|the reason|due to|given that|this lets|this means|that lets|which lets|"
    r"which keeps|to keep|to make sure|to ensure|to reduce|to prevent|hence|thus|therefore|b/c|bc|"
    r"avoids|prevents|guarantees|ensures|keeps|lets us|means)\b|->|=>"
)
ALTERNATIVE_CUES = re.compile(
    r"\b(instead of|rather than|vs\.?|versus|trade-?offs?|alternatively|alternative|downside|"
    r"upside|pros|cons|on the other hand|compared to|at the cost of|the cost is|drawback|"
    r"either|or we could|we could also|but then|the catch)\b"
)
# Words that sound like an answer without committing to anything: buzzwords and hedges.
VAGUE_CUES = re.compile(
    r"\b(scalable|scalability|robust|reliable|resilien\w*|highly available|cloud[- ]native|microservices?|"
    r"kubernetes|best practices?|seamless\w*|user[- ]friendly|future[- ]proof|industry|it depends|"
    r"pick the best|several approaches|many approaches|various|pros and cons|as (?:short|fast|small|simple) as "
    r"possible|of course|obviously|key principle|top priority|massive scale|internet scale|"
    r"modern|state of the art|cutting[- ]edge|gracefully|elastic\w*|loose(?:ly)? coupl\w*|"
    r"really important|very important|critical|essential|at the end of the day|smart|optimi[sz]ed)\b"
)
QUESTION_START = re.compile(
    r"^\s*(do|does|did|should|shall|is|are|can|could|will|would|what|which|how|who|when|where|"
    r"why|any|must|may)\b"
)


# Words that end in "s" without being plurals: they and their plurals stem to themselves.
_KEEP_S = frozenset(
    [
        "alias",
        "status",
        "redis",
        "bus",
        "analysis",
        "consensus",
        "canvas",
        "postgres",
        "cors",
        "sms",
        "dns",
        "https",
        "kubernetes",
        "ios",
        "chaos",
        "corpus",
        "bonus",
        "campus",
        "focus",
        "census",
        "atlas",
        "gas",
        "plus",
        "news",
        "series",
        "species",
        "basis",
        "thesis",
        "axis",
        "virus",
        "radius",
        "nexus",
        "apparatus",
    ]
)


# A Snowball stemmer keeps the word it is working on in itself, so two threads sharing one corrupt
# each other's stems (or raise IndexError): steps and scoring run in worker threads, each its own.
_STEMMERS = threading.local()

# British and American spellings meet in one form (applied to answers and bank terms alike).
_SPELLING = (
    (re.compile(r"^(\w{3,})is(e|ed|es|ing|ation|ations|er|ers)$"), r"\1iz\2"),
    (re.compile(r"^(\w{3,})ys(e|ed|es|ing)$"), r"\1yz\2"),
    (re.compile(r"^(\w{3,})our(s|ed|ing|ite|ites|able)?$"), r"\1or\2"),
    (re.compile(r"^(\w{3,})tre(s)?$"), r"\1ter\2"),
    (re.compile(r"^(\w{2,}[aeiou])ll(ed|ing|er|ers)$"), r"\1l\2"),
)


def spelling(word: str) -> str:
    """One spelling for British and American variants (normalise/normalize, centre/center)."""
    if len(word) < 6:
        return word
    for rx, repl in _SPELLING:
        new = rx.sub(repl, word)
        if new != word:
            return new
    return word


def stem(word: str) -> str:
    """The Snowball (Porter2) stem of a word, so plurals and inflections meet their base form."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word in _KEEP_S:
        return word
    if word.endswith("es") and word[:-2] in _KEEP_S:
        return word[:-2]
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(spelling(word))


# Units and rates written compactly: "2TB", "10k", "ops/s", "50ms" read as words.
_UNIT_SPLIT = re.compile(
    r"(?<![a-z])(\d+(?:\.\d+)?)(k|m|b|bn|kb|mb|gb|tb|pb|eb|ms|us|s|sec|secs|h|hr|hrs|min|mins|d|x|qps|rps|tps)\b"
)
_PER = re.compile(r"\b([a-z]+)\s*/\s*(s|sec|second|min|minute|h|hr|hour|day|d)\b")
_PER_WORD = {"s": "second", "sec": "second", "min": "minute", "h": "hour", "hr": "hour", "d": "day"}


# In a route, the version and the path parameters say nothing about what the endpoint does.
_ROUTE_NOISE = re.compile(r"(?<=/)(?:v\d+|\{[^}/\s]*\}|:[a-z_]+|<[^>/\s]*>)(?=/|\s|$|\?)/?")


def normalise(text: str) -> str:
    """Lowercase chat text with compact units and rates spelt out, before tokenising."""
    low = text.lower()
    low = _ROUTE_NOISE.sub("", low)  # GET /v1/boards/{id}/top reads as GET /boards/top
    low = _UNIT_SPLIT.sub(r"\1 \2", low)
    return _PER.sub(lambda m: f"{m.group(1)} per {_PER_WORD.get(m.group(2), m.group(2))}", low)


def raw_tokens(text: str) -> list[str]:
    """Lowercased word tokens with chat abbreviations expanded."""
    out: list[str] = []
    for tok in _TOKEN.findall(normalise(text)):
        tok = tok.replace("'", "")
        expansion = ABBREVIATIONS.get(tok)
        if expansion is not None:
            out.extend(expansion.split())
        else:
            out.append(tok)
    return out


@lru_cache(maxsize=65536)
def _stem_cached(word: str) -> str:
    return stem(word)


def term_key(term: str) -> tuple[tuple[str, ...], bool]:
    """The stemmed tokens of a term phrase, and whether it must match word for word.

    A term without stopwords matches the content words of a sentence (so "cache hot keys" finds
    "cache the hot keys"); one with stopwords ("my links", "like a post", "images in the
    database") matches exactly, so it never shrinks to generic words or loses its direction.
    """
    toks = raw_tokens(term)
    exact = any(t in STOPWORDS for t in toks)
    return tuple(_stem_cached(t) for t in toks), exact


class TypoIndex:
    """Maps a misspelt word (one edit away, 5+ letters) to the vocabulary word it stands for."""

    def __init__(self, vocabulary: set[str]) -> None:
        self._vocab = {w for w in vocabulary if len(w) >= 5 and w.isalpha()}
        self._by_first: dict[str, list[str]] = {}
        for word in sorted(self._vocab):
            self._by_first.setdefault(word[0], []).append(word)
        self._cache: dict[str, str] = {}

    def add(self, words) -> None:
        """More vocabulary (clarifying questions' words)."""
        for word in words:
            if len(word) >= 5 and word.isalpha() and word not in self._vocab:
                self._vocab.add(word)
                self._by_first.setdefault(word[0], []).append(word)
        self._cache.clear()

    def correct(self, word: str) -> str:
        """The vocabulary word `word` is a typo of, or `word` itself."""
        if len(word) < 5 or word in self._vocab or not word.isalpha() or word in COMMON_WORDS:
            return word
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        found = word
        # Optimal string alignment: one insertion, deletion, substitution or swap of neighbours.
        best = process.extractOne(word, self._by_first.get(word[0], ()), scorer=OSA.distance, score_cutoff=1)
        if best is not None:
            found = best[0]
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[word] = found
        return found


# Ordinary words that are one edit away from technical ones and must never be "corrected".
COMMON_WORDS: frozenset[str] = frozenset(
    [
        "share",
        "shared",
        "shares",
        "where",
        "there",
        "their",
        "these",
        "those",
        "while",
        "whole",
        "write",
        "wrote",
        "white",
        "which",
        "could",
        "would",
        "should",
        "small",
        "smell",
        "store",
        "stare",
        "start",
        "state",
        "stats",
        "still",
        "steel",
        "times",
        "tines",
        "users",
        "uses",
        "based",
        "bases",
        "cases",
        "cause",
        "caused",
        "cache",
        "caches",
        "catch",
        "cached",
        "match",
        "batch",
        "watch",
        "latch",
        "views",
        "video",
        "vides",
        "model",
        "modes",
        "nodes",
        "notes",
        "codes",
        "coded",
        "rates",
        "rated",
        "dates",
        "dated",
        "later",
        "layer",
        "lower",
        "power",
        "tower",
        "place",
        "plane",
        "plans",
        "order",
        "older",
        "under",
        "other",
        "after",
        "alter",
        "serve",
        "nerve",
        "verse",
        "serves",
        "sever",
        "never",
        "seven",
        "eleven",
        "every",
        "event",
        "evens",
        "items",
        "item",
        "items",
        "table",
        "tables",
        "cable",
        "level",
        "lever",
        "label",
        "local",
        "vocal",
        "total",
        "title",
        "tiles",
        "files",
        "filed",
        "fails",
        "first",
        "worst",
        "least",
        "lease",
        "leases",
        "heavy",
        "ready",
        "reads",
        "roads",
        "loads",
        "leads",
        "lead",
        "reply",
        "apply",
        "simply",
        "single",
        "simple",
        "sample",
        "email",
        "emails",
        "every",
        "queue",
        "quite",
        "quiet",
        "quote",
    ]
)


@dataclass(frozen=True)
class Sentence:
    """A sentence of an answer, with its tokens and the cues it carries."""

    text: str
    index: int
    stems: tuple[str, ...]
    content: tuple[int, ...]  # positions of non-stopword stems
    negated: tuple[bool, ...]  # per position: inside a negation's reach
    has_number: bool
    has_reason: bool
    has_alternative: bool
    is_question: bool
    vague: int  # buzzwords and hedges: how much it says without committing
    reason_stems: frozenset[str] = frozenset()  # content stems a reason adds beyond its claim

    @property
    def word_count(self) -> int:
        """How many words the sentence has."""
        return len(self.stems)


def split_sentences(text: str) -> list[str]:
    """Split chat text into sentences (punctuation or line breaks)."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def analyse_sentence(text: str, index: int, typos: TypoIndex | None) -> Sentence:
    """Tokenise, correct and stem one sentence, and read its cues."""
    lower = text.lower()
    # A negation reaches to the end of its clause at most: "not hash mod N: a hash ring" negates
    # only what comes before the colon.
    clauses = [raw_tokens(c) for c in _CLAUSE_SPLIT.split(text)]
    toks = [t for clause in clauses for t in clause]
    starts = set()
    position = 0
    for clause in clauses:
        starts.add(position)
        position += len(clause)
    if typos is not None:
        toks = [typos.correct(t) for t in toks]
    stems = tuple(_stem_cached(t) for t in toks)
    content = tuple(i for i, t in enumerate(toks) if t not in STOPWORDS)
    negated = []
    reach = 0
    for i, t in enumerate(toks):
        if i in starts:
            reach = 0
        if t in NEGATIONS:
            reach = 4
            negated.append(True)
            continue
        if t in _CLAUSE_BREAK:
            reach = 0
        negated.append(reach > 0)
        if reach > 0 and t not in STOPWORDS:
            reach -= 1
    reason = REASON_CUES.search(lower)
    reason_stems: frozenset[str] = frozenset()
    if reason is not None:
        head = content_stems(lower[: reason.start()])
        reason_stems = frozenset(content_stems(lower[reason.end() :], typos) - head)
    return Sentence(
        text=text,
        index=index,
        stems=stems,
        reason_stems=reason_stems,
        content=content,
        negated=tuple(negated),
        has_number=bool(_NUMBER.search(lower)),
        has_reason=reason is not None,
        has_alternative=bool(ALTERNATIVE_CUES.search(lower)),
        is_question=lower.rstrip().endswith("?") or bool(QUESTION_START.match(lower)),
        vague=len(VAGUE_CUES.findall(lower)),
    )


def is_question(text: str) -> bool:
    """Whether a message asks something (a question mark, or a question's opening word)."""
    return any(s.rstrip().endswith("?") or QUESTION_START.match(s.lower()) for s in split_sentences(text))


def content_stems(text: str, typos: TypoIndex | None = None) -> set[str]:
    """The stemmed content words of a text."""
    toks = [t for t in raw_tokens(text) if t not in STOPWORDS and len(t) > 2]
    if typos is not None:
        toks = [typos.correct(t) for t in toks]
    return {_stem_cached(t) for t in toks}


def word_count(text: str) -> int:
    """Words in a text, the way a reader counts them."""
    return len(text.split())


def quote(text: str, limit: int = 140) -> str:
    """A short quote of user text for evidence, verbatim (surfaces make it safe to show)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rsplit(" ", 1)[0] + "…"
