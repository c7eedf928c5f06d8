"""The error handler: log ids and the exception (never message text), tell the user without details."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError

from bot.i18n import normalise_language, t
from bot.services import members
from handlers.context import BotContext

log = logging.getLogger("congdoan.errors")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    await _abandon_transaction(context)
    if isinstance(error, Forbidden) and isinstance(update, Update) and update.effective_user:
        await _mark_blocked(context, update.effective_user.id)
        log.info("update %s: user blocked the bot", update_id)
        return
    if isinstance(error, NetworkError | RetryAfter) and not isinstance(update, Update):
        log.warning("network trouble outside an update: %s", type(error).__name__)
        return
    log.error("update %s failed: %s", update_id, type(error).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        await _apologise(update, context)


async def _abandon_transaction(context: BotContext) -> None:
    """Roll back what the failed handler left half-written, releasing its locks before anything else."""
    try:
        await context.db.rollback()
    except LookupError:
        pass  # not inside an update (a job or the fetcher failed)
    except Exception:  # noqa: BLE001 - a broken connection is closed with the session anyway
        log.debug("rollback after an error failed")


async def _apologise(update: Update, context: BotContext) -> None:
    user = update.effective_user
    language = normalise_language(user.language_code if user else None)
    try:
        member = await members.find_member(context.db, user.id) if user else None
        language = member.language if member else language
    except Exception:  # noqa: BLE001 - the session itself may be what failed
        log.debug("could not load the member's language for the apology")
    try:
        await context.bot.send_message(update.effective_chat.id, t(language, "error.generic"))
    except TelegramError:
        log.warning("update %s: could not tell the user about the error", update.update_id)


async def _mark_blocked(context: BotContext, telegram_id: int) -> None:
    factory = context.application.bot_data["session_factory"]
    async with factory() as session:
        await members.mark_blocked(session, telegram_id)
