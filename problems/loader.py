"""Load and validate the problem bank's TOML files; find a problem by name."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from flows.problem import CATEGORIES, PHASE_IDS, UNITS, Clarification, Concept, Magnitude, PhaseGuide, Problem

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class ProblemFileError(ValueError):
    """A problem file is malformed; the message names the file and the field at fault."""

    def __init__(self, path: str, field: str, reason: str) -> None:
        super().__init__(f"{path}: field '{field}': {reason}")
        self.path = path
        self.field = field


class UnknownProblem(LookupError):
    """No problem matches a name; carries the closest matches."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown problem '{name}'.{hint}")
        self.name = name
        self.suggestions = suggestions


def _require(data: dict, key: str, kind: type, path: str, where: str = "") -> object:
    field = f"{where}{key}"
    if key not in data:
        raise ProblemFileError(path, field, "is missing")
    value = data[key]
    if kind is int and isinstance(value, bool):
        raise ProblemFileError(path, field, "must be an integer")
    if not isinstance(value, kind):
        raise ProblemFileError(path, field, f"must be a {kind.__name__}")
    if isinstance(value, str) and not value.strip():
        raise ProblemFileError(path, field, "must not be empty")
    return value


def _strings(data: dict, key: str, path: str, where: str, minimum: int = 1) -> tuple[str, ...]:
    items = _require(data, key, list, path, where)
    if len(items) < minimum:
        raise ProblemFileError(path, f"{where}{key}", f"needs at least {minimum} entries")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ProblemFileError(path, f"{where}{key}[{i}]", "must be a non-empty string")
    return tuple(items)


def _concept(data: object, path: str, where: str, phase: str) -> Concept:
    if not isinstance(data, dict):
        raise ProblemFileError(path, where.rstrip("."), "must be a table")
    cid = _require(data, "id", str, path, where)
    if not _ID.match(cid):
        raise ProblemFileError(path, f"{where}id", "must be snake_case")
    weight = _require(data, "weight", int, path, where)
    if weight not in (1, 2, 3):
        raise ProblemFileError(path, f"{where}weight", "must be 1, 2 or 3")
    quantitative = data.get("quantitative", False)
    if not isinstance(quantitative, bool):
        raise ProblemFileError(path, f"{where}quantitative", "must be true or false")
    good = data.get("good", "")
    if not isinstance(good, str):
        raise ProblemFileError(path, f"{where}good", "must be a string")
    if phase == "deep_dives" and not good.strip():
        raise ProblemFileError(path, f"{where}good", "is required for deep-dive topics")
    known = {
        "id",
        "name",
        "weight",
        "terms",
        "follow_up",
        "quantitative",
        "good",
        "misconceptions",
        "magnitude",
    }
    unknown = set(data) - known
    if unknown:
        raise ProblemFileError(path, f"{where}{sorted(unknown)[0]}", "is not a known field")
    misconceptions = _strings({"m": data.get("misconceptions", [])}, "m", path, where, minimum=0)
    magnitude = _magnitude(data.get("magnitude"), path, f"{where}magnitude", quantitative)
    return Concept(
        id=cid,
        name=_require(data, "name", str, path, where),
        weight=weight,
        terms=tuple(t.lower() for t in _strings(data, "terms", path, where)),
        follow_up=_require(data, "follow_up", str, path, where),
        quantitative=quantitative,
        good=good,
        misconceptions=tuple(m.lower() for m in misconceptions),
        magnitude=magnitude,
    )


def _magnitude(data: object, path: str, field: str, quantitative: bool) -> Magnitude | None:
    if data is None:
        return None
    if not quantitative:
        raise ProblemFileError(path, field, "is only for quantitative concepts")
    if not isinstance(data, dict) or set(data) != {"unit", "low", "high"}:
        raise ProblemFileError(path, field, "must be a table of unit, low and high")
    if data["unit"] not in UNITS:
        raise ProblemFileError(path, f"{field}.unit", f"must be one of {', '.join(UNITS)}")
    low, high = data["low"], data["high"]
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ProblemFileError(path, f"{field}.{name}", "must be a positive number")
    if low > high:
        raise ProblemFileError(path, f"{field}.low", "must not exceed high")
    return Magnitude(data["unit"], float(low), float(high))


