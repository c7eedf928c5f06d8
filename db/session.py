"""Engine and session factory. Handlers never build sessions: bot.app opens one per update."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from sqlalchemy import event
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
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, pool_size=10, max_overflow=10)

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
