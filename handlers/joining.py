"""Joining the union. The worker: /join (not in the menu), the button at the end of onboarding for
non-members, or the one in /settings; one tap agrees to share their name and contact with the receiving
unit and sends the request. Officers: the card in their inbox, with Contacted, Joined and Not now.

Registered in group -3: each handler stops the update when it acts (see handlers/__init__.py).
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import t
from bot.services import joining
from bot.services.engagement import Refused
from bot.text import escape
from db.models import JoinRequest, JoinStatus, Member, Unit
from db.types import utcnow
from handlers import engagement, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

ASK = "join:ask"
BUTTON_STATUS = {"contacted": JoinStatus.CONTACTED, "joined": JoinStatus.JOINED, "notnow": JoinStatus.NOT_NOW}


def join_button(language: str) -> InlineKeyboardMarkup:
    """The button offered at the end of onboarding and in /settings to members who are not in the union."""
    return ui.buttons([[(t(language, "join.button"), ASK)]])


# ----- the worker -----

async def offer(update: Update, context: BotContext) -> None:
    """/join or the Join button: say where the request goes and what is shared; one tap sends it."""
    member = await current_member(update, context)
    if member is None:
        return
    language = member.language
    reason = joining.may_ask(member)
    if reason is not None:
        await ui.present(update, context, t(language, f"join.refused_{reason}"))
        raise ApplicationHandlerStop
    pending = await joining.pending_request(context.db, member)
    if pending is not None:
        await ui.present(update, context, t(language, "join.already_pending", unit=await _unit_name(
            context, pending.unit_id, language), date=notify.when(pending.created_at, context.settings.tz)[:10]))
        raise ApplicationHandlerStop
    where = await joining.where_it_goes(context.db, member)
    unit = escape(where.unit.name) if where.unit else t(language, "case.union_admins")
    shared = [t(language, "join.share_name")]
    if member.username:
        shared.append(t(language, "join.share_username"))
    if member.phone:
        shared.append(t(language, "join.share_phone"))
    rows = [[(t(language, "join.agree_send"), "join:send")], [(t(language, "join.not_now"), "join:cancel")]]
    await ui.present(update, context, t(language, "join.offer", unit=unit, shared=", ".join(shared)),
                     ui.buttons(rows))
    raise ApplicationHandlerStop


async def on_worker_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        return
    choice = update.callback_query.data.removeprefix("join:")
    if choice == "cancel":
        await ui.present(update, context, t(member.language, "join.cancelled"))
        raise ApplicationHandlerStop
    if choice != "send":
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        raise ApplicationHandlerStop
    try:
        requested = await joining.request_to_join(context.db, member, utcnow())
    except Refused as refused:
        await ui.present(update, context, t(member.language, f"join.refused_{refused.reason}"))
        raise ApplicationHandlerStop from None
    unit = escape(requested.unit.name) if requested.unit else t(member.language, "case.union_admins")
    if requested.already:
        await ui.present(update, context, t(member.language, "join.already_pending", unit=unit,
                                            date=notify.when(requested.request.created_at, context.settings.tz)[:10]))
        raise ApplicationHandlerStop
    await engagement.post_cards(context, joining.KIND, requested.request.id, requested.unit,
                                await card_text(context, requested.request), card_buttons(requested.request))
    await ui.present(update, context, t(member.language, "join.sent", unit=unit))
    raise ApplicationHandlerStop


# ----- the card -----

async def card_text(context: BotContext, request: JoinRequest) -> str:
    lang = INBOX_LANGUAGE
    who = await joining.contact(context.db, request)
    parts = [escape(who.name or "—")]
    if who.username:
        parts.append("@" + escape(who.username))
    if who.phone:
        parts.append(escape(who.phone))
    lines = [t(lang, "join.card_title", number=request.id),
             t(lang, "join.card_who", who=" · ".join(parts))]
    if who.telegram_id:
        lines.append(t(lang, "join.card_chat_link", link=f"tg://user?id={who.telegram_id}"))
    lines.append(t(lang, "join.card_workplace", workplace=escape(who.workplace or "—"),
                   province=escape(who.province or "—")))
    lines.append(t(lang, "join.card_consent", when=notify.when(request.consented_at, context.settings.tz)))
    status = t(lang, f"join.status_{request.status.value}")
    if request.handled_by_member_id:
        officer = await context.db.get(Member, request.handled_by_member_id)
        name = " ".join(p for p in (officer.first_name, officer.last_name) if p) if officer else None
        status += " · " + escape(name or t(lang, "card.an_officer"))
    lines.append(t(lang, "join.card_status", status=status))
    return "\n".join(lines)


def card_buttons(request: JoinRequest) -> InlineKeyboardMarkup | None:
    lang = INBOX_LANGUAGE
    allowed = joining.MOVES.get(request.status, ())
    row = [(t(lang, f"join.card_{name}"), f"jr:{name}:{request.id}") for name, status in BUTTON_STATUS.items()
           if status in allowed]
    return ui.buttons([row]) if row else None


async def _move(update: Update, context: BotContext, press: engagement.Press, request: JoinRequest) -> None:
    """Contacted, Joined or Not now; the worker hears of a decision in the unit's name."""
    target = BUTTON_STATUS[press.action]
    worker = await joining.decide(context.db, request, press.member, target, utcnow())
    await ui.acknowledge(update, context)
    await engagement.edit_cards(context, joining.KIND, request.id, await card_text(context, request),
                                card_buttons(request))
    if target in (JoinStatus.JOINED, JoinStatus.NOT_NOW) and worker.telegram_id is not None:
        unit = await _unit_name(context, request.unit_id, worker.language)
        await notify.send_private(context.bot, context.db, worker.telegram_id,
                                  t(worker.language, f"join.worker_{target.value}", unit=unit))


# A request moves only along joining.MOVES; a press on a decided one is "already decided", as decide says too.
CARDS = engagement.CardActions(
    kind=joining.KIND, model=JoinRequest, texts="join", is_open=lambda request: request.status in joining.MOVES,
    while_open=dict.fromkeys(BUTTON_STATUS, _move))


async def _unit_name(context: BotContext, unit_id: int | None, language: str) -> str:
    unit = await context.db.get(Unit, unit_id) if unit_id else None
    return escape(unit.name) if unit else t(language, "case.union_admins")


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [
        CommandHandler("join", offer, filters=private),
        CallbackQueryHandler(offer, pattern=rf"^{ASK}$"),
        CallbackQueryHandler(on_worker_button, pattern=r"^join:"),
        CallbackQueryHandler(CARDS.on_press, pattern=r"^jr:"),
    ]
