"""Throughput: our bot vs a bare PTB echo bot, same emulator, same load, one run.

Many simulated workers go through /start onboarding, menu presses and a settings change. Each worker
waits for the bot's answer before its next step (as a person would), all workers run concurrently.
Prints updates/s for each bot and the ratio (target: ours ≥ 0.7 × echo).

    .venv/bin/python bench/throughput.py [--workers 100] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot import CONTENT_DIR
from bot.app import build_application
from bot.config import load_settings
from bot.i18n import t
from bot.services.units import import_units
from db.migrate import upgrade_database
from db.session import create_engine, create_session_factory
from sandbox.emulator import BotApiEmulator

ECHO_TOKEN = "7100000001:ECHO"
OURS_TOKEN = "7200000002:OURS"


def buttons(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


# ----- the bare echo baseline -----

async def echo_text(update: Update, context) -> None:  # type: ignore[no-untyped-def]
    await update.effective_chat.send_message(update.effective_message.text or "?")


async def echo_press(update: Update, context) -> None:  # type: ignore[no-untyped-def]
    await update.callback_query.answer()
    await update.effective_chat.send_message(update.callback_query.data)


def build_echo(emulator: BotApiEmulator) -> Application:  # type: ignore[type-arg]
    application = (Application.builder().token(ECHO_TOKEN).base_url(emulator.base_url)
                   .base_file_url(emulator.base_file_url).concurrent_updates(True).build())
    application.add_handler(MessageHandler(filters.ALL, echo_text))
    application.add_handler(CallbackQueryHandler(echo_press))
    return application


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


async def worker_echo(emulator: BotApiEmulator, index: int, latencies: list[float]) -> None:
    user = emulator.create_user(first_name=f"Echo{index}", language_code="vi")
    last = None
    for step in range(STEPS):
        started = time.perf_counter()
        if step % 2 == 0 or last is None:
            await emulator.send_text(user, f"/start {step}" if step == 0 else f"text {step}", bot_token=ECHO_TOKEN)
        else:
            await emulator.press_button(user, last, f"press:{step}", force=True, bot_token=ECHO_TOKEN)
        last = await emulator.next_message(user.id, timeout=30)
        latencies.append(time.perf_counter() - started)


async def run_load(emulator: BotApiEmulator, worker, workers: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(worker(emulator, i, latencies) for i in range(workers)))
    elapsed = time.perf_counter() - started
    return workers * STEPS / elapsed, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def start_polling(application: Application) -> None:  # type: ignore[type-arg]
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=5)


async def stop_polling(application: Application) -> None:  # type: ignore[type-arg]
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


async def main(workers: int, database_url: str | None) -> None:
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="congdoan-bench-"))
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_database(url)
    engine = create_engine(url)
    async with create_session_factory(engine)() as session:
        await import_units(session, (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8"))

    async with BotApiEmulator() as emulator:
        emulator.add_bot(token=ECHO_TOKEN, username="echo_bench_bot")
        emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot")
        echo = build_echo(emulator)
        ours = build_application(load_settings(env_file=None, bot_token=OURS_TOKEN, database_url=url,
                                               telegram_api_url=emulator.base_url), engine)
        await start_polling(echo)
        await start_polling(ours)
        try:
            await run_load(emulator, worker_echo, 10)  # warm-up both
            await run_load(emulator, worker_ours, 10)
            echo_rate, echo_lat = await run_load(emulator, worker_echo, workers)
            ours_rate, ours_lat = await run_load(emulator, worker_ours, workers)
        finally:
            await stop_polling(ours)
            await stop_polling(echo)
            await engine.dispose()

    backend = url.split(":", 1)[0]
    print(f"workers: {workers}, updates per worker: {STEPS}, database: {backend}")
    print(f"bare PTB echo : {echo_rate:8.1f} updates/s  p50 {percentile(echo_lat, .5):6.1f} ms  "
          f"p99 {percentile(echo_lat, .99):6.1f} ms")
    print(f"congdoan-bot  : {ours_rate:8.1f} updates/s  p50 {percentile(ours_lat, .5):6.1f} ms  "
          f"p99 {percentile(ours_lat, .99):6.1f} ms")
    print(f"ratio ours/echo: {ours_rate / echo_rate:.2f} (target >= 0.70)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.database_url))
