"""Broadcast delivery at Telegram's ceiling, on SQLite and PostgreSQL (issue 5, "Benchmark").

1. 3,000 recipients at the free limit: achieved rate ÷ 30/s (target ≥ 0.95) with the emulator enforcing
   30/s overall and 1/s per chat: 0 flood errors. Measured at BROADCAST_RATE=30 (the sender keeps 3%
   headroom under the ceiling: bot/services/pacing.py) and, with --free-rates 25,30, at the default 25 too.
2. 100,000 recipients in paid mode (PAID_BROADCAST=1, BROADCAST_RATE=1000) against 1000/s (target ≥ 0.9),
   with the emulator's CPU use, to tell whether it is the bottleneck.
3. Audience count and queueing (the pending rows, one INSERT … SELECT) for 1,000,000 members (target
   ≤ 30 s) and that process's peak memory (target ≤ 500 MB, ru_maxrss).
4. Members' conversations during a paid broadcast (issue 5: "members' conversations stay responsive"): the
   whole bot as `congdoan run` composes it (its handlers and the broadcast sender with its own HTTP pool in
   one process) serves bench/throughput.py's onboarding sessions once while idle and once while it
   delivers a broadcast at full paid speed, interleaved over rounds; prints answer latencies both ways and
   the broadcast's rate meanwhile. The members' answers count in the same window as the broadcast
   (bot/http.py → pacing.SendWindow), so the broadcast yields to them; the emulator counts sends over
   1000/s without refusing them: those left are answers sent when conversations start while the broadcast
   already filled the second (the answers are never delayed; with Telegram a 429 there is retried after
   retry_after by the application's rate limiter).

Process layout: this process runs the emulator; the sender runs in a child process of its own (as in
production, with its own Bot and HTTP pool) and the million-member step in another child, so each figure
is that process's own. Rates are measured where Telegram counts them: at the emulator, from the first to
the last message received.

    .venv/bin/python bench/broadcast.py [--free-rates 30] [--recipients 3000] [--paid-recipients 100000]
                                        [--million 1000000] [--chat-workers 30] [--chat-rounds 3]
                                        [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (  # noqa: E402 - bench/ is not a package
    OURS_TOKEN,
    databases,
    percentile,
    prepare_database,
    run_load,
    start_polling,
    stop_polling,
)
from sqlalchemy import insert, text, update  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.services import broadcasts  # noqa: E402
from db.models import Member, MemberStatus  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402
from db.types import utcnow  # noqa: E402
from sandbox.emulator import BotApiEmulator  # noqa: E402

TOKEN = "7300000003:BROADCAST"
TEXT = "Thông báo: nghỉ lễ Quốc khánh 2/9 được hưởng nguyên lương. <b>Chúc mừng ngày lễ!</b>"
NO_QUIET = (0, 0)


# ----- the parent: emulator, seeding, measuring -----

async def seed_members(url: str, ids: list[int]) -> None:
    engine = create_engine(url)
    now = utcnow()
    async with create_session_factory(engine)() as session:
        for start in range(0, len(ids), 10_000):
            rows = [{"telegram_id": tid, "language": "vi" if tid % 10 else "en", "status": MemberStatus.ACTIVE,
                     "province_code": 1, "created_at": now, "last_seen_at": now} for tid in ids[start:start + 10_000]]
            await session.execute(insert(Member), rows)
        await session.commit()
    await engine.dispose()


async def retire_members(url: str) -> None:
    """Earlier phases' members leave the audience (erased), so each phase's count is its own."""
    engine = create_engine(url)
    async with create_session_factory(engine)() as session:
        await session.execute(update(Member).values(status=MemberStatus.ERASED))
        await session.commit()
    await engine.dispose()


async def queue_run(url: str, composer_id: int) -> tuple[int, int]:
    """A broadcast to everyone, its run started (pending rows written). Returns (run id, recipients)."""
    engine = create_engine(url)
    tz = load_settings(env_file=None).tz
    async with create_session_factory(engine)() as session:
        composer = Member(telegram_id=composer_id, first_name="Admin", status=MemberStatus.ERASED)  # not a recipient
        session.add(composer)
        await session.commit()
        broadcast = await broadcasts.create_broadcast(
            session, member=composer, chat_id=composer_id, language="vi", scope_unit_id=None,
            content={"kind": "text", "text": {"vi": TEXT, "en": None}, "file_id": None, "attach": None},
            audience=broadcasts.empty_audience(), schedule={"kind": "now"}, now=utcnow(), tz=tz, quiet=NO_QUIET)
        run = await broadcasts.start_run(session, broadcast.id, utcnow(), tz)
        assert run is not None
        result = run.id, run.total
    await engine.dispose()
    return result


async def measure_send(emulator: BotApiEmulator, url: str, recipients: int, rate: float, paid: bool) -> dict:
    """One broadcast to `recipients` new members (the emulator's users are unique across phases)."""
    emulator.flood.violations.clear()
    ceiling = 1000 if paid else 30
    emulator.enforce_limits(global_per_second=ceiling, per_chat_per_second=1)
    admin = emulator.create_user("Admin")
    users = [emulator.create_user(f"W{i}") for i in range(recipients)]
    await retire_members(url)
    await seed_members(url, [user.id for user in users])
    run_id, total = await queue_run(url, admin.id)
    assert total == recipients, (total, recipients)
    emulator.reset_calls()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--send", str(run_id), "--database-url", url, "--api-url", emulator.base_url,
        "--rate", str(rate), *(["--paid"] if paid else []), stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    child_figures = json.loads(out.decode().strip().splitlines()[-1])
    stamps = sorted(call.time for call in emulator.calls
                    if call.method == "sendMessage" and call.status == 200 and call.params.get("chat_id") != admin.id)
    delivered = len({call.params["chat_id"] for call in emulator.calls
                     if call.method == "sendMessage" and call.status == 200})
    window = stamps[-1] - stamps[0] if len(stamps) > 1 else float("nan")
    emulator_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"recipients": recipients, "sent": len(stamps), "distinct_chats": delivered - 1,
            "rate": (len(stamps) - 1) / window, "window_s": window, "wall_s": wall,
            "violations": len(emulator.flood_violations),
            "violation_kinds": dict(Counter(v["limit"] for v in emulator.flood_violations)), "emulator_cpu_share": emulator_cpu / wall,
            **child_figures}


