"""What officers do with a case from its card (in the unit's inbox group) or from /case in their private chat:
claim, reply, ask for information, note, escalate, transfer, resolve, read the full text and the attachments.

Every press is checked again (callback data is forgeable): the case must exist, the presser must be an
officer of the holding unit or above (or an admin), and in a group the press must be on the card where the
case is held now. Text actions ask for the text (a ForceReply prompt in the group, the next message in the
private chat); the pending action lives in the officer's user_data and is checked again when the text comes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import ForceReply, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.i18n import t
from bot.services import audit, canned, case_queries, case_views, cases, officers
from bot.services.units import get_unit_by_code
from bot.text import escape, nfc, split_message
from db.models import Grievance, Member, Unit
from db.types import utcnow
from handlers import cards, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

REPLY_LIMIT = 3000
# A text request in the private chat lapses: a message typed much later is not silently sent to a worker.
PRIVATE_PENDING_SECONDS = 30 * 60
PENDING = "officer_pending"  # user_data key: {"action", "grievance_id", "chat_id", "prompt_id", "menu_id"}
TEXT_ACTIONS = ("reply", "ask", "note", "resolve")
CANNED_ACTIONS = ("reply", "ask", "resolve")
# Presses that change the case, as opposed to reading it (full text, attachments) or moving between screens.
CHANGING = ("claim", "reply", "ask", "note", "resolve", "esc", "escok", "xfer", "xp", "xt", "cn")


@dataclass
class Press:
    action: str
    grievance: Grievance
    member: Member
    extra: str | None
    in_group: bool
    language: str  # of the buttons and answers: the inbox's in a group, the officer's in private


# ----- presses -----

async def on_card_button(update: Update, context: BotContext) -> None:
    """Every case:<action>:<case id>[:<extra>] button, on a card or on a /case view."""
    press = await _checked_press(update, context)
    if press is None:
        return
    handler = _PRESSES.get(press.action)
    if handler is None:
        await ui.alert(update, context, t(press.language, "input.stale_button"))
        return
    await handler(update, context, press)


async def _checked_press(update: Update, context: BotContext) -> Press | None:
    query = update.callback_query
    parts = (query.data or "").split(":")
    member = await current_member(update, context)
    language = member.language if member else INBOX_LANGUAGE
    grievance = await context.db.get(Grievance, int(parts[2])) if len(parts) in (3, 4) and ui.is_id(parts[2]) else None
    if member is None or grievance is None or query.message is None:
        await ui.alert(update, context, t(language, "input.stale_button"))
        return None
    in_group = query.message.chat.type != ChatType.PRIVATE
    language = INBOX_LANGUAGE if in_group else member.language
    press = Press(parts[1], grievance, member, parts[3] if len(parts) == 4 else None, in_group, language)
    if in_group:
        card = await cards.card_at(context.db, query.message.chat.id, query.message.message_id)
        on_menu = _pending_menu(context, grievance, query.message) is not None
        if card is None and not (on_menu and press.action in ("cn", "stop")) \
                or card is not None and card.grievance_id != grievance.id:
            await ui.alert(update, context, t(language, "input.stale_button"))
            return None
        if card is not None and card.unit_id != grievance.unit_id:
            await ui.alert(update, context, t(language, "card.moved_away"))
            return None
    if not await _may_act(context, member, grievance):
        log.info("case %s: press %s refused for member %s", grievance.id, press.action, member.id)
        await ui.alert(update, context, t(language, "card.not_allowed"))
        return None
    if press.action in CHANGING and grievance.status not in cases.OPEN_STATUSES:
        await ui.alert(update, context, t(language, "card.refused_closed"))
        return None
    return press


async def _is_admin(context: BotContext, member: Member) -> bool:
    return await officers.is_admin(context.db, member.telegram_id, context.settings.admin_ids)


async def _may_act(context: BotContext, member: Member, grievance: Grievance) -> bool:
    return await cases.can_act(context.db, member, grievance, await _is_admin(context, member))


async def _transfer_targets(context: BotContext, member: Member, grievance: Grievance) -> list[Unit]:
    return await cases.transfer_targets(context.db, member, grievance, await _is_admin(context, member))


async def on_claim(update: Update, context: BotContext, press: Press) -> None:
    grievance = press.grievance
    first_acknowledgement = grievance.acknowledged_at is None
    try:
        await cases.claim(context.db, grievance, press.member, utcnow())
    except cases.CaseRefused as refused:
        await ui.alert(update, context, t(press.language, f"card.refused_{refused.reason}"))
        return
    await ui.acknowledge(update, context)
    await _refresh(update, context, press)
    if first_acknowledgement:
        await notify.tell_worker(context.bot, context.db, grievance, "case.worker_acknowledged")


async def on_text_action(update: Update, context: BotContext, press: Press) -> None:
    """Reply, ask, note, resolve: ask for the text where the button was pressed."""
    await ui.acknowledge(update, context)
    await _ask_for_text(update, context, press, press.action)


async def _ask_for_text(update: Update, context: BotContext, press: Press, action: str) -> None:
    grievance = press.grievance
    choices = canned.canned_for(grievance.category, grievance.status.value, action) \
        if action in CANNED_ACTIONS else []
    canned_rows = [[(reply.label(press.language), f"case:cn:{grievance.id}:{reply.id}")] for reply in choices]
    cancel = [(t(press.language, "officers.cancel"), f"case:stop:{grievance.id}")]
    values = {"code": grievance.code, "limit": REPLY_LIMIT}
    message = update.callback_query.message
    pending: dict[str, Any] = {"action": action, "grievance_id": grievance.id, "chat_id": message.chat.id,
                               "at": int(utcnow().timestamp())}
    if press.in_group:
        card = await cards.current_card(context.db, grievance)
        user = update.effective_user
        mention = f'<a href="tg://user?id={user.id}">{escape(user.full_name)}</a>'
        prompt = await context.bot.send_message(
            message.chat.id, t(INBOX_LANGUAGE, f"officers.prompt_{action}", officer=mention, **values),
            message_thread_id=card.thread_id if card else None,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
            reply_markup=ForceReply(selective=True, input_field_placeholder=t(INBOX_LANGUAGE,
                                                                              "officers.placeholder")))
        pending["prompt_id"] = prompt.message_id
        if canned_rows:
            menu = await context.bot.send_message(message.chat.id, t(INBOX_LANGUAGE, "officers.canned_title"),
                                                  message_thread_id=card.thread_id if card else None,
                                                  reply_markup=ui.buttons([*canned_rows, cancel]))
            pending["menu_id"] = menu.message_id
    else:
        text = t(press.language, f"officers.ask_{action}", **values)
        if canned_rows:
            text += "\n\n" + t(press.language, "officers.canned_title")
        prompt = await context.bot.send_message(message.chat.id, text, reply_markup=ui.buttons([*canned_rows, cancel]))
        pending["prompt_id"] = pending["menu_id"] = prompt.message_id
    context.user_data[PENDING] = pending


async def on_canned(update: Update, context: BotContext, press: Press) -> None:
    pending = _pending_menu(context, press.grievance, update.callback_query.message)
    reply = canned.get(press.extra or "")
    if pending is None or reply is None or not reply.fits(press.grievance.category, press.grievance.status.value,
                                                          pending["action"]):
        await ui.alert(update, context, t(press.language, "input.stale_button"))
        return
    await ui.acknowledge(update, context)
    await _clear_menu(update)
    worker = await context.db.get(Member, press.grievance.member_id) if press.grievance.member_id else None
    text = reply.text(worker.language if worker else press.grievance.language)
    await _complete(update, context, pending, press.member, text)


async def on_stop(update: Update, context: BotContext, press: Press) -> None:
    pending = _pending_menu(context, press.grievance, update.callback_query.message)
    if pending is not None:
        context.user_data.pop(PENDING, None)
    await ui.acknowledge(update, context)
    try:
        await update.callback_query.edit_message_text(t(press.language, "officers.cancelled"))
    except BadRequest:
        pass


async def on_escalate(update: Update, context: BotContext, press: Press) -> None:
    target = await case_queries.escalation_target(context.db, press.grievance)
    name = target.name if target else t(press.language, "case.union_admins")
    if press.grievance.unit_id is None:
        await ui.alert(update, context, t(press.language, "card.refused_nowhere_higher"))
        return
    await _say(update, context, press, t(press.language, "officers.escalate_where", unit=escape(name)))
    await _set_markup(update, cards.escalation_buttons(press.grievance, press.language))


async def on_escalate_confirmed(update: Update, context: BotContext, press: Press) -> None:
    grievance = press.grievance
    try:
        moved = await cases.escalate(context.db, grievance, audit.member_actor(press.member.id), utcnow(),
                                     context.settings.tz, "officer")
    except cases.CaseRefused as refused:
        await ui.alert(update, context, t(press.language, f"card.refused_{refused.reason}"))
        return
    await _moved(update, context, press, moved, "case.worker_escalated", "officers.escalated")


async def on_transfer(update: Update, context: BotContext, press: Press) -> None:
    targets = await _transfer_targets(context, press.member, press.grievance)
    if not targets:
        await ui.alert(update, context, t(press.language, "officers.no_transfer_targets"))
        return
    await ui.acknowledge(update, context)
    page = int(press.extra) if press.extra and ui.is_id(press.extra) else 0
    await _set_markup(update, cards.transfer_buttons(press.grievance, targets, page, press.language))
    if press.action == "xfer":
        await _ask_for_text(update, context, press, "transfer")  # typing a unit code works too


async def on_transfer_to(update: Update, context: BotContext, press: Press) -> None:
    unit = await context.db.get(Unit, int(press.extra)) if press.extra and ui.is_id(press.extra) else None
    if unit is None:
        await ui.alert(update, context, t(press.language, "input.stale_button"))
        return
    try:
        moved = await cases.transfer(context.db, press.grievance, press.member, unit, utcnow(), context.settings.tz,
                                     is_admin=await _is_admin(context, press.member))
    except cases.CaseRefused as refused:
        await ui.alert(update, context, t(press.language, f"card.refused_{refused.reason}"))
        return
    await _moved(update, context, press, moved, "case.worker_transferred", "officers.transferred")


async def on_back(update: Update, context: BotContext, press: Press) -> None:
    await ui.acknowledge(update, context)
    _drop_pending_for(context, press.grievance, only="transfer")
    view = await _view_for(context, press)
    await _set_markup(update, cards.card_buttons(press.grievance, view, press.language))


async def on_full_text(update: Update, context: BotContext, press: Press) -> None:
    await ui.acknowledge(update, context)
    await case_queries.log_view(context.db, press.grievance, press.member, utcnow())
    body = t(press.language, "officers.full_text", code=press.grievance.code, text=escape(press.grievance.text or ""))
    await _post(update, context, press, body)


async def on_attachments(update: Update, context: BotContext, press: Press) -> None:
    """The worker's files, sent again by file_id with a neutral caption: never forwarded, so no sender shows."""
    files = await case_queries.attachments(context.db, press.grievance)
    if not files:
        await ui.alert(update, context, t(press.language, "officers.no_attachments"))
        return
    await ui.acknowledge(update, context)
    await case_queries.log_view(context.db, press.grievance, press.member, utcnow())
    chat_id, thread_id, reply = await _where(update, context, press)
    failed = 0
    for number, item in enumerate(files, 1):
        caption = t(press.language, "officers.attachment_caption", code=press.grievance.code, number=number,
                    total=len(files))
        send = {"photo": context.bot.send_photo, "voice": context.bot.send_voice}.get(item.file_kind or "",
                                                                                    context.bot.send_document)
        try:
            await send(chat_id, item.file_id, caption=caption, message_thread_id=thread_id, reply_parameters=reply)
        except TelegramError as error:
            failed += 1
            log.warning("case %s: attachment %s not sent (%s)", press.grievance.id, item.id, type(error).__name__)
    if failed:
        await _post(update, context, press, t(press.language, "officers.attachments_failed", count=failed))


