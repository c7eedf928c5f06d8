"""What the benchmarks share: the Bot API emulator driving a bot that runs in a child process of its own,
the bare python-telegram-bot echo bot as the baseline, a simulated person's timed steps, interleaved rounds,
CPU and latency figures, and throwaway databases.

Two echo bots: `echo` is the baseline the targets are stated against, a bare python-telegram-bot echo bot
(PTB's own httpx request, with a pool of HTTP_POOL connections like ours); `echo-aiohttp` is the same bot
on our aiohttp request (bot/http.py, bot/app.py's pool and timeouts), printed beside it by
bench/throughput.py so that what our handlers cost is visible apart from what our HTTP stack saves.

Run as a script only by the benchmarks themselves (`--serve echo|echo-aiohttp|ours`): the bot's child process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import os
import resource
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.app import build_application
from bot.config import load_settings
from bot.http import AiohttpRequest
from db.migrate import upgrade_database
from sandbox import postgres
from sandbox.demo import load_demo_units
from sandbox.emulator import BotApiEmulator, EmulatorUser

ECHO_TOKEN = "7100000001:ECHO"
HTTP_POOL = 16
OURS_TOKEN = "7200000002:OURS"


def buttons(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def offers(prefix: str) -> Callable[[dict], bool]:
    """A message with a button whose callback data starts with `prefix`."""
    return lambda message: any(data.startswith(prefix) for data in buttons(message))


# ----- a simulated person talking to our bot -----

class Person:
    """One emulator user talking to our bot, waiting for each answer as a person would. Each step's
    latency goes to `latencies` as a (step name, seconds) pair."""

    def __init__(self, emulator: BotApiEmulator, user: EmulatorUser, latencies: list) -> None:
        self.emulator = emulator
        self.user = user
        self.latencies = latencies

    async def until(self, predicate: Callable[[dict], bool]) -> dict:
        """The next message the person sees appear or change that `predicate` accepts."""
        while True:
            message = await self.emulator.next_change(self.user.id, timeout=30)
            if predicate(message):
                return message

    async def step(self, name: str, action: Awaitable[object], predicate: Callable[[dict], bool]) -> dict:
        """Send (`action`: say or press) and wait for the answer, timed."""
        started = time.perf_counter()
        await action
        message = await self.until(predicate)
        self.latencies.append((name, time.perf_counter() - started))
        return message

    def press(self, message: dict, data: str) -> Awaitable[str]:
        return self.emulator.press_button(self.user, message, data, bot_token=OURS_TOKEN)

    def say(self, text: str) -> Awaitable[dict]:
        return self.emulator.send_text(self.user, text, bot_token=OURS_TOKEN)


def print_steps(latencies: list[tuple[str, float]]) -> None:
    """p50/p99 per step name, in the order the steps first came."""
    by_step: dict[str, list[float]] = defaultdict(list)
    for name, seconds in latencies:
        by_step[name].append(seconds)
    for name, values in by_step.items():
        print(f"    {name:12} n={len(values):4}  p50 {percentile(values, .5):6.1f} ms  "
              f"p99 {percentile(values, .99):6.1f} ms")


# ----- the bare echo baseline -----

async def echo_text(update: Update, context) -> None:  # type: ignore[no-untyped-def]
    await update.effective_chat.send_message(update.effective_message.text or "?")


async def echo_press(update: Update, context) -> None:  # type: ignore[no-untyped-def]
    await update.callback_query.answer()
    await update.effective_chat.send_message(update.callback_query.data)


async def worker_echo(emulator: BotApiEmulator, index: int, latencies: list[float], steps: int) -> None:
    """The baseline's worker: as many updates as ours sends, alternating texts and button presses."""
    user = emulator.create_user(first_name=f"Echo{index}", language_code="vi")
    last = None
    for step in range(steps):
        started = time.perf_counter()
        if step % 2 == 0 or last is None:
            await emulator.send_text(user, f"/start {step}" if step == 0 else f"text {step}", bot_token=ECHO_TOKEN)
        else:
            await emulator.press_button(user, last, f"press:{step}", force=True, bot_token=ECHO_TOKEN)
        last = await emulator.next_message(user.id, timeout=30)
        latencies.append(time.perf_counter() - started)


