"""Survey windows on schedule (PTB JobQueue). A survey is open between its times (checked on every press, so
opening needs no job); at its close a job marks it closed and sends every participant the summary, paced at
settings.broadcast_rate per second.

The database holds everything: at start, bot/runner.py calls start(), which sets one job per unclosed survey
at its close time and a minute tick that catches surveys loaded later (`congdoan survey load` runs in another
process) and summaries a restart left unsent. Each participant is marked told once the summary is settled
(named or anonymous alike: the participation row says only that they answered), so a restart resumes where it
stopped. deliver() decides "settled": delivered, refused for good (blocked, chat not found) or perhaps delivered
(timed out); a 429 or a network error leaves the participant for the next tick, and a 429 ends the batch.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application

from bot.config import Settings
from bot.services import survey_results, surveys
from db.models import Survey
from db.types import utcnow
from handlers import jobs
from handlers.context import BotContext
from handlers.notify import Batch, Delivery, deliver

log = logging.getLogger(__name__)

TICK_NAME = "survey-tick"
TICK_EVERY = timedelta(minutes=1)
LOCK = "survey_lock"


async def start(application: Application, tick: timedelta = TICK_EVERY) -> None:  # type: ignore[type-arg]
    # The first tick comes soon after a start: work a restart left undone goes out without waiting.
    if not jobs.start_tick(application, TICK_NAME, _tick_job, tick, LOCK):
        return
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    async with factory() as session:
        pending = await surveys.unclosed(session)
    now = utcnow()
    for survey in pending:
        schedule_survey(application, survey, now)


def schedule_survey(application: Application, survey: Survey, now: datetime) -> None:  # type: ignore[type-arg]
    """A job at the survey's close (at once if that has passed)."""
    queue = application.job_queue
    if queue is None:
        return
    name = f"survey-close-{survey.id}"
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()
    queue.run_once(_close_job, when=max(survey.closes_at, now), name=name, data=survey.id)


async def _close_job(context: BotContext) -> None:
    await close_and_tell(context.application, context.job.data, utcnow())


async def _tick_job(context: BotContext) -> None:
    await tick(context.application, utcnow())


async def tick(application: Application, now: datetime) -> None:  # type: ignore[type-arg]
    """Close what is due at `now` and send summaries left unsent."""
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    async with factory() as session:
        due = await surveys.due_to_close(session, now)
    for survey_id in due:
        await close(application, survey_id, now)
    async with factory() as session:
        unsent = await surveys.summaries_unsent(session)
    for survey_id in unsent:
        if (await _send_summaries(application, survey_id)).flooded:
            break  # Telegram asked us to slow down: the next tick goes on


async def close(application: Application, survey_id: int, now: datetime) -> bool:  # type: ignore[type-arg]
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    async with _lock(application), factory() as session:
        closed = await surveys.close(session, survey_id, now)
    if closed is not None:
        log.info("survey %s closed", survey_id)
    return closed is not None


async def close_and_tell(application: Application, survey_id: int, now: datetime) -> bool:  # type: ignore[type-arg]
    if not await close(application, survey_id, now):
        return False
    await send_summaries(application, survey_id)
    return True


async def close_in_background(application: Application, survey_id: int, now: datetime) -> bool:  # type: ignore[type-arg]
    """Close now (an admin's press) and send the summaries from a job, so the press is answered at once."""
    if not await close(application, survey_id, now):
        return False
    if application.job_queue is not None:
        application.job_queue.run_once(_send_job, when=0, data=survey_id, name=f"survey-send-{survey_id}")
    return True


async def _send_job(context: BotContext) -> None:
    await send_summaries(context.application, context.job.data)


async def send_summaries(application: Application, survey_id: int) -> int:  # type: ignore[type-arg]
    """The summary to every participant not yet told, in their language; returns how many arrived."""
    return (await _send_summaries(application, survey_id)).sent


async def _send_summaries(application: Application, survey_id: int) -> Batch:  # type: ignore[type-arg]
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    settings: Settings = application.bot_data["settings"]
    pause = 1 / settings.broadcast_rate
    batch = Batch()
    texts: dict[str, str] = {}
    async with _lock(application), factory() as session:
        survey = await session.get(Survey, survey_id)
        if survey is None or survey.closed_at is None:
            return batch
        # Plain values first: a rollback below expires the loaded rows.
        recipients = {participation.id: (member.telegram_id, member.language)
                      for participation, member in await surveys.participants_to_tell(session, survey_id)}
        for language in {language for chat_id, language in recipients.values() if chat_id is not None}:
            results = await survey_results.compute(session, survey, language)
            texts[language] = survey_results.summary_text(results, language)
        for participation_id, (chat_id, language) in recipients.items():
            try:
                if chat_id is None:
                    outcome = Delivery.REFUSED
                else:
                    outcome = await deliver(application.bot, session, chat_id, texts[language])
                if outcome.settled:
                    await surveys.mark_told(session, participation_id, utcnow())
            except Exception:  # noqa: BLE001 - one participant must not stop the others: logged, left for later
                log.exception("survey %s: participation %s", survey_id, participation_id)
                await session.rollback()
                outcome = Delivery.LATER
            if batch.add(outcome):
                log.info("survey %s: rate limited, the rest of the summaries wait for the next tick", survey_id)
                break
            if chat_id is not None:
                await asyncio.sleep(pause)
    log.info("survey %s: summary sent to %s participant(s)", survey_id, batch.sent)
    return batch


def _lock(application: Application) -> asyncio.Lock:  # type: ignore[type-arg]
    return application.bot_data.setdefault(LOCK, asyncio.Lock())
