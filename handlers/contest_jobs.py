"""Contest rounds on schedule (PTB JobQueue): a round is marked open at its start and closed at its end,
and closing sends every entrant their score and rank, paced politely (settings.broadcast_rate per second).

The database holds everything: at start, bot/runner.py calls start(), which schedules one job per round
still to open or close and a minute tick that catches rounds loaded later (`congdoan contest load` runs in
another process) and results still unsent after a restart. A lock keeps two jobs from closing or sending
the same round at once; each result is marked sent as it goes, so a restart resumes where it stopped. As for
survey summaries (notify.deliver), a result is marked once settled; a 429 or a network error leaves it for
the next tick, and a 429 ends the batch.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import t
from bot.services import contests, quizzes
from bot.text import escape
from db.models import Contest, ContestResult, ContestRound
from db.types import utcnow
from handlers import jobs, ui
from handlers.context import BotContext
from handlers.notify import Batch, Delivery, deliver
from handlers.quiz import BOARDS

log = logging.getLogger(__name__)

TICK_NAME = "contest-tick"
TICK_EVERY = timedelta(minutes=1)
LOCK = "contest_lock"


async def start(application: Application, tick: timedelta = TICK_EVERY) -> None:  # type: ignore[type-arg]
    # The first tick comes soon after a start: work a restart left undone goes out without waiting.
    if not jobs.start_tick(application, TICK_NAME, _tick_job, tick, LOCK):
        return
    await schedule_rounds(application)


async def schedule_rounds(application: Application) -> int:  # type: ignore[type-arg]
    """One job at each unclosed round's start and end (past ends: at once). Returns how many were set."""
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    async with factory() as session:
        rounds = await contests.unclosed_rounds(session)
    now = utcnow()
    for round_ in rounds:
        schedule_round(application, round_, now)
    return len(rounds)


def schedule_round(application: Application, round_: ContestRound, now: datetime) -> None:  # type: ignore[type-arg]
    queue = application.job_queue
    if queue is None:
        return
    for kind, at in (("open", round_.starts_at), ("close", round_.ends_at)):
        name = f"contest-{kind}-{round_.id}"
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
        if kind == "open" and at <= now:
            continue
        queue.run_once(_round_job, when=max(at, now), name=name, data=(kind, round_.id))


async def _round_job(context: BotContext) -> None:
    kind, round_id = context.job.data
    if kind == "open":
        await open_due(context.application, utcnow())
    else:
        await close_and_announce(context.application, round_id, utcnow())


async def _tick_job(context: BotContext) -> None:
    await tick(context.application, utcnow())


async def tick(application: Application, now: datetime) -> None:  # type: ignore[type-arg]
    """Open and close what is due, and send results left unsent (e.g. by a restart)."""
    await open_due(application, now)
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    async with factory() as session:
        due = [r.id for r in await contests.unclosed_rounds(session) if r.ends_at <= now]
    for round_id in due:
        await close(application, round_id, now)
    async with factory() as session:
        unsent = await contests.rounds_with_unsent_results(session)
    for round_id in unsent:
        if (await _send_results(application, round_id)).flooded:
            break  # Telegram asked us to slow down: the next tick goes on


async def open_due(application: Application, now: datetime) -> list[int]:  # type: ignore[type-arg]
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    opened = []
    async with factory() as session:
        for round_, _ in await contests.open_rounds(session, now):
            if await contests.mark_opened(session, round_.id, now):
                opened.append(round_.id)
                log.info("contest round %s is open", round_.id)
    return opened


async def close_and_announce(application: Application, round_id: int, now: datetime) -> bool:  # type: ignore[type-arg]
    """Close the round (results stored and committed first), then tell each entrant. False if it was
    already closed or does not exist."""
    if not await close(application, round_id, now):
        return False
    await send_results(application, round_id)
    return True


async def close(application: Application, round_id: int, now: datetime) -> bool:  # type: ignore[type-arg]
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    async with _lock(application), factory() as session:
        closed = await contests.close_round(session, round_id, now)
    if closed is not None:
        log.info("contest round %s closed", round_id)
    return closed is not None


async def close_in_background(application: Application, round_id: int, now: datetime) -> bool:  # type: ignore[type-arg]
    """Close now and send the results from a job, so an admin's press is answered at once."""
    if not await close(application, round_id, now):
        return False
    if application.job_queue is not None:
        application.job_queue.run_once(_send_job, when=0, data=round_id, name=f"contest-send-{round_id}")
    return True


async def _send_job(context: BotContext) -> None:
    await send_results(context.application, context.job.data)


async def send_results(application: Application, round_id: int) -> int:  # type: ignore[type-arg]
    """Each entrant not yet told gets their score and rank; returns how many arrived."""
    return (await _send_results(application, round_id)).sent


async def _send_results(application: Application, round_id: int) -> Batch:  # type: ignore[type-arg]
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    settings: Settings = application.bot_data["settings"]
    pause = 1 / settings.broadcast_rate
    batch = Batch()
    async with _lock(application), factory() as session:
        found = await contests.get_round(session, round_id)
        if found is None:
            return batch
        round_, contest = found
        entrants = await contests.entrants(session, round_id)
        # Plain values first (result id -> chat, text, buttons): a rollback below expires the loaded rows.
        texts: dict[int, tuple[int, str, InlineKeyboardMarkup] | None] = {}
        for result, member in await contests.results_to_notify(session, round_id):
            if member.telegram_id is not None:
                texts[result.id] = (member.telegram_id, *_result_message(round_, contest, result, entrants,
                                                                          member.language))
            else:
                texts[result.id] = None
        for result_id, message in texts.items():
            try:
                outcome = Delivery.REFUSED if message is None else await deliver(application.bot, session, *message)
                if outcome.settled:
                    await contests.mark_notified(session, result_id, utcnow())
            except Exception:  # noqa: BLE001 - one entrant must not stop the others: logged, left for a later tick
                log.exception("contest round %s: result %s", round_id, result_id)
                await session.rollback()
                outcome = Delivery.LATER
            if batch.add(outcome):
                log.info("contest round %s: rate limited, the rest of the results wait for the next tick", round_id)
                break
            if message is not None:
                await asyncio.sleep(pause)
    return batch


def _result_message(round_: ContestRound, contest: Contest, result: ContestResult, entrants: int,
                    lang: str) -> tuple[str, InlineKeyboardMarkup]:
    text = t(lang, "quiz.round_result", title=escape(quizzes.localised(contest.title, lang)),
             number=round_.number, score=result.score, total=contest.questions_per_attempt,
             rank=result.rank, entrants=entrants, all_correct=round_.all_correct or 0)
    markup = ui.buttons([[(t(lang, key), f"ct:lb:{round_.id}:{index}") for index, key in enumerate(BOARDS)]])
    return text, markup


def _lock(application: Application) -> asyncio.Lock:  # type: ignore[type-arg]
    return application.bot_data.setdefault(LOCK, asyncio.Lock())
