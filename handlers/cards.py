"""Case cards in unit inboxes: rendered from the officer view (which already hides what must stay hidden),
posted once per unit, edited in place as the case changes."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.i18n import t
from bot.services import case_views
from bot.services.cases import OPEN_STATUSES
from bot.services.categories import get_category
from bot.services.intake import group_size_label
from bot.text import escape
from db.models import CaseCard, Grievance, Member, Unit
from handlers import ui

log = logging.getLogger(__name__)

PREVIEW_CHARACTERS = 600
INBOX_LANGUAGE = "vi"  # inbox groups are shared by a unit's officers: cards are in Vietnamese


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M") if moment else "—"


def card_text(view: case_views.OfficerView, holder: str | None, tz: tzinfo, language: str = INBOX_LANGUAGE) -> str:
    lang = language
    category = get_category(view.category)
    lines = [t(lang, "card.title", code=view.code, category=escape(category.name(lang) if category else view.category))]
    if view.urgent:
        lines.append(t(lang, "card.urgent"))
    scope = t(lang, "card.scope_group", size=escape(group_size_label(view.group_size) or "?")) \
        if view.scope == "group" else t(lang, "card.scope_individual")
    lines.append(t(lang, "card.scope", scope=scope, voices=view.voices))
    if view.workplace or view.province:
        lines.append(t(lang, "card.workplace", workplace=escape(view.workplace or "—"),
                       province=escape(view.province or "—")))
    lines.append(_reporter_line(view, lang))
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


def _reporter_line(view: case_views.OfficerView, lang: str) -> str:
    if view.reporter is None:
        return t(lang, f"card.identity_{view.identity}")
    parts = [escape(view.reporter.name or "—")]
    if view.reporter.username:
        parts.append("@" + escape(view.reporter.username))
    if view.reporter.phone:
        parts.append(escape(view.reporter.phone))
    return t(lang, "card.reporter", who=" · ".join(parts))


def card_buttons(grievance: Grievance, view: case_views.OfficerView | None = None,
                 language: str = INBOX_LANGUAGE) -> InlineKeyboardMarkup | None:
    """Every action on an open case; reading the full text and the attachments stays possible afterwards.
    Callback data: case:<action>:<case id> (at most 30 bytes); every press is checked again."""
    gid = grievance.id
    rows: list[list[tuple[str, str]]] = []
    if grievance.status in OPEN_STATUSES:
        if grievance.holder_member_id is None:
            rows.append([(t(language, "card.claim"), f"case:claim:{gid}")])
        rows += [[(t(language, "card.reply"), f"case:reply:{gid}"), (t(language, "card.ask"), f"case:ask:{gid}")],
                 [(t(language, "card.note"), f"case:note:{gid}"), (t(language, "card.resolve"), f"case:resolve:{gid}")]]
        moves = [(t(language, "card.transfer"), f"case:xfer:{gid}")]
        if grievance.unit_id is not None:  # the admins hold it: nobody is higher to escalate to
            moves.insert(0, (t(language, "card.escalate"), f"case:esc:{gid}"))
        rows.append(moves)
    reading = []
    if view is not None and len(view.text or "") > PREVIEW_CHARACTERS:
        reading.append((t(language, "card.full_text"), f"case:full:{gid}"))
    if view is not None and view.attachments:
        reading.append((t(language, "card.show_attachments", count=view.attachments), f"case:files:{gid}"))
    if reading:
        rows.append(reading)
    return ui.buttons(rows) if rows else None


def escalation_buttons(grievance: Grievance, language: str) -> InlineKeyboardMarkup:
    return ui.buttons([[(t(language, "card.escalate_confirm"), f"case:escok:{grievance.id}")],
                       [(t(language, "card.back"), f"case:back:{grievance.id}")]])


TRANSFER_PAGE = 6


def transfer_buttons(grievance: Grievance, targets: list[Unit], page: int, language: str) -> InlineKeyboardMarkup:
    """One unit per row (names are long), paged; callback data case:xt:<case>:<unit> / case:xp:<case>:<page>."""
    pages = max(1, -(-len(targets) // TRANSFER_PAGE))
    page = min(max(page, 0), pages - 1)
    chunk = targets[page * TRANSFER_PAGE:(page + 1) * TRANSFER_PAGE]
    rows = [[(unit.name, f"case:xt:{grievance.id}:{unit.id}")] for unit in chunk]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append((t(language, "nav.previous"), f"case:xp:{grievance.id}:{page - 1}"))
        nav.append((f"{page + 1}/{pages}", f"case:xp:{grievance.id}:{page}"))
        if page < pages - 1:
            nav.append((t(language, "nav.next"), f"case:xp:{grievance.id}:{page + 1}"))
        rows.append(nav)
    rows.append([(t(language, "card.back"), f"case:back:{grievance.id}")])
    return ui.buttons(rows)


async def holder_name(session: AsyncSession, grievance: Grievance, language: str = INBOX_LANGUAGE) -> str | None:
    if grievance.holder_member_id is None:
        return None
    holder = await session.get(Member, grievance.holder_member_id)
    return " ".join(p for p in (holder.first_name, holder.last_name) if p) or t(language, "card.an_officer")


async def show_card(bot: Bot, session: AsyncSession, grievance: Grievance, tz: tzinfo,
                    admin_ids: list[int] | None = None, arrived: bool = False) -> None:
    """Edit the case's live card where it is held, or post one there. A case the admins hold (no unit on
    the worker's path has an inbox) gets a card in each admin's private chat.

    arrived: the case has just moved here. A card it left behind here earlier stays as it was marked and
    a new card is posted, which the record then points to: officers are notified of new messages, never of
    edits far up in the chat."""
    unit = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
    if unit is not None and unit.inbox_chat_id is None:
        return
    view = await case_views.officer_view(session, grievance, unit.level if unit else None)
    text = card_text(view, await holder_name(session, grievance), tz)
    markup = card_buttons(grievance, view)
    posted = list(await session.scalars(select(CaseCard).where(
        CaseCard.grievance_id == grievance.id,
        CaseCard.unit_id == unit.id if unit else CaseCard.unit_id.is_(None)).order_by(CaseCard.id)))
    if unit is not None:  # one card per unit; after /inbox moved to another group, the card follows it
        live = posted[-1] if posted else None
        if live is not None and live.chat_id == unit.inbox_chat_id and not arrived:
            await _edit_card(bot, live, text, markup)
        else:
            await _post_card(bot, session, grievance, unit, unit.inbox_chat_id, unit.inbox_is_forum, text, markup,
                             live)
        return
    latest = {card.chat_id: card for card in posted}  # one card per admin
    for chat_id in admin_ids or []:
        live = latest.get(chat_id)
        if live is not None and not arrived:
            await _edit_card(bot, live, text, markup)
            continue
        try:
            await _post_card(bot, session, grievance, None, chat_id, False, text, markup, live)
        except TelegramError as error:  # one admin who never started the bot must not keep it from the others
            log.warning("case %s: card not posted to an admin (%s)", grievance.id, type(error).__name__)


async def _edit_card(bot: Bot, card: CaseCard, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await bot.edit_message_text(text, card.chat_id, card.message_id, parse_mode=ParseMode.HTML,
                                    reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise


async def _post_card(bot: Bot, session: AsyncSession, grievance: Grievance, unit: Unit | None, chat_id: int,
                     is_forum: bool, text: str, markup: InlineKeyboardMarkup | None,
                     replacing: CaseCard | None = None) -> None:
    """Post a card and record it; `replacing`: the unit's (or that admin's) earlier card, whose record now
    points to the new message (back in the same forum, in the case's own topic)."""
    thread_id = replacing.thread_id if replacing is not None and replacing.chat_id == chat_id else None
    if is_forum and thread_id is None:
        thread_id = (await bot.create_forum_topic(chat_id, grievance.code)).message_thread_id
    message = await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                     message_thread_id=thread_id)
    if replacing is None:
        session.add(CaseCard(grievance_id=grievance.id, unit_id=unit.id if unit else None, chat_id=chat_id,
                             message_id=message.message_id, thread_id=thread_id))
    else:
        replacing.chat_id, replacing.message_id, replacing.thread_id = chat_id, message.message_id, thread_id
    await session.commit()


async def current_card(session: AsyncSession, grievance: Grievance) -> CaseCard | None:
    """The card where the case is held now (the last admin card, for a case the admins hold)."""
    return await session.scalar(select(CaseCard).where(
        CaseCard.grievance_id == grievance.id,
        CaseCard.unit_id == grievance.unit_id if grievance.unit_id else CaseCard.unit_id.is_(None))
        .order_by(CaseCard.id.desc()).limit(1))


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


async def card_at(session: AsyncSession, chat_id: int, message_id: int) -> CaseCard | None:
    """The card that message is, if it is one."""
    return await session.scalar(select(CaseCard).where(CaseCard.chat_id == chat_id, CaseCard.message_id == message_id))
