"""The database engine: SQLite (WAL, busy timeout) or PostgreSQL, migrated to head on open."""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable, Row, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# PostgreSQL connections kept open per process. SQLAlchemy's default (5, and 10 more opened and
# closed again as needed) made a busy `serve` open several connections a second, each a new
# backend process (and a TLS attempt), losing asyncpg's prepared statements with it. Two processes at
# the full pool hold 60 of PostgreSQL's default 100.
PG_POOL_SIZE = 20
PG_MAX_OVERFLOW = 10


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


# The newest migration's revision. A database already at it is opened without loading Alembic
# (about 0.1 s of every start); tests/test_storage.py checks that it is the migrations' head.
SCHEMA_HEAD = "0007"


def _schema_version(connection) -> str | None:
    """The revision the database's schema is at (None for a new database)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _migrate(connection) -> None:
    """Bring the schema to head, if it is not there already."""
    if _schema_version(connection) != SCHEMA_HEAD:
        _upgrade(connection)


def _upgrade(connection) -> None:
    from alembic import command
    from alembic.config import Config

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
    url = f"{ASYNC_DRIVERS[scheme]}{sep}{rest}" if sep and scheme in ASYNC_DRIVERS else url
    if url.startswith("postgresql+asyncpg://") and "sslmode=" in url:
        # Hosted Postgres URLs carry libpq's `sslmode`; asyncpg takes the same values as `ssl` and
        # fails on `sslmode` with a TypeError at the first connection.
        try:
            parsed = make_url(url)
        except ArgumentError:
            return url  # open_database reports the unparseable URL
        if "sslmode" in parsed.query and "ssl" not in parsed.query:
            mode = parsed.query["sslmode"]
            parsed = parsed.difference_update_query(["sslmode"]).update_query_dict({"ssl": mode})
            url = parsed.render_as_string(hide_password=False)
    return url


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (it holds people's answers)."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    # SQLite gives new -wal and -shm files the main file's mode; files left by an older version
    # (or a crash) keep theirs, so tighten them too. A file someone else owns is theirs to set:
    # failing to tighten it is no reason to refuse to open it.
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if each.exists() and each.stat().st_mode & 0o077:
                os.chmod(each, 0o600)
        except PermissionError:
            pass


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
            if database and database.startswith("~"):
                # A URL from the environment is not expanded by a shell, and SQLite would take `~`
                # as a folder name.
                parsed = parsed.set(database=str(Path(database).expanduser()))
                database = parsed.database
            if database and database != ":memory:":
                path = Path(database).resolve()
                if not path.parent.is_dir():
                    raise StorageError(
                        f"cannot open the database {describe(url)}: {path.parent} does not exist"
                    )
                try:
                    _private_file(path)
                except OSError as exc:
                    raise StorageError(f"cannot open the database {describe(url)}: {exc.strerror}") from None
        else:
            kwargs.update(pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW)
        engine = create_async_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StorageError(f"invalid database URL {describe(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_migrate)
    except (OperationalError, DBAPIError, OSError) as exc:
        await engine.dispose()
        reason = getattr(exc, "orig", exc)
        raise StorageError(f"cannot open the database {describe(url)}: {reason}") from None
    except TypeError as exc:  # the driver's connect() refused an option given in the URL's query
        await engine.dispose()
        raise StorageError(f"invalid database URL {describe(url)}: {exc}") from None
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        database = parsed.database
        file = database if database and database != ":memory:" else None
        return engine, SerialWriter(sessions, file)
    return engine, Sessions(sessions)


T = TypeVar("T")
Write = Callable[..., T]  # fn(session: Session, *args) -> T, the body of one write transaction
WriteRows = Callable[..., T]  # fn(connection: Connection, *args) -> T, the same with Core statements


class Sessions:
    """Sessions for reading (`sessions()`), write transactions (`sessions.begin()`), and `write`:
    a synchronous function run as one transaction (on PostgreSQL, through the async driver)."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions
        engine: AsyncEngine = sessions.kw["bind"]
        self.dialect = engine.dialect.name
        # A statement on its own is atomic: on PostgreSQL `write_one` sends it without BEGIN and
        # COMMIT around it (two round trips fewer; the connection's mode is set and reset in memory).
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        # Reads on PostgreSQL go the same way: at READ COMMITTED every statement sees what was
        # committed when it began, inside a transaction or not, so BEGIN and ROLLBACK around a
        # read bought nothing but two round trips. (SQLite's driver begins no transaction to read.)
        self._reads = sessions
        if self.dialect == "postgresql":
            self._reads = async_sessionmaker(self._autocommit, expire_on_commit=False)

    @property
    def engine(self) -> AsyncEngine:
        return self._sessions.kw["bind"]

    def __call__(self, **kwargs) -> AsyncSession:
        """A session for reading."""
        return self._reads(**kwargs)

    def begin(self):
        """A write transaction."""
        return self._sessions.begin()

    async def write(self, fn: Write[T], *args: Any) -> T:
        """Run `fn(session, *args)` in one transaction and commit it; returns what fn returns."""
        async with self._sessions.begin() as session:
            return await session.run_sync(fn, *args)

    async def write_rows(self, fn: WriteRows[T], *args: Any) -> T:
        """`write` for a function of Core statements: `fn(connection, *args)`, one transaction.
        The hot path's writes (a step, an inbox store, outbox marks) take this way: no ORM session
        to set up and tear down around a handful of statements."""
        async with self._sessions.kw["bind"].begin() as connection:
            return await connection.run_sync(fn, *args)

    async def write_one(self, statement: Executable, parameters: Any = None) -> tuple[list[Row], int]:
        """One statement as a write of its own (atomic as any single statement is): its rows (if
        it returns any) and its row count. The hot path's single-statement writes (an inbox store,
        outbox marks) take this way: no transaction to open and commit around it."""
        async with self._autocommit.connect() as connection:
            return _rows_and_count(await connection.execute(statement, parameters))


