"""The broadcast sender: runs start on schedule (PTB JobQueue), recipients are sent to under the pacer, and
each outcome is written to the run's delivery rows as delivery goes.

- Its own telegram.Bot with its own HTTP connection pool (bot.http.AiohttpRequest): a large send never
  makes members' conversations wait for a connection.
- The database holds every schedule: start() (called by bot/runner.py at start) sets a job for each
  broadcast's next run and resumes every unfinished run from its pending rows; a minute tick catches
  anything due that no job holds (a resume from /admin, a run deferred past the quiet hours).
- Crash safety: a row stays pending until its send succeeded and the outcome was committed (outcomes are
  committed every FLUSH_EVERY seconds), so after a crash only those in flight can be sent again.
- 429: every send waits retry_after (pacer). 403: the member is marked blocked. A chat that became a
  supergroup (ChatMigrated) is followed. Progress: a message in the composer's chat, edited every few
  seconds, then the final statistics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application
from telegram.request import RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.config import Settings
from bot.http import AiohttpRequest
from bot.i18n import t
from bot.services import broadcasts, pacing
from bot.services.broadcasts import BLOCKED, FAILED, PENDING, SENT, SKIPPED, Outcome, Recipient
from db.models import Broadcast, BroadcastRun
from db.types import utcnow
from handlers import notify, ui

log = logging.getLogger(__name__)

SENDER = "broadcast_sender"
TICK_NAME = "broadcast-tick"
TICK_EVERY = timedelta(minutes=1)
PAGE = 500  # recipients claimed from the database at a time
FLUSH_EVERY = 0.25  # seconds between commits of outcomes (the most that a crash can make repeat)
FLUSH_SIZE = 200
CHECK_EVERY = 1.0  # pause, cancel, quiet hours, shutdown
PROGRESS_EVERY = 3.0
NETWORK_RETRIES = 3


class Sender:
    """The sender's Bot and pacer, shared by every run in this process. The Bot's connections are open
    only while a run is being delivered."""

    def __init__(self, settings: Settings, window: pacing.SendWindow | None = None) -> None:
        self.settings = settings
        self.paid = settings.paid_broadcast
        rate = pacing.effective_rate(settings.broadcast_rate, settings.paid_broadcast)
        # The window bounds what the whole bot sends (the application's answers count in it: bot/app.py);
        # the pacer spaces the broadcast within it at BROADCAST_RATE.
        self.pacer = pacing.Pacer(rate, window=window or pacing.SendWindow(pacing.ceiling(self.paid)))
        # Enough sends in flight to keep the pace when one takes up to ~100 ms: 3 at 25/s, 98 at 970/s.
        self.workers = max(2, min(100, int(rate / 10) + 1))
        self.bot = Bot(settings.bot_token or "", base_url=settings.telegram_api_url,
                       base_file_url=settings.telegram_file_url,
                       request=AiohttpRequest(pool_size=self.workers + 2, read_timeout=10, pool_timeout=10))
        self.tasks: dict[int, asyncio.Task[Any]] = {}  # run id → the task delivering it
        self._users = 0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Sender:
        async with self._lock:
            if self._users == 0:
                await self.bot.initialize()
            self._users += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._lock:
            self._users -= 1
            if self._users == 0:
                await self.bot.shutdown()


def sender_of(application: Application) -> Sender:  # type: ignore[type-arg]
    data = application.bot_data
    if SENDER not in data:
        data[SENDER] = Sender(data["settings"], data.get("send_window"))
    return data[SENDER]


# ----- scheduling (the application side) -----

async def start(application: Application, tick: timedelta = TICK_EVERY) -> None:  # type: ignore[type-arg]
    """Timers rebuilt from the database: each broadcast's next run, and every unfinished run resumed."""
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (APScheduler missing): broadcasts are not sent")
        return
    sender_of(application)
    for job in queue.get_jobs_by_name(TICK_NAME):
        job.schedule_removal()
    queue.run_repeating(_tick_job, interval=tick, first=tick, name=TICK_NAME,
                        job_kwargs={"max_instances": 1, "coalesce": True})
    factory = application.bot_data["session_factory"]
    async with factory() as session:
        planned = await broadcasts.scheduled(session)
        runs = await broadcasts.unfinished_runs(session)
    for broadcast_id, at in planned:
        schedule_broadcast(application, broadcast_id, at)
    now = utcnow()
    for run in runs:
        schedule_run(application, run.id, max(run.not_before or now, now))