# ----- child: the sender -----

async def send_child(run_id: int, url: str, api_url: str, rate: float, paid: bool) -> None:
    from handlers import broadcast_jobs

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(env_file=None, bot_token=TOKEN, database_url=url, telegram_api_url=api_url,
                             broadcast_rate=rate, paid_broadcast=paid)
    engine = create_engine(url)
    sender = broadcast_jobs.Sender(settings)
    started = time.perf_counter()
    outcome = await broadcast_jobs.deliver(sender, create_session_factory(engine), run_id, settings.tz)
    elapsed = time.perf_counter() - started
    async with create_session_factory(engine)() as session:
        counts = await broadcasts.run_counts(session, run_id)
    await engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"outcome": outcome, "sender_s": elapsed, "sender_cpu_share": (usage.ru_utime + usage.ru_stime)
                      / max(elapsed, 1e-9), "pauses_429": sender.pacer.pauses, "counts": counts}))


# ----- child: the ceiling of this machine (PTB + the emulator, no pacing, no database) -----

async def baseline_child(api_url: str, first_id: int, count: int, workers: int) -> None:
    from telegram import Bot

    from bot.http import AiohttpRequest

    bot = Bot(TOKEN, base_url=api_url, request=AiohttpRequest(pool_size=workers + 2, read_timeout=10, pool_timeout=10))
    await bot.initialize()
    chats = list(range(first_id, first_id + count))

    async def worker() -> None:
        while chats:
            await bot.send_message(chats.pop(), TEXT, parse_mode="HTML", allow_paid_broadcast=True)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await bot.shutdown()
    print(json.dumps({"rate": count / elapsed}))


