"""/menu, /help and /cancel: available in every state, from commands and from the menu keyboard."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.i18n import t
from handlers import ui
from handlers.context import BotContext, current_member, language_of


async def show_menu(update: Update, context: BotContext) -> int:
    language = await language_of(update, context)
    await ui.send(update, t(language, "menu.title"), ui.main_menu(language))
    return ConversationHandler.END


async def show_help(update: Update, context: BotContext) -> None:
    """Help keeps the current step: returning None leaves a conversation where it was."""
    language = await language_of(update, context)
    member = await current_member(update, context)
    key = "help.text" if member is None or member.has_consent else "help.text_no_consent"
    await ui.send(update, t(language, key), ui.main_menu(language))


async def cancel(update: Update, context: BotContext) -> int:
    language = await language_of(update, context)
    context.user_data.clear()
    await ui.send(update, t(language, "cancel.done"), ui.main_menu(language))
    return ConversationHandler.END
