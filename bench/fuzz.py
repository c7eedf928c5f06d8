"""Fuzz: 50,000 random and malformed updates of every kind (the strategies of tests/test_fuzz.py) sent through
the Bot API emulator to congdoan-bot running in this process; prints the unhandled exceptions (ERROR log
records) and the updates per second, on SQLite and, when a throwaway cluster can start, PostgreSQL.

    .venv/bin/python bench/fuzz.py [--updates 50000] [--database-url URL] [--show 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from bench.common import databases, prepare_database  # noqa: E402
from sandbox.emulator import BotApiEmulator  # noqa: E402
from tests.support.harness import BOT_USERNAME, TOKEN, Harness, make_settings  # noqa: E402
from tests.test_fuzz import ErrorCounter, FuzzRun, World, batches, settle  # noqa: E402


def play_until(run: FuzzRun, loop: asyncio.AbstractEventLoop, target: int, emulator: BotApiEmulator,
               stalls: list[int]) -> None:
    """In a worker thread: hypothesis draws batches (generation only, no shrinking: failures are counted, not
    minimised) until the bot has been sent `target` updates."""
    state = emulator.bots[TOKEN]

    @settings(max_examples=10**9, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(batches)
    def fuzz(batch):  # type: ignore[no-untyped-def]
        if state.next_update_id > target:
            raise _Enough
        played = state.next_update_id
        # the bot catches up every ~500 updates, not after each batch: the queue stays short and the rate real
        wait = played // 500 != (played + len(batch)) // 500
        try:
            asyncio.run_coroutine_threadsafe(run.play(batch, wait=wait), loop).result(timeout=300)
        except AssertionError:  # the bot did not settle within a minute: a stall, counted and reported
            stalls.append(played)
        if wait and played // 5000 != (played + len(batch)) // 5000:
            print(f"  … {played + len(batch)} updates", flush=True)

    while state.next_update_id <= target:
        try:
            fuzz()
        except _Enough:
            return


class _Enough(Exception):
    """Raised to stop hypothesis once enough updates were sent."""


async def fuzz_one(url: str, updates: int, show: int) -> None:
    await prepare_database(url)
    async with BotApiEmulator() as emulator:
        emulator.add_bot(token=TOKEN, username=BOT_USERNAME, first_name="Công đoàn")
        harness = Harness(emulator, make_settings(url, emulator))
        await harness.start_bot()
        errors = ErrorCounter()
        logging.getLogger().addHandler(errors)
        try:
            run = FuzzRun(World.create(emulator), errors, harness.application)
            started = time.perf_counter()
            stalls: list[int] = []
            await asyncio.to_thread(play_until, run, asyncio.get_running_loop(), updates, emulator, stalls)
            await settle(emulator, harness.application, timeout=600)
            seconds = time.perf_counter() - started
            sent = emulator.bots[TOKEN].next_update_id - 1
            newcomer = emulator.create_user("Mai")
            await emulator.send_text(newcomer, "/start")
            answered = "lang:vi" in str(await emulator.next_message(newcomer.id, timeout=10))
        finally:
            logging.getLogger().removeHandler(errors)
            await harness.stop_bot()
    db = url.split("+", 1)[0]
    print(f"{db:10}: {sent} updates in {seconds:.1f} s = {sent / seconds:.0f} updates/s; "
          f"failures (unhandled exceptions): {len(errors.records)}; stalls (no answer within a minute): "
          f"{len(stalls)}; /start afterwards answered: {answered}")
    for line, count in Counter(errors.describe()).most_common(show):
        print(f"    {count:5} × {line}")


async def main(updates: int, database_url: str | None, show: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().handlers[0].setLevel(logging.CRITICAL)  # the counter sees ERROR records; not the console
    async with databases(database_url) as urls:
        for url in urls:
            await fuzz_one(url, updates, show)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--show", type=int, default=10, help="distinct failures to print")
    args = parser.parse_args()
    asyncio.run(main(args.updates, args.database_url, args.show))
