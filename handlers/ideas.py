"""Ideas and initiatives. The worker: /idea, a title, the idea (20–3,000 characters), an optional photo or
document, named or anonymous, a review, send. The draft lives in user_data["idea"] (plain JSON, so a restart
loses nothing); a command or a menu button leaves it. Officers: the card in the receiving unit's inbox with
Received, Reply, Accept and Not accept (the last three ask for a text that the worker receives in the unit's
name, never the officer's), and the attachment re-sent by file id.

Registered in group -3: each handler stops the update when it acts (see handlers/__init__.py).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardMarkup, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import t
from bot.services import engagement as engagement_service
from bot.services import ideas
from bot.services.engagement import Refused
from bot.text import escape, nfc
from db.models import Idea, IdeaStatus, Member, Unit
from db.types import utcnow
from handlers import engagement, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

KEY = "idea"
ANSWER = "idea_answer"  # user_data while the author writes an answer to the union: {"idea": id}
TITLE, TEXT, FILE, IDENTITY, REVIEW = "title", "text", "file", "identity", "review"
FILE_LIMIT = 20 * 1024 * 1024  # what a bot may download
REVIEW_PREVIEW = 600


# ----- the worker's draft -----

async def start(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        return
    reason = ideas.may_submit(member)
    if reason is not None:
        await ui.send(update, t(member.language, f"idea.refused_{reason}"))
        raise ApplicationHandlerStop
    engagement.begin_draft(context, KEY, {"step": TITLE})
    await ui.send(update, t(member.language, "idea.intro") + "\n\n" + t(member.language, "idea.ask_title",
                                                                        limit=ideas.TITLE_LIMITS[1]))
    raise ApplicationHandlerStop


async def take_message(update: Update, context: BotContext) -> bool:
    """The next step of a draft, or the author's answer to the union, from a private message. A command or a
    menu button leaves either."""
    draft = engagement.draft_of(context, KEY)
    answer = context.user_data.get(ANSWER) if context.user_data is not None else None
    message = update.effective_message
    if draft is None and answer is None or message is None or message.chat.type != ChatType.PRIVATE:
        return False
    if engagement.leaves_draft(message):
        context.user_data.pop(KEY, None)
        context.user_data.pop(ANSWER, None)
        return False
    if answer is not None:
        await _take_answer(update, context, answer)
        return True
    member = await current_member(update, context)
    if member is None:
        return False
    language = member.language
    step = draft["step"]
    if step in (TITLE, TEXT):
        await _take_text(update, context, member, draft, step)
    elif step == FILE:
        await _take_file(update, context, member, draft)
    else:
        await ui.send(update, t(language, "input.press_button"))
    return True


async def _take_answer(update: Update, context: BotContext, answer: dict[str, Any]) -> None:
    member = await current_member(update, context)
    message = update.effective_message
    if not message.text:
        await ui.send(update, t(member.language, "idea.text_only"))
        return
    text = nfc(message.text).strip()
    if len(text) > ideas.TEXT_LIMITS[1]:
        await ui.send(update, t(member.language, "input.too_long", limit=ideas.TEXT_LIMITS[1]))
        return
    context.user_data.pop(ANSWER, None)
    idea = await context.db.get(Idea, answer.get("idea") or 0)
    try:
        if idea is None:
            raise Refused("bad_draft")
        await ideas.worker_answer(context.db, idea, member, text, utcnow())
    except Refused as refused:
        await ui.send(update, t(member.language, f"idea.refused_{refused.reason}"))
        return
    body = t(INBOX_LANGUAGE, "idea.answer_in_inbox", code=idea.code, text=escape(text))
    for card in await engagement_service.cards_of(context.db, ideas.KIND, idea.id):
        try:
            await context.bot.send_message(card.chat_id, body, reply_parameters=ReplyParameters(
                card.message_id, allow_sending_without_reply=True))
        except TelegramError as error:
            log.warning("idea %s: answer not posted (%s)", idea.id, type(error).__name__)
    await ui.send(update, t(member.language, "idea.answer_sent", code=idea.code))


async def _take_text(update: Update, context: BotContext, member: Member, draft: dict[str, Any], step: str) -> None:
    language = member.language
    message = update.effective_message
    limits = ideas.TITLE_LIMITS if step == TITLE else ideas.TEXT_LIMITS
    if not message.text:
        await ui.send(update, t(language, "idea.text_only"))
        return
    text = nfc(message.text).strip()
    if step == TITLE:
        text = " ".join(text.split())
    problem = ideas.length_problem(text, limits)
    if problem is not None:
        await ui.send(update, t(language, f"idea.{step}_{problem}", low=limits[0], high=limits[1], length=len(text)))
        return
    draft[step] = text
    if step == TITLE:
        draft["step"] = TEXT
        await ui.send(update, t(language, "idea.ask_text", low=ideas.TEXT_LIMITS[0], high=ideas.TEXT_LIMITS[1]))
        return
    draft["step"] = FILE
    await _ask_file(update, context, member)


async def _ask_file(update: Update, context: BotContext, member: Member) -> None:
    rows = [[(t(member.language, "idea.skip_file"), "idea:skip")]]
    await ui.present(update, context, t(member.language, "idea.ask_file"), ui.buttons(rows))


async def _take_file(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> None:
    message = update.effective_message
    if message.photo:
        file, kind = message.photo[-1], "photo"
    elif message.document:
        file, kind = message.document, "document"
    else:
        await ui.send(update, t(member.language, "idea.file_expected"),
                      ui.buttons([[(t(member.language, "idea.skip_file"), "idea:skip")]]))
        return
    if (file.file_size or 0) > FILE_LIMIT:
        await ui.send(update, t(member.language, "idea.file_too_big"))
        return
    draft["file_id"], draft["file_kind"] = file.file_id, kind
    await _ask_identity(update, context, member, draft)


async def _ask_identity(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> None:
    draft["step"] = IDENTITY
    rows = [[(t(member.language, "idea.named"), "idea:id:named")],
            [(t(member.language, "idea.anonymous"), "idea:id:anonymous")]]
    await ui.present(update, context, t(member.language, "idea.ask_identity"), ui.buttons(rows))


async def on_button(update: Update, context: BotContext) -> None:
    """idea:skip, idea:id:<mode>, idea:send, idea:cancel; each only at its step."""
    member = await current_member(update, context)
    if member is None:
        return
    draft = engagement.draft_of(context, KEY)
    data = update.callback_query.data
    step = draft["step"] if draft else None
    if data == "idea:skip" and step == FILE:
        await _ask_identity(update, context, member, draft)
    elif data.startswith("idea:id:") and step == IDENTITY and data[8:] in ideas.IDENTITIES:
        draft["identity"], draft["step"] = data[8:], REVIEW
        await _review(update, context, member, draft)
    elif data == "idea:send" and step == REVIEW:
        await _send(update, context, member, draft)
    elif data.startswith("idea:ans:"):
        await _ask_answer(update, context, member, data[9:])
    elif data == "idea:cancel" and draft is not None:
        context.user_data.pop(KEY, None)
        await ui.present(update, context, t(member.language, "idea.cancelled"))
    else:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
    raise ApplicationHandlerStop


async def _ask_answer(update: Update, context: BotContext, member: Member, raw_id: str) -> None:
    """The Answer button under a union reply: only the author, only while the idea is open."""
    # forged data: "²".isdigit() is true but int() refuses it; more than 9 digits overflow an INTEGER id
    idea = await context.db.get(Idea, int(raw_id)) if raw_id.isdecimal() and len(raw_id) <= 9 else None
    if idea is None or idea.member_id != member.id:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        return
    if idea.status not in ideas.OPEN_STATUSES:
        await ui.alert(update, context, t(member.language, "idea.refused_already_decided"))
        return
    engagement.begin_draft(context, ANSWER, {"idea": idea.id})
    await ui.acknowledge(update, context)
    await ui.send(update, t(member.language, "idea.ask_answer", code=idea.code))


async def _review(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> None:
    language = member.language
    where = await ideas.destination(context.db, member)
    text = draft["text"]
    preview = text if len(text) <= REVIEW_PREVIEW else text[:REVIEW_PREVIEW] + "…"
    body = t(language, "idea.review", title=escape(draft["title"]), text=escape(preview),
             file=t(language, "idea.review_file_yes" if draft.get("file_id") else "idea.review_file_no"),
             identity=t(language, f"idea.review_{draft['identity']}"),
             unit=escape(where.unit.name) if where.unit else t(language, "case.union_admins"))
    rows = [[(t(language, "idea.send"), "idea:send")], [(t(language, "idea.cancel"), "idea:cancel")]]
    await ui.present(update, context, body, ui.buttons(rows))


async def _send(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> None:
    language = member.language
    try:
        submitted = await ideas.submit(context.db, member, ideas.IdeaDraft(
            title=draft["title"], text=draft["text"], identity=draft["identity"], file_id=draft.get("file_id"),
            file_kind=draft.get("file_kind"), language=language), utcnow())
    except Refused as refused:
        context.user_data.pop(KEY, None)
        await ui.present(update, context, t(language, f"idea.refused_{refused.reason}"))
        return
    context.user_data.pop(KEY, None)
    idea = submitted.idea
    await engagement.post_cards(context, ideas.KIND, idea.id, submitted.unit, await card_text(context, idea),
                                card_buttons(idea))
    unit = escape(submitted.unit.name) if submitted.unit else t(language, "case.union_admins")
    await ui.present(update, context, t(language, "idea.sent", code=idea.code, unit=unit))


# ----- the card -----

async def card_text(context: BotContext, idea: Idea) -> str:
    lang = INBOX_LANGUAGE
    view = await ideas.officer_view(context.db, idea)
    lines = [t(lang, "idea.card_title", code=view.code, title=escape(view.title))]
    if view.author is not None:
        who = escape(view.author.name or "—") + (" · @" + escape(view.author.username) if view.author.username else "")
        lines.append(t(lang, "idea.card_author", who=who))
    else:
        lines.append(t(lang, "idea.card_anonymous"))
    if view.workplace or view.province:
        lines.append(t(lang, "idea.card_workplace", workplace=escape(view.workplace or "—"),
                       province=escape(view.province or "—")))
    lines.append("")
    lines.append(escape(view.text))
    lines.append("")
    if view.has_file:
        lines.append(t(lang, "idea.card_has_file"))
    lines.append(t(lang, "idea.card_status", status=t(lang, f"idea.status_{view.status.value}")))
    if view.decision_note:
        lines.append(t(lang, "idea.card_note", note=escape(view.decision_note)))
    return "\n".join(lines)


def card_buttons(idea: Idea) -> InlineKeyboardMarkup | None:
    lang, iid = INBOX_LANGUAGE, idea.id
    rows: list[list[tuple[str, str]]] = []
    if idea.status in ideas.OPEN_STATUSES:
        first = [(t(lang, "idea.card_reply"), f"ic:reply:{iid}")]
        if idea.status == IdeaStatus.OPEN:
            first.insert(0, (t(lang, "idea.card_ack"), f"ic:ack:{iid}"))
        rows += [first, [(t(lang, "idea.card_accept"), f"ic:acc:{iid}"), (t(lang, "idea.card_reject"), f"ic:rej:{iid}")]]
    if idea.file_id:
        rows.append([(t(lang, "idea.card_file"), f"ic:file:{iid}")])
    return ui.buttons(rows) if rows else None


async def _ask_text(update: Update, context: BotContext, press: engagement.Press, idea: Idea) -> None:
    """Reply, Accept and Not accept: the text the worker will receive."""
    await engagement.ask_for_text(update, context, press, ideas.KIND, f"idea.prompt_{press.action}", code=idea.code)


async def _acknowledge(update: Update, context: BotContext, press: engagement.Press, idea: Idea) -> None:
    await ideas.acknowledge(context.db, idea, press.member, utcnow())
    await ui.acknowledge(update, context)
    await _refresh(context, idea)
    await _tell_worker(context, idea, "idea.worker_acknowledged")


async def _send_file(update: Update, context: BotContext, press: engagement.Press, idea: Idea) -> None:
    """Sent again by file id with a neutral caption: never forwarded, so no sender shows."""
    if idea.file_id is None:
        await ui.alert(update, context, t(press.language, "input.stale_button"))
        return
    await ui.acknowledge(update, context)
    send = context.bot.send_photo if idea.file_kind == "photo" else context.bot.send_document
    try:
        await send(update.callback_query.message.chat.id, idea.file_id,
                   caption=t(press.language, "idea.file_caption", code=idea.code))
    except TelegramError as error:
        log.warning("idea %s: attachment not sent (%s)", idea.id, type(error).__name__)


async def _complete_text(update: Update, context: BotContext, press: engagement.Press, idea: Idea, text: str) -> None:
    """The officer's reply or decision note, once engagement.CardActions has checked it again."""
    if press.action == "reply":
        await ideas.reply(context.db, idea, press.member, text, utcnow())
    else:
        await ideas.decide(context.db, idea, press.member, press.action == "acc", text, utcnow())
    key = {"reply": "idea.worker_reply", "acc": "idea.worker_accepted", "rej": "idea.worker_not_accepted"}[press.action]
    delivered = await _tell_worker(context, idea, key, answer_button=press.action == "reply", text=escape(text))
    done = "idea.reply_sent" if press.action == "reply" else "idea.decision_saved"
    await engagement.say(update, context, t(press.language, done if delivered else "idea.not_delivered"))
    await _refresh(context, idea)


