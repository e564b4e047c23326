"""Hostile and careless command lines: one line on standard error, exit 2, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from bot.cli import UsageError, read_transcript
from bot.db import async_url
from tests.test_cli import cli

GOOD = {
    "problem": "url-shortener",
    "turns": [{"at": 1.0, "phase": "requirements", "role": "candidate", "text": "users shorten links"}],
}


def _refused(result) -> str:
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "Traceback" not in err + result.stdout.decode()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _transcript(tmp_path, raw: str):
    path = tmp_path / "t.json"
    path.write_text(raw, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda tmp: "/dev/zero", "not a regular file"),
        (lambda tmp: "/dev/urandom", "not a regular file"),
        (lambda tmp: (os.mkfifo(tmp / "fifo"), tmp / "fifo")[1], "not a regular file"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: _transcript(tmp, json.dumps(GOOD)[:-1] + ', "minutes": ' + "9" * 5000 + "}"), "not valid JSON"),
        (lambda tmp: _transcript(tmp, json.dumps({**GOOD, "minutes": 1e-300})), "minutes must be between"),
        (lambda tmp: _transcript(tmp, json.dumps({**GOOD, "minutes": 1e308})), "minutes must be between"),
        (lambda tmp: _transcript(tmp, json.dumps({**GOOD, "minutes": -5})), "minutes"),
        (lambda tmp: _transcript(tmp, json.dumps({**GOOD, "minutes": 0})), "minutes must be between"),
        (lambda tmp: _transcript(tmp, '{"problem": "url-shortener", "turns": [{"at": 1, "phase": '
                                 '"requirements", "role": "candidate", "text": "\\ud800 oops"}]}'), "not valid Unicode"),
        (lambda tmp: _transcript(tmp, '{"problem": "url-shortener", "minutes": NaN, "turns": []}'), "NaN"),
        (lambda tmp: _transcript(tmp, '{"problem": "url-shortener", "minutes": Infinity, "turns": []}'), "Infinity"),
        (lambda tmp: _transcript(tmp, json.dumps(GOOD).replace("1.0", "-Infinity")), "Infinity"),
    ],
    ids=["dev-zero", "dev-urandom", "fifo", "directory", "5000-digits", "tiny-minutes", "huge-minutes",
         "negative-minutes", "zero-minutes", "lone-surrogate", "nan", "infinity", "minus-infinity"],
)  # fmt: skip
def test_score_refuses_what_is_not_a_usable_transcript_quickly(tmp_path, make, says):
    result = cli("score", str(make(tmp_path)), "--format", "json", timeout=20)
    assert says in _refused(result)


def test_score_prints_strict_json(tmp_path):
    result = cli("score", str(_transcript(tmp_path, json.dumps(GOOD))), "--format", "json")
    assert result.returncode == 0
    json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"non-standard {name} in the output"))


def test_a_fifo_swapped_in_after_the_check_is_refused_without_blocking(tmp_path, monkeypatch):
    regular, fifo = _transcript(tmp_path, json.dumps(GOOD)), tmp_path / "fifo"
    os.mkfifo(fifo)
    looks_regular = regular.stat()
    monkeypatch.setattr(Path, "stat", lambda self, **kw: looks_regular)  # the stat said "regular file"
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_transcript(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "opening the FIFO blocked"
    assert isinstance(outcome[0], UsageError) and "not a regular file" in str(outcome[0])


@pytest.mark.parametrize("option", ["--transcript-out", "--chart"])
@pytest.mark.parametrize(
    ("where", "says"),
    [
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: tmp / "missing" / "out.json", "folder does not exist"),
        (lambda tmp: "/proc/interview-out.json", "cannot write"),  # refused even to root
        (lambda tmp: (os.mkfifo(tmp / "fifo"), tmp / "fifo")[1], "pipe or a socket"),  # would block
    ],
    ids=["directory", "no-folder", "read-only", "fifo"],
)
def test_practice_refuses_an_output_it_cannot_write_before_the_interview_starts(
    tmp_path, option, where, says
):
    result = cli(
        "practice",
        "--problem",
        "url shortener",
        option,
        str(where(tmp_path)),
        stdin=b"hi\nend\n",
        cwd=tmp_path,
    )
    assert says in _refused(result)
    assert b"bot>" not in result.stdout  # refused before the interview began
    assert not (tmp_path / "interview_bot.db").exists()


def test_score_refuses_a_chart_into_a_fifo_instead_of_waiting_for_a_reader(tmp_path):
    os.mkfifo(tmp_path / "chart.png")
    result = cli(
        "score", str(_transcript(tmp_path, json.dumps(GOOD))), "--chart", str(tmp_path / "chart.png")
    )
    assert "pipe or a socket" in _refused(result)


def test_a_quoted_tilde_in_an_output_path_is_the_home_folder_as_it_was_checked(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = cli(
        "practice", "--problem", "url shortener", "--transcript-out", "~/t.json", "--chart", "~/c.png",
        stdin=b"users shorten links\nend\n", cwd=tmp_path, env={"HOME": str(home)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads((home / "t.json").read_text())["problem"] == "url-shortener"
    assert (home / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("scheme", ["sqlite:///", "sqlite+aiosqlite:///"])
def test_practice_takes_the_usual_forms_of_a_sqlite_url(tmp_path, scheme):
    db = tmp_path / "x.db"
    result = cli(
        "practice", "--problem", "url shortener", "--db", f"{scheme}{db}", stdin=b"end\n", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr.decode()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM interviews").fetchone() == (1,)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://bot:pw@db.example/iv", "postgresql+asyncpg://bot:pw@db.example/iv"),
        ("postgres://bot@db.example/iv", "postgresql+asyncpg://bot@db.example/iv"),
        ("postgresql+asyncpg://bot@db.example/iv", "postgresql+asyncpg://bot@db.example/iv"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        # hosted Postgres URLs carry libpq's sslmode, which asyncpg calls ssl
        ("postgres://bot:p%40w@db.example/iv?sslmode=require", "postgresql+asyncpg://bot:p%40w@db.example/iv?ssl=require"),
        ("postgresql://db.example/iv?sslmode=verify-full&application_name=bot",
         "postgresql+asyncpg://db.example/iv?application_name=bot&ssl=verify-full"),
    ],
)  # fmt: skip
def test_database_urls_get_their_async_driver(given, used):
    assert async_url(given) == used


def test_a_database_url_with_an_option_the_driver_does_not_know_is_one_line(tmp_path):
    url = "postgresql://bot@127.0.0.1:1/iv?frobnicate=1"  # refused by asyncpg before any connection
    result = cli(
        "practice", "--problem", "url shortener", "--db", url, stdin=b"end\n", cwd=tmp_path, timeout=60
    )
    assert "frobnicate" in _refused(result)


def test_a_tilde_in_a_sqlite_url_is_the_home_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = cli(
        "practice", "--problem", "url shortener", stdin=b"end\n", cwd=tmp_path,
        env={"HOME": str(home), "DATABASE_URL": "sqlite:///~/iv.db"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert stat.S_IMODE((home / "iv.db").stat().st_mode) == 0o600
    assert not (tmp_path / "~").exists()


def test_the_sqlite_file_and_its_journal_are_readable_by_their_owner_only(tmp_path):
    result = cli("practice", "--problem", "url shortener", stdin=b"users shorten links\nend\n", cwd=tmp_path)
    assert result.returncode == 0
    files = [p for p in tmp_path.iterdir() if p.name.startswith("interview_bot.db")]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_world_readable_database_from_before_is_tightened(tmp_path):
    db = tmp_path / "interview_bot.db"
    sqlite3.connect(db).close()
    (tmp_path / "interview_bot.db-wal").touch()  # an empty WAL, as a crash can leave one
    for path in (db, tmp_path / "interview_bot.db-wal"):
        path.chmod(0o644)
    result = cli("practice", "--problem", "url shortener", stdin=b"end\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    for path in tmp_path.glob("interview_bot.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["practice", "--level", "nonsense"], "invalid choice: 'nonsense'"),
        (["practice", "--pace", "-1"], "must be positive"),
        (["practice", "--minutes"], "expected one argument"),
        (["practice", "--frobnicate"], "unrecognized arguments"),
        (["score"], "the following arguments are required"),
        (["teleport"], "invalid choice: 'teleport'"),
    ],
)
def test_bad_arguments_are_one_line_not_a_usage_block(args, says):
    line = _refused(cli(*args))
    assert says in line and "see --help" in line


def test_help_is_still_the_whole_help():
    result = cli("practice", "--help")
    assert result.returncode == 0 and "--transcript-out" in result.stdout.decode()


def test_arrows_and_angle_brackets_in_answers_are_kept_as_written_in_the_recap(tmp_path):
    turns = [
        {"at": 1.0, "phase": "requirements", "role": "candidate", "text": "do we need custom aliases?"},
        {"at": 60.0, "phase": "high_level_design", "role": "candidate",
         "text": "client -> load balancer -> app servers -> cache <redis> -> database"},
    ]  # fmt: skip
    path = _transcript(tmp_path, json.dumps({"problem": "url-shortener", "turns": turns}))
    as_json = cli("score", str(path), "--format", "json")
    as_text = cli("score", str(path))
    assert as_json.returncode == 0 and as_text.returncode == 0
    blob = as_json.stdout.decode() + as_text.stdout.decode()
    assert "-›" not in blob and "‹" not in blob
    assert "client -> load balancer" in blob
