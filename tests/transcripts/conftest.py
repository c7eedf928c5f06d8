from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import CONTENT_DIR
from bot.services.units import import_units
from db.session import create_engine, create_session_factory
from sandbox.emulator import BotApiEmulator
from tests.support.harness import BOT_USERNAME, TOKEN, Harness, make_settings


async def load_demo_units(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with create_session_factory(engine)() as session:
            await import_units(session, (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8"))
    finally:
        await engine.dispose()


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.add_bot(token=TOKEN, username=BOT_USERNAME, first_name="Công đoàn")
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def harness(db_url: str, emulator: BotApiEmulator) -> AsyncIterator[Harness]:
    await load_demo_units(db_url)
    harness = Harness(emulator, make_settings(db_url, emulator))
    await harness.start_bot()
    try:
        yield harness
    finally:
        await harness.stop_bot()