def schedule_broadcast(application: Application, broadcast_id: int, at: datetime) -> None:  # type: ignore[type-arg]
    queue = application.job_queue
    if queue is None:
        return
    name = f"broadcast-{broadcast_id}"
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()
    queue.run_once(_fire_job, when=max(at, utcnow()), name=name, data=broadcast_id)


def schedule_run(application: Application, run_id: int, at: datetime | None = None) -> None:  # type: ignore[type-arg]
    queue = application.job_queue
    if queue is None or run_id in sender_of(application).tasks:
        return
    name = f"broadcast-run-{run_id}"
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()
    queue.run_once(_deliver_job, when=max(at or utcnow(), utcnow()), name=name, data=run_id)


async def _fire_job(context: Any) -> None:
    await fire(context.application, context.job.data)


async def fire(application: Application, broadcast_id: int) -> int | None:  # type: ignore[type-arg]
    """Start the broadcast's due run and deliver it; set the job for the next occurrence."""
    settings: Settings = application.bot_data["settings"]
    factory = application.bot_data["session_factory"]
    async with factory() as session:
        run = await broadcasts.start_run(session, broadcast_id, utcnow(), settings.tz)
        broadcast = await session.get(Broadcast, broadcast_id)
        next_at = broadcast.next_run_at if broadcast is not None and broadcast.status == "active" else None
        run_id = run.id if run is not None else None
    if next_at is not None:
        schedule_broadcast(application, broadcast_id, next_at)
    if run_id is not None:
        log.info("broadcast %s: run %s started", broadcast_id, run_id)
        await deliver_in_application(application, run_id)
    return run_id


async def _deliver_job(context: Any) -> None:
    await deliver_in_application(context.application, context.job.data)


async def deliver_in_application(application: Application, run_id: int) -> str:  # type: ignore[type-arg]
    """Deliver inside a job: Application.stop() waits for running jobs, and the delivery stops within
    CHECK_EVERY once the application is no longer running (the rest resumes at the next start)."""
    settings: Settings = application.bot_data["settings"]
    sender = sender_of(application)
    if run_id in sender.tasks:
        return "busy"
    task = asyncio.current_task()
    assert task is not None
    sender.tasks[run_id] = task
    try:
        return await deliver(sender, application.bot_data["session_factory"], run_id, settings.tz,
                             keep_going=lambda: application.running)
    finally:
        sender.tasks.pop(run_id, None)


async def _tick_job(context: Any) -> None:
    await tick(context.application)


async def tick(application: Application) -> None:  # type: ignore[type-arg]
    """Anything due that no job holds: broadcasts due, unfinished runs not being delivered here."""
    factory = application.bot_data["session_factory"]
    now = utcnow()
    async with factory() as session:
        due = await broadcasts.due_broadcast_ids(session, now)
        runs = await broadcasts.unfinished_runs(session)
    queue = application.job_queue
    for broadcast_id in due:
        if queue is not None and not queue.get_jobs_by_name(f"broadcast-{broadcast_id}"):
            schedule_broadcast(application, broadcast_id, now)
    for run in runs:
        if (run.not_before is None or run.not_before <= now) and queue is not None \
                and not queue.get_jobs_by_name(f"broadcast-run-{run.id}"):
            schedule_run(application, run.id, now)


# ----- rendering -----

def keyboard(content: dict[str, Any], topic: str, language: str) -> InlineKeyboardMarkup:
    """The article, quiz or survey button, if any, and always "stop these messages"."""
    rows: list[list[tuple[str, str]]] = []
    attach = content.get("attach") or {}
    if attach.get("kind") == "article":
        rows.append([(t(language, "broadcast.open_article"), f"learn:a:{attach['ref']}:0")])
    elif attach.get("kind") == "quiz":
        rows.append([(t(language, "broadcast.open_quiz"), f"quiz:practice:{attach['ref']}")])
    elif attach.get("kind") == "survey":
        rows.append([(t(language, "broadcast.open_survey"), f"survey:open:{attach['ref']}")])
    rows.append([(t(language, "broadcast.stop_button"), f"bc:stop:{topic}")])
    return ui.buttons(rows)


