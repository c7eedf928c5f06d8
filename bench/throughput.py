"""Throughput: our bot vs a bare PTB echo bot, same emulator, same load, one run.

Many simulated workers go through /start onboarding, menu presses and a settings change. Each worker
waits for the bot's answer before its next step (as a person would), all workers run concurrently.
Prints updates/s for each bot and the ratio (target: ours ≥ 0.7 × echo).

One process tree: this process runs the emulator and the simulated workers; each bot runs in a child
process of its own (as it would in production), polling the emulator over HTTP. The echo bot is measured
first, then ours, under the same load.

    .venv/bin/python bench/throughput.py [--workers 100] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.app import build_application
from bot.config import load_settings
from bot.i18n import t
from db.migrate import upgrade_database
from sandbox import postgres
from sandbox.demo import load_demo_units
from sandbox.emulator import BotApiEmulator

ECHO_TOKEN = "7100000001:ECHO"
HTTP_POOL = 16
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


async def serve(kind: str, api_url: str, file_url: str, database_url: str) -> None:
    """Child process: run one bot against the emulator until terminated."""
    logging.basicConfig(level=logging.WARNING)
    if kind == "echo":
        # Same HTTP pool as ours (bot/app.py): httpcore scans every open connection on each request, so
        # PTB's default of 256 makes a bot slower the more workers are active, which would flatter us.
        application = (Application.builder().token(ECHO_TOKEN).base_url(api_url).base_file_url(file_url)
                       .concurrent_updates(True).connection_pool_size(HTTP_POOL).build())
        application.add_handler(MessageHandler(filters.ALL, echo_text))
        application.add_handler(CallbackQueryHandler(echo_press))
    else:
        settings = load_settings(env_file=None, bot_token=OURS_TOKEN, database_url=database_url,
                                 telegram_api_url=api_url)
        application = build_application(settings)
    await start_polling(application)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await stop_polling(application)


async def start_bot(kind: str, emulator: BotApiEmulator, database_url: str) -> asyncio.subprocess.Process:
    command = [sys.executable, __file__, "--serve", kind, "--api-url", emulator.base_url, "--file-url",
               emulator.base_file_url, "--database-url", database_url]
    process = await asyncio.create_subprocess_exec(*command)
    token = ECHO_TOKEN if kind == "echo" else OURS_TOKEN
    while not any(call.token == token and call.method == "getUpdates" for call in emulator.calls):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return process


async def stop_bot(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    await process.wait()


@dataclass
class Figures:
    rate: float
    latencies: list[float]
    bot_cpu_ms: float  # the bot process's CPU time per update
    harness_cpu_ms: float  # this process's (emulator and simulated workers) CPU time per update
    calls_per_update: float  # Bot API calls the bot made per update, getUpdates excluded


async def measure(kind: str, emulator: BotApiEmulator, url: str, workers: int) -> Figures:
    worker = worker_echo if kind == "echo" else worker_ours
    process = await start_bot(kind, emulator, url)
    try:
        await run_load(emulator, worker, 10)  # warm-up
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        bot_before = _cpu_seconds(process.pid)
        calls_before = len(emulator.calls)
        rate, latencies = await run_load(emulator, worker, workers)
        bot_cpu = _cpu_seconds(process.pid) - bot_before
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        calls = sum(1 for call in emulator.calls[calls_before:] if call.method != "getUpdates")
    finally:
        await stop_bot(process)
    updates = workers * STEPS
    own_cpu = (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime)
    return Figures(rate, latencies, bot_cpu / updates * 1000, own_cpu / updates * 1000, calls / updates)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def prepare_database(url: str) -> None:
    await upgrade_database(url)
    await load_demo_units(url)


@contextlib.asynccontextmanager
async def databases(database_url: str | None) -> AsyncIterator[list[str]]:
    """The given database, or a fresh SQLite file plus a throwaway PostgreSQL cluster when one can start."""
    if database_url:
        yield [database_url]
        return
    urls = [f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='congdoan-bench-')) / 'bench.db'}"]
    cluster = None
    try:
        cluster = postgres.start_cluster()
    except Exception as exc:  # noqa: BLE001 - reported, and the SQLite figures still stand
        print(f"PostgreSQL skipped: {exc}")
    try:
        if cluster is not None:
            await postgres.create_database(cluster, "bench")
            urls.append(cluster.url("bench"))
        yield urls
    finally:
        if cluster is not None:
            cluster.stop()


def median_run(runs: list[Figures]) -> Figures:
    """The run with the median rate: the machine's noise moves single runs by ±10%."""
    return sorted(runs, key=lambda figures: figures.rate)[len(runs) // 2]


async def main(workers: int, database_url: str | None, rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    async with databases(database_url) as urls:
        for url in urls:
            await prepare_database(url)
        echo_runs: list[Figures] = []
        our_runs: dict[str, list[Figures]] = {url: [] for url in urls}
        async with BotApiEmulator() as emulator:
            emulator.add_bot(token=ECHO_TOKEN, username="echo_bench_bot")
            emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot")
            for _ in range(rounds):  # interleaved, so drift in the machine hits both alike
                echo_runs.append(await measure("echo", emulator, urls[0], workers))
                for url in urls:
                    our_runs[url].append(await measure("ours", emulator, url, workers))
    echo = median_run(echo_runs)
    ours = [(url.split("+", 1)[0], median_run(runs)) for url, runs in our_runs.items()]

    print(f"workers: {workers}, updates per worker: {STEPS}, rounds: {rounds} (median shown), "
          f"cores: {os.cpu_count()}")
    for name, figures in (("bare PTB echo", echo), *((f"ours/{db}", f) for db, f in ours)):
        print(f"{name:17}: {figures.rate:7.1f} updates/s  p50 {percentile(figures.latencies, .5):6.1f} ms  "
              f"p99 {percentile(figures.latencies, .99):6.1f} ms  bot CPU {figures.bot_cpu_ms:4.2f} ms/update  "
              f"API calls {figures.calls_per_update:4.2f}/update  "
              f"emulator+workers CPU {figures.harness_cpu_ms:4.2f} ms/update")
    for db, figures in ours:
        print(f"ratio ours/echo ({db}): {figures.rate / echo.rate:.2f} (target >= 0.70)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=["echo", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--file-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve and args.serve == "ours" and os.environ.get("BENCH_PROFILE"):
        import cProfile  # diagnostics: BENCH_PROFILE=FILE writes a CPU-time profile of our bot's process

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        try:
            asyncio.run(serve(args.serve, args.api_url, args.file_url, args.database_url))
        finally:
            profiler.disable()
            profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}.{args.database_url.split('+', 1)[0]}")
    elif args.serve:
        asyncio.run(serve(args.serve, args.api_url, args.file_url, args.database_url))
    else:
        asyncio.run(main(args.workers, args.database_url, args.rounds))