def _clarifications(data: object, path: str) -> tuple[Clarification, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ProblemFileError(path, "clarifications", "must be an array of tables")
    out: list[Clarification] = []
    for i, item in enumerate(data):
        where = f"clarifications[{i}]."
        if not isinstance(item, dict):
            raise ProblemFileError(path, where.rstrip("."), "must be a table")
        unknown = set(item) - {"id", "terms", "answer"}
        if unknown:
            raise ProblemFileError(path, f"{where}{sorted(unknown)[0]}", "is not a known field")
        cid = _require(item, "id", str, path, where)
        if not _ID.match(cid) or any(c.id == cid for c in out):
            raise ProblemFileError(path, f"{where}id", "must be a unique snake_case id")
        terms = tuple(t.lower() for t in _strings(item, "terms", path, where))
        out.append(Clarification(cid, terms, _require(item, "answer", str, path, where).strip()))
    return tuple(out)


def _phase(data: object, phase: str, path: str) -> PhaseGuide:
    where = f"phases.{phase}."
    if not isinstance(data, dict):
        raise ProblemFileError(path, f"phases.{phase}", "must be a table")
    raw = _require(data, "concepts", list, path, where)
    if len(raw) < 2:
        raise ProblemFileError(path, f"{where}concepts", "needs at least 2 concepts")
    concepts = tuple(_concept(c, path, f"{where}concepts[{i}].", phase) for i, c in enumerate(raw))
    seen: set[str] = set()
    for i, c in enumerate(concepts):
        if c.id in seen:
            raise ProblemFileError(path, f"{where}concepts[{i}].id", f"duplicates '{c.id}'")
        seen.add(c.id)
    red_flags = data.get("red_flags", [])
    return PhaseGuide(
        phase=phase,
        questions=_strings(data, "questions", path, where),
        concepts=concepts,
        hints=_strings(data, "hints", path, where),
        red_flags=_strings({"red_flags": red_flags}, "red_flags", path, where, minimum=0),
    )


def parse_problem(data: dict, path: str) -> Problem:
    """Build a validated Problem from a parsed TOML table; raise ProblemFileError naming the field."""
    slug = _require(data, "slug", str, path)
    if not _SLUG.match(slug):
        raise ProblemFileError(path, "slug", "must be lowercase words joined by hyphens")
    if Path(path).suffix == ".toml" and Path(path).stem != slug:
        raise ProblemFileError(path, "slug", f"must equal the file name '{Path(path).stem}'")
    category = _require(data, "category", str, path)
    if category not in CATEGORIES:
        raise ProblemFileError(path, "category", f"must be one of {', '.join(CATEGORIES)}")
    difficulty = _require(data, "difficulty", str, path)
    if difficulty not in ("easy", "medium", "hard"):
        raise ProblemFileError(path, "difficulty", "must be easy, medium or hard")
    data_flow = _require(data, "data_flow", bool, path)
    phases_raw = _require(data, "phases", dict, path)
    expected = [p for p in PHASE_IDS if p != "data_flow" or data_flow]
    for name in phases_raw:
        if name not in expected:
            why = "data_flow is false" if name == "data_flow" else "is not a phase id"
            raise ProblemFileError(path, f"phases.{name}", why)
    phases = {}
    for phase in expected:
        if phase not in phases_raw:
            raise ProblemFileError(path, f"phases.{phase}", "is missing")
        phases[phase] = _phase(phases_raw[phase], phase, path)
    return Problem(
        slug=slug,
        title=_require(data, "title", str, path),
        aliases=_strings(data, "aliases", path, "", minimum=0),
        category=category,
        difficulty=difficulty,
        data_flow=data_flow,
        prompt=_require(data, "prompt", str, path).strip(),
        opening=_require(data, "opening", str, path).strip(),
        phases=phases,
        source=path,
        clarifications=_clarifications(data.get("clarifications"), path),
    )


def load_problem_file(path: Path) -> Problem:
    """Read and validate one problem file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProblemFileError(str(path), "(syntax)", str(exc)) from None
    except UnicodeDecodeError:
        raise ProblemFileError(str(path), "(encoding)", "is not UTF-8") from None
    return parse_problem(data, str(path))


def bank_directory() -> Path:
    """Where the shipped problem files live (inside the installed package)."""
    return Path(str(resources.files("problems")))


def load_bank(directory: Path | None = None) -> dict[str, Problem]:
    """Load every problem file of a directory (the shipped bank by default), keyed by slug."""
    if directory is None:
        return dict(_shipped_bank())
    return _load_directory(directory)


@lru_cache(maxsize=1)
def _shipped_bank() -> tuple[tuple[str, Problem], ...]:
    return tuple(_load_directory(bank_directory()).items())


def _load_directory(directory: Path) -> dict[str, Problem]:
    bank: dict[str, Problem] = {}
    names: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        problem = load_problem_file(path)
        for name in (problem.slug, problem.title, *problem.aliases):
            key = normalise_name(name)
            if key in names and names[key] != problem.slug:
                raise ProblemFileError(str(path), "aliases", f"'{name}' is already a name of {names[key]}")
            names[key] = problem.slug
        bank[problem.slug] = problem
    return bank


def normalise_name(name: str) -> str:
    """A name without case, spaces, hyphens, underscores or punctuation."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_problem(name: str, bank: dict[str, Problem] | None = None) -> Problem:
    """The problem whose slug, title or alias is `name`; UnknownProblem with suggestions if none."""
    bank = load_bank() if bank is None else bank
    key = normalise_name(name)
    index = _name_index(bank.values())
    if key in index:
        return bank[index[key]]
    raise UnknownProblem(name, suggest(name, bank))


def suggest(name: str, bank: dict[str, Problem], limit: int = 3) -> list[str]:
    """Titles of the problems whose names are closest to `name`."""
    key = normalise_name(name)
    index = _name_index(bank.values())
    close = difflib.get_close_matches(key, list(index), n=limit * 3, cutoff=0.5)
    close += [k for k in index if key and (key in k or k in key) and k not in close]
    titles: list[str] = []
    for k in close:
        title = bank[index[k]].title
        if title not in titles:
            titles.append(title)
    return titles[:limit]


def _name_index(problems: Iterable[Problem]) -> dict[str, str]:
    index: dict[str, str] = {}
    for p in problems:
        for name in (p.slug, p.title, *p.aliases):
            index.setdefault(normalise_name(name), p.slug)
    return index