async def send_content(bot: Bot, chat_id: int, content: dict[str, Any], topic: str, language: str,
                       paid: bool = False, markup: InlineKeyboardMarkup | None = None) -> None:
    """The broadcast as a member sees it (also the composer's preview). `markup`: the keyboard for this
    language when the caller built it already (a run builds each language's once)."""
    text = broadcasts.text_for(content, language)
    markup = markup or keyboard(content, topic, language)
    extra: dict[str, Any] = {"allow_paid_broadcast": True} if paid else {}
    kind = content.get("kind", "text")
    if kind == "photo":
        await bot.send_photo(chat_id, content["file_id"], caption=text or None, parse_mode=ParseMode.HTML,
                             reply_markup=markup, **extra)
    elif kind == "document":
        await bot.send_document(chat_id, content["file_id"], caption=text or None, parse_mode=ParseMode.HTML,
                                reply_markup=markup, **extra)
    else:
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup, **extra)


# ----- delivery -----

@dataclass
class _Tally:
    counts: dict[str, int]
    total: int
    sent_now: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.counts[PENDING] = max(0, self.counts.get(PENDING, 0) - 1)
        if status == SENT:
            self.sent_now += 1

    @property
    def rate(self) -> float:
        return self.sent_now / max(time.monotonic() - self.started, 1e-6)


async def deliver(sender: Sender, factory: async_sessionmaker[AsyncSession], run_id: int, tz: tzinfo,
                  keep_going: Callable[[], bool] = lambda: True) -> str:
    """Send a run's pending recipients. Returns done | paused | cancelled | deferred | stopped | missing."""
    async with sender:
        return await _Delivery(sender, factory, run_id, tz, keep_going).run()


