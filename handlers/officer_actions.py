"""What officers do with a case from its card: claim it, answer it by replying to the card."""

from __future__ import annotations

from sqlalchemy import select
from telegram import Update

from bot.i18n import t
from bot.services import cases, officers
from bot.text import nfc
from db.models import CaseCard, Grievance
from db.types import utcnow
from handlers import notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member


async def on_claim(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    raw = update.callback_query.data.removeprefix("case:claim:")
    grievance = await context.db.get(Grievance, int(raw)) if raw.isdigit() else None
    if member is None or grievance is None:
        await ui.alert(update, context, t(INBOX_LANGUAGE, "input.stale_button"))
        return
    is_admin = await officers.is_admin(context.db, member.telegram_id, context.settings.admin_ids)
    if not await cases.can_act(context.db, member, grievance, is_admin) or not await _card_is_current(
            context, grievance, update):
        await ui.alert(update, context, t(member.language, "card.not_allowed"))
        return
    try:
        await cases.claim(context.db, grievance, member, utcnow())
    except cases.CaseRefused as refused:
        await ui.alert(update, context, t(member.language, f"card.refused_{refused.reason}"))
        return
    await ui.acknowledge(update, context)
    await notify.refresh_card(context.bot, context.db, grievance, context.settings.tz, context.settings.admin_ids)


async def _card_is_current(context: BotContext, grievance: Grievance, update: Update) -> bool:
    """A press on a card left behind in a unit the case has moved away from changes nothing."""
    message = update.callback_query.message
    if message is None:
        return False
    card = await context.db.scalar(select(CaseCard).where(CaseCard.chat_id == message.chat.id,
                                                          CaseCard.message_id == message.message_id))
    return card is not None and card.grievance_id == grievance.id and card.unit_id == grievance.unit_id


REPLY_LIMIT = 3000


async def on_reply_to_card(update: Update, context: BotContext) -> None:
    """An officer answers a case by replying to its card; the worker gets it in the unit's name."""
    message = update.effective_message
    card = await context.db.scalar(select(CaseCard).where(CaseCard.chat_id == message.chat_id,
                                                          CaseCard.message_id == message.reply_to_message.message_id))
    if card is None:
        return  # an ordinary conversation in the group
    member = await current_member(update, context)
    grievance = await context.db.get(Grievance, card.grievance_id)
    is_admin = await officers.is_admin(context.db, member.telegram_id, context.settings.admin_ids)
    if card.unit_id != grievance.unit_id or not await cases.can_act(context.db, member, grievance, is_admin):
        await message.reply_text(t(INBOX_LANGUAGE, "card.not_allowed"))
        return
    text = nfc(message.text)
    if len(text) > REPLY_LIMIT:
        await message.reply_text(t(INBOX_LANGUAGE, "input.too_long", limit=REPLY_LIMIT))
        return
    try:
        await cases.reply(context.db, grievance, member, text, utcnow())
    except cases.CaseRefused as refused:
        await message.reply_text(t(INBOX_LANGUAGE, f"card.refused_{refused.reason}"))
        return
    delivered = await notify.relay_to_worker(context.bot, context.db, grievance, text)
    await message.reply_text(t(INBOX_LANGUAGE, "card.reply_sent" if delivered else "card.reply_not_delivered"))
    await notify.refresh_card(context.bot, context.db, grievance, context.settings.tz, context.settings.admin_ids)