async def _refresh(context: BotContext, idea: Idea) -> None:
    await engagement.edit_cards(context, ideas.KIND, idea.id, await card_text(context, idea), card_buttons(idea))


async def _tell_worker(context: BotContext, idea: Idea, key: str, answer_button: bool = False,
                       **values: object) -> bool:
    """In the worker's language and the unit's name, never an officer's; a reply comes with Answer."""
    worker = await context.db.get(Member, idea.member_id) if idea.member_id else None
    if worker is None or worker.telegram_id is None:
        return False
    unit = await context.db.get(Unit, idea.unit_id) if idea.unit_id else None
    unit_name = escape(unit.name) if unit else t(worker.language, "case.union_admins")
    body = t(worker.language, key, code=idea.code, title=escape(idea.title), unit=unit_name, **values)
    markup = ui.buttons([[(t(worker.language, "case.answer_button"), f"idea:ans:{idea.id}")]]) \
        if answer_button else None
    return await notify.send_private(context.bot, context.db, worker.telegram_id, body, markup)


CARDS = engagement.CardActions(
    kind=ideas.KIND, model=Idea, texts="idea", is_open=lambda idea: idea.status in ideas.OPEN_STATUSES,
    while_open={"ack": _acknowledge, "reply": _ask_text, "acc": _ask_text, "rej": _ask_text},
    any_time={"file": _send_file},
    text_actions={"reply": _complete_text, "acc": _complete_text, "rej": _complete_text})


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    CARDS.register_text()
    engagement.on_message_taker(take_message)
    return [
        CommandHandler("idea", start, filters=private),
        CallbackQueryHandler(on_button, pattern=r"^idea:"),
        CallbackQueryHandler(CARDS.on_press, pattern=r"^ic:"),
    ]
