"""The terminal as people see it: folded lines, no markup, a prompt, warnings above the typing."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time

from bot.app.ports import Place
from bot.render import recap_text
from bot.terminal import TerminalSurface

PLACE = Place(surface="terminal", interview_id="t")
LONG = (
    "*Requirements* (5 minutes). What must the first version do, and what is explicitly out of scope? "
    "How many links are created a day and how many redirects happen -- what is the read/write ratio? "
    "Say `next` when you are done."
)


async def test_bot_messages_are_folded_at_word_boundaries_without_markup():
    out = io.StringIO()
    surface = TerminalSurface(out, width=60)
    await surface.say(PLACE, LONG, "phase", "", "1")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("bot> Requirements (5 minutes).")
    assert all(len(line) <= 60 for line in lines) and all(line.startswith("     ") for line in lines[1:])
    words = " ".join(line.strip() for line in lines).replace("bot> ", "").split()
    assert words == LONG.replace("*", "").replace("`", "").split()  # no word split or lost
    assert "`" not in out.getvalue() and "*" not in out.getvalue()


async def test_piped_output_is_one_line_per_message_for_scripts():
    out = io.StringIO()
    await TerminalSurface(out).say(PLACE, LONG, "phase", "", "1")
    assert out.getvalue().count("\n") == 1


def test_the_recap_prints_budgets_as_people_write_them_and_folds_to_the_terminal():
    recap = {
        "problem": "top-k",
        "title": "Top K",
        "level": "senior",
        "overall": 40,
        "verdict": "no_hire",
        "summary": "",
        "phases": [
            {
                "phase": "requirements",
                "name": "Requirements",
                "score": 2,
                "minutes_used": 6.6,
                "minutes_budget": 4.41176,
                "feedback": "Covered the read path but not "
                + "the write path and its ordering guarantees " * 3,
            }
        ],
        "tips": [],
        "pitfalls": [],
        "next_steps": ["Practise capacity estimates " * 6],
    }
    text = recap_text(recap, width=70)
    assert "6.6 of 4.4 min" in text and "4.41176" not in text
    assert all(len(line) <= 70 for line in text.splitlines())
    assert "6.6 of 4.4 min" in recap_text(recap)  # and without folding, for scripts


def _read(master: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    return out


def test_at_a_terminal_a_warning_lands_above_the_line_being_typed_and_the_answer_stays_whole(tmp_path):
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    env.pop("INTERVIEW_PACE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "practice", "--problem", "url shortener", "--pace", "120"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    try:
        screen = _read(master, 3.0)  # the opening and the prompt
        assert b"you> " in screen
        os.write(master, b"users shorten")  # typing, not finished: the warning comes at 2 s
        screen += _read(master, 2.5)
        assert b"1 minute left for Requirements" in screen
        os.write(master, b" links\n")
        screen += _read(master, 1.0)
        os.write(master, b"end\n")
        screen += _read(master, 10.0)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = screen.decode("utf-8", "replace")
    warning = text.index("1 minute left for Requirements")
    before = text[:warning]
    assert before.endswith("\r\x1b[Kbot> [time] ") or re.search(r"\r\x1b\[K\s*bot> \[time\] $", before)
    assert "you> users shorten" in text[warning:]  # the typing drawn again under the warning
    assert proc.returncode == 0 and "Recap:" in text and "Traceback" not in text
    with sqlite3.connect(tmp_path / "interview_bot.db") as conn:
        answers = conn.execute("SELECT text FROM turns WHERE role = 'candidate'").fetchall()
    assert answers == [("users shorten links",)]
