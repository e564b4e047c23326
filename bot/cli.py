"""The `interview-bot` command line: problems, practice, score, serve."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import NoReturn

from bot.db import StorageError, open_database
from bot.settings import SettingsError, load_settings
from flows.framework import LEVELS
from problems import ProblemFileError, UnknownProblem, find_problem, load_bank

MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024


class UsageError(Exception):
    """A mistake on the command line; the message is one line for standard error."""


def _positive(kind: type):
    def parse(raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be positive: {raw!r}")
        return value

    return parse


class OneLineParser(argparse.ArgumentParser):
    """Argument mistakes are one line on standard error and exit 2, never a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = OneLineParser(
        prog="interview-bot",
        description="Mock system-design interviews in a terminal or in Slack, with scored recaps.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    p = sub.add_parser("problems", help="list the problem bank")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = sub.add_parser(
        "practice",
        help="run an interview in this terminal",
        description="Run one interview in the terminal. Each line is one message; the words next, "
        "hint, time, pause, resume and end are controls. Piped input is replayed at the pace "
        "given: each line takes the time to write it, and `next` waits for the phase's time.",
    )
    p.add_argument("--problem", help="slug, title or alias (default: a random problem)")
    p.add_argument("--level", choices=LEVELS, default="senior")
    p.add_argument("--minutes", type=_positive(float), help="total minutes (budgets scale to fit)")
    p.add_argument("--pace", type=_positive(float), help="clock speed-up (default: $INTERVIEW_PACE or 1)")
    p.add_argument("--transcript-out", type=Path, metavar="FILE", help="write the transcript JSON here")
    p.add_argument("--chart", type=Path, metavar="FILE", help="write the recap chart (PNG) here")
    p.add_argument("--db", metavar="URL", help="database URL (default: $DATABASE_URL or a local SQLite file)")

    p = sub.add_parser("score", help="score a transcript file and print the recap")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--problem", help="override the transcript's problem")
    p.add_argument("--level", choices=LEVELS, help="override the transcript's level")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--chart", type=Path, metavar="FILE", help="write the recap chart (PNG) here")

    p = sub.add_parser("serve", help="run the Slack bot")
    p.add_argument("--socket-mode", action="store_true", help="connect over Socket Mode")
    p.add_argument("--port", type=int, help="HTTP port (default: $PORT or 3000)")
    return parser


def cmd_problems(args: argparse.Namespace) -> int:
    """List the bank."""
    bank = load_bank()
    if args.json:
        items = [
            {
                "slug": p.slug,
                "title": p.title,
                "aliases": list(p.aliases),
                "category": p.category,
                "data_flow": p.data_flow,
                "difficulty": p.difficulty,
                "phases": list(p.phase_ids),
            }
            for p in bank.values()
        ]
        print(json.dumps(items, indent=2))
        return 0
    width = max(len(p.slug) for p in bank.values())
    for p in bank.values():
        extra = "  (with data flow)" if p.data_flow else ""
        print(f"{p.slug:<{width}}  {p.title} [{p.category}, {p.difficulty}]{extra}")
    print(f"\n{len(bank)} problems. Start one with: interview-bot practice --problem SLUG")
    return 0


def _pick_problem(name: str | None, done: set[str] | None = None):
    """The named problem, or a random one, preferring problems not done yet."""
    bank = load_bank()
    if name:
        return find_problem(name, bank), bank
    import random

    fresh = [p for p in bank.values() if p.slug not in (done or set())]
    return random.choice(fresh or list(bank.values())), bank


def check_writable(target: Path) -> Path:
    """Refuse an output path that cannot be written, before any work is done; returns the path to use."""
    # Expanded here and used as expanded: a quoted `~/t.json` passed the check but was then written
    # as a folder named `~`, after the whole interview.
    path = target.expanduser()
    try:
        kind = path.stat().st_mode
    except FileNotFoundError:
        kind = None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    if kind is not None and stat.S_ISDIR(kind):
        raise UsageError(f"cannot write {target}: it is a directory; give a file name")
    if kind is not None and (stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind)):
        # Writing waits for a reader that may never come, and even the test below would end the
        # stream of a reader that is there.
        raise UsageError(f"cannot write {target}: it is a pipe or a socket; give a file name")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {target}: its folder does not exist")
    made = kind is None and not path.is_symlink()  # a dangling link's target is the user's to keep
    try:  # a real write test: permissions, read-only file systems and quotas all answer here
        # O_NONBLOCK: a FIFO made since the stat above must not block the open.
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666))
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    if made:
        path.unlink()
    return path


