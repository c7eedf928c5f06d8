"""/inbox in a unit's Telegram group: the group becomes where that unit's cases arrive."""

from __future__ import annotations

from telegram import Update

from bot.i18n import t
from bot.services import officers
from bot.text import escape
from db.models import Unit
from handlers import ui
from handlers.context import BotContext, current_member


async def register(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        return
    units = await officers.officer_units(context.db, member.id)
    if not units:
        await update.effective_message.reply_text(t(member.language, "inbox.not_officer"))
        return
    if len(units) > 1:
        rows = [[(unit.name, f"inbox:{unit.id}")] for unit in units]
        await update.effective_message.reply_text(t(member.language, "inbox.pick_unit"), reply_markup=ui.buttons(rows))
        return
    await _register(update, context, units[0])


async def picked(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    unit_id = update.callback_query.data.removeprefix("inbox:")
    unit = await context.db.get(Unit, int(unit_id)) if ui.is_id(unit_id) else None
    if member is None or unit is None:
        await ui.alert(update, context, t(member.language if member else "vi", "input.stale_button"))
        return
    await ui.acknowledge(update, context)
    await _register(update, context, unit)


async def _register(update: Update, context: BotContext, unit: Unit) -> None:
    member = await current_member(update, context)
    chat = update.effective_chat
    try:
        await officers.register_inbox(context.db, unit, chat.id, bool(chat.is_forum), member)
    except officers.InboxRejected as rejected:
        other = escape(rejected.unit.name) if rejected.unit else ""
        await chat.send_message(t(member.language, f"inbox.{rejected.problem.value}", unit=other))
        return
    await chat.send_message(t(member.language, "inbox.registered", unit=escape(unit.name)))
