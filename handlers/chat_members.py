"""The bot's own membership in groups (my_chat_member updates). Removed from (or left) a unit's inbox
group: the unit is marked without inbox, each of its open cases goes up to the nearest unit above with
an inbox (the admins when there is none), and the admins are told."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, ChatMemberHandler

from bot.services import admin_units, cases
from bot.text import escape
from db.models import Grievance
from db.types import utcnow
from handlers import notify
from handlers.context import BotContext

log = logging.getLogger(__name__)

GONE = (ChatMember.LEFT, ChatMember.BANNED)
SYSTEM = "system"


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [ChatMemberHandler(on_my_membership, ChatMemberHandler.MY_CHAT_MEMBER)]


async def on_my_membership(update: Update, context: BotContext) -> None:
    change = update.my_chat_member
    if change.new_chat_member.status in GONE and change.old_chat_member.status not in GONE:
        await inbox_gone(context, change.chat.id)
    raise ApplicationHandlerStop


async def inbox_gone(context: BotContext, chat_id: int) -> None:
    settings = context.settings
    lost = await admin_units.lose_inbox(context.db, chat_id, SYSTEM)  # committed
    if lost is None:
        return
    unit, open_ids = lost
    log.info("unit %s lost its inbox; %s open case(s) to move", unit.code, len(open_ids))
    moved = 0
    for grievance_id in open_ids:
        grievance = await context.db.get_one(Grievance, grievance_id)
        try:
            result = await cases.escalate(context.db, grievance, SYSTEM, utcnow(), settings.tz, "inbox_lost")
        except cases.CaseRefused as refused:
            log.info("case %s not moved (%s)", grievance_id, refused.reason)
            continue
        moved += 1
        await notify.case_moved(context.bot, context.db, grievance, result.from_unit_id, settings.tz,
                                settings.admin_ids)
    await notify.alert_admins(context.bot, context.db, settings.admin_ids, "units.inbox_lost",
                              unit=escape(unit.name), code=escape(unit.code), moved=moved)