def cmd_practice(args: argparse.Namespace) -> int:
    """Run a terminal interview."""
    from bot.repository import InterviewRepository
    from bot.terminal import practice, stdin_is_interactive
    from flows.engine import new_interview
    from flows.scoring import practice_suggestions

    settings = load_settings(database_url=args.db, pace=args.pace)
    if args.problem:
        _pick_problem(args.problem)  # an unknown name fails before anything is opened
    if args.transcript_out is not None:
        args.transcript_out = check_writable(args.transcript_out)
    if args.chart is not None:
        args.chart = check_writable(args.chart)

    async def run() -> int:
        engine, sessions = await open_database(settings.database_url)
        try:
            repository = InterviewRepository(sessions)
            problem, bank = _pick_problem(args.problem, await repository.problems_done(surface="terminal"))
            interview = new_interview(
                uuid.uuid4().hex,
                problem,
                args.level,
                args.minutes,
                suggestions=practice_suggestions(bank.values(), problem),
            )
            result = await practice(
                interview,
                sessions,
                bank,
                settings.pace,
                args.minutes,
                sys.stdin.buffer,
                sys.stdout,
                replay=not stdin_is_interactive(),
                transcript_out=args.transcript_out,
                chart_out=args.chart,
                llm=settings.llm,
            )
            return result.exit_code
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _readable_text(value: object, where: str = "the transcript") -> None:
    """Refuse strings that are not valid Unicode (a lone surrogate from a "\\ud800" escape)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{where}: contains text that is not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _readable_text(key, where)
            _readable_text(item, where)
    elif isinstance(value, list):
        for item in value:
            _readable_text(item, where)


def read_transcript(path: Path) -> dict:
    """Read a transcript file: one clear error for anything that is not a usable transcript."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: is a directory, not a transcript file")
        if not stat.S_ISREG(info.st_mode):  # a device, a FIFO, a socket: never read (it may not end)
            raise UsageError(f"{path}: not a regular file")
        if info.st_size > MAX_TRANSCRIPT_BYTES:
            raise UsageError(f"{path}: the transcript is {info.st_size / 1e6:.1f} MB; the limit is 5 MB")
        # O_NONBLOCK: a FIFO swapped in since the stat above must not block the open; the fstat
        # then checks the file actually opened.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UsageError(f"{path}: not a regular file")
            raw = handle.read(MAX_TRANSCRIPT_BYTES + 1)  # a file that grew since stat still stops here
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_TRANSCRIPT_BYTES:
        raise UsageError(f"{path}: the transcript is over the 5 MB limit")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deeply") from None
    except ValueError as exc:  # NaN or Infinity, or an integer of thousands of digits
        raise UsageError(f"{path}: not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a transcript must be a JSON object")
    _readable_text(data, str(path))
    return data


def cmd_score(args: argparse.Namespace) -> int:
    """Score a transcript file."""
    from bot.render import recap_markdown, recap_text
    from flows.scoring import practice_suggestions, score_transcript
    from flows.transcript import TranscriptError, validate_transcript

    if args.chart is not None:
        args.chart = check_writable(args.chart)
    data = read_transcript(args.file)
    name = args.problem or data.get("problem")
    if not name or not isinstance(name, str):
        raise UsageError(f"{args.file}: no 'problem' in the transcript; pass --problem NAME")
    problem, bank = _pick_problem(name)
    if args.level:
        data["level"] = args.level
    try:
        validate_transcript(data, problem.phase_ids)
    except TranscriptError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    recap = score_transcript(data, problem, practice_suggestions(bank.values(), problem))
    llm = load_settings().llm
    if llm is not None:
        from bot.llm import llm_review

        recap = asyncio.run(llm_review(llm, problem, data, recap))
    if args.format == "json":
        print(json.dumps(recap, indent=2, allow_nan=False))
    elif args.format == "markdown":
        print(recap_markdown(recap), end="")
    else:
        print(recap_text(recap))
    if args.chart is not None:
        from bot.chart import recap_chart_png

        try:
            args.chart.write_bytes(recap_chart_png(recap))
        except OSError as exc:
            raise UsageError(f"cannot write {args.chart}: {exc.strerror}") from None
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the Slack bot."""
    try:
        from bot.slack.serve import serve
    except ImportError:
        raise UsageError("serve is not available yet: the Slack integration is not installed") from None
    settings = load_settings(port=args.port)
    return serve(settings, socket_mode=args.socket_mode)


COMMANDS = {"problems": cmd_problems, "practice": cmd_practice, "score": cmd_score, "serve": cmd_serve}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except (UsageError, StorageError, SettingsError, ProblemFileError) as exc:
        print(f"interview-bot: {exc}", file=sys.stderr)
        return 2
    except UnknownProblem as exc:
        print(f"interview-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterview-bot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