_PRESSES = {
    "claim": on_claim, "reply": on_text_action, "ask": on_text_action, "note": on_text_action,
    "resolve": on_text_action, "cn": on_canned, "stop": on_stop, "esc": on_escalate,
    "escok": on_escalate_confirmed, "xfer": on_transfer, "xp": on_transfer, "xt": on_transfer_to,
    "back": on_back, "full": on_full_text, "files": on_attachments,
}


# ----- text from officers -----

async def on_reply_in_group(update: Update, context: BotContext) -> None:
    """A reply in an inbox group: to the officer's own prompt (the text of the action they asked for), or to
    a card (a reply to the worker). Anything else is ordinary conversation and left alone."""
    message = update.effective_message
    replied = message.reply_to_message
    pending = context.user_data.get(PENDING) if context.user_data is not None else None
    member = await current_member(update, context)
    if member is None:
        return
    if pending and pending.get("chat_id") == message.chat_id and pending.get("prompt_id") == replied.message_id:
        await _take_text(update, context, pending, member)
        return
    card = await cards.card_at(context.db, message.chat_id, replied.message_id)
    if card is None:
        return
    grievance = await context.db.get(Grievance, card.grievance_id)
    if card.unit_id != grievance.unit_id:
        await message.reply_text(t(INBOX_LANGUAGE, "card.moved_away"))
        return
    if not await _may_act(context, member, grievance):
        await message.reply_text(t(INBOX_LANGUAGE, "card.not_allowed"))
        return
    pending = {"action": "reply", "grievance_id": grievance.id, "chat_id": message.chat_id}
    await _take_text(update, context, pending, member, keep_pending=True)


