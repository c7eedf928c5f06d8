"""Whatever no feature handled: a short polite answer, and the conversation stays usable."""

from __future__ import annotations

import time

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


# Telegram lets a bot post about 20 messages a minute in a group, and the rate limiter makes each reply wait
# for its turn inside the update's handler: a flood of commands in one group (bench/fuzz.py found it) held
# every update slot and stalled the private chats too. The hint is given once a minute per group.
GROUP_HINT_EVERY = 60.0
_GROUP_HINTS = "group_hint_at"  # bot_data (kept in memory): chat id → time.monotonic() of the last hint


async def command_in_group(update: Update, context: BotContext) -> None:
    """Personal commands belong in the private chat; offer a button that opens it (once a minute per group)."""
    hints: dict[int, float] = context.application.bot_data.setdefault(_GROUP_HINTS, {})
    now, chat_id = time.monotonic(), update.effective_chat.id
    if now - hints.get(chat_id, now - GROUP_HINT_EVERY) < GROUP_HINT_EVERY:
        return
    if len(hints) > 10_000:
        hints.clear()
    hints[chat_id] = now
    language = await language_of(update, context)
    link = f"https://t.me/{context.bot.username}?start"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(t(language, "group.open_private"), url=link)]])
    await update.effective_message.reply_text(t(language, "group.private_only"), reply_markup=markup)
