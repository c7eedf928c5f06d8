"""Cards for join requests, ideas, nominations and consultation comments: posted in the receiving unit's
inbox group (or in each admin's private chat when no unit on the path has one), edited in place, and every
press on them checked again: the card must be the one the press came from, the item must exist, and the
presser must be an officer of the receiving unit or above, or an admin.

Officers' text answers (a reply, a decision note) are asked with a ForceReply prompt; the pending answer
lives in the officer's user_data and is checked again when the text comes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import ForceReply, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.i18n import t
from bot.services import engagement, officers
from bot.services.engagement import Refused
from bot.text import nfc
from db.models import Member, Unit
from db.types import utcnow
from handlers import ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

PENDING = "engagement_pending"  # user_data: {"kind", "item_id", "action", "chat_id", "prompt_id", "at"}
PENDING_SECONDS = 30 * 60
NOTE_LIMIT = 3000
DRAFT_KEYS = ("idea", "idea_answer", "example", "comment")  # user_data keys of the members' drafts: one at a time


def begin_draft(context: BotContext, key: str, draft: dict[str, Any]) -> None:
    """Start a draft; any other draft the member left unfinished is dropped, so their next message cannot
    go to the wrong one."""
    for other in DRAFT_KEYS:
        context.user_data.pop(other, None)
    context.user_data[key] = draft


def draft_of(context: BotContext, key: str) -> dict[str, Any] | None:
    """The member's unfinished draft under `key`, if any."""
    draft = context.user_data.get(key) if context.user_data is not None else None
    return draft if isinstance(draft, dict) and draft.get("step") else None


def leaves_draft(message: Message) -> bool:
    """A command or a main-menu button: the member moved on from their draft."""
    menu_labels = {label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)}
    return bool(message.text) and (message.text.startswith("/") or message.text in menu_labels)


async def continued_draft(update: Update, context: BotContext, key: str) -> tuple[dict[str, Any], Member] | None:
    """The draft under `key` and its member, when this private message is the draft's next step. A command
    or a menu button leaves the draft (dropped, and the message goes on to its own handler)."""
    draft = draft_of(context, key)
    message = update.effective_message
    if draft is None or message is None or message.chat.type != ChatType.PRIVATE:
        return None
    if leaves_draft(message):
        context.user_data.pop(key, None)
        return None
    member = await current_member(update, context)
    return (draft, member) if member is not None else None


async def post_cards(context: BotContext, kind: str, item_id: int, unit: Unit | None, text: str,
                     markup: InlineKeyboardMarkup | None) -> int:
    """The card in the unit's inbox, or one in each admin's private chat. Returns how many were posted;
    a failure is logged by item id, never raised (the item is committed already)."""
    if unit is not None:
        targets = [unit.inbox_chat_id] if unit.inbox_chat_id is not None else []
    else:
        targets = await officers.admin_telegram_ids(context.db, context.settings.admin_ids)
    posted = 0
    for chat_id in targets:
        try:
            message = await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)
        except TelegramError as error:
            log.warning("%s %s: card not posted (%s)", kind, item_id, type(error).__name__)
            continue
        await engagement.add_card(context.db, kind, item_id, unit.id if unit else None, chat_id, message.message_id)
        posted += 1
    return posted


async def edit_cards(context: BotContext, kind: str, item_id: int, text: str,
                     markup: InlineKeyboardMarkup | None) -> None:
    for card in await engagement.cards_of(context.db, kind, item_id):
        try:
            await context.bot.edit_message_text(text, card.chat_id, card.message_id, parse_mode=ParseMode.HTML,
                                                reply_markup=markup)
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                log.info("%s %s: card not edited (%s)", kind, item_id, type(error).__name__)
        except TelegramError as error:
            log.info("%s %s: card not edited (%s)", kind, item_id, type(error).__name__)


@dataclass
class Press:
    action: str
    item_id: int
    member: Member
    in_group: bool
    language: str


