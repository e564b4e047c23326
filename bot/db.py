"""The database engine: SQLite (WAL, busy timeout) or PostgreSQL, migrated to head on open."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, Row, Table, create_engine, event, inspect, text
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
    """SQLite takes one writer at a time: queue this process's write transactions to one writer
    thread instead of letting its connections collide in SQLite's busy handler, which sleeps in
    steps of up to 100 ms. Reads (`sessions()`) run beside them, as WAL allows.

    `write` runs its whole transaction on the writer connection in that thread, so a transaction
    costs one hand-over between threads rather than several per statement (aiosqlite makes every
    cursor, execute, fetch and close a hand-over, each waiting for the GIL). Writes that queue while
    the writer is busy are committed together (see `_WriterThread`); an async transaction
    (`begin`) waits for the queue to drain, and writes that come meanwhile wait for it."""

    def __init__(self, sessions: async_sessionmaker, file: str | None = None) -> None:
        super().__init__(sessions)
        self._lock = asyncio.Lock()  # held by an async write transaction, and while one waits
        self._queued = 0  # write functions queued on, or running in, the writer thread
        self._drained = asyncio.Event()
        self._drained.set()
        self._writer: _WriterThread | None = None
        if file is not None:
            engine = create_engine(
                f"sqlite:///{file}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            self._engine = engine  # the writer thread's
            self._writer = _WriterThread(engine)
            # The thread ends (and closes its connection) with this object.
            self._finalizer = weakref.finalize(self, self._writer.work.put, None)

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
        return await self._queue(False, fn, args)

    async def write_rows(self, fn: WriteRows[T], *args: Any) -> T:
        """Run `fn(connection, *args)` in a transaction on the writer connection, in turn (with
        others queued beside it: `fn` must not keep anything of its own from a rolled-back try)."""
        if self._writer is None:
            async with self._lock:
                return await super().write_rows(fn, *args)
        return await self._queue(True, fn, args)

    async def write_one(self, statement: Executable, parameters: Any = None) -> tuple[list[Row], int]:
        """`write_one` in turn with the other writes, on the writer connection."""
        return await self.write_rows(_execute_one, statement, parameters)

    async def _queue(self, rows: bool, fn: Callable, args: tuple) -> Any:
        while self._lock.locked():  # an async write transaction goes first
            async with self._lock:
                pass
        self._queued += 1
        self._drained.clear()
        try:
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            self._writer.work.put(_Work(loop, done, rows, fn, args))
            return await done
        finally:
            self._queued -= 1
            if self._queued == 0:
                self._drained.set()


@dataclass(slots=True)
class _Work:
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future
    rows: bool  # fn(connection, ...) if so, else fn(session, ...)
    fn: Callable
    args: tuple


# Writes committed together at most (a batch is what queued while the last one ran).
WRITER_BATCH = 64


class _WriterThread:
    """The one thread that writes to a SQLite file, and its connection.

    It takes what has queued since its last commit and runs the Core writes (`write_rows`) of it
    in one transaction: one commit, one set of WAL pages and one hand-back to the event loop for
    the lot, not one each (a message makes three writes: its inbox row, its step, its sent mark).
    A write whose function raises rolls the batch back, and then each write of it runs alone, in
    order, so that only its own caller sees its error; a locked database fails the whole batch at
    once (alone, each would wait the busy timeout again). Results reach their callers only after
    the commit that holds them."""

    def __init__(self, engine: Engine) -> None:
        self.work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # The thread refers to this object, never to the SerialWriter: that one's finalizer is
        # what stops the thread.
        threading.Thread(target=self._run, args=(engine,), name="sqlite-writer", daemon=True).start()

    def _run(self, engine: Engine) -> None:
        connection: Connection | None = None
        try:
            while True:
                batch = [self.work.get()]
                while batch[-1] is not None and len(batch) < WRITER_BATCH:
                    try:
                        batch.append(self.work.get_nowait())
                    except queue.Empty:
                        break
                stop = batch[-1] is None
                batch = [work for work in batch if work is not None]
                if batch:
                    try:
                        if connection is None or connection.closed or connection.invalidated:
                            connection = engine.connect()
                    except Exception as exc:  # noqa: BLE001 - the file cannot be opened: every caller hears
                        _hand_back([(work, False, exc) for work in batch])
                    else:
                        _hand_back(self._batch(connection, batch))
                if stop:
                    return
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()
            engine.dispose()

    def _batch(self, connection: Connection, batch: list[_Work]) -> list[tuple[_Work, bool, Any]]:
        outcomes: list[tuple[_Work, bool, Any]] = []
        together: list[_Work] = []  # consecutive Core writes, run in one transaction
        for work in batch:
            if work.rows:
                together.append(work)
                continue
            outcomes += self._together(connection, together)
            together = []
            outcomes.append(self._alone(connection, work))
        return outcomes + self._together(connection, together)

    def _together(self, connection: Connection, batch: list[_Work]) -> list[tuple[_Work, bool, Any]]:
        if len(batch) < 2:
            return [self._alone(connection, work) for work in batch]
        try:
            with connection.begin():
                results = [work.fn(connection, *work.args) for work in batch]
        except OperationalError as exc:
            if not _busy(exc):
                return [self._alone(connection, work) for work in batch]
            return [(work, False, exc) for work in batch]
        except Exception:  # noqa: BLE001 - one write's error: each runs alone, its own caller sees it
            return [self._alone(connection, work) for work in batch]
        return [(work, True, result) for work, result in zip(batch, results, strict=True)]

    def _alone(self, connection: Connection, work: _Work) -> tuple[_Work, bool, Any]:
        try:
            if work.rows:
                with connection.begin():
                    return work, True, work.fn(connection, *work.args)
            with self._sessions.begin() as session:
                return work, True, work.fn(session, *work.args)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, raised there
            return work, False, exc


def _busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (another process holds the write lock past the busy timeout)."""
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message


def _hand_back(outcomes: list[tuple[_Work, bool, Any]]) -> None:
    """Settle the callers' futures, one call into each event loop for the lot."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Work, bool, Any]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: list[tuple[_Work, bool, Any]]) -> None:
    for work, ok, value in outcomes:
        if work.done.done():  # its caller was cancelled
            continue
        if ok:
            work.done.set_result(value)
        else:
            work.done.set_exception(value)


def _rows_and_count(result) -> tuple[list[Row], int]:
    return (result.all() if result.returns_rows else []), result.rowcount


def _execute_one(connection: Connection, statement: Executable, parameters: Any) -> tuple[list[Row], int]:
    return _rows_and_count(connection.execute(statement, parameters))


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
