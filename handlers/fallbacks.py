"""Whatever no feature handled: a short polite answer, and the conversation stays usable."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.i18n import t
from handlers import ui
from handlers.context import BotContext, language_of


async def stale_button(update: Update, context: BotContext) -> None:
    language = await language_of(update, context)
    await ui.alert(update, context, t(language, "input.stale_button"))


async def unknown_text(update: Update, context: BotContext) -> None:
    language = await language_of(update, context)
    await ui.send(update, t(language, "input.not_understood"), ui.main_menu(language))


async def unknown_command(update: Update, context: BotContext) -> None:
    language = await language_of(update, context)
    await ui.send(update, t(language, "input.unknown_command"), ui.main_menu(language))


async def unexpected_media(update: Update, context: BotContext) -> None:
    language = await language_of(update, context)
    await ui.send(update, t(language, "input.unexpected_media"), ui.main_menu(language))


async def command_in_group(update: Update, context: BotContext) -> None:
    """Personal commands belong in the private chat; offer a button that opens it."""
    language = await language_of(update, context)
    link = f"https://t.me/{context.bot.username}?start"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(t(language, "group.open_private"), url=link)]])
    await update.effective_message.reply_text(t(language, "group.private_only"), reply_markup=markup)
