"""Fault resistance: 500 simulated workers file grievances through /report while the bot, in a child process,
is killed with SIGKILL part-way; it is started again and the workers finish as a person would: a step that
got no answer is done again (the same button pressed again, the same text sent again, Send included), and if
that gets no answer either, /report again (continuing the draft the bot offers back). Then the database is
checked: every case a worker was given a code for is there whole (the grievance, its first message, its
`created` event), no half-written case exists, and no worker has two cases (a draft is sent once: a Send
pressed again after the bot died between the commit and the acknowledgement gets that case's code).

    .venv/bin/python bench/faults.py [--workers 500] [--kill-at 0.4] [--database-url URL]

Prints, per database: workers, cases acknowledged, acknowledged cases missing or incomplete (must be 0),
half-written cases (must be 0), cases stored and how many of them no worker was told about (must be 0),
duplicates: workers with more than one case (must be 0), and the gaps in the case numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OURS_TOKEN, buttons, databases, prepare_database, start_bot  # noqa: E402 - not a package
from grievances import DESCRIPTION, Population, give_every_unit_an_inbox  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.i18n import t  # noqa: E402
from bot.services import intake  # noqa: E402
from bot.services.categories import all_categories  # noqa: E402
from db.models import Grievance, GrievanceEvent, GrievanceMessage  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402
from sandbox.emulator import BotApiEmulator, NoMessage  # noqa: E402
from sandbox.emulator.markup import parse_html  # noqa: E402

CODE = re.compile(r"PA-\d{4}-\d{4}")
STEP_TIMEOUT = 12  # seconds without an answer before the worker does the step again
ATTEMPTS = 6
ASK_DESCRIPTION = parse_html(t("vi", "intake.ask_description", min=intake.DESCRIPTION_MIN,
                               max=intake.DESCRIPTION_MAX))[0]


class Retry(Exception):
    pass


async def intake_once(emulator: BotApiEmulator, population: Population, index: int, repeats: Counter[int]) -> str:
    """One try at filing a concern (the path of bench/grievances.py worker_intake), answering whatever the bot
    shows next: a draft kept over a restart (continue it), the category, scope, description, answers offered
    before sending (continue), attachments (none), workplace (own), "me too" (no), urgency (no), identity
    (named), the review (send). A step without an answer is done once more, as a person taps a button again
    that did nothing. Returns the case code the bot acknowledged."""
    user = population.user(index)
    choices = (("rep:go:", "rep:go:continue"), ("rep:cat:", f"rep:cat:{[c.code for c in all_categories()][index % 3]}"),
               ("rep:scope:", "rep:scope:individual"), ("rep:att:", "rep:att:done"), ("rep:wp:", "rep:wp:own"),
               ("rep:metoo:", "rep:metoo:own"), ("rep:urg:", "rep:urg:no"), ("rep:id:", "rep:id:named"),
               ("rep:submit", "rep:submit"))
    emulator.drain(user.id)

    async def report() -> None:
        await emulator.send_text(user, "/report", bot_token=OURS_TOKEN)

    last_step = report
    await last_step()
    repeated = False
    for _ in range(40):
        try:
            message = await emulator.next_change(user.id, timeout=STEP_TIMEOUT)
        except NoMessage:
            if repeated:
                raise Retry from None
            repeats[index] += 1
            repeated = True
            await last_step()  # the same button again (it raises AssertionError if it has gone), or text
            continue
        repeated = False
        found = CODE.search(message.get("text") or "")
        if found:
            return found.group(0)
        step = _step_for(emulator, population, index, message, choices)
        if step is not None:
            last_step = step
            await last_step()
    raise Retry


def _step_for(emulator: BotApiEmulator, population: Population, index: int, message: dict,
              choices: tuple[tuple[str, str], ...]):  # type: ignore[no-untyped-def]
    """What the worker does about this message, as a coroutine function, or None (nothing to do)."""
    user = population.user(index)
    offered = buttons(message)
    choice = next((data for _, data in choices if data in offered), None)
    if choice is not None:
        return lambda: emulator.press_button(user, message, choice, bot_token=OURS_TOKEN)
    if ASK_DESCRIPTION in (message.get("text") or ""):
        return lambda: emulator.send_text(user, DESCRIPTION.format(index=index), bot_token=OURS_TOKEN)
    return None


async def worker(emulator: BotApiEmulator, population: Population, index: int, acknowledged: dict[int, str],
                 tries: Counter[int], repeats: Counter[int]) -> None:
    for _ in range(ATTEMPTS):
        tries[index] += 1
        try:
            acknowledged[index] = await intake_once(emulator, population, index, repeats)
            return
        except Retry:
            continue
        except AssertionError:  # a button that vanished under a restart: start again
            continue


async def wait_for_polling(emulator: BotApiEmulator, calls_before: int) -> None:
    while not any(c.method == "getUpdates" and c.token == OURS_TOKEN for c in emulator.calls[calls_before:]):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def run_one(url: str, workers: int, kill_at: float) -> None:
    await prepare_database(url)
    async with BotApiEmulator() as emulator:
        emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot")
        population = Population(emulator)
        await give_every_unit_an_inbox(emulator, url, {})
        await population.seed(url, range(workers))
        process = await start_bot("ours", emulator, url)
        acknowledged: dict[int, str] = {}
        tries: Counter[int] = Counter()
        repeats: Counter[int] = Counter()
        started = time.perf_counter()
        tasks = [asyncio.create_task(worker(emulator, population, i, acknowledged, tries, repeats))
                 for i in range(workers)]
        while len(acknowledged) < kill_at * workers and not all(task.done() for task in tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        killed_after = len(acknowledged)
        told_before_kill = set(acknowledged.values())
        killed_at = datetime.now(UTC)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        calls_before = len(emulator.calls)
        restarted = time.perf_counter()
        process = await start_bot_again(emulator, url, calls_before)
        down = time.perf_counter() - restarted
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - started
        process.send_signal(signal.SIGTERM)
        await process.wait()
    check = await check_database(url, acknowledged, told_before_kill, killed_at)
    db = url.split("+", 1)[0]
    retried = sum(1 for count in tries.values() if count > 1)
    print(f"{db}: {workers} workers in {seconds:.1f} s; SIGKILL after {killed_after} acknowledged cases, back "
          f"polling in {down:.1f} s; {len(repeats)} workers did a step again, {retried} sent /report again")
    print(f"  acknowledged cases:                  {len(set(acknowledged.values()))} (workers without a code: "
          f"{workers - len(acknowledged)})")
    print(f"  acknowledged but missing/incomplete: {check['missing']}  (must be 0)")
    print(f"  half-written cases in the database:  {check['half_written']}  (must be 0)")
    print(f"  cases stored:                        {check['stored']}; never acknowledged to a worker: "
          f"{check['unacknowledged']}  (must be 0)")
    print(f"  stored before the SIGKILL, its worker not yet answered: {check['resent']} (the answer lost or "
          f"in flight; after the restart they got that case's code)")
    print(f"  duplicates (workers with >1 case):   {check['duplicates']}  (must be 0; "
          f"{check['extra_cases']} extra cases)")
    print(f"  gaps in case numbers: {check['gaps'] or 'none'}")


async def start_bot_again(emulator: BotApiEmulator, url: str, calls_before: int) -> asyncio.subprocess.Process:
    process = await start_bot("ours", emulator, url)  # returns at once: the dead bot polled before
    await wait_for_polling(emulator, calls_before)
    return process


async def check_database(url: str, acknowledged: dict[int, str], told_before_kill: set[str],
                         killed_at: datetime) -> dict[str, object]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            first_message = (select(GrievanceMessage.grievance_id).where(
                GrievanceMessage.from_worker.is_(True), GrievanceMessage.text.is_not(None)).distinct())
            created = select(GrievanceEvent.grievance_id).where(
                GrievanceEvent.action.in_(("created", "to_admins"))).distinct()
            whole = set(await session.scalars(select(Grievance.code).where(
                Grievance.id.in_(first_message), Grievance.id.in_(created))))
            codes = list(await session.scalars(select(Grievance.code)))
            stored_before_kill = set(await session.scalars(select(Grievance.code)
                                                           .where(Grievance.created_at < killed_at)))
            per_member = await session.execute(select(Grievance.member_id, func.count()).group_by(Grievance.member_id))
            counts = [count for _, count in per_member]
    finally:
        await engine.dispose()
    told = set(acknowledged.values())
    return {"missing": len(told - whole), "half_written": len(set(codes) - whole), "stored": len(codes),
            "unacknowledged": len(set(codes) - told), "resent": len(stored_before_kill - told_before_kill),
            "duplicates": sum(1 for count in counts if count > 1),
            "extra_cases": sum(count - 1 for count in counts), "gaps": _gaps(codes)}


def _gaps(codes: list[str]) -> list[str]:
    by_month: dict[str, set[int]] = {}
    for code in codes:
        _, month, number = code.split("-")
        by_month.setdefault(month, set()).add(int(number))
    return [f"PA-{month}-{n:04d}" for month, numbers in sorted(by_month.items())
            for n in range(1, max(numbers) + 1) if n not in numbers]


async def main(workers: int, kill_at: float, database_url: str | None) -> None:
    logging.basicConfig(level=logging.WARNING)
    async with databases(database_url) as urls:
        for url in urls:
            await run_one(url, workers, kill_at)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of workers acknowledged before SIGKILL")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.kill_at, args.database_url))