async def on_private_message(update: Update, context: BotContext) -> None:
    """Runs before every other private handler: the officer's next message after pressing an action in the
    private chat is the text of that action. Without one pending, the update goes on to the other handlers."""
    pending = context.user_data.get(PENDING) if context.user_data is not None else None
    if not pending or pending.get("chat_id") != update.effective_chat.id:
        return
    if utcnow().timestamp() - (pending.get("at") or 0) > PRIVATE_PENDING_SECONDS:
        context.user_data.pop(PENDING, None)
        return
    member = await current_member(update, context)
    if member is not None:
        await _take_text(update, context, pending, member)
    raise ApplicationHandlerStop


async def on_private_command(update: Update, context: BotContext) -> None:
    """Any command in the private chat drops a pending text request (then runs as usual)."""
    if context.user_data is not None and (context.user_data.get(PENDING) or {}).get("chat_id") == \
            update.effective_chat.id:
        context.user_data.pop(PENDING, None)


async def _take_text(update: Update, context: BotContext, pending: dict[str, Any], member: Member,
                     keep_pending: bool = False) -> None:
    message = update.effective_message
    language = INBOX_LANGUAGE if message.chat.type != ChatType.PRIVATE else member.language
    if not message.text:
        await message.reply_text(t(language, "input.text_only"))
        return
    text = nfc(message.text)
    if len(text) > REPLY_LIMIT:
        await message.reply_text(t(language, "input.too_long", limit=REPLY_LIMIT))
        return
    if not text:
        await message.reply_text(t(language, "input.text_only"))
        return
    await _complete(update, context, pending, member, text, keep_pending=keep_pending)


