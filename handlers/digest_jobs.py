"""The weekly digest to each unit inbox, Monday 08:00 local (PTB JobQueue).

Nothing is kept in memory: at start bot/runner.py calls start(), which runs a catch-up at once (a bot that
was down on Monday morning sends the week's digest when it is back) and schedules the next Monday 08:00;
each run schedules the following one. bot/services/digest.py claims each unit's week in the database before
sending, so neither a restart nor a second process sends a week twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import TelegramError
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import t
from bot.services import digest
from db.models import Unit
from db.types import utcnow
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext

log = logging.getLogger(__name__)

JOB_NAME = "weekly-digest"


def start(application: Application) -> None:  # type: ignore[type-arg]
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (APScheduler missing): no weekly digest")
        return
    for job in queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    queue.run_once(_job, when=5, name=JOB_NAME, data="catch_up")  # soon after a start
    _schedule_next(application, utcnow())


def _schedule_next(application: Application, now: datetime) -> None:  # type: ignore[type-arg]
    settings: Settings = application.bot_data["settings"]
    if application.job_queue is not None:
        application.job_queue.run_once(_job, when=digest.next_due(now, settings.tz), name=JOB_NAME, data="weekly")


async def _job(context: BotContext) -> None:
    now = utcnow()
    sent = await send_due(context.application, now)
    if sent:
        log.info("weekly digest sent to %s inbox(es)", sent)
    if context.job.data == "weekly":  # the Monday run books the next one
        _schedule_next(context.application, now)


async def send_due(application: Application, now: datetime) -> int:  # type: ignore[type-arg]
    """Send this week's digest to every inbox that has not had it; returns how many were sent."""
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    tz = application.bot_data["settings"].tz
    async with factory() as session:
        unit_ids = await digest.units_due(session, now, tz)
    sent = 0
    for unit_id in unit_ids:
        try:
            async with factory() as session:
                sent += await _send_one(application, session, unit_id, now)
        except Exception:  # noqa: BLE001 - one unit failing must not stop the others
            log.exception("weekly digest failed for unit %s", unit_id)
    return sent


async def _send_one(application: Application, session: AsyncSession, unit_id: int,  # type: ignore[type-arg]
                    now: datetime) -> bool:
    tz = application.bot_data["settings"].tz
    unit = await session.get(Unit, unit_id)
    if unit is None or unit.inbox_chat_id is None or not await digest.claim(session, unit_id, now, tz):
        return False
    found = await digest.figures(session, unit_id, now, tz)
    lines = [t(INBOX_LANGUAGE, "digest.title", since=f"{found.since:%d/%m/%Y}"),
             t(INBOX_LANGUAGE, "digest.counts", open=found.open, overdue=found.overdue, resolved=found.resolved)]
    if found.overdue_codes:
        lines.append(t(INBOX_LANGUAGE, "digest.overdue_list", codes=", ".join(found.overdue_codes)))
    delivered = True
    try:
        await application.bot.send_message(unit.inbox_chat_id, "\n".join(lines))
    except TelegramError as error:  # marked sent all the same: a lost inbox is not retried every minute
        log.warning("weekly digest to unit %s not delivered: %s", unit_id, type(error).__name__)
        delivered = False
    await digest.mark_sent(session, unit_id, now, tz)
    return delivered
