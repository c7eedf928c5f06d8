"""Small rendering helpers shared by the handler modules: keyboards, paging, safe replies."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest

from bot.i18n import LANGUAGES, t
from bot.text import split_message
from handlers.context import BotContext

MESSAGE_LIMIT = 4096

# Menu entries that exist today, as (catalog key, command). Later features add theirs here.
MAIN_MENU = (("menu.report", "report"), ("menu.mycases", "mycases"), ("menu.learn", "learn"), ("menu.quiz", "quiz"),
             ("menu.settings", "settings"), ("menu.help", "help"))


def main_menu(language: str) -> ReplyKeyboardMarkup:
    labels = [KeyboardButton(t(language, key)) for key, _ in MAIN_MENU]
    rows = [labels[i:i + 2] for i in range(0, len(labels), 2)]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True,
                               input_field_placeholder=t(language, "menu.placeholder"))


def menu_labels(key: str) -> list[str]:
    """The label of a menu entry in every language, for matching what the keyboard sends."""
    return [t(language, key) for language in LANGUAGES]


def buttons(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                 for row in rows])


def paged(items: Sequence[tuple[str, str]], page: int, per_page: int, page_prefix: str, language: str,
          columns: int = 2) -> list[list[tuple[str, str]]]:
    """Rows of item buttons for one page, then a ‹ n/N › row when there is more than one page."""
    pages = max(1, -(-len(items) // per_page))
    page = min(max(page, 0), pages - 1)
    chunk = items[page * per_page:(page + 1) * per_page]
    rows = [list(chunk[i:i + columns]) for i in range(0, len(chunk), columns)]
    if pages > 1:
        nav: list[tuple[str, str]] = []
        if page > 0:
            nav.append((t(language, "nav.previous"), f"{page_prefix}{page - 1}"))
        nav.append((f"{page + 1}/{pages}", f"{page_prefix}{page}"))
        if page < pages - 1:
            nav.append((t(language, "nav.next"), f"{page_prefix}{page + 1}"))
        rows.append(nav)
    return rows


async def send(update: Update, text: str, reply_markup: object = None) -> Message | None:
    """Reply in the update's chat, splitting text longer than Telegram allows."""
    chat = update.effective_chat
    if chat is None:
        return None
    parts = split_message(text)
    last: Message | None = None
    for index, part in enumerate(parts):
        markup = reply_markup if index == len(parts) - 1 else None
        last = await chat.send_message(part, reply_markup=markup)  # type: ignore[arg-type]
    return last


def note(context: BotContext, text: str) -> None:
    """A line (e.g. "Province: Hà Nội ✓") to put above the next question presented in this update."""
    context.scratch["lead"] = text


async def present(update: Update, context: BotContext, text: str, reply_markup: object = None) -> None:
    """Show the next question: after a button press, in place of the question that was answered
    (one edit instead of a new message: less clutter on small phones, half the API calls); otherwise
    as a new message. A reply keyboard cannot be attached by an edit, so it always comes as a new message."""
    lead = context.scratch.pop("lead", None)
    body = f"{lead}\n\n{text}" if lead else text
    query = update.callback_query
    if query is not None and not context.scratch.get("answered"):
        await acknowledge(update, context)
        inline = reply_markup if isinstance(reply_markup, InlineKeyboardMarkup) else None
        if await _edit(query, body if inline or reply_markup is None else (lead or text), inline):
            if reply_markup is None or inline is not None:
                return
            body = text
    await send(update, body, reply_markup)


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> bool:
    if utf16_length(text) > MESSAGE_LIMIT:
        return False
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest:
        return False  # too old to edit, or deleted: a new message will do
    return True


async def acknowledge(update: Update, context: BotContext) -> None:
    """Stop the button's spinner, once per update."""
    if update.callback_query is not None and not context.scratch.get("answered"):
        context.scratch["answered"] = True
        try:
            await update.callback_query.answer()
        except BadRequest:
            pass


async def alert(update: Update, context: BotContext, text: str) -> None:
    context.scratch["answered"] = True
    try:
        await update.callback_query.answer(text, show_alert=True)
    except BadRequest:
        pass


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def is_id(raw: str) -> bool:
    """Callback data is forgeable: "²".isdigit() is true but int() refuses it, and more than 9 digits
    overflow an INTEGER id. An id is 1–9 ASCII digits."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 9


def is_telegram_id(raw: str) -> bool:
    """A Telegram user id in callback data: ASCII digits, up to 15 (user ids have 52 significant bits; most
    are 10 digits today, so is_id's 9 would refuse them)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 15
