from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.demo import load_demo_units
from sandbox.emulator import BotApiEmulator
from tests.support.harness import BOT_USERNAME, TOKEN, Harness, make_settings


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


@pytest.fixture
async def paid_harness(db_url: str, emulator: BotApiEmulator) -> AsyncIterator[Harness]:
    """PAID_BROADCAST=1 at 1000/s: every member's broadcast send carries allow_paid_broadcast."""
    await load_demo_units(db_url)
    harness = Harness(emulator, make_settings(db_url, emulator, paid_broadcast=True, broadcast_rate=1000))
    await harness.start_bot()
    try:
        yield harness
    finally:
        await harness.stop_bot()