async def measure_baseline(emulator: BotApiEmulator, count: int, workers: int) -> float:
    emulator.disable_limits()
    users = [emulator.create_user(f"B{i}") for i in range(count)]
    assert users[-1].id - users[0].id == count - 1
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--baseline", str(count), "--first-id", str(users[0].id), "--api-url",
        emulator.base_url, "--workers", str(workers), stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    emulator.reset_calls()
    return float(json.loads(out.decode().strip().splitlines()[-1])["rate"])


# ----- child: a million members -----

MILLION_SQLITE = """
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count)
INSERT INTO members (telegram_id, language, status, province_code, sector, union_status, created_at, last_seen_at)
SELECT 20000000000 + n, CASE WHEN n % 10 = 0 THEN 'en' ELSE 'vi' END, 'active', 1 + n % 34, 'garment',
       CASE WHEN n % 3 = 0 THEN 'not_yet' ELSE 'member' END, :now, :now FROM seq
"""
MILLION_POSTGRES = """
INSERT INTO members (telegram_id, language, status, province_code, sector, union_status, created_at, last_seen_at)
SELECT 20000000000 + n, CASE WHEN n % 10 = 0 THEN 'en' ELSE 'vi' END, 'active', 1 + n % 34, 'garment',
       CASE WHEN n % 3 = 0 THEN 'not_yet' ELSE 'member' END, :now, :now FROM generate_series(1, :count) AS n
"""


