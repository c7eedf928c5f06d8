"""Grievance intake under load: many workers file a concern at once, each step waiting for the bot's answer
as a person would, against the bare PTB echo bot under the same number of updates, in one run.

Every simulated worker is a member who finished onboarding (written to the database before the run, so
only intake is measured) at one of the demo workplaces; every demo unit has an inbox group, so each case
also posts its card there, as it would in production. A worker: /report → category → scope → text →
no attachments → own workplace → (add my voice, if offered: no) → identity → (urgent? no) → submit → (answers that may
help, if offered: send anyway) → the acknowledgement with the case code. Prints cases/s, updates/s, p50/p99 per step and the ratio to the
bare PTB echo bot (bench/common.py), on SQLite and on a throwaway PostgreSQL
cluster, over interleaved rounds (median shown).

    .venv/bin/python bench/grievances.py [--workers 50] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402 - bench/ is not a package
    ECHO_TOKEN,
    OURS_TOKEN,
    Person,
    databases,
    interleaved_rounds,
    offers,
    prepare_database,
    print_figures,
    print_steps,
)
from sqlalchemy import func, select  # noqa: E402

from bot.services.categories import all_categories  # noqa: E402
from bot.services.members import CONSENT_VERSION  # noqa: E402
from db.models import Grievance, Member, UnionStatus, Unit, Workplace  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402
from sandbox.emulator import BotApiEmulator, EmulatorUser  # noqa: E402

STEPS_ECHO = 9  # about as many updates as one intake takes
DESCRIPTION = ("Công ty chậm trả lương tháng này đã hơn hai tuần, nhiều anh chị em trong tổ chưa nhận được "
               "đồng nào. Đề nghị công đoàn hỏi công ty giúp. Người gửi số {index}.")


class Population:
    """The simulated workers: emulator users with a member row each, spread over the demo workplaces."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.emulator = emulator
        self.users: dict[int, EmulatorUser] = {}
        self.workplace_of: dict[int, int] = {}

    def user(self, index: int) -> EmulatorUser:
        if index not in self.users:
            self.users[index] = self.emulator.create_user(first_name=f"Công nhân {index}", language_code="vi")
        return self.users[index]

    async def seed(self, database_url: str, indices: range) -> None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                places = list(await session.scalars(select(Workplace).order_by(Workplace.id)))
                now = datetime.now(UTC)
                for index in indices:
                    place = places[index % len(places)]
                    session.add(Member(
                        telegram_id=self.user(index).id, first_name=f"Công nhân {index}", language="vi",
                        consent_version=CONSENT_VERSION, consented_at=now, onboarded_at=now,
                        province_code=place.province_code, sector="garment", workplace_id=place.id,
                        union_status=UnionStatus.MEMBER))
                await session.commit()
        finally:
            await engine.dispose()


async def give_every_unit_an_inbox(emulator: BotApiEmulator, database_url: str, groups: dict[str, int]) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            for unit in await session.scalars(select(Unit)):
                if unit.code not in groups:
                    groups[unit.code] = emulator.create_group(f"Hộp thư {unit.code}", bot_token=OURS_TOKEN).id
                unit.inbox_chat_id = groups[unit.code]
            await session.commit()
    finally:
        await engine.dispose()


async def count_cases(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await session.scalar(select(func.count()).select_from(Grievance)) or 0
    finally:
        await engine.dispose()


# ----- one simulated worker's intake -----

async def worker_intake(emulator: BotApiEmulator, index: int, latencies: list, population: Population) -> None:
    person = Person(emulator, population.user(index), latencies)
    step, press, say = person.step, person.press, person.say
    categories = [category.code for category in all_categories()]

    message = await step("/report", say("/report"), offers("rep:cat:"))
    message = await step("category", press(message, f"rep:cat:{categories[index % 3]}"), offers("rep:scope:"))
    await step("scope", press(message, "rep:scope:individual"), lambda m: True)
    message = await step("description", say(DESCRIPTION.format(index=index)), offers("rep:att:"))
    message = await step("attachments", press(message, "rep:att:done"), offers("rep:wp:"))
    message = await step("workplace", press(message, "rep:wp:own"),
                         lambda m: offers("rep:id:")(m) or offers("rep:metoo:")(m))
    if offers("rep:metoo:")(message):
        message = await step("me too?", press(message, "rep:metoo:own"), offers("rep:id:"))
    message = await step("identity", press(message, "rep:id:named"),
                         lambda m: offers("rep:submit")(m) or offers("rep:urg:")(m))
    if offers("rep:urg:")(message):
        message = await step("urgent?", press(message, "rep:urg:no"), offers("rep:submit"))
    acknowledged = lambda m: "PA-" in (m.get("text") or "")  # noqa: E731
    message = await step("submit", press(message, "rep:submit"), lambda m: acknowledged(m) or offers("rep:faq:")(m))
    if not acknowledged(message):  # answers that may already help were offered first: send anyway
        await step("send anyway", press(message, "rep:submit"), acknowledged)


# ----- the run -----

async def main(workers: int, database_url: str | None, rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    warm_up = 5
    people = rounds * (workers + warm_up)  # new ones each round, see interleaved_rounds
    async with databases(database_url) as urls:
        async with BotApiEmulator() as emulator:
            emulator.add_bot(token=ECHO_TOKEN, username="echo_bench_bot")
            emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot")
            population = Population(emulator)
            groups: dict[str, int] = {}
            for url in urls:
                await prepare_database(url)
                await give_every_unit_an_inbox(emulator, url, groups)
                await population.seed(url, range(people))
            echo, ours = await interleaved_rounds(emulator, urls, rounds, workers,
                                                  partial(worker_intake, population=population), STEPS_ECHO, warm_up)
            stored = {url: await count_cases(url) for url in urls}
    print(f"workers: {workers}, rounds: {rounds} (median shown), cores: {os.cpu_count()}")
    print_figures("bare PTB echo", echo)
    for url, figures in ours.items():
        seconds = len(figures.latencies) / figures.rate
        print_figures(f"ours/{url.split('+', 1)[0]}", figures)
        print(f"  cases/s {workers / seconds:6.1f}   cases stored {stored[url]} of {people} filed   "
              f"ratio ours/echo (updates/s): {figures.rate / echo.rate:.2f}")
        print_steps(figures.latencies)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.database_url, args.rounds))