class _Delivery:
    def __init__(self, sender: Sender, factory: async_sessionmaker[AsyncSession], run_id: int, tz: tzinfo,
                 keep_going: Callable[[], bool]) -> None:
        self.sender, self.factory, self.run_id, self.tz, self.keep_going = sender, factory, run_id, tz, keep_going
        self.outcomes: list[Outcome] = []
        self.keyboards: dict[str, InlineKeyboardMarkup] = {}
        self.bodies: dict[str, bytes] = {}
        self.stop = asyncio.Event()
        self.reason = "done"

    async def run(self) -> str:
        async with self.factory() as session:
            found = await broadcasts.run_with_broadcast(session, self.run_id)
            if found is None or found[0].status != "running":
                return "missing"
            run, broadcast = found
            self.broadcast_id, self.topic, self.content = broadcast.id, broadcast.topic, broadcast.content
            self.quiet = (broadcast.quiet_start, broadcast.quiet_end)
            self.composer_chat, self.language = broadcast.composer_chat_id, broadcast.composer_language
            self.tally = _Tally(await broadcasts.run_counts(session, self.run_id), run.total)
            self.progress_id = run.progress_message_id or await self._post_progress(session)
        await self._check_stop()  # paused, cancelled or quiet already: nothing goes out
        if self.stop.is_set():
            return await self._conclude()
        queue: asyncio.Queue[Recipient | None] = asyncio.Queue(maxsize=PAGE * 2)
        producer = asyncio.create_task(self._produce(queue))
        workers = [asyncio.create_task(self._work(queue)) for _ in range(self.sender.workers)]
        watcher = asyncio.create_task(self._watch())
        try:
            await producer
            await asyncio.gather(*workers)
        finally:
            for task in (watcher, producer, *workers):
                task.cancel()
            # the watcher may be inside a flush: let it put its batch back before the last flush below
            await asyncio.gather(watcher, return_exceptions=True)
        await self._flush()
        return await self._conclude()

    async def _produce(self, queue: asyncio.Queue[Recipient | None]) -> None:
        after = 0
        async with self.factory() as session:
            while not self.stop.is_set():
                recipients, after, skipped = await broadcasts.claim_page(session, self.run_id, self.topic, after,
                                                                         PAGE)
                for _ in range(skipped):
                    self.tally.add(SKIPPED)
                if not recipients and not skipped:
                    break
                for recipient in recipients:
                    if self.stop.is_set():
                        break
                    await queue.put(recipient)
        for _ in range(self.sender.workers):
            await queue.put(None)

    async def _work(self, queue: asyncio.Queue[Recipient | None]) -> None:
        while (recipient := await queue.get()) is not None:
            if self.stop.is_set():
                continue  # left pending: the next delivery of this run sends it
            try:
                outcome = await self._send(recipient)
            except Exception:  # noqa: BLE001 - one recipient must not stop the others; logged, row kept
                log.exception("broadcast run %s: delivery %s", self.run_id, recipient.delivery_id)
                outcome = Outcome(recipient.delivery_id, recipient.member_id, FAILED, "error")
            if outcome is not None:
                self.outcomes.append(outcome)
                self.tally.add(outcome.status)

    async def _send(self, recipient: Recipient) -> Outcome | None:
        chat_id, failures = recipient.chat_id, 0
        while True:
            try:
                async with self.sender.pacer.sending(chat_id):
                    if self.stop.is_set():
                        return None
                    await self._send_once(chat_id, recipient.language)
                return Outcome(recipient.delivery_id, recipient.member_id, SENT)
            except RetryAfter as error:
                self.sender.pacer.pause(_seconds(error))
            except Forbidden:
                return Outcome(recipient.delivery_id, recipient.member_id, BLOCKED, "forbidden")
            except ChatMigrated as error:
                async with self.factory() as session:
                    await broadcasts.chat_migrated(session, chat_id, error.new_chat_id)
                chat_id = error.new_chat_id
            except BadRequest as error:
                log.info("broadcast run %s: delivery %s refused (%s)", self.run_id, recipient.delivery_id,
                         type(error).__name__)
                return Outcome(recipient.delivery_id, recipient.member_id, FAILED, "bad_request")
            except TimedOut:
                # The request reached Telegram and may have been delivered: sending again could make a
                # duplicate, so it is recorded as failed (at most once beats at least once here).
                return Outcome(recipient.delivery_id, recipient.member_id, FAILED, "timed_out")
            except NetworkError as error:  # nothing was sent: try again
                log.warning("broadcast run %s: delivery %s network error (%s), attempt %s", self.run_id,
                            recipient.delivery_id, error, failures + 1)
                failures += 1
                if failures >= NETWORK_RETRIES:
                    return Outcome(recipient.delivery_id, recipient.member_id, FAILED, "network")
                await asyncio.sleep(failures)
            except TelegramError:
                return Outcome(recipient.delivery_id, recipient.member_id, FAILED, "telegram")

    async def _send_once(self, chat_id: int, language: str) -> None:
        if self.content.get("kind", "text") == "text":
            await self._send_text(chat_id, language)
        else:
            await send_content(self.sender.bot, chat_id, self.content, self.topic, language, self.sender.paid,
                               self._keyboard(language))

    async def _send_text(self, chat_id: int, language: str) -> None:
        """sendMessage with the body built once per language (only chat_id differs) and the answer left as
        JSON: at 1000/s, building and parsing PTB objects for every message was most of the sender's CPU.
        Errors are PTB's as usual (the request layer raises them)."""
        if language not in self.bodies:
            fields = {"text": broadcasts.text_for(self.content, language), "parse_mode": ParseMode.HTML.value,
                      "reply_markup": self._keyboard(language).to_dict()}
            if self.sender.paid:
                fields["allow_paid_broadcast"] = True
            self.bodies[language] = b"," + json.dumps(fields, ensure_ascii=False)[1:].encode()
        body = b'{"chat_id":' + str(int(chat_id)).encode() + self.bodies[language]
        await self.sender.bot.request.post(f"{self.sender.bot.base_url}/sendMessage", _Body(body))

    def _keyboard(self, language: str) -> InlineKeyboardMarkup:
        if language not in self.keyboards:
            self.keyboards[language] = keyboard(self.content, self.topic, language)
        return self.keyboards[language]

    async def _watch(self) -> None:
        last_check = last_progress = time.monotonic()
        while True:
            await asyncio.sleep(FLUSH_EVERY if len(self.outcomes) < FLUSH_SIZE else 0)
            await self._flush()
            now = time.monotonic()
            if now - last_check >= CHECK_EVERY:
                last_check = now
                await self._check_stop()
            if now - last_progress >= PROGRESS_EVERY:
                last_progress = now
                await self._edit_progress(self._progress_text())

    async def _flush(self) -> None:
        """Commit the outcomes so far. Cancelled or failed midway, the batch goes back for the next flush
        (recording is idempotent): a batch lost here left sent rows pending, and the run's resume sent
        them again (a duplicate seen under load in CI)."""
        if not self.outcomes:
            return
        batch, self.outcomes = self.outcomes, []
        try:
            async with self.factory() as session:
                await broadcasts.record(session, batch, utcnow())
        except BaseException:
            self.outcomes[:0] = batch
            raise

    async def _check_stop(self) -> None:
        if not self.keep_going():
            self.reason = "stopped"
        else:
            async with self.factory() as session:
                broadcast = await session.get(Broadcast, self.broadcast_id)
                run = await session.get(BroadcastRun, self.run_id)
            if broadcast is None or run is None or run.status == "cancelled" or broadcast.status == "cancelled":
                self.reason = "cancelled"
            elif broadcast.status == "paused":
                self.reason = "paused"
            elif broadcasts.in_quiet_hours(utcnow(), self.quiet, self.tz):
                self.reason = "deferred"
            else:
                return
        self.stop.set()

    async def _conclude(self) -> str:
        async with self.factory() as session:
            counts = await broadcasts.run_counts(session, self.run_id)
            self.tally.counts = counts
            if self.reason == "deferred":
                until = broadcasts.out_of_quiet_hours(utcnow(), self.quiet, self.tz)
                await broadcasts.defer_run(session, self.run_id, until)
                await self._edit_progress(t(self.language, "broadcast.progress_deferred",
                                            progress=self._progress_text(), until=notify.when(until, self.tz)))
            elif self.reason == "paused":
                await self._edit_progress(t(self.language, "broadcast.progress_paused",
                                            progress=self._progress_text()))
            elif self.reason == "cancelled":
                await self._edit_progress(t(self.language, "broadcast.progress_cancelled",
                                            progress=self._progress_text()))
            elif self.reason == "done" and counts[PENDING] == 0:
                await broadcasts.finish_run(session, self.run_id, utcnow())
                await self._edit_progress(self._final_text(counts))
        log.info("broadcast run %s: %s (%s)", self.run_id, self.reason, self.tally.counts)
        return self.reason

    # ----- the composer's progress message -----

    def _progress_text(self) -> str:
        counts, rate = self.tally.counts, self.tally.rate
        pending = counts.get(PENDING, 0)
        left = pending / rate if rate > 0 else 0
        return t(self.language, "broadcast.progress", sent=counts.get(SENT, 0), total=self.tally.total,
                 rate=f"{rate:.1f}", errors=counts.get(BLOCKED, 0) + counts.get(FAILED, 0),
                 left=_duration(left))

    def _final_text(self, counts: dict[str, int]) -> str:
        elapsed = time.monotonic() - self.tally.started
        return t(self.language, "broadcast.final", sent=counts[SENT], total=self.tally.total,
                 blocked=counts[BLOCKED], failed=counts[FAILED], skipped=counts[SKIPPED],
                 duration=_duration(elapsed), rate=f"{self.tally.rate:.1f}")

    async def _post_progress(self, session: AsyncSession) -> int | None:
        for _ in range(10):
            try:
                async with self.sender.pacer.sending(self.composer_chat):
                    message = await self.sender.bot.send_message(self.composer_chat, self._progress_text(),
                                                                 parse_mode=ParseMode.HTML)
            except RetryAfter as error:
                self.sender.pacer.pause(_seconds(error))
                continue
            except TelegramError as error:
                log.info("broadcast run %s: no progress message (%s)", self.run_id, type(error).__name__)
                return None
            await broadcasts.set_progress_message(session, self.run_id, message.message_id)
            return message.message_id
        return None

    async def _edit_progress(self, text: str) -> None:
        if self.progress_id is None:
            return
        with contextlib.suppress(TelegramError):  # not modified, deleted, blocked: progress is a courtesy
            await self.sender.bot.edit_message_text(text, self.composer_chat, self.progress_id,
                                                    parse_mode=ParseMode.HTML)


class _Body(RequestData):
    """A JSON request body built by the caller (bot.http.AiohttpRequest posts json_payload as it is)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self._body = body

    @property
    def json_payload(self) -> bytes:
        return self._body


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after will become a timedelta: both are fine here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

