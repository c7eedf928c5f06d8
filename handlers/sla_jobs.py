"""The deadline check, run by PTB's JobQueue every minute: reminders before deadlines, overdue cases sent
up a level, resolved cases closed after 7 days without the worker's answer.

The job itself holds no state: bot/services/sla_watch.py reads and marks everything in the database, so
a restart only schedules the check again (nothing is pickled) and two processes cannot act twice on a
case. Each case is committed before anyone is told, and one case failing never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, Job

from bot.config import Settings
from bot.i18n import t
from bot.services import sla_watch
from db.types import utcnow
from handlers import notify
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext

log = logging.getLogger(__name__)

JOB_NAME = "sla-check"
CHECK_EVERY = timedelta(minutes=1)


@dataclass
class CheckResult:
    reminded: int = 0
    escalated: int = 0
    closed: int = 0
    failed: int = 0


def start(application: Application, interval: timedelta = CHECK_EVERY) -> Job | None:  # type: ignore[type-arg]
    """Schedule the check (once: a second call replaces the first). The first run is one interval after
    the start, so a bot that restarts in a loop does not hammer the database."""
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (APScheduler missing): deadlines are not checked")
        return None
    for job in queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    return queue.run_repeating(_run, interval=interval, first=interval, name=JOB_NAME,
                               job_kwargs={"max_instances": 1, "coalesce": True})


async def _run(context: BotContext) -> None:
    result = await check_deadlines(context.application, utcnow())
    if result.reminded or result.escalated or result.closed or result.failed:
        log.info("deadline check: %s", result)


async def check_deadlines(application: Application, now: datetime) -> CheckResult:  # type: ignore[type-arg]
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    settings: Settings = application.bot_data["settings"]
    bot = application.bot
    result = CheckResult()

    async def escalate(session: AsyncSession, grievance_id: int) -> bool:
        escalated = await sla_watch.escalate_overdue(session, grievance_id, now, settings.tz)
        if escalated is None:
            return False
        grievance, moved = escalated
        await notify.case_moved(bot, session, grievance, moved.from_unit_id, settings.tz, settings.admin_ids)
        return True

    async def remind(session: AsyncSession, reminder: sla_watch.Reminder) -> bool:
        grievance = await sla_watch.claim_reminder(session, reminder, now)
        if grievance is None:
            return False
        await notify.post_to_case_thread(bot, session, grievance, t(
            INBOX_LANGUAGE, f"sla.reminder_{reminder.deadline.value}", code=grievance.code,
            due=notify.when(reminder.due_at, settings.tz)))
        return True

    async def close(session: AsyncSession, grievance_id: int) -> bool:
        grievance = await sla_watch.close_unanswered(session, grievance_id, now)
        if grievance is None:
            return False
        await notify.tell_worker(bot, session, grievance, "worker.closed_without_answer")
        await notify.post_to_case_thread(bot, session, grievance, t(INBOX_LANGUAGE, "sla.closed_without_answer",
                                                                    code=grievance.code))
        await notify.refresh_card(bot, session, grievance, settings.tz, settings.admin_ids)
        return True

    async with factory() as session:
        overdue = await sla_watch.overdue_ids(session, now)
    result.escalated = await _each(factory, overdue, escalate, result)
    async with factory() as session:
        reminders = await sla_watch.reminders_due(session, now)
    result.reminded = await _each(factory, reminders, remind, result)
    async with factory() as session:
        unanswered = await sla_watch.unanswered_ids(session, now)
    result.closed = await _each(factory, unanswered, close, result)
    return result


async def _each(factory: async_sessionmaker[AsyncSession], items: list[Any],
                handle: Callable[[AsyncSession, Any], Awaitable[bool]], result: CheckResult) -> int:
    """Handle each case in a session of its own; a failure is logged by case and the rest go on."""
    done = 0
    for item in items:
        try:
            async with factory() as session:
                done += await handle(session, item)
        except Exception:  # noqa: BLE001 - one broken case must not stop the check for the others
            result.failed += 1
            log.exception("deadline check failed for %s", item)
    return done
