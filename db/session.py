"""Engine and session factory. Handlers never build sessions: bot.app opens one per update."""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from pathlib import Path

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, echo)
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_engine(url: str, database: str | None, echo: bool) -> AsyncEngine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    args, params = aiosqlite_dialect().create_connect_args(make_url(url))
    params["timeout"] = 30
    engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10,
                                 async_creator=lambda: _connect_loop_side(*args, **params))

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    _serialise_writes(engine)
    return engine


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
# Statements that may wait on another process's lock: they go to aiosqlite's thread.
_MAY_WAIT = (*_WRITES, "BEGIN", "COMMIT", "PRAGMA", "VACUUM")


class LoopSideConnection(aiosqlite.Connection):
    """aiosqlite, with the calls that cannot block run directly on the event loop.

    aiosqlite sends every call (cursor(), execute(), fetchall(), close(), commit(), rollback()) to its
    worker thread and back: four hand-offs for one SELECT, each a queue put, a thread wake-up, a
    self-pipe write and a GIL handover. Measured under load in bench/throughput.py that was ~0.25 ms of
    CPU per hand-off. In WAL mode reading never waits for a lock, and SQLite answers our small queries in
    microseconds, so those calls run inline; only what can wait on another process's write lock (writes,
    commits, pragmas) still goes through the thread, so a busy database never stalls the loop.
    """

    async def _execute(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if _may_wait(fn, args):
            return await super()._execute(fn, *args, **kwargs)
        return fn(*args, **kwargs)


def _may_wait(fn: object, args: tuple[object, ...]) -> bool:
    name = getattr(fn, "__name__", "")
    if name == "commit":
        return True
    if name in ("execute", "executemany", "executescript") and args and isinstance(args[0], str):
        return args[0].lstrip()[:8].upper().startswith(_MAY_WAIT)
    return False


def _connect_loop_side(database: str, **kwargs: object) -> LoopSideConnection:
    """What aiosqlite.connect() does, with the connection class above."""
    kwargs["check_same_thread"] = False  # the loop thread and the worker take turns, never at once

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)  # type: ignore[arg-type]

    connection = LoopSideConnection(connector, 64)
    connection._thread.daemon = True  # as SQLAlchemy does for plain aiosqlite connections
    return connection


def _serialise_writes(engine: AsyncEngine) -> None:
    """Let one SQLite write transaction run at a time, queued in asyncio.

    SQLite has a single write lock; left to itself, a waiting writer sleeps in SQLite's busy handler
    with growing back-off, and under a burst of workers some wait for seconds. Here a writer waits on an
    asyncio lock (first come, first served) from its first INSERT/UPDATE/DELETE until its connection goes
    back to the pool after commit or rollback.
    """
    locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def lock() -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop not in locks:
            locks[loop] = asyncio.Lock()
        return locks[loop]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _take(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if conn.info.get("write_lock") or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        await_only(lock().acquire())
        conn.info["write_lock"] = True

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _give_back(dbapi_connection, record):  # type: ignore[no-untyped-def]
        if record is not None and record.info.pop("write_lock", False):
            lock().release()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
