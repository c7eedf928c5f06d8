"""The once-a-minute safety tick that scheduled features share: the database is the source of truth, so a
start (or restart) replaces the tick and the feature re-reads what is due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram.ext import Application

log = logging.getLogger(__name__)


def start_tick(application: Application, name: str, callback: Callable[..., Awaitable[None]],  # type: ignore[type-arg]
               interval: timedelta, lock_key: str) -> bool:
    """Replace the repeating job `name` (first run a few seconds after start); False without a job queue."""
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (APScheduler missing): %s does not run", name)
        return False
    application.bot_data.setdefault(lock_key, asyncio.Lock())
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()
    queue.run_repeating(callback, interval=interval, first=5, name=name,
                        job_kwargs={"max_instances": 1, "coalesce": True})
    return True
