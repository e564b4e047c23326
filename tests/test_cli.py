"""The command line as a user runs it: real processes, real SQLite files, piped input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def cli(
    *args: str, stdin: bytes = b"", cwd: Path | None = None, env: dict | None = None, timeout: float = 120
):
    full_env = {**os.environ, **(env or {})}
    full_env.pop("INTERVIEW_PACE", None) if env is None or "INTERVIEW_PACE" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )


def one_clear_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def stored(db: Path) -> tuple[list[tuple], list[tuple]]:
    with sqlite3.connect(db) as conn:
        interviews = conn.execute("SELECT id, status, end_reason, problem FROM interviews").fetchall()
        turns = conn.execute("SELECT seq, phase, role, text FROM turns ORDER BY seq").fetchall()
    return interviews, turns


def test_help_lists_the_commands():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("problems", "practice", "score", "serve"):
        assert command in result.stdout.decode()


def test_problems_json_lists_the_bank_with_the_contract_fields():
    result = cli("problems", "--json")
    assert result.returncode == 0
    items = json.loads(result.stdout)
    assert len(items) >= 25
    for item in items:
        assert {"slug", "title", "aliases", "category", "data_flow"} <= set(item)
        assert isinstance(item["aliases"], list) and isinstance(item["data_flow"], bool)
    assert {"url-shortener", "logging-metrics"} <= {i["slug"] for i in items}


SCRIPT = b"""do we need custom aliases? should links expire?
users shorten a long url and get a short link; opening it redirects to the original. 100M new links a month, reads 100:1, p99 redirect under 50ms
next
ShortURL with code, long url, owner, created_at, expires_at; a User owns links; Click events for analytics
next
REST: POST /urls returns the short url, GET /{code} answers 302 so we see every click; user id from the auth token
  NeXt