async def million_child(url: str, count: int) -> None:
    tz = load_settings(env_file=None).tz
    await retire_members(url)
    engine = create_engine(url)
    factory = create_session_factory(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    async with factory() as session:
        statement = MILLION_SQLITE if url.startswith("sqlite") else MILLION_POSTGRES
        await session.execute(text(statement), {"count": count, "now": now})
        await session.commit()
        if not url.startswith("sqlite"):
            await session.execute(text("ANALYZE members"))
            await session.commit()
    seeded = time.perf_counter() - started
    async with factory() as session:
        composer = Member(telegram_id=1, first_name="Admin", status=MemberStatus.ERASED)
        session.add(composer)
        await session.commit()
        started = time.perf_counter()
        audience_count = await broadcasts.count_audience(session, broadcasts.empty_audience(), "news", utcnow())
        counted = time.perf_counter() - started
        broadcast = await broadcasts.create_broadcast(
            session, member=composer, chat_id=1, language="vi", scope_unit_id=None,
            content={"kind": "text", "text": {"vi": TEXT}}, audience=broadcasts.empty_audience(),
            schedule={"kind": "now"}, now=utcnow(), tz=tz, quiet=NO_QUIET)
        started = time.perf_counter()
        run = await broadcasts.start_run(session, broadcast.id, utcnow(), tz)
        queued = time.perf_counter() - started
        total = run.total if run else 0
    await engine.dispose()
    print(json.dumps({"members": count, "seed_s": seeded, "audience": audience_count, "count_s": counted,
                      "queued": total, "queue_s": queued, "peak_mb": _peak_rss_mb(),
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). ru_maxrss is printed too, but on Linux it keeps the high-water mark
    of the process image before exec, i.e. of this benchmark's parent at fork time (the emulator with
    100,000 users), so it overstates a child's own peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure_million(url: str, count: int) -> dict:
    child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--million-child", str(count),
                                                 "--database-url", url, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


# ----- conversations during a broadcast -----

async def serve_child(url: str, api_url: str, file_url: str) -> None:
    """The bot as `congdoan run` composes it: handlers, and the sender resuming unfinished runs at start."""
    import signal

    from bot.app import build_application
    from handlers import broadcast_jobs

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(env_file=None, bot_token=OURS_TOKEN, database_url=url, telegram_api_url=api_url,
                             telegram_file_url=file_url, broadcast_rate=1000, paid_broadcast=True)
    application = build_application(settings)
    await start_polling(application)
    await broadcast_jobs.start(application)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await stop_polling(application)


async def chat_round(emulator: BotApiEmulator, url: str, workers: int, recipients: int, first: int) -> dict:
    """One load of onboarding sessions against the whole bot; with recipients, while it broadcasts to them."""
    from throughput import worker_ours

    emulator.enforce_limits(global_per_second=1000, per_chat_per_second=1, reply_429=False)
    emulator.flood.violations.clear()
    if recipients:
        admin = emulator.create_user("Admin")
        users = [emulator.create_user(f"R{first}-{i}") for i in range(recipients)]
        await retire_members(url)
        await seed_members(url, [user.id for user in users])
        await queue_run(url, admin.id)  # running, with its pending rows: the bot resumes it when it starts
    calls_before = len(emulator.calls)
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--database-url", url, "--api-url", emulator.base_url,
        "--file-url", emulator.base_file_url)
    try:
        while not _sends_seen(emulator, calls_before, "getUpdates" if not recipients else "sendMessage"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await run_load(emulator, worker_ours, 5, first=first + workers)  # warm-up
        load_started, calls_at_start = time.monotonic(), len(emulator.calls)
        rate, latencies = await run_load(emulator, worker_ours, workers, first=first)
        load_s = time.monotonic() - load_started
        broadcast = sum(1 for call in emulator.calls[calls_at_start:] if call.method == "sendMessage"
                        and call.token == OURS_TOKEN and call.params.get("allow_paid_broadcast"))
    finally:
        process.send_signal(15)
        await process.wait()
    return {"rate": rate, "p50": percentile(latencies, .5), "p99": percentile(latencies, .99),
            "broadcast_rate": broadcast / load_s, "flood_counted": len(emulator.flood_violations)}


def _sends_seen(emulator: BotApiEmulator, after: int, method: str) -> bool:
    return any(call.token == OURS_TOKEN and call.method == method for call in emulator.calls[after:])


async def measure_chats(emulator: BotApiEmulator, url: str, workers: int, rounds: int) -> tuple[dict, dict]:
    idle, busy = [], []
    for number in range(rounds):  # interleaved: the machine's drift hits both alike
        first = 1_000 * (number + 1)
        idle.append(await chat_round(emulator, url, workers, 0, first))
        busy.append(await chat_round(emulator, url, workers, 40_000, first + 500))
    middle = rounds // 2
    return (sorted(idle, key=lambda r: r["p50"])[middle], sorted(busy, key=lambda r: r["p50"])[middle])


def report_chats(backend: str, workers: int, idle: dict, busy: dict) -> None:
    print(f"{backend} conversations ({workers} members onboarding at once, median round): idle "
          f"{idle['rate']:.0f} upd/s p50 {idle['p50']:.0f} ms p99 {idle['p99']:.0f} ms; during a paid broadcast "
          f"({busy['broadcast_rate']:.0f} msg/s meanwhile) {busy['rate']:.0f} upd/s p50 {busy['p50']:.0f} ms "
          f"p99 {busy['p99']:.0f} ms → answers {busy['p50'] / idle['p50']:.2f}× (p50) and "
          f"{busy['p99'] / idle['p99']:.2f}× (p99) as slow; sends over 1000/s counted "
          f"{busy['flood_counted']} (members' answers as conversations start: see the module doc)", flush=True)


# ----- report -----

def report_send(name: str, figures: dict, target_rate: float, target_ratio: float) -> None:
    ratio = figures["rate"] / target_rate
    print(f"{name}: {figures['sent']}/{figures['recipients']} sent, {figures['rate']:.1f} msg/s over "
          f"{figures['window_s']:.1f} s → {ratio:.3f} of {target_rate:g}/s (target ≥ {target_ratio}) "
          f"{'OK' if ratio >= target_ratio else 'MISSED'}; flood violations {figures['violations']} "
          f"{figures['violation_kinds'] or ''}; "
          f"429 pauses {figures['pauses_429']}; whole run incl. start {figures['wall_s']:.1f} s; "
          f"CPU: sender {figures['sender_cpu_share']:.0%} of a core, emulator {figures['emulator_cpu_share']:.0%}")


def report_million(figures: dict) -> None:
    seconds = figures["count_s"] + figures["queue_s"]
    print(f"1M members: seeded in {figures['seed_s']:.1f} s; audience count {figures['audience']} in "
          f"{figures['count_s']:.2f} s; queued {figures['queued']} rows in {figures['queue_s']:.2f} s; "
          f"count+queue {seconds:.1f} s → {seconds / 30:.2f} of 30 s (target ≤ 1) "
          f"{'OK' if seconds <= 30 else 'MISSED'}; peak memory {figures['peak_mb']:.0f} MB → "
          f"{figures['peak_mb'] / 500:.2f} of 500 MB {'OK' if figures['peak_mb'] <= 500 else 'MISSED'} (VmHWM; "
          f"ru_maxrss {figures['maxrss_mb']:.0f} MB, inherited from the parent at fork: see _peak_rss_mb)", flush=True)


async def main(args: argparse.Namespace) -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.add_bot(token=TOKEN, username="bench_broadcast_bot", first_name="Công đoàn")
    emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot", first_name="Công đoàn")
    try:
        await _each_database(args, emulator)
    finally:
        await emulator.stop()


async def _each_database(args: argparse.Namespace, emulator: BotApiEmulator) -> None:
    async with databases(args.database_url) as urls:
        for url in urls:
            backend = url.split("+", 1)[0]
            print(f"--- {backend} ---", flush=True)
            await prepare_database(url)
            if args.million:  # first, while this process (forked for the child) is still small
                report_million(await measure_million(url, args.million))
            for rate in [float(r) for r in args.free_rates.split(",") if r]:
                figures = await measure_send(emulator, url, args.recipients, rate, paid=False)
                report_send(f"{backend} free, BROADCAST_RATE={rate:g}", figures, 30.0, 0.95)
            if args.paid_recipients:
                baseline = await measure_baseline(emulator, 10_000, workers=98)
                figures = await measure_send(emulator, url, args.paid_recipients, 1000, paid=True)
                report_send(f"{backend} paid, BROADCAST_RATE=1000", figures, 1000.0, 0.9)
                print(f"  this machine's ceiling (bare PTB sends to the emulator, 98 at once, no pacing, no database): "
                      f"{baseline:.0f} msg/s → ours {figures['rate'] / baseline:.2f} of it; the emulator is the "
                      f"bottleneck when that ceiling is under 1000/s")
            if args.chat_workers:
                idle, busy = await measure_chats(emulator, url, args.chat_workers, args.chat_rounds)
                report_chats(backend, args.chat_workers, idle, busy)


if __name__ == "__main__":
    faulthandler.enable()  # a crash of a child in a C extension prints its Python traceback
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--free-rates", default="30")
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--paid-recipients", type=int, default=100_000)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--chat-workers", type=int, default=30)
    parser.add_argument("--chat-rounds", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file-url", help=argparse.SUPPRESS)
    parser.add_argument("--send", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--million-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--paid", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve_child(arguments.database_url, arguments.api_url, arguments.file_url))
    elif arguments.send:
        asyncio.run(send_child(arguments.send, arguments.database_url, arguments.api_url, arguments.rate,
                               arguments.paid))
    elif arguments.baseline:
        asyncio.run(baseline_child(arguments.api_url, arguments.first_id, arguments.baseline, arguments.workers))
    elif arguments.million_child:
        asyncio.run(million_child(arguments.database_url, arguments.million_child))
    else:
        asyncio.run(main(arguments))
