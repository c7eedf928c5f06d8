from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from sandbox.emulator import BotApiEmulator

TOKEN = "5000000001:EMU-TEST"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        emulator.add_bot(TOKEN, username="emu_test_bot", first_name="Emu")
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        yield bot
