"""Case cards in unit inboxes: rendered from the officer view (which already hides what must stay hidden),
posted once per unit, edited in place as the case changes."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.i18n import t
from bot.services import case_views, cases, officers
from bot.services.categories import get_category
from bot.text import escape, nfc, split_message
from db.models import CaseCard, CaseStatus, Grievance, Member, Unit
from db.types import utcnow
from handlers import ui
from handlers.context import BotContext, current_member

PREVIEW_CHARACTERS = 600
INBOX_LANGUAGE = "vi"  # inbox groups are shared by a unit's officers: cards are in Vietnamese


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M") if moment else "—"


def card_text(view: case_views.OfficerView, holder: str | None, tz: tzinfo) -> str:
    lang = INBOX_LANGUAGE
    category = get_category(view.category)
    lines = [t(lang, "card.title", code=view.code, category=escape(category.name(lang) if category else view.category))]
    if view.urgent:
        lines.append(t(lang, "card.urgent"))
    scope = t(lang, "card.scope_group", size=view.group_size or "?") if view.scope == "group" else t(lang, "card.scope_individual")
    lines.append(t(lang, "card.scope", scope=scope, voices=view.voices))
    if view.workplace or view.province:
        lines.append(t(lang, "card.workplace", workplace=escape(view.workplace or "—"),
                       province=escape(view.province or "—")))
    lines.append(_reporter_line(view))
    text = view.text or ""
    preview = text if len(text) <= PREVIEW_CHARACTERS else text[:PREVIEW_CHARACTERS] + "…"
    lines.append(t(lang, "card.text", text=escape(preview)))
    if view.attachments:
        lines.append(t(lang, "card.attachments", count=view.attachments))
    lines.append(t(lang, f"card.status_{view.status.value}"))
    if holder:
        lines.append(t(lang, "card.holder", officer=escape(holder)))
    lines.append(t(lang, "card.deadlines", acknowledge=_when(view.acknowledge_due_at, tz),
                   resolve=_when(view.resolve_due_at, tz)))
    return "\n".join(lines)


def _reporter_line(view: case_views.OfficerView) -> str:
    lang = INBOX_LANGUAGE
    if view.reporter is None:
        return t(lang, f"card.identity_{view.identity}")
    parts = [escape(view.reporter.name or "—")]
    if view.reporter.username:
        parts.append("@" + escape(view.reporter.username))
    if view.reporter.phone:
        parts.append(escape(view.reporter.phone))
    return t(lang, "card.reporter", who=" · ".join(parts))


def card_buttons(grievance: Grievance) -> InlineKeyboardMarkup | None:
    if grievance.status not in (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED, CaseStatus.WAITING_WORKER):
        return None
    rows = []
    if grievance.holder_member_id is None:
        rows.append([(t(INBOX_LANGUAGE, "card.claim"), f"case:claim:{grievance.id}")])
    return ui.buttons(rows) if rows else None


async def _holder_name(session: AsyncSession, grievance: Grievance) -> str | None:
    if grievance.holder_member_id is None:
        return None
    holder = await session.get(Member, grievance.holder_member_id)
    return " ".join(p for p in (holder.first_name, holder.last_name) if p) or t(INBOX_LANGUAGE, "card.an_officer")


async def show_card(bot: Bot, session: AsyncSession, grievance: Grievance, tz: tzinfo,
                    admin_ids: list[int] | None = None) -> None:
    """Post the card where the case is held, or edit it there if it is already posted. A case the admins
    hold (no unit on the worker's path has an inbox) gets a card in each admin's private chat."""
    unit = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
    if unit is not None and unit.inbox_chat_id is None:
        return
    view = await case_views.officer_view(session, grievance, unit.level if unit else None)
    text = card_text(view, await _holder_name(session, grievance), tz)
    markup = card_buttons(grievance)
    posted = list(await session.scalars(select(CaseCard).where(
        CaseCard.grievance_id == grievance.id,
        CaseCard.unit_id == unit.id if unit else CaseCard.unit_id.is_(None))))
    for card in posted:
        await _edit_card(bot, card, text, markup)
    if unit is not None:
        targets = [] if posted else [(unit.inbox_chat_id, unit.inbox_is_forum)]
    else:
        already = {card.chat_id for card in posted}
        targets = [(chat_id, False) for chat_id in admin_ids or [] if chat_id not in already]
    for chat_id, is_forum in targets:
        await _post_card(bot, session, grievance, unit, chat_id, is_forum, text, markup)


async def _edit_card(bot: Bot, card: CaseCard, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await bot.edit_message_text(text, card.chat_id, card.message_id, parse_mode=ParseMode.HTML,
                                    reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise


async def _post_card(bot: Bot, session: AsyncSession, grievance: Grievance, unit: Unit | None, chat_id: int,
                     is_forum: bool, text: str, markup: InlineKeyboardMarkup | None) -> None:
    thread_id = None
    if is_forum:
        thread_id = (await bot.create_forum_topic(chat_id, grievance.code)).message_thread_id
    message = await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                     message_thread_id=thread_id)
    session.add(CaseCard(grievance_id=grievance.id, unit_id=unit.id if unit else None, chat_id=chat_id,
                         message_id=message.message_id, thread_id=thread_id))
    await session.commit()


async def mark_moved(bot: Bot, session: AsyncSession, grievance: Grievance, from_unit_id: int | None,
                     tz: tzinfo) -> None:
    """The cards left behind in the unit a case moved away from: marked, buttons gone."""
    source = await session.get(Unit, from_unit_id) if from_unit_id else None
    target = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
    view = await case_views.officer_view(session, grievance, source.level if source else None)
    text = card_text(view, None, tz) + "\n" + t(INBOX_LANGUAGE, "card.moved_to", unit=escape(
        target.name if target else t(INBOX_LANGUAGE, "case.union_admins")))
    cards = await session.scalars(select(CaseCard).where(
        CaseCard.grievance_id == grievance.id,
        CaseCard.unit_id == from_unit_id if from_unit_id else CaseCard.unit_id.is_(None)))
    for card in cards:
        try:
            await _edit_card(bot, card, text, None)
        except TelegramError:
            pass  # deleted or too old: the new card is what matters


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
    try:
        await show_card(context.bot, context.db, grievance, context.settings.tz)
    except TelegramError:
        pass  # the claim is stored; the card catches up on the next change


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
    delivered = await _relay_to_worker(context, grievance, text)
    await message.reply_text(t(INBOX_LANGUAGE, "card.reply_sent" if delivered else "card.reply_not_delivered"))
    try:
        await show_card(context.bot, context.db, grievance, context.settings.tz)
    except TelegramError:
        pass  # stored already; the card catches up on the next change


async def _relay_to_worker(context: BotContext, grievance: Grievance, text: str) -> bool:
    worker = await context.db.get(Member, grievance.member_id) if grievance.member_id else None
    unit = await context.db.get(Unit, grievance.unit_id) if grievance.unit_id else None
    if worker is None or worker.telegram_id is None:
        return False
    sender = unit.name if unit else t(worker.language, "case.union_admins")
    body = t(worker.language, "case.union_reply", code=grievance.code, unit=escape(sender), text=escape(text))
    try:
        for part in split_message(body):
            await context.bot.send_message(worker.telegram_id, part, parse_mode=ParseMode.HTML)
    except TelegramError:
        return False
    return True