class SerialWriter(Sessions):
    """SQLite takes one writer at a time: queue this process's write transactions on an asyncio
    lock instead of letting its connections collide in SQLite's busy handler, which sleeps in
    steps of up to 100 ms. Reads (`sessions()`) run beside them, as WAL allows.

    `write` runs its whole transaction on one writer connection in one thread of its own, so a
    transaction costs one hand-over between threads rather than several per statement (aiosqlite
    makes every cursor, execute, fetch and close a hand-over, each waiting for the GIL). Writes
    queue in that thread's executor, so the next starts as soon as one commits, without waiting
    for the event loop to come round; an async transaction (`begin`) waits for the queue to drain,
    and writes that come meanwhile wait for it."""

    def __init__(self, sessions: async_sessionmaker, file: str | None = None) -> None:
        super().__init__(sessions)
        self._lock = asyncio.Lock()  # held by an async write transaction, and while one waits
        self._queued = 0  # write functions queued on, or running in, the writer thread
        self._drained = asyncio.Event()
        self._drained.set()
        self._thread: ThreadPoolExecutor | None = None
        self._writer: sessionmaker | None = None
        if file is not None:
            engine = create_engine(
                f"sqlite:///{file}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            self._engine = engine
            # The writer thread's own connection for `write_rows`, held open (not checked out of the
            # pool and reset for every transaction): in a list, so the finalizer can close it.
            self._held: list[Connection] = []
            self._writer = sessionmaker(engine, expire_on_commit=False)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
            # Closed with this object: the connection (its thread goes when the executor does).
            self._finalizer = weakref.finalize(self, _close_writer, engine, self._thread, self._held)

    @contextlib.asynccontextmanager
    async def begin(self):
        """A write transaction, once the writes ahead of it have committed."""
        async with self._lock:
            await self._drained.wait()
            async with self._sessions.begin() as session:
                yield session

    async def write(self, fn: Write[T], *args: Any) -> T:
        """Run `fn(session, *args)` as one transaction on the writer connection, in turn."""
        if self._writer is None:  # an in-memory database: only the async engine's connection has it
            async with self._lock:
                return await super().write(fn, *args)
        return await self._queue(self._run, fn, args)

    async def write_rows(self, fn: WriteRows[T], *args: Any) -> T:
        """Run `fn(connection, *args)` as one transaction on the writer connection, in turn."""
        if self._writer is None:
            async with self._lock:
                return await super().write_rows(fn, *args)
        return await self._queue(self._run_rows, fn, args)

    async def write_one(self, statement: Executable, parameters: Any = None) -> tuple[list[Row], int]:
        """`write_one` in turn with the other writes, on the writer connection."""
        return await self.write_rows(_execute_one, statement, parameters)

    async def _queue(self, run: Callable[[Callable, tuple], T], fn: Callable, args: tuple) -> T:
        while self._lock.locked():  # an async write transaction goes first
            async with self._lock:
                pass
        self._queued += 1
        self._drained.clear()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, run, fn, args)
        finally:
            self._queued -= 1
            if self._queued == 0:
                self._drained.set()

    def _run(self, fn: Write[T], args: tuple) -> T:
        with self._writer.begin() as session:
            return fn(session, *args)

    def _run_rows(self, fn: WriteRows[T], args: tuple) -> T:
        if not self._held or self._held[0].closed or self._held[0].invalidated:
            self._held[:] = [self._engine.connect()]
        connection = self._held[0]
        with connection.begin():
            return fn(connection, *args)


def _rows_and_count(result) -> tuple[list[Row], int]:
    return (result.all() if result.returns_rows else []), result.rowcount


def _execute_one(connection: Connection, statement: Executable, parameters: Any) -> tuple[list[Row], int]:
    return _rows_and_count(connection.execute(statement, parameters))


def _close_writer(engine, thread: ThreadPoolExecutor, held: list) -> None:
    # Closed here, not handed to the writer thread: a finalizer can run inside another executor's
    # submit(), which holds the lock every submit() takes (it deadlocked). The writer is idle by
    # now (queued work keeps its SerialWriter alive), and SQLAlchemy opens SQLite files for use
    # from any thread.
    for connection in held:
        with contextlib.suppress(Exception):
            connection.close()
    thread.shutdown(wait=False)
    engine.dispose()


def insert_ignoring_duplicates(dialect: str, table: Table, keys: list[str]):
    """INSERT ... ON CONFLICT (keys) DO NOTHING for SQLite or PostgreSQL: a row whose key is taken
    is skipped, not an error, so one statement can store many rows that may include replays."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=keys)


def upsert(dialect: str, table: Table, keys: list[str], values: dict):
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET the non-key values, for SQLite or PostgreSQL."""
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={k: v for k, v in values.items() if k not in keys}
    )
