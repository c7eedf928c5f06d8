"""Telling people that a case changed: the worker in their language and in the union unit's name, the
officers by their card in the unit's inbox, the admins when a case reaches nobody else.

Every function here runs after the change is committed: a message that cannot be delivered never
undoes the change, it is logged by case id and the card or the worker catches up on the next change.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.i18n import t
from bot.services import members, officers
from bot.services.categories import get_category
from bot.text import escape, split_message
from db.models import Grievance, Member, Unit
from handlers import cards

log = logging.getLogger(__name__)


def when(moment: datetime | None, tz: tzinfo) -> str:
    """A date and time as workers and officers read them: dd/mm/yyyy HH:MM, local time."""
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M") if moment else "—"


async def unit_name(session: AsyncSession, grievance: Grievance, language: str) -> str:
    """The name the worker sees for whoever holds the case (escaped for HTML)."""
    unit = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
    return escape(unit.name if unit else t(language, "case.union_admins"))


def category_name(grievance: Grievance, language: str) -> str:
    category = get_category(grievance.category)
    return escape(category.name(language) if category else grievance.category)


async def tell_worker(bot: Bot, session: AsyncSession, grievance: Grievance, key: str,
                      reply_markup: InlineKeyboardMarkup | None = None, **values: object) -> bool:
    """Send the worker a catalog text about their case. The text gets {code}, {unit} and {category} filled
    in besides `values`. Returns whether it was delivered; a worker who blocked the bot is marked so."""
    worker = await session.get(Member, grievance.member_id) if grievance.member_id else None
    if worker is None or worker.telegram_id is None:
        return False
    language = worker.language
    body = t(language, key, code=grievance.code, unit=await unit_name(session, grievance, language),
             category=category_name(grievance, language), **values)
    return await send_private(bot, session, worker.telegram_id, body, reply_markup, grievance_id=grievance.id)


async def send_private(bot: Bot, session: AsyncSession, chat_id: int, body: str,
                       reply_markup: InlineKeyboardMarkup | None = None, grievance_id: int | None = None) -> bool:
    parts = split_message(body)
    try:
        for index, part in enumerate(parts):
            markup = reply_markup if index == len(parts) - 1 else None
            await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup)
    except Forbidden:
        await members.mark_blocked(session, chat_id)
        log.info("case %s: recipient blocked the bot", grievance_id)
        return False
    except TelegramError as error:
        log.warning("case %s: message not delivered (%s)", grievance_id, type(error).__name__)
        return False
    return True


async def refresh_card(bot: Bot, session: AsyncSession, grievance: Grievance, tz: tzinfo,
                       admin_ids: list[int], arrived: bool = False) -> None:
    """Post or edit the case's card where it is held now (a new card when it has just arrived there); a
    failure is logged, never raised."""
    try:
        await cards.show_card(bot, session, grievance, tz, await officers.admin_telegram_ids(session, admin_ids),
                              arrived=arrived)
    except TelegramError as error:
        log.warning("case %s: card not updated (%s)", grievance.id, type(error).__name__)


async def new_case(bot: Bot, session: AsyncSession, grievance: Grievance, tz: tzinfo, admin_ids: list[int],
                   arrived: bool = False) -> None:
    """A case was just committed (or has just moved): its card goes to the holding unit's inbox (or to
    every admin)."""
    await refresh_card(bot, session, grievance, tz, admin_ids, arrived=arrived)
    if grievance.unit_id is None:
        await alert_admins(bot, session, admin_ids, "admin.case_without_inbox", code=grievance.code)


async def case_moved(bot: Bot, session: AsyncSession, grievance: Grievance, from_unit_id: int | None,
                     tz: tzinfo, admin_ids: list[int], worker_key: str = "case.worker_escalated") -> None:
    """After an escalation, transfer or reopening: the old cards are marked, a new card goes to the new
    holder, the worker is told (in the new unit's name, with the new deadline)."""
    try:
        await cards.mark_moved(bot, session, grievance, from_unit_id, tz)
    except TelegramError as error:
        log.warning("case %s: old card not marked (%s)", grievance.id, type(error).__name__)
    await new_case(bot, session, grievance, tz, admin_ids, arrived=True)
    await tell_worker(bot, session, grievance, worker_key, due=when(grievance.resolve_due_at, tz))


async def alert_admins(bot: Bot, session: AsyncSession, admin_ids: list[int], key: str, **values: object) -> None:
    """A short alert in each admin's private chat, in Vietnamese (the admins' working language)."""
    for chat_id in await officers.admin_telegram_ids(session, admin_ids):
        await send_private(bot, session, chat_id, t("vi", key, **values))


def worker_answer_button(grievance: Grievance, language: str) -> InlineKeyboardMarkup:
    """Under every union message to the worker: answer it (handled in handlers/worker_cases.py)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t(language, "case.answer_button"),
                                                       callback_data=f"wans:{grievance.id}")]])


async def relay_to_worker(bot: Bot, session: AsyncSession, grievance: Grievance, text: str,
                          asks_for_information: bool = False) -> bool:
    """An officer's words reach the worker in the unit's name, never the officer's, with an Answer button.
    The worker can also answer by replying to the message."""
    worker = await session.get(Member, grievance.member_id) if grievance.member_id else None
    if worker is None:
        return False
    key = "case.union_asks" if asks_for_information else "case.union_reply"
    return await tell_worker(bot, session, grievance, key, worker_answer_button(grievance, worker.language),
                             text=escape(text))


def outcome_buttons(grievance: Grievance, language: str) -> InlineKeyboardMarkup:
    """Was it resolved? Yes / Partly / No (handled in handlers/worker_cases.py)."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(t(language, f"case.outcome_{choice}"), callback_data=f"wout:{grievance.id}:{choice}")
        for choice in ("yes", "partly", "no")]])


