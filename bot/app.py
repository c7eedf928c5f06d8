"""Application assembly: build_application(settings) -> a ready PTB Application."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.config import Settings
from bot.http import AiohttpRequest
from bot.persistence import SqlPersistence
from bot.services import pacing
from bot.updates import PerUserUpdateProcessor
from db.session import create_engine, create_session_factory
from handlers import register_handlers
from handlers.context import CURRENT_SCRATCH, CURRENT_SESSION, BotContext


class CongdoanApplication(Application):  # type: ignore[type-arg]
    """Opens one DB session around each update, so handlers never build sessions themselves."""

    async def process_update(self, update: object) -> None:
        factory: async_sessionmaker[AsyncSession] = self.bot_data["session_factory"]
        async with factory() as session:
            token = CURRENT_SESSION.set(session)
            scratch = CURRENT_SCRATCH.set({})
            try:
                await super().process_update(update)
            finally:
                CURRENT_SCRATCH.reset(scratch)
                CURRENT_SESSION.reset(token)


def build_application(settings: Settings, engine: AsyncEngine | None = None, *,
                      persistence_interval: float = 1.0) -> CongdoanApplication:
    engine = engine or create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    # Everything this bot sends counts here, so that broadcasts (handlers/broadcast_jobs.py) yield to it.
    send_window = pacing.SendWindow(pacing.ceiling(settings.paid_broadcast))
    builder = (
        ApplicationBuilder()
        .application_class(CongdoanApplication)
        .token(settings.bot_token or "")
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .context_types(ContextTypes(context=BotContext))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz))
        .persistence(SqlPersistence(session_factory, update_interval=persistence_interval))
        .concurrent_updates(PerUserUpdateProcessor(256))
        # Telegram allows ~20 messages a minute in a group; private replies are not throttled here,
        # broadcasts have their own paced sender. Retry a 429 a few times after its retry_after.
        .rate_limiter(AIORateLimiter(overall_max_rate=0, group_max_rate=20, group_time_period=60,
                                     max_retries=3))
        .request(AiohttpRequest(pool_size=16, pool_timeout=10, counter=send_window))
        .get_updates_request(AiohttpRequest(pool_size=1, read_timeout=10))
    )
    application: CongdoanApplication = builder.build()  # type: ignore[assignment]

    bot_data: dict[str, Any] = application.bot_data
    bot_data["settings"] = settings
    bot_data["engine"] = engine
    bot_data["session_factory"] = session_factory
    bot_data["send_window"] = send_window
    register_handlers(application)
    return application
