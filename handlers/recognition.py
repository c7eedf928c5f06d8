"""/recognition in a unit's inbox group: the month's most active members of the unit by emulation points,
for officers (of that unit or above, or admins). `/recognition 10/2026` shows another month."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CommandHandler, filters

from bot.i18n import t
from bot.services import recognition
from bot.text import escape
from db.types import utcnow
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member
from handlers.engagement import may_act_now


async def show(update: Update, context: BotContext) -> None:
    message = update.effective_message
    lang = INBOX_LANGUAGE
    member = await current_member(update, context)
    unit = await recognition.inbox_unit(context.db, message.chat_id)
    if member is None:
        raise ApplicationHandlerStop
    if unit is None:
        await message.reply_text(t(lang, "recognition.not_inbox"))
        raise ApplicationHandlerStop
    if not await may_act_now(context, member, unit.id):
        await message.reply_text(t(lang, "card.not_allowed"))
        raise ApplicationHandlerStop
    today = utcnow().astimezone(context.settings.tz).date()
    month = recognition.parse_month(" ".join(context.args or []), today)
    if month is None:
        await message.reply_text(t(lang, "recognition.bad_month"))
        raise ApplicationHandlerStop
    year, number = month
    rows = await recognition.monthly_list(context.db, unit, year, number, context.settings.tz)
    title = t(lang, "recognition.title", unit=escape(unit.name), month=f"{number:02d}/{year}")
    if not rows:
        await message.reply_text(title + "\n\n" + t(lang, "recognition.empty"))
        raise ApplicationHandlerStop
    lines = [t(lang, "recognition.row", rank=row.rank, points=row.points,
               name=escape(row.name) if row.name else t(lang, "recognition.alias", number=row.member_id))
             for row in rows]
    await message.reply_text("\n".join([title, "", *lines, "", t(lang, "recognition.footer")]))
    raise ApplicationHandlerStop


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [CommandHandler("recognition", show, filters=filters.ChatType.GROUPS & filters.UpdateType.MESSAGE)]