a load balancer in front of stateless app servers; codes from a counter in base62; a key value db because lookups are by key; redis cache since reads dominate
next
if the cache fails we fall back to the db; counters hand out ranges per server so there are no collisions; clicks go through kafka
next
"""


def test_a_piped_interview_goes_through_every_phase_with_warnings_and_a_recap(tmp_path):
    out = tmp_path / "t.json"
    result = cli(
        "practice",
        "--problem",
        "url shortener",
        "--pace",
        "600",
        "--transcript-out",
        str(out),
        "--chart",
        str(tmp_path / "chart.png"),
        stdin=SCRIPT,
        cwd=tmp_path,
    )
    text = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    order = [
        text.index(f"bot> {name} (") for name in ("Requirements", "Core Entities", "API / System Interface")
    ]
    order += [text.index(f"bot> {name} (") for name in ("High-Level Design", "Deep Dives")]
    assert order == sorted(order)
    assert "[time] 1 minute left for Requirements." in text
    assert "[time] Time's up for Requirements." in text
    assert "Recap: URL Shortener" in text and "Overall" in text
    transcript = json.loads(out.read_text())
    candidate = [(t["phase"], t["text"][:8]) for t in transcript["turns"] if t["role"] == "candidate"]
    assert [p for p, _ in candidate] == [
        "requirements",
        "requirements",
        "core_entities",
        "api",
        "high_level_design",
        "deep_dives",
    ]
    assert [p["phase"] for p in transcript["phases"]] == list(
        ("requirements", "core_entities", "api", "high_level_design", "deep_dives")
    )
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    interviews, turns = stored(tmp_path / "interview_bot.db")
    assert interviews[0][1:] == ("ended", "completed", "url-shortener")
    assert [t[1] for t in turns if t[2] == "candidate"] == [p for p, _ in candidate]
    # the stored transcript scores the same way through `score`
    scored = cli("score", str(out), "--format", "json")
    assert scored.returncode == 0
    assert json.loads(scored.stdout)["problem"] == "url-shortener"


def test_an_unknown_problem_gets_suggestions_and_exit_2(tmp_path):
    result = cli("practice", "--problem", "url shortner", cwd=tmp_path)
    assert result.returncode == 2
    line = one_clear_line(result.stderr)
    assert "unknown problem 'url shortner'" in line and "URL Shortener" in line
    assert not (tmp_path / "interview_bot.db").exists()


def test_empty_input_gives_a_recap_that_says_nothing_was_answered(tmp_path):
    result = cli("practice", "--problem", "rate limiter", "--pace", "600", cwd=tmp_path)
    assert result.returncode == 0
    assert "Nothing was answered" in result.stdout.decode()
    interviews, turns = stored(tmp_path / "interview_bot.db")
    assert interviews[0][1] == "ended" and all(t[2] == "bot" for t in turns)


def test_a_one_megabyte_line_is_cut_and_kept(tmp_path):
    line = b"we use a cache " * (1024 * 1024 // 15) + b"\n"
    # At a pace where the idle limit is two real seconds, so reading a megabyte cannot outrun it.
    result = cli("practice", "--problem", "url-shortener", "--pace", "600", stdin=line, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert "I kept its first 10,000 characters" in result.stdout.decode()
    _, turns = stored(tmp_path / "interview_bot.db")
    assert [len(t[3]) for t in turns if t[2] == "candidate"] == [10_000]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(tmp_path):
    result = cli(
        "practice",
        "--problem",
        "url-shortener",
        "--pace",
        "6000",
        stdin=b"caf\xe9 \xff\xfe redirect\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0 and b"Traceback" not in result.stderr
    assert "were not UTF-8" in result.stdout.decode()
    _, turns = stored(tmp_path / "interview_bot.db")
    assert [t[3] for t in turns if t[2] == "candidate"] == ["caf\ufffd \ufffd\ufffd redirect"]


def test_control_words_in_odd_case_and_spacing_are_controls(tmp_path):
    result = cli(
        "practice", "--problem", "url-shortener", "--pace", "600", stdin=b"  HINT \n\tTime\n", cwd=tmp_path
    )
    text = result.stdout.decode()
    assert "[hint] Hint:" in text and "left for Requirements" in text
    _, turns = stored(tmp_path / "interview_bot.db")
    assert not [t for t in turns if t[2] == "candidate"]


def test_end_of_input_mid_phase_stores_the_interview_as_ended_with_its_turns(tmp_path):
    result = cli(
        "practice",
        "--problem",
        "url-shortener",
        "--pace",
        "6000",
        stdin=b"do we need analytics?\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0
    interviews, turns = stored(tmp_path / "interview_bot.db")
    assert interviews[0][1:3] == ("ended", "ended")
    assert [t[3] for t in turns if t[2] == "candidate"] == ["do we need analytics?"]


def test_ctrl_c_mid_phase_stores_the_interview_as_ended_without_a_traceback(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "practice", "--problem", "url-shortener", "--pace", "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    proc.stdin.write(b"do we need custom aliases?\n")
    proc.stdin.flush()
    db = tmp_path / "interview_bot.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the answer is stored
        time.sleep(0.2)
        if db.exists():
            try:
                _, turns = stored(db)
            except sqlite3.OperationalError:
                continue
            if any(t[2] == "candidate" for t in turns):
                break
    proc.send_signal(signal.SIGINT)  # stdin stays open, as at a terminal
    proc.wait(timeout=30)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"Traceback" not in err
    assert b"Interrupted: the interview is saved as ended." in out
    interviews, turns = stored(db)
    assert interviews[0][1] == "ended"
    assert [t[3] for t in turns if t[2] == "candidate"] == ["do we need custom aliases?"]


def test_an_unwritable_database_path_is_one_clear_line_and_exit_2(tmp_path):
    result = cli(
        "practice", "--problem", "url-shortener", "--db", "sqlite+aiosqlite:////nonexistent/dir/x.db"
    )
    assert result.returncode == 2
    assert "cannot open the database" in one_clear_line(result.stderr)
    bad = cli("practice", "--problem", "url-shortener", "--db", "nonsense://")
    assert bad.returncode == 2
    one_clear_line(bad.stderr)


@pytest.mark.parametrize("fmt", ["json", "text", "markdown"])
def test_score_prints_the_recap_in_each_format(fmt):
    result = cli("score", str(TRANSCRIPTS / "url-shortener--strong.json"), "--format", fmt)
    assert result.returncode == 0
    out = result.stdout.decode()
    if fmt == "json":
        recap = json.loads(out)
        assert {"overall", "verdict", "phases", "tips", "pitfalls", "next_steps"} <= set(recap)
    elif fmt == "markdown":
        assert out.startswith("# Recap: URL Shortener")
        assert (
            out.index("## Strengths")
            < out.index("## What to fix")
            < out.index("| Phase | Score | Time used |")
        )
    else:
        assert out.index("Strengths:") < out.index("To fix:")


def test_score_overrides_problem_and_level_and_draws_a_chart(tmp_path):
    chart = tmp_path / "c.png"
    result = cli(
        "score",
        str(TRANSCRIPTS / "url-shortener--medium.json"),
        "--level",
        "staff",
        "--format",
        "json",
        "--chart",
        str(chart),
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["level"] == "staff"
    assert chart.read_bytes()[:4] == b"\x89PNG"


def _write(tmp_path: Path, content) -> Path:
    path = tmp_path / "t.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


TURN = {"at": 1.0, "phase": "requirements", "role": "candidate", "text": "hi"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ({"problem": "url-shortener"}, "no 'turns'"),
        ({"problem": "url-shortener", "turns": [{**TURN, "phase": "dessert"}]}, "unknown phase 'dessert'"),
        ({"problem": "url-shortener", "turns": [{**TURN, "role": "judge"}]}, "unknown role 'judge'"),
        ({"problem": "url-shortener", "turns": [{**TURN, "at": -3}]}, "non-negative"),
        ({"problem": "url-shortener", "turns": [{**TURN, "at": 9}, TURN]}, "earlier than the turn before"),
        ({"problem": "toaster design", "turns": [TURN]}, "unknown problem 'toaster design'"),
        (
            {"problem": "url-shortener", "turns": [{**TURN, "phase": "data_flow"}]},
            "unknown phase 'data_flow'",
        ),
        (b"\xff\xfe\x00", "not UTF-8"),
        ([1, 2], "must be a JSON object"),
        ({"turns": [TURN]}, "no 'problem'"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_score_refuses_bad_transcripts_with_one_line_and_exit_2(tmp_path, content, expected):
    result = cli("score", str(_write(tmp_path, content)))
    assert result.returncode == 2
    assert expected in one_clear_line(result.stderr)
    assert result.stdout == b""


def test_score_refuses_ten_megabytes_of_text(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * (10 * 1024 * 1024))
    result = cli("score", str(path))
    assert result.returncode == 2
    assert "the limit is 5 MB" in one_clear_line(result.stderr)


def test_score_refuses_a_turn_of_huge_text(tmp_path):
    turn = {**TURN, "text": "cache " * 400_000}
    result = cli("score", str(_write(tmp_path, {"problem": "url-shortener", "turns": [turn]})))
    assert result.returncode == 2
    assert "longer than 200,000 characters" in one_clear_line(result.stderr)


def test_score_of_a_missing_file_is_one_line():
    result = cli("score", "/nonexistent/t.json")
    assert result.returncode == 2
    assert "no such file" in one_clear_line(result.stderr)


def test_without_a_problem_practice_prefers_one_not_done_yet(tmp_path):
    seen = []
    for _ in range(4):
        result = cli("practice", "--pace", "6000", cwd=tmp_path)
        assert result.returncode == 0, result.stderr.decode()
        seen.append(stored(tmp_path / "interview_bot.db")[0][-1][3])
    assert len(set(seen)) == 4  # four different problems: none repeats while others are left
