"""Starting the bot: schema upgrade, then polling or webhook mode."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web
from telegram import BotCommand, Update
from telegram.ext import Application

from bot import CONTENT_DIR
from bot.app import build_application
from bot.config import Settings
from bot.i18n import t
from bot.services import library
from bot.webhook import make_webhook_app, webhook_path
from db.migrate import upgrade_database
from handlers import PRIVATE_COMMANDS, broadcast_jobs, contest_jobs, digest_jobs, sla_jobs, survey_jobs
from handlers.privacy import start_retention

log = logging.getLogger(__name__)


async def on_startup(application: Application) -> None:  # type: ignore[type-arg]
    """Publish the command menu in Vietnamese (default) and English; schedule the deadline check (the
    database holds what it acts on, so scheduling it again is all a restart needs)."""
    library.current()  # the content and search index, built now rather than at the first update
    for language in ("vi", "en"):
        commands = [BotCommand(name, t(language, f"commands.{name}")) for name in PRIVATE_COMMANDS]
        await application.bot.set_my_commands(commands, language_code=None if language == "vi" else language)
    sla_jobs.start(application)
    await contest_jobs.start(application)  # contest rounds open and close on schedule, rebuilt from the DB
    await survey_jobs.start(application)  # surveys close on time and summaries go out, rebuilt from the DB
    digest_jobs.start(application)  # Monday 08:00 digests; digest_log says which weeks went out
    await broadcast_jobs.start(application)  # broadcast timers and unfinished runs, rebuilt from the DB
    start_retention(application)  # daily: personal data of cases closed > RETENTION_DAYS erased


def run(settings: Settings) -> None:
    load_content_or_exit()
    asyncio.run(upgrade_database(settings.database_url))
    if settings.webhook_url:
        asyncio.run(serve_webhook(settings))
        return
    application = build_application(settings)
    application.post_init = on_startup
    log.info("polling Telegram at %s", settings.telegram_api_url)
    application.run_polling(allowed_updates=Update.ALL_TYPES)


def load_content_or_exit(content_dir: Path = CONTENT_DIR) -> None:
    """The library, the FAQ and the search index, loaded once; invalid content stops the start with one line."""
    try:
        library.ensure_loaded(content_dir)
    except library.ContentError as error:
        raise SystemExit(f"Cannot start: {error.one_line()}") from None


async def serve_webhook(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or _stop_on_signals()
    application = build_application(settings)
    assert settings.webhook_url and settings.webhook_secret
    await application.initialize()
    await on_startup(application)
    await application.start()
    runner = web.AppRunner(make_webhook_app(application, settings.webhook_secret, webhook_path(settings.webhook_url)))
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    await application.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                      allowed_updates=Update.ALL_TYPES, max_connections=40)
    log.info("webhook listening on %s", settings.webhook_listen)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await application.stop()
        await application.shutdown()
        await application.bot_data["engine"].dispose()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
