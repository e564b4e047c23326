"""The terminal as people see it: folded lines, no markup, a prompt, warnings above the typing."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import termios
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


async def test_a_long_word_such_as_a_url_is_never_broken_across_lines():
    out = io.StringIO()
    url = "https://example.com/" + "a" * 70
    await TerminalSurface(out, width=50).say(PLACE, f"Open {url} to see the diagram.", "", "", "1")
    assert url in out.getvalue().split()


class Tty(io.StringIO):
    """A terminal as far as the surface can tell."""

    def isatty(self) -> bool:
        return True


async def test_messages_follow_the_terminal_width_as_the_window_is_resized(monkeypatch):
    out = Tty()
    surface = TerminalSurface(out)
    monkeypatch.setenv("COLUMNS", "50")
    await surface.say(PLACE, LONG, "phase", "", "1")
    narrow = out.getvalue().splitlines()
    out.seek(0)
    out.truncate()
    monkeypatch.setenv("COLUMNS", "250")
    await surface.say(PLACE, LONG, "phase", "", "2")
    wide = out.getvalue().splitlines()
    assert max(map(len, narrow)) <= 50 and max(map(len, wide)) > 50
    assert max(map(len, wide)) <= 100  # however wide the window, lines stay readable


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


def test_a_folded_recap_continues_a_phase_feedback_under_its_column():
    recap = {
        "problem": "top-k",
        "level": "senior",
        "overall": 40,
        "verdict": "no_hire",
        "phases": [
            {
                "phase": "requirements",
                "name": "Requirements",
                "score": 2,
                "minutes_used": 5,
                "minutes_budget": 5,
                "feedback": "Covered the read path but not the write path and its ordering guarantees.",
            }
        ],
        "tips": [],
        "pitfalls": [],
        "next_steps": [],
    }
    lines = recap_text(recap, width=80).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("  Requirements"))
    column = lines[row].index("Covered")
    assert lines[row + 1].startswith(" " * column) and lines[row + 1][column] != " "
    assert all(len(line) <= 80 for line in lines)
    feedback = recap["phases"][0]["feedback"]
    assert " ".join(line.strip() for line in lines[row:]).count(feedback) == 1  # no word lost
    assert any(line.endswith(feedback) for line in recap_text(recap).splitlines())  # unfolded


def _practice_at_a_terminal(tmp_path, pace: str) -> tuple[subprocess.Popen, int, list]:
    """`practice` with a pseudo-terminal as its controlling terminal, so Ctrl-C is a keystroke.

    Returns the process, the terminal's other side, and the terminal's modes before it started.
    """
    master, slave = pty.openpty()
    modes = termios.tcgetattr(slave)
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    env.pop("INTERVIEW_PACE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "practice", "--problem", "url shortener", "--pace", pace],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    return proc, master, modes


def _read_until(master: int, needle: bytes, seconds: float, screen: bytes = b"") -> bytes:
    """What the terminal shows, read until `needle` appears after what was already read."""
    start = len(screen)
    deadline = time.monotonic() + seconds
    while needle not in screen[start:] and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                screen += os.read(master, 65536)
            except OSError:  # the other side closed: the process has ended
                break
    return screen


def _finish(proc: subprocess.Popen, master: int, screen: bytes, modes: list | None = None) -> str:
    """Everything the terminal showed until the process ended; with `modes`, check they are back."""
    try:
        screen = _read_until(master, b"\0never", 20.0, screen)  # to the end of output
        proc.wait(timeout=20)
        if modes is not None:
            assert termios.tcgetattr(master)[3] == modes[3], "echo or line editing left off"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return screen.decode("utf-8", "replace")


OPENED = b"share a code?\r\nyou> "  # the end of the Requirements question, then the prompt


def test_at_a_terminal_a_warning_lands_above_the_line_being_typed_and_the_answer_stays_whole(tmp_path):
    # At pace 60 the Requirements warning (4 interview minutes) comes 4 s in: after the prompt.
    proc, master, _ = _practice_at_a_terminal(tmp_path, "60")
    screen = _read_until(master, OPENED, 15.0)
    assert OPENED in screen and b"[time]" not in screen, "the warning came before any typing"
    os.write(master, b"users shorten")  # typing, not finished
    screen = _read_until(master, b"users shorten", 5.0, screen)
    warning = b"1 minute left for Requirements.\r\nyou> users shorten"  # and the typing drawn again
    screen = _read_until(master, warning, 10.0, screen)
    os.write(master, b" links\n")
    screen = _read_until(master, b" links\r\n", 5.0, screen)
    os.write(master, b"end\n")
    text = _finish(proc, master, screen)

    # The typing is cleared, the warning printed on a line of its own, the typing drawn again.
    assert (
        "you> users shorten\r\x1b[Kbot> [time] 1 minute left for Requirements.\r\nyou> users shorten" in text
    )
    assert proc.returncode == 0 and "Traceback" not in text
    assert re.search(r"\r\n(you> )?\r\x1b\[K\r\nRecap: URL Shortener", text)  # no prompt left over
    with sqlite3.connect(tmp_path / "interview_bot.db") as conn:
        answers = conn.execute("SELECT text FROM turns WHERE role = 'candidate'").fetchall()
    assert answers == [("users shorten links",)]


def test_ctrl_c_at_the_prompt_ends_with_130_and_gives_the_terminal_back_as_it_was(tmp_path):
    proc, master, before = _practice_at_a_terminal(tmp_path, "1")
    screen = _read_until(master, OPENED, 15.0)
    os.write(master, b"half a thou")
    screen = _read_until(master, b"half a thou", 2.0, screen)
    os.write(master, b"\x03")  # Ctrl-C, as the terminal sends it: SIGINT
    text = _finish(proc, master, screen, before)
    assert proc.returncode == 130
    assert "Interrupted: the interview is saved as ended." in text and "Traceback" not in text


def test_ctrl_d_at_an_empty_prompt_ends_the_interview_with_the_recap(tmp_path):
    proc, master, _ = _practice_at_a_terminal(tmp_path, "1")
    screen = _read_until(master, OPENED, 15.0)
    os.write(master, b"\x04")  # Ctrl-D: the end of input
    text = _finish(proc, master, screen)
    assert proc.returncode == 0 and "Recap: URL Shortener" in text and "Traceback" not in text
    with sqlite3.connect(tmp_path / "interview_bot.db") as conn:
        assert conn.execute("SELECT status FROM interviews").fetchall() == [("ended",)]
