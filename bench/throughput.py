"""Throughput: our bot vs a bare PTB echo bot, same emulator, same load, one run.

Many simulated workers go through /start onboarding, menu presses and a settings change. Each worker
waits for the bot's answer before its next step (as a person would), all workers run concurrently.
Prints updates/s for each bot and the ratio (target: ours ≥ 0.7 × echo).

One process tree: this process runs the emulator and the simulated workers; each bot runs in a child
process of its own (as it would in production), polling the emulator over HTTP (bench/common.py). The echo
bot is bare PTB (its own httpx request), the baseline the target is stated against; the same echo bot on
our aiohttp request (bot/http.py) is printed beside it, so that what our handlers cost shows apart from
what our HTTP stack saves (bench/common.py).

    .venv/bin/python bench/throughput.py [--workers 100] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402 - bench/ is not a package
    ECHO_TOKEN,
    OURS_TOKEN,
    Figures,
    buttons,
    databases,
    measure,
    median_run,
    prepare_database,
    print_figures,
    worker_echo,
)

from bot.i18n import t  # noqa: E402
from sandbox.emulator import BotApiEmulator  # noqa: E402

# ----- one simulated worker's session -----

STEPS = 12  # updates each worker sends, for both bots


async def worker_ours(emulator: BotApiEmulator, index: int, latencies: list[float]) -> None:
    user = emulator.create_user(first_name=f"Worker{index}", language_code="vi")

    async def say(text: str) -> dict:
        started = time.perf_counter()
        await emulator.send_text(user, text, bot_token=OURS_TOKEN)
        reply = await emulator.next_change(user.id, timeout=30)
        latencies.append(time.perf_counter() - started)
        return reply

    async def press(message: dict, data: str, changes: int = 1) -> dict:
        """Press and wait for what the worker sees: the next question, edited in place or new."""
        started = time.perf_counter()
        await emulator.press_button(user, message, data, bot_token=OURS_TOKEN)
        for _ in range(changes):
            reply = await emulator.next_change(user.id, timeout=30)
        latencies.append(time.perf_counter() - started)
        return reply

    question = await say("/start")                                   # 1
    notice = await press(question, "lang:vi")                        # 2
    province = await press(notice, "consent:yes")                    # 3
    sector = await say("ha noi")                                     # 4
    await press(sector, "sector:garment")                            # 5
    results = await say("may song hong")                             # 6
    membership = await press(results, buttons(results)[0])           # 7
    done = await press(membership, "union:member", changes=2)        # 8
    await say("/menu")                                               # 9
    settings = await say(t("vi", "menu.settings"))                   # 10
    sectors = await press(settings, "set:sector")                    # 11
    await press(sectors, "sector:logistics")                         # 12
    assert province and t("vi", "onboarding.done") in done["text"]



echo_worker = partial(worker_echo, steps=STEPS)


async def main(workers: int, database_url: str | None, rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    async with databases(database_url) as urls:
        for url in urls:
            await prepare_database(url)
        echo_runs: list[Figures] = []
        aiohttp_runs: list[Figures] = []
        our_runs: dict[str, list[Figures]] = {url: [] for url in urls}
        async with BotApiEmulator() as emulator:
            emulator.add_bot(token=ECHO_TOKEN, username="echo_bench_bot")
            emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot")
            for _ in range(rounds):  # interleaved, so drift in the machine hits both alike
                echo_runs.append(await measure("echo", emulator, urls[0], workers, echo_worker))
                aiohttp_runs.append(await measure("echo-aiohttp", emulator, urls[0], workers, echo_worker))
                for url in urls:
                    our_runs[url].append(await measure("ours", emulator, url, workers, worker_ours))
    echo, echo_aiohttp = median_run(echo_runs), median_run(aiohttp_runs)
    ours = [(url.split("+", 1)[0], median_run(runs)) for url, runs in our_runs.items()]

    print(f"workers: {workers}, updates per worker: {STEPS}, rounds: {rounds} (median shown), "
          f"cores: {os.cpu_count()}")
    for name, figures in (("bare PTB echo", echo), ("echo on aiohttp", echo_aiohttp),
                          *((f"ours/{db}", f) for db, f in ours)):
        print_figures(name, figures)
    for db, figures in ours:
        print(f"ratio ours/echo ({db}): {figures.rate / echo.rate:.2f} (target >= 0.70); against the echo bot on "
              f"our aiohttp request {figures.rate / echo_aiohttp.rate:.2f} (for information: our handlers' cost)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.database_url, args.rounds))