async def _complete(update: Update, context: BotContext, pending: dict[str, Any], member: Member, text: str,
                    keep_pending: bool = False) -> None:
    """Do the pending action with its text, after checking again that it is still allowed; the answer goes
    under the officer's message (or under the ready-answer menu they pressed)."""
    message = update.effective_message
    in_group = message.chat.type != ChatType.PRIVATE
    language = INBOX_LANGUAGE if in_group else member.language
    grievance = await context.db.get(Grievance, pending.get("grievance_id") or 0)
    if not keep_pending:
        context.user_data.pop(PENDING, None)
    refusal = await _refusal(context, member, grievance, message.chat_id if in_group else None)
    answer = t(language, refusal) if refusal else None
    changed = False
    if refusal is None and pending.get("action") == "transfer":
        answer = await _transfer_by_code(context, grievance, member, text, language, pending)
    elif refusal is None:
        try:
            answer = t(language, await _do(context, grievance, member, pending.get("action"), text))
        except cases.CaseRefused as refused:
            answer = t(language, f"card.refused_{refused.reason}")
        changed = True
    await context.bot.send_message(
        message.chat_id, answer, message_thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True))
    if changed:
        await notify.refresh_card(context.bot, context.db, grievance, context.settings.tz, context.settings.admin_ids)


async def _refusal(context: BotContext, member: Member, grievance: Grievance | None, group_id: int | None) -> str | None:
    """The catalog key that says why the action cannot happen any more, or None."""
    if grievance is None:
        return "input.stale_button"
    if not await _may_act(context, member, grievance):
        return "card.not_allowed"
    if grievance.status not in cases.OPEN_STATUSES:
        return "card.refused_closed"
    if group_id is not None:
        card = await cards.current_card(context.db, grievance)
        if card is None or card.chat_id != group_id:
            return "card.moved_away"
    return None


async def _do(context: BotContext, grievance: Grievance, member: Member, action: str | None, text: str) -> str:
    """Returns the catalog key that confirms it to the officer."""
    now = utcnow()
    if action in ("reply", "ask"):
        asks = action == "ask"
        await cases.reply(context.db, grievance, member, text, now, asks_for_information=asks)
        delivered = await notify.relay_to_worker(context.bot, context.db, grievance, text, asks_for_information=asks)
        if not delivered:
            return "card.reply_not_delivered"
        return "officers.asked" if asks else "card.reply_sent"
    if action == "note":
        await cases.add_note(context.db, grievance, member, text, now)
        return "officers.note_saved"
    if action == "resolve":
        await cases.resolve(context.db, grievance, member, text, now)
        delivered = await notify.resolved(context.bot, context.db, grievance, text)
        return "officers.resolved" if delivered else "officers.resolved_not_delivered"
    raise cases.CaseRefused("unknown_action")


