"""The database engine: SQLite (WAL, busy timeout) or PostgreSQL, migrated to head on open."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


class StorageError(RuntimeError):
    """The database cannot be opened or used; the message is one line for the user."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives a crashed process (only a power cut may lose the last commits)
    # and saves an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


# The usual DATABASE_URL forms name no driver; the bot talks to both through their async drivers.
ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """`sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`, `postgres://...` -> `postgresql+asyncpg://...`;
    a URL that names its driver is left as it is."""
    scheme, sep, rest = url.partition("://")
    return f"{ASYNC_DRIVERS[scheme]}{sep}{rest}" if sep and scheme in ASYNC_DRIVERS else url


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (it holds people's answers); SQLite gives
    its -wal and -shm files the same mode."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


def describe(url: str) -> str:
    """The URL without its password, safe to show."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


async def open_database(url: str) -> tuple[AsyncEngine, async_sessionmaker]:
    """Open the database at `url`, bring its schema to head, and return engine and session maker."""
    url = async_url(url)
    try:
        parsed = make_url(url)
        kwargs: dict = {}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            database = parsed.database
            if database and database != ":memory:":
                path = Path(database).expanduser().resolve()
                if not path.parent.is_dir():
                    raise StorageError(
                        f"cannot open the database {describe(url)}: {path.parent} does not exist"
                    )
                try:
                    _private_file(path)
                except OSError as exc:
                    raise StorageError(f"cannot open the database {describe(url)}: {exc.strerror}") from None
        engine = create_async_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StorageError(f"invalid database URL {describe(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    except (OperationalError, DBAPIError, OSError) as exc:
        await engine.dispose()
        reason = getattr(exc, "orig", exc)
        raise StorageError(f"cannot open the database {describe(url)}: {reason}") from None
    return engine, async_sessionmaker(engine, expire_on_commit=False)
