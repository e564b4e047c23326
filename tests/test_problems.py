"""The problem bank: every file valid, every name reachable, bad files named by path and field."""

from __future__ import annotations

import pytest

from problems.loader import (
    ProblemFileError,
    UnknownProblem,
    find_problem,
    load_bank,
    load_problem_file,
)

FRAMEWORK_LIST = [
    "URL shortener",
    "rate limiter",
    "notification system",
    "logging & metrics",
    "job scheduler",
    "news feed",
    "chat/messaging",
    "nested comments",
    "video streaming",
    "file sync/sharing",
    "autocomplete",
    "full-text search",
    "location-based service",
    "e-commerce backend",
    "payment system",
    "recommendation system",
    "booking system",
    "distributed cache",
    "load balancer",
    "key-value store",
    "distributed queue / pub-sub",
    "configuration service",
    "Instagram/Twitter",
    "Instagram",
    "Twitter",
    "Google Docs",
    "Netflix",
    "ride hailing",
]

ALIASES = {
    "uber": "ride-hailing",
    "lyft": "ride-hailing",
    "Ride Hailing": "ride-hailing",
    "whatsapp": "chat-messaging",
    "messenger": "chat-messaging",
    "slack": "chat-messaging",
    "google drive": "file-sync",
    "Dropbox": "file-sync",
    "amazon": "e-commerce",
    "flipkart": "e-commerce",
    "ticketmaster": "booking-system",
    "airbnb": "booking-system",
    "bit-ly": "url-shortener",
    "URL-SHORTENER": "url-shortener",
    "url_shortener": "url-shortener",
    "  url   shortener ": "url-shortener",
}


def test_the_bank_holds_at_least_25_problems_and_the_first_eight(bank):
    assert len(bank) >= 25
    for slug in (
        "url-shortener",
        "rate-limiter",
        "chat-messaging",
        "news-feed",
        "booking-system",
        "logging-metrics",
        "ride-hailing",
        "file-sync",
    ):
        assert slug in bank


@pytest.mark.parametrize("name", FRAMEWORK_LIST)
def test_every_name_of_the_framework_list_resolves(bank, name):
    assert find_problem(name, bank).slug in bank


@pytest.mark.parametrize(("name", "slug"), ALIASES.items())
def test_aliases_resolve_ignoring_case_spaces_and_hyphens(bank, name, slug):
    assert find_problem(name, bank).slug == slug


def test_an_unknown_name_gets_the_closest_matches(bank):
    with pytest.raises(UnknownProblem) as err:
        find_problem("url shortner", bank)
    assert "URL Shortener" in err.value.suggestions
    assert "Did you mean" in str(err.value)


def test_only_data_processing_problems_have_a_data_flow_phase(bank):
    assert bank["logging-metrics"].data_flow
    assert "data_flow" in bank["logging-metrics"].phase_ids
    assert not bank["url-shortener"].data_flow
    assert "data_flow" not in bank["url-shortener"].phase_ids


def test_every_problem_has_the_depth_a_senior_interviewer_uses(bank):
    for p in bank.values():
        for phase, guide in p.phases.items():
            assert len(guide.concepts) >= 4, (p.slug, phase)
            assert sum(1 for c in guide.concepts if c.weight == 3) >= 2, (p.slug, phase)
            assert guide.hints and guide.questions, (p.slug, phase)
        assert any(c.quantitative for c in p.guide("requirements").concepts), p.slug
        assert all(c.good for c in p.guide("deep_dives").concepts), p.slug


GOOD = (
    'slug = "paste-bin"\ntitle = "Paste Bin"\naliases = []\ncategory = "storage"\n'
    'difficulty = "easy"\ndata_flow = false\nprompt = "p"\nopening = "o"\n'
)


def _phases(**override) -> str:
    out = []
    for phase in ("requirements", "core_entities", "api", "high_level_design", "deep_dives"):
        out.append(f'[phases.{phase}]\nquestions = ["q?"]\nhints = ["h"]\n')
        for i in range(2):
            good = 'good = "g"\n' if phase == "deep_dives" else ""
            weight = override.get("weight", 3) if (phase, i) == ("api", 1) else 3
            out.append(
                f'[[phases.{phase}.concepts]]\nid = "c{i}"\nname = "n"\nweight = {weight}\n'
                f'terms = ["term{i}"]\nfollow_up = "f?"\n{good}'
            )
    return "\n".join(out)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD.replace('category = "storage"', 'category = "misc"') + _phases(), "category"),
        (GOOD.replace('prompt = "p"\n', "") + _phases(), "prompt"),
        (GOOD + _phases(weight=7), "phases.api.concepts[1].weight"),
        (GOOD + _phases().replace('good = "g"\n', "", 1), "phases.deep_dives.concepts[0].good"),
        (GOOD + _phases().replace("[phases.api]", "[phases.apis]"), "phases.apis"),
        (GOOD.replace("data_flow = false", 'data_flow = "no"') + _phases(), "data_flow"),
        (GOOD + "[phases\n", "(syntax)"),
        (GOOD.replace('slug = "paste-bin"', 'slug = "Paste Bin"') + _phases(), "slug"),
    ],
)
def test_a_malformed_problem_file_names_its_path_and_field(tmp_path, text, field):
    path = tmp_path / "paste-bin.toml"
    path.write_text(text)
    with pytest.raises(ProblemFileError) as err:
        load_problem_file(path)
    assert err.value.field == field
    assert str(path) in str(err.value) and f"'{field}'" in str(err.value)


def test_a_well_formed_file_loads(tmp_path):
    path = tmp_path / "paste-bin.toml"
    path.write_text(GOOD + _phases())
    assert load_problem_file(path).slug == "paste-bin"


def test_a_name_claimed_by_two_problems_fails_the_bank(tmp_path):
    (tmp_path / "paste-bin.toml").write_text(GOOD.replace("aliases = []", 'aliases = ["clip"]') + _phases())
    other = GOOD.replace("paste-bin", "clip-board").replace('"Paste Bin"', '"Clip Board"')
    (tmp_path / "clip-board.toml").write_text(other.replace("aliases = []", 'aliases = ["clip"]') + _phases())
    with pytest.raises(ProblemFileError) as err:
        load_bank(tmp_path)
    assert err.value.field == "aliases"


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "paste-bin.toml"
    path.write_bytes(b"slug = \xff\xfe")
    with pytest.raises(ProblemFileError) as err:
        load_problem_file(path)
    assert err.value.field == "(encoding)"
