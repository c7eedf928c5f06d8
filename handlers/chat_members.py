"""The bot's own membership in groups (my_chat_member updates). Removed from (or left) a unit's inbox
group: the unit is marked without inbox; each of its open cases, ideas, nominations and join requests goes
up to the nearest unit above with an inbox (the admins when there is none) with a fresh card there; each
author who can be reached is told in the new unit's name (an anonymous idea's author too: only they get
it); and the admins are told what moved and which cases stayed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import ChatMember, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, ChatMemberHandler

from bot.i18n import t
from bot.services import admin_units, cases, examples, ideas, joining, officers
from bot.services.engagement import Rehomed
from bot.text import escape
from db.models import ExampleNomination, Grievance, Idea, JoinRequest, Member, Unit
from db.types import utcnow
from handlers import engagement, notify
from handlers import examples as example_cards
from handlers import ideas as idea_cards
from handlers import joining as join_cards
from handlers.context import BotContext

log = logging.getLogger(__name__)

GONE = (ChatMember.LEFT, ChatMember.BANNED)
SYSTEM = "system"
ALERT_LANGUAGE = "vi"  # the admins' working language, as notify.alert_admins

Move = Callable[[Any, Unit, str], Awaitable[Rehomed]]
CardText = Callable[[BotContext, Any], Awaitable[str]]
CardButtons = Callable[[Any], InlineKeyboardMarkup | None]
# Who hears that an item moved: (the member to tell, catalog key, values besides {unit}), as each kind
# already tells its author of a decision.
Told = Callable[[Any], tuple[int | None, str, dict[str, str]]]


def _idea_told(idea: Idea) -> tuple[int | None, str, dict[str, str]]:
    return idea.member_id, "inbox_loss.idea_moved", {"code": idea.code, "title": escape(idea.title)}


def _nomination_told(nomination: ExampleNomination) -> tuple[int | None, str, dict[str, str]]:
    return nomination.member_id, "inbox_loss.nomination_moved", {"nominee": escape(nomination.nominee)}


def _join_told(request: JoinRequest) -> tuple[int | None, str, dict[str, str]]:
    return request.member_id, "inbox_loss.join_moved", {}


# Each kind of engagement item a unit receives: how its open items move up, its own card, and whom to tell.
ITEM_KINDS: tuple[tuple[Move, CardText, CardButtons, Told], ...] = (
    (ideas.move_open, idea_cards.card_text, idea_cards.card_buttons, _idea_told),
    (examples.move_open, example_cards.card_text, example_cards.card_buttons, _nomination_told),
    (joining.move_open, join_cards.card_text, join_cards.card_buttons, _join_told),
)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [ChatMemberHandler(on_my_membership, ChatMemberHandler.MY_CHAT_MEMBER)]


async def on_my_membership(update: Update, context: BotContext) -> None:
    change = update.my_chat_member
    if change.new_chat_member.status in GONE and change.old_chat_member.status not in GONE:
        await inbox_gone(context, change.chat.id)
    raise ApplicationHandlerStop


async def inbox_gone(context: BotContext, chat_id: int) -> None:
    lost = await admin_units.lose_inbox(context.db, chat_id, SYSTEM)  # committed
    if lost is None:
        return
    unit, open_ids = lost
    log.info("unit %s lost its inbox; %s open case(s) to move", unit.code, len(open_ids))
    moved, stayed = await _move_cases(context, open_ids)
    rehomed = [await _move_items(context, unit, *kind) for kind in ITEM_KINDS]
    text = alert_text(unit, moved, stayed, rehomed)
    for admin_chat in await officers.admin_telegram_ids(context.db, context.settings.admin_ids):
        await notify.send_private(context.bot, context.db, admin_chat, text)


async def _move_cases(context: BotContext, open_ids: list[int]) -> tuple[int, list[str]]:
    """Each open case up, as an escalation. Returns how many moved and the codes of those that could not."""
    settings = context.settings
    moved, stayed = 0, []
    for grievance_id in open_ids:
        grievance = await context.db.get_one(Grievance, grievance_id)
        try:
            result = await cases.escalate(context.db, grievance, SYSTEM, utcnow(), settings.tz, "inbox_lost")
        except cases.CaseRefused as refused:
            log.info("case %s not moved (%s)", grievance_id, refused.reason)
            stayed.append(grievance.code)
            continue
        moved += 1
        await notify.case_moved(context.bot, context.db, grievance, result.from_unit_id, settings.tz,
                                settings.admin_ids)
    return moved, stayed


async def _move_items(context: BotContext, unit: Unit, move: Move, card_text: CardText,
                      card_buttons: CardButtons, told: Told) -> Rehomed:
    """The unit's open items of one kind go up (committed), each with a fresh card where it arrives, and
    its author is told."""
    rehomed = await move(context.db, unit, SYSTEM)
    if rehomed.items:
        log.info("unit %s: %s open %s item(s) moved", unit.code, len(rehomed.items), rehomed.kind)
    for item in rehomed.items:
        await engagement.post_cards(context, rehomed.kind, item.id, rehomed.unit, await card_text(context, item),
                                    card_buttons(item))
        await _tell_author(context, rehomed.unit, *told(item))
    return rehomed


async def _tell_author(context: BotContext, to: Unit | None, member_id: int | None, key: str,
                       values: dict[str, str]) -> None:
    """One short message in the author's language, in the new unit's name, never an officer's; only the
    author receives it, so an anonymous author stays unknown to the officers."""
    author = await context.db.get(Member, member_id) if member_id else None
    if author is None or author.telegram_id is None:
        return
    where = escape(to.name) if to else t(author.language, "case.union_admins")
    await notify.send_private(context.bot, context.db, author.telegram_id,
                              t(author.language, key, unit=where, **values))


def alert_text(unit: Unit, moved: int, stayed: Sequence[str], rehomed: Sequence[Rehomed]) -> str:
    """The admins' alert: the loss and the cases moved, then the engagement items moved (counts per kind,
    and where), then the cases that stayed (their codes only)."""
    lang = ALERT_LANGUAGE
    lines = [t(lang, "units.inbox_lost", unit=escape(unit.name), code=escape(unit.code), moved=moved)]
    counts = {item.kind: len(item.items) for item in rehomed}
    went = next((item for item in rehomed if item.items), None)
    if went is not None:
        where = escape(went.unit.name) if went.unit else t(lang, "case.union_admins")
        lines.append(t(lang, "inbox_loss.items_moved", to=where, ideas=counts.get(ideas.KIND, 0),
                       nominations=counts.get(examples.KIND, 0), joins=counts.get(joining.KIND, 0)))
    if stayed:
        lines.append(t(lang, "inbox_loss.cases_stayed", count=len(stayed),
                       codes=", ".join(escape(code) for code in stayed)))
    return "\n\n".join(lines)
