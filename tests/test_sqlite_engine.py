"""The SQLite engine: reads run on the loop, writes wait for other processes' locks off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

from sqlalchemy import select, text

from db.migrate import upgrade_database
from db.models import Unit
from db.session import _may_wait, create_engine, create_session_factory


def test_only_statements_that_can_wait_leave_the_loop():
    assert _may_wait(sqlite3.Cursor.execute, ("UPDATE members SET language = ?",))
    assert _may_wait(sqlite3.Cursor.execute, ("  insert into units values (?)",))
    assert _may_wait(sqlite3.Connection.commit, ())
    assert not _may_wait(sqlite3.Cursor.execute, ("SELECT * FROM members",))
    assert not _may_wait(sqlite3.Cursor.fetchall, ())
    assert not _may_wait(sqlite3.Connection.rollback, ())


async def test_loop_stays_responsive_while_another_process_holds_the_write_lock(tmp_path):
    path = tmp_path / "locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_database(url)
    engine = create_engine(url)
    factory = create_session_factory(engine)
    release = threading.Event()

    def other_process_writer() -> None:  # e.g. `congdoan units import` running at the same time
        connection = sqlite3.connect(path)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO units (code, name, level, inbox_is_forum, created_at, updated_at) "
                           "VALUES ('X', 'X', 1, 0, '2026-01-01', '2026-01-01')")
        release.wait(5)
        connection.commit()
        connection.close()

    holder = threading.Thread(target=other_process_writer)
    holder.start()
    await asyncio.sleep(0.1)

    async def write() -> None:
        async with factory() as session:
            session.add(Unit(code="Y", name="Y", level=1))
            await session.commit()

    writer = asyncio.create_task(write())
    ticks = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.5:  # the loop keeps running while the write waits
        async with factory() as session:
            await session.execute(text("SELECT 1"))
        ticks += 1
        await asyncio.sleep(0.01)
    assert not writer.done() and ticks > 10
    release.set()
    await asyncio.wait_for(writer, 5)
    holder.join()
    async with factory() as session:
        assert sorted(await session.scalars(select(Unit.code))) == ["X", "Y"]
    await engine.dispose()