async def checked_press(update: Update, context: BotContext, kind: str,
                        unit_of: Callable[[int], Awaitable[tuple[bool, int | None]]]) -> Press | None:
    """<prefix>:<action>:<item id> on a card of `kind`. `unit_of(item_id)` says whether the item exists and
    which unit received it. Answers the press with an alert and returns None when it must not go on."""
    query = update.callback_query
    parts = (query.data or "").split(":")
    member = await current_member(update, context)
    language = member.language if member else INBOX_LANGUAGE
    item_id = int(parts[2]) if len(parts) == 3 and ui.is_id(parts[2]) else None
    message = query.message
    if member is None or item_id is None or message is None:
        await ui.alert(update, context, t(language, "input.stale_button"))
        return None
    in_group = message.chat.type != ChatType.PRIVATE
    language = INBOX_LANGUAGE if in_group else member.language
    card = await engagement.card_at(context.db, message.chat.id, message.message_id)
    exists, unit_id = await unit_of(item_id)
    if card is None or card.kind != kind or card.item_id != item_id or not exists:
        await ui.alert(update, context, t(language, "input.stale_button"))
        return None
    is_admin = await officers.is_admin(context.db, member.telegram_id, context.settings.admin_ids)
    if not await engagement.may_act(context.db, member, unit_id, is_admin):
        log.info("%s %s: press %s refused for member %s", kind, item_id, parts[1], member.id)
        await ui.alert(update, context, t(language, "card.not_allowed"))
        return None
    return Press(parts[1], item_id, member, in_group, language)


CardPress = Callable[[Update, BotContext, Press, Any], Awaitable[None]]  # (…, the press, the item)
CardText = Callable[[Update, BotContext, Press, Any, str], Awaitable[None]]  # (…, the item, the officer's text)


@dataclass(frozen=True)
class CardActions:
    """What one kind of card does, as tables behind the checks every kind makes: a press goes through
    checked_press and, for a decision, the item must still be open; an officer's text is checked again
    (the item, their rights) when it comes. A service's Refused is answered with "<texts>.refused_<reason>"."""

    kind: str
    model: type[Any]  # the item's table; an item's unit_id is the unit that received it
    texts: str  # the kind's catalog prefix: "<texts>.refused_<reason>"
    is_open: Callable[[Any], bool]  # the item still takes decisions
    while_open: Mapping[str, CardPress]  # callback action → what it does while the item is open
    any_time: Mapping[str, CardPress] = field(default_factory=dict)  # also once decided (an attachment)
    text_actions: Mapping[str, CardText] = field(default_factory=dict)  # the action that asked → the text

    async def on_press(self, update: Update, context: BotContext) -> None:
        """<prefix>:<action>:<item id> on a card of this kind."""
        async def unit_of(item_id: int) -> tuple[bool, int | None]:
            item = await context.db.get(self.model, item_id)
            return item is not None, item.unit_id if item else None

        press = await checked_press(update, context, self.kind, unit_of)
        if press is not None:
            await self._act(update, context, press, await context.db.get_one(self.model, press.item_id))
        raise ApplicationHandlerStop

    async def _act(self, update: Update, context: BotContext, press: Press, item: Any) -> None:
        action = self.any_time.get(press.action)
        if action is None and press.action not in self.while_open:
            await ui.alert(update, context, t(press.language, "input.stale_button"))
            return
        if action is None and not self.is_open(item):
            await ui.alert(update, context, t(press.language, f"{self.texts}.refused_already_decided"))
            return
        try:
            await (action or self.while_open[press.action])(update, context, press, item)
        except Refused as refused:
            await ui.alert(update, context, t(press.language, f"{self.texts}.refused_{refused.reason}"))

    async def complete_text(self, update: Update, context: BotContext, pending: dict[str, Any], text: str) -> None:
        """The officer's text for the action that asked for it (see ask_for_text), checked again now."""
        message = update.effective_message
        member = await current_member(update, context)
        in_group = message.chat.type != ChatType.PRIVATE
        language = INBOX_LANGUAGE if in_group else member.language
        item = await context.db.get(self.model, pending.get("item_id") or 0)
        name = pending.get("action")
        action = self.text_actions.get(name) if isinstance(name, str) else None
        if item is None or action is None:
            await say(update, context, t(language, "input.stale_button"))
            return
        if not await may_act_now(context, member, item.unit_id):
            await say(update, context, t(language, "card.not_allowed"))
            return
        try:
            await action(update, context, Press(name, item.id, member, in_group, language), item, text)
        except Refused as refused:
            await say(update, context, t(language, f"{self.texts}.refused_{refused.reason}"))

    def register_text(self) -> None:
        """Officers' texts for this kind go to complete_text."""
        on_text(self.kind, self.complete_text)