async def _transfer_by_code(context: BotContext, grievance: Grievance, member: Member, text: str, language: str,
                            pending: dict[str, Any]) -> str:
    """A unit code typed instead of pressing a unit; returns what to tell the officer."""
    code = "".join(text.split()).upper()
    unit = await get_unit_by_code(context.db, code) if len(code) <= 32 else None
    targets = await _transfer_targets(context, member, grievance)
    if unit is None or unit.id not in {target.id for target in targets}:
        context.user_data[PENDING] = pending  # they may type another code
        return t(language, "officers.transfer_unknown_unit", code=escape(code[:32]))
    try:
        moved = await cases.transfer(context.db, grievance, member, unit, utcnow(), context.settings.tz,
                                     is_admin=await _is_admin(context, member))
    except cases.CaseRefused as refused:
        return t(language, f"card.refused_{refused.reason}")
    await notify.case_moved(context.bot, context.db, grievance, moved.from_unit_id, context.settings.tz,
                            context.settings.admin_ids, worker_key="case.worker_transferred")
    return t(language, "officers.transferred", unit=escape(unit.name))


# ----- small helpers -----

def _pending_menu(context: BotContext, grievance: Grievance, message: Message | None) -> dict[str, Any] | None:
    """The presser's pending action, when the pressed message is its prompt or its ready-answer menu."""
    pending = context.user_data.get(PENDING) if context.user_data is not None else None
    if not pending or message is None or pending.get("grievance_id") != grievance.id \
            or pending.get("chat_id") != message.chat.id:
        return None
    return pending if message.message_id in (pending.get("menu_id"), pending.get("prompt_id")) else None


def _drop_pending_for(context: BotContext, grievance: Grievance, only: str | None = None) -> None:
    pending = context.user_data.get(PENDING) if context.user_data is not None else None
    if pending and pending.get("grievance_id") == grievance.id and only in (None, pending.get("action")):
        context.user_data.pop(PENDING, None)


async def _clear_menu(update: Update) -> None:
    await _set_markup(update, None)


async def _set_markup(update: Update, markup: InlineKeyboardMarkup | None) -> None:
    try:
        # PTB adds the default parse_mode to this method, which has none: api_kwargs takes it out again.
        await update.callback_query.edit_message_reply_markup(markup, api_kwargs={"parse_mode": None})
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            log.info("buttons not updated (%s)", type(error).__name__)


async def _view_for(context: BotContext, press: Press) -> case_views.OfficerView:
    is_admin = await officers.is_admin(context.db, press.member.telegram_id, context.settings.admin_ids)
    level = await case_queries.viewer_level(context.db, press.member, press.grievance, is_admin)
    return await case_views.officer_view(context.db, press.grievance, level)


async def _refresh(update: Update, context: BotContext, press: Press) -> None:
    """The card in the inbox, and the /case view's buttons when the press came from the private chat."""
    await notify.refresh_card(context.bot, context.db, press.grievance, context.settings.tz,
                              context.settings.admin_ids)
    if not press.in_group:
        await _set_markup(update, cards.card_buttons(press.grievance, await _view_for(context, press),
                                                     press.language))


async def _moved(update: Update, context: BotContext, press: Press, moved: cases.Moved, worker_key: str,
                 done_key: str) -> None:
    await notify.case_moved(context.bot, context.db, press.grievance, moved.from_unit_id, context.settings.tz,
                            context.settings.admin_ids, worker_key=worker_key)
    _drop_pending_for(context, press.grievance)
    if not press.in_group:
        await _set_markup(update, None)
    name = moved.to_unit.name if moved.to_unit else t(press.language, "case.union_admins")
    await _say(update, context, press, t(press.language, done_key, unit=escape(name)))


async def _where(update: Update, context: BotContext, press: Press) -> tuple[int, int | None, ReplyParameters | None]:
    """Where to post about the case: in the group, under the card (in its topic); in private, the chat."""
    message = update.callback_query.message
    if not press.in_group:
        return message.chat.id, None, None
    card = await cards.current_card(context.db, press.grievance)
    return message.chat.id, card.thread_id if card else None, ReplyParameters(
        message.message_id, allow_sending_without_reply=True)


async def _post(update: Update, context: BotContext, press: Press, body: str) -> None:
    chat_id, thread_id, reply = await _where(update, context, press)
    for part in split_message(body):
        await context.bot.send_message(chat_id, part, message_thread_id=thread_id, reply_parameters=reply)


async def _say(update: Update, context: BotContext, press: Press, body: str) -> None:
    """A short note to the presser: a toast in the group (not to clutter it), a message in private. It also
    answers the press."""
    if press.in_group and not context.scratch.get("answered"):
        context.scratch["answered"] = True
        try:
            await update.callback_query.answer(body[:200])
        except BadRequest:
            pass
        return
    await ui.acknowledge(update, context)
    await context.bot.send_message(update.callback_query.message.chat.id, body)