async def resolved(bot: Bot, session: AsyncSession, grievance: Grievance, resolution: str) -> bool:
    """The union says it is resolved; the worker is asked whether it really was."""
    worker = await session.get(Member, grievance.member_id) if grievance.member_id else None
    if worker is None:
        return False
    return await tell_worker(bot, session, grievance, "case.worker_resolved",
                             outcome_buttons(grievance, worker.language), text=escape(resolution))


async def post_to_case_thread(bot: Bot, session: AsyncSession, grievance: Grievance, body: str) -> bool:
    """A message about the case (e.g. the worker's answer, already rendered for officers and escaped) in the
    holding unit's inbox, as a reply to the card (in the case's topic where the inbox is a forum)."""
    card = await cards.current_card(session, grievance)
    if card is None:
        return False
    try:
        for part in split_message(body):
            await bot.send_message(card.chat_id, part, parse_mode=ParseMode.HTML,
                                   message_thread_id=card.thread_id,
                                   reply_parameters=ReplyParameters(card.message_id, allow_sending_without_reply=True))
    except TelegramError as error:
        log.warning("case %s: thread message not delivered (%s)", grievance.id, type(error).__name__)
        return False
    return True


# ----- private messages that a later tick may send again (results, summaries) -----

class Delivery(Enum):
    """How one private message went, and what that means for its recipient's row."""

    SENT = "sent"
    REFUSED = "refused"  # blocked, deactivated, chat not found: retrying cannot help
    UNSURE = "unsure"  # timed out, or cut off after a first part: it may have arrived; no duplicate
    LATER = "later"  # a network error: nothing arrived, the next tick tries again
    FLOODED = "flooded"  # 429 after the rate limiter's retries: nothing arrived, stop the batch
    PART_FLOODED = "part_flooded"  # 429 after a first part arrived: settled, but stop the batch

    @property
    def settled(self) -> bool:
        """Mark the recipient done: a later tick must not send it again."""
        return self not in (Delivery.LATER, Delivery.FLOODED)

    @property
    def flooded(self) -> bool:
        return self in (Delivery.FLOODED, Delivery.PART_FLOODED)


class Batch:
    """What one pass over a list of recipients did."""

    def __init__(self) -> None:
        self.sent = 0
        self.flooded = False

    def add(self, outcome: Delivery) -> bool:
        """Count the outcome; True when the batch must stop."""
        self.sent += outcome is Delivery.SENT
        self.flooded = self.flooded or outcome.flooded
        return self.flooded


async def deliver(bot: Bot, session: AsyncSession, chat_id: int, body: str,
                  reply_markup: InlineKeyboardMarkup | None = None) -> Delivery:
    """Send a private message (split if long) and say how it went; never raises a Telegram error. A recipient
    who blocked the bot is marked so."""
    parts = split_message(body)
    arrived = 0
    try:
        for index, part in enumerate(parts):
            markup = reply_markup if index == len(parts) - 1 else None
            await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup)
            arrived += 1
    except RetryAfter:
        return Delivery.PART_FLOODED if arrived else Delivery.FLOODED
    except Forbidden:
        await members.mark_blocked(session, chat_id)
        return Delivery.REFUSED
    except BadRequest as error:  # before NetworkError: it is a subclass
        log.info("private message refused (%s)", type(error).__name__)
        return Delivery.REFUSED
    except TimedOut:  # before NetworkError: the request may have reached Telegram
        return Delivery.UNSURE
    except (NetworkError, TelegramError) as error:
        log.warning("private message not delivered (%s)", type(error).__name__)
        return Delivery.UNSURE if arrived else Delivery.LATER
    return Delivery.SENT
