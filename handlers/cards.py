"""Case cards in unit inboxes: rendered from the officer view (which already hides what must stay hidden),
posted once per unit, edited in place as the case changes."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.i18n import t
from bot.services import case_views
from bot.services.categories import get_category
from bot.text import escape
from db.models import CaseCard, CaseStatus, Grievance, Member, Unit
from handlers import ui

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


async def current_card(session: AsyncSession, grievance: Grievance) -> CaseCard | None:
    """The card where the case is held now (the first one, for a case the admins hold)."""
    return await session.scalar(select(CaseCard).where(
        CaseCard.grievance_id == grievance.id,
        CaseCard.unit_id == grievance.unit_id if grievance.unit_id else CaseCard.unit_id.is_(None))
        .order_by(CaseCard.id).limit(1))


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
