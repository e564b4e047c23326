"""flows/ is the functional core: no I/O library, no clock, no randomness, nothing from bot/."""

from __future__ import annotations

import ast
from pathlib import Path

FLOWS = Path(__file__).resolve().parent.parent / "flows"
FORBIDDEN = {
    "bot",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
    "apscheduler",
    "aiohttp",
    "asyncio",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "socket",
    "os",
    "io",
    "pathlib",
    "subprocess",
    "requests",
    "urllib",
    "http",
    "sqlite3",
    "time",
    "datetime",
    "random",
    "matplotlib",
    "logging",
    "shutil",
    "tempfile",
    "importlib",
    "problems",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
            "open",
            "__import__",
            "input",
            "print",
        ):
            names.add(f"builtin:{node.func.id}")
    return names


def test_flows_imports_no_io_library_and_calls_no_io_builtin():
    files = sorted(FLOWS.glob("*.py"))
    assert files
    for path in files:
        bad = imported_modules(path) & (
            FORBIDDEN | {"builtin:open", "builtin:__import__", "builtin:input", "builtin:print"}
        )
        assert not bad, f"{path.name} uses {sorted(bad)}"


def test_the_check_itself_catches_an_io_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy\nfrom datetime import datetime\nopen('x')\n")
    assert {"sqlalchemy", "datetime", "builtin:open"} <= imported_modules(sample)