async def run_load(emulator: BotApiEmulator, worker, workers: int, first: int = 0) -> tuple[float, list]:  # type: ignore[no-untyped-def]
    """Run `workers` simulated workers at once; returns updates/s and every latency they recorded."""
    latencies: list = []
    started = time.perf_counter()
    await asyncio.gather(*(worker(emulator, first + i, latencies) for i in range(workers)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def percentile(values: list, q: float) -> float:
    """The q-th latency in milliseconds; values may be seconds or (step, seconds) pairs."""
    ordered = sorted(v[1] if isinstance(v, tuple) else v for v in values)
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
        # PTB's default request, with our pool size: httpcore scans every open connection on each request,
        # so PTB's default of 256 would make the baseline slower the more people are active.
        application = (Application.builder().token(ECHO_TOKEN).base_url(api_url).base_file_url(file_url)
                       .concurrent_updates(True).connection_pool_size(HTTP_POOL).build())
        application.add_handler(MessageHandler(filters.ALL, echo_text))
        application.add_handler(CallbackQueryHandler(echo_press))
    elif kind == "echo-aiohttp":
        application = (Application.builder().token(ECHO_TOKEN).base_url(api_url).base_file_url(file_url)
                       .concurrent_updates(True)
                       .request(AiohttpRequest(pool_size=HTTP_POOL, pool_timeout=10))
                       .get_updates_request(AiohttpRequest(pool_size=1, read_timeout=10)).build())
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
    """The bot in a child process of its own, polling the emulator; returns once it polls."""
    command = [sys.executable, __file__, "--serve", kind, "--api-url", emulator.base_url, "--file-url",
               emulator.base_file_url, "--database-url", database_url]
    process = await asyncio.create_subprocess_exec(*command)
    token = OURS_TOKEN if kind == "ours" else ECHO_TOKEN
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


async def measure(kind: str, emulator: BotApiEmulator, url: str, workers: int, worker,  # type: ignore[no-untyped-def]
                  warm_up: int = 10, first: int = 0) -> Figures:
    """One bot under one load: `worker(emulator, index, latencies)` is a simulated person's session.
    Latencies may be floats or (step name, seconds) pairs; each one is an update sent."""
    process = await start_bot(kind, emulator, url)
    try:
        await run_load(emulator, worker, warm_up, first=first + workers)  # warm-up, with other people
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        bot_before = _cpu_seconds(process.pid)
        calls_before = len(emulator.calls)
        rate, latencies = await run_load(emulator, worker, workers, first=first)
        bot_cpu = _cpu_seconds(process.pid) - bot_before
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        calls = sum(1 for call in emulator.calls[calls_before:] if call.method != "getUpdates")
    finally:
        await stop_bot(process)
    updates = len(latencies)
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


async def interleaved_rounds(emulator: BotApiEmulator, urls: list[str], rounds: int, workers: int, worker,  # type: ignore[no-untyped-def]
                             echo_steps: int, warm_up: int) -> tuple[Figures, dict[str, Figures]]:
    """Each round the echo baseline (`echo_steps` updates a person), then ours on each database, so drift
    in the machine hits both alike; returns the median run of each. Each round's people (warm-up included)
    are new: round r numbers them from r × (workers + warm_up)."""
    echo_runs: list[Figures] = []
    our_runs: dict[str, list[Figures]] = defaultdict(list)
    echo_worker = partial(worker_echo, steps=echo_steps)
    for round_number in range(rounds):
        echo_runs.append(await measure("echo", emulator, urls[0], workers, echo_worker, warm_up=warm_up))
        for url in urls:
            our_runs[url].append(await measure("ours", emulator, url, workers, worker, warm_up=warm_up,
                                               first=round_number * (workers + warm_up)))
    return median_run(echo_runs), {url: median_run(runs) for url, runs in our_runs.items()}


def print_figures(name: str, figures: Figures) -> None:
    print(f"{name:17}: {figures.rate:7.1f} updates/s  p50 {percentile(figures.latencies, .5):6.1f} ms  "
          f"p99 {percentile(figures.latencies, .99):6.1f} ms  bot CPU {figures.bot_cpu_ms:4.2f} ms/update  "
          f"API calls {figures.calls_per_update:4.2f}/update  "
          f"emulator+workers CPU {figures.harness_cpu_ms:4.2f} ms/update")


if __name__ == "__main__":
    faulthandler.enable()  # a crash of a child in a C extension prints its Python traceback
    parser = argparse.ArgumentParser(description="a bot for the benchmarks, in its own process")
    parser.add_argument("--serve", choices=["echo", "echo-aiohttp", "ours"], required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--file-url", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    if args.serve == "ours" and os.environ.get("BENCH_PROFILE"):
        import cProfile  # diagnostics: BENCH_PROFILE=FILE writes a CPU-time profile of our bot's process

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        try:
            asyncio.run(serve(args.serve, args.api_url, args.file_url, args.database_url))
        finally:
            profiler.disable()
            profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}.{args.database_url.split('+', 1)[0]}")
    else:
        asyncio.run(serve(args.serve, args.api_url, args.file_url, args.database_url))
