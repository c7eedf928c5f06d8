"""The gate before every handler (group -10), for private chats: a muted account gets one short polite
answer and nothing else; a burst of messages from one person gets one "please slow down" and the rest
is dropped for a while. Both live in memory (see bot/services/limits.py for why that is enough)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.i18n import normalise_language, t
from bot.services import limits
from handlers.context import BotContext

log = logging.getLogger(__name__)

GATE_GROUP = -10
BURST_KEY, MUTES_KEY = "burst_limiter", "mute_cache"


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [TypeHandler(Update, gate)]


def burst_limiter(application: Application) -> limits.BurstLimiter:  # type: ignore[type-arg]
    return application.bot_data.setdefault(BURST_KEY, limits.BurstLimiter())


def mute_cache(application: Application) -> limits.MuteCache:  # type: ignore[type-arg]
    return application.bot_data.setdefault(MUTES_KEY, limits.MuteCache())


async def gate(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    language = normalise_language(user.language_code)  # no database read for a dropped update
    mutes = mute_cache(context.application)
    if mutes.stale():
        mutes.load(await limits.muted_ids(context.db))
    if user.id in mutes.ids:
        if mutes.first_time(user.id):
            await _answer(update, t(language, "limits.muted"))
        raise ApplicationHandlerStop
    if update.message is None and update.edited_message is None:
        return  # button presses answer the bot's own questions; typed messages are what floods
    verdict = burst_limiter(context.application).check(user.id)
    if verdict == "warn":
        log.info("user %s: burst, slowed down", user.id)
        await _answer(update, t(language, "limits.slow_down"))
    if verdict != "ok":
        raise ApplicationHandlerStop


async def _answer(update: Update, text: str) -> None:
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await update.effective_chat.send_message(text)
    except TelegramError as error:
        log.info("limit answer not delivered (%s)", type(error).__name__)