async def ask_for_text(update: Update, context: BotContext, press: Press, kind: str, prompt_key: str,
                       **values: object) -> None:
    """A ForceReply prompt under the card; the officer's reply to it (or, in a private chat, their next
    message) is the text of the action."""
    message = update.callback_query.message
    user = update.effective_user
    prompt = await context.bot.send_message(
        message.chat.id, t(press.language, prompt_key, limit=NOTE_LIMIT, **values),
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        reply_markup=ForceReply(selective=True,
                                input_field_placeholder=t(press.language, "officers.placeholder")))
    context.user_data[PENDING] = {"kind": kind, "item_id": press.item_id, "action": press.action,
                                  "chat_id": message.chat.id, "prompt_id": prompt.message_id,
                                  "at": int(utcnow().timestamp()), "user": user.id}
    await ui.acknowledge(update, context)


TextAction = Callable[[Update, BotContext, dict[str, Any], str], Awaitable[None]]
Taker = Callable[[Update, BotContext], Awaitable[bool]]
_TEXT_ACTIONS: dict[str, TextAction] = {}
_TAKERS: list[Taker] = []


def on_text(kind: str, action: TextAction) -> None:
    """Register what completes an officer's pending text action of `kind` (ideas, nominations…)."""
    _TEXT_ACTIONS[kind] = action


def on_message_taker(taker: Taker) -> None:
    """Register a check for a message a feature waits for (e.g. the next step of an idea draft); it returns
    True when it took the message."""
    if taker not in _TAKERS:
        _TAKERS.append(taker)


async def on_any_message(update: Update, context: BotContext) -> None:
    """Group -3, one handler for every message: an officer's pending answer first, then the features' own
    waits. When one takes the message it goes no further; otherwise it goes on untouched."""
    for taker in (take_pending_text, *_TAKERS):
        if await taker(update, context):
            raise ApplicationHandlerStop


async def take_pending_text(update: Update, context: BotContext) -> bool:
    message = update.effective_message
    pending = context.user_data.get(PENDING) if context.user_data is not None else None
    if not pending or message is None or pending.get("chat_id") != message.chat_id:
        return False
    private = message.chat.type == ChatType.PRIVATE
    replied = message.reply_to_message
    if not private and (replied is None or replied.message_id != pending.get("prompt_id")):
        return False
    if message.text and message.text.startswith("/"):
        context.user_data.pop(PENDING, None)  # a command: the officer moved on
        return False
    if utcnow().timestamp() - (pending.get("at") or 0) > PENDING_SECONDS:
        context.user_data.pop(PENDING, None)
        return False
    member = await current_member(update, context)
    language = member.language if member is not None and private else INBOX_LANGUAGE
    text = nfc(message.text or "").strip()
    if not text:
        await message.reply_text(t(language, "input.text_only"))
        return True
    if len(text) > NOTE_LIMIT:
        await message.reply_text(t(language, "input.too_long", limit=NOTE_LIMIT))
        return True
    context.user_data.pop(PENDING, None)
    action = _TEXT_ACTIONS.get(pending.get("kind", ""))
    if action is not None:
        await action(update, context, pending, text)
    return True


async def say(update: Update, context: BotContext, text: str) -> None:
    """A short answer under the officer's message."""
    message = update.effective_message
    await context.bot.send_message(message.chat_id, text,
                                   reply_parameters=ReplyParameters(message.message_id,
                                                                    allow_sending_without_reply=True))


async def may_act_now(context: BotContext, member: Member, unit_id: int | None) -> bool:
    is_admin = await officers.is_admin(context.db, member.telegram_id, context.settings.admin_ids)
    return await engagement.may_act(context.db, member, unit_id, is_admin)
