"""The worker's side of a case: /mycases (list and timeline), answering the union (the ✍️ button, or a
Telegram reply to the union's message), and the verdict on a resolved case with a 1–5 rating.

These handlers sit in group -1, ahead of the conversations, and stop the update when they handle it:
an answer the worker was asked for must not be eaten by a conversation step left open elsewhere.

Which case a Telegram reply is about is read from the replied-to message itself: the bot's messages
about a case carry its Answer/outcome button (wans:<id>, wout:<id>:…) or at least its code (every
case text has {code}). Nothing has to be stored per message, it works for every message ever sent
about a case (also by other modules), and the case is re-checked to be the worker's own anyway.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import t
from bot.services import case_views, cases, worker_views
from bot.services.categories import get_category
from bot.text import escape, nfc
from db.models import CaseCard, CaseStatus, Grievance, Member, Unit
from db.types import utcnow
from handlers import cards, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

PER_PAGE = 5
TIMELINE_ENTRIES = 20
ENTRY_CHARACTERS = 400
ANSWER_LIMIT = 3000
CAPTION_TEXT_LIMIT = 700  # the worker's caption under a file, within Telegram's 1024 with our header
FILE_LIMIT = 20 * 1024 * 1024  # what a bot can fetch; the same limit as at intake
PENDING = "worker_answer"  # user_data while the bot waits for an answer: {"case": id, "since": ISO time}
PENDING_FOR = timedelta(hours=24)
CASE_CODE = re.compile(r"\bPA-\d{4}-\d{4,}\b")
CASE_BUTTON = re.compile(r"^w(?:ans|out):(\d+)")
RATINGS = range(1, 6)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """Registered in group -1; order matters (one handler per group and update)."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [
        CommandHandler("mycases", show_list, filters=private),
        MessageHandler(filters.Text(ui.menu_labels("menu.mycases")) & private, show_list),
        CallbackQueryHandler(on_list_page, pattern=r"^wcp:"),
        CallbackQueryHandler(on_page_number, pattern=r"^wnoop$"),
        CallbackQueryHandler(on_case, pattern=r"^wcase:"),
        CallbackQueryHandler(on_answer_button, pattern=r"^wans:"),
        CallbackQueryHandler(on_outcome, pattern=r"^wout:"),
        CallbackQueryHandler(on_rating, pattern=r"^wrate:"),
        MessageHandler(private, on_private_message),
        CallbackQueryHandler(forget_pending),
    ]


async def forget_pending(update: Update, context: BotContext) -> None:
    """Another button was pressed: the worker moved on, so the next message is no longer an answer.
    The update goes on to the handler that owns the button."""
    if context.user_data is not None:
        context.user_data.pop(PENDING, None)


# ----- /mycases: the list and one case's timeline -----

async def show_list(update: Update, context: BotContext) -> None:
    """/mycases and the menu button: a fresh list; any answer the bot was waiting for is dropped."""
    context.user_data.pop(PENDING, None)
    member = await current_member(update, context)
    await _present_list(update, context, member, 0)
    raise ApplicationHandlerStop


async def on_list_page(update: Update, context: BotContext) -> None:
    raw = update.callback_query.data.removeprefix("wcp:")
    member = await current_member(update, context)
    await _present_list(update, context, member, int(raw) if raw.isdecimal() and len(raw) <= 4 else 0)
    raise ApplicationHandlerStop


async def on_page_number(update: Update, context: BotContext) -> None:
    """The "2/3" between the arrows: nothing to do but stop the spinner."""
    await ui.acknowledge(update, context)
    raise ApplicationHandlerStop


async def _present_list(update: Update, context: BotContext, member: Member, page: int) -> None:
    lang = member.language
    total = await worker_views.count_cases(context.db, member.id)
    if total == 0:
        await ui.present(update, context, t(lang, "worker.list_empty"))
        return
    pages = -(-total // PER_PAGE)
    page = min(max(page, 0), pages - 1)
    items = await worker_views.my_cases(context.db, member.id, page * PER_PAGE, PER_PAGE)
    lines = [t(lang, "worker.list_title", total=total)]
    for item in items:
        lines.append(t(lang, "worker.list_item", code=item.code, category=_category(item.category, lang),
                       status=t(lang, f"worker.status_{item.status.value}"),
                       unit=escape(item.unit_name or t(lang, "case.union_admins"))))
        if item.deadline_kind:
            lines.append(t(lang, f"worker.deadline_{item.deadline_kind}",
                           due=notify.when(item.deadline, context.settings.tz)))
    rows = [[(f"{item.code}", f"wcase:{item.id}")] for item in items]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append((t(lang, "nav.previous"), f"wcp:{page - 1}"))
        nav.append((f"{page + 1}/{pages}", "wnoop"))
        if page < pages - 1:
            nav.append((t(lang, "nav.next"), f"wcp:{page + 1}"))
        rows.append(nav)
    await ui.present(update, context, "\n".join(lines), ui.buttons(rows))


async def on_case(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    grievance = await _own_case_from(update, context, member, "wcase:")
    if grievance is not None:
        await ui.present(update, context, await _timeline_text(context, grievance, member.language),
                         _case_buttons(grievance, member.language))
    raise ApplicationHandlerStop


async def _own_case_from(update: Update, context: BotContext, member: Member, prefix: str) -> Grievance | None:
    """The case a button names, if it is the presser's own; a polite alert otherwise (forged or stale)."""
    raw = update.callback_query.data.removeprefix(prefix).split(":")[0]
    # forged data: "²".isdigit() is true but int() refuses it; more than 9 digits overflow an INTEGER id
    valid = raw.isdecimal() and len(raw) <= 9
    grievance = await worker_views.own_case(context.db, member.id, int(raw)) if valid else None
    if grievance is None:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
    return grievance


async def _timeline_text(context: BotContext, grievance: Grievance, lang: str) -> str:
    tz = context.settings.tz
    admins = t(lang, "case.union_admins")
    unit = await worker_views.unit_name(context.db, grievance)
    lines = [t(lang, "worker.case_title", code=grievance.code, category=notify.category_name(grievance, lang),
               unit=escape(unit or admins), status=t(lang, f"worker.status_{grievance.status.value}"))]
    kind, due = worker_views.next_deadline(grievance)
    if kind:
        lines.append(t(lang, f"worker.deadline_{kind}", due=notify.when(due, tz)))
    entries = await worker_views.timeline(context.db, grievance)
    lines.append("")
    if len(entries) > TIMELINE_ENTRIES:
        lines.append(t(lang, "worker.timeline_earlier", count=len(entries) - TIMELINE_ENTRIES))
        entries = entries[-TIMELINE_ENTRIES:]
    for entry in entries:
        values = {"at": notify.when(entry.at, tz), "unit": escape(entry.unit_name or admins),
                  "text": escape(_short(entry.text or ""))}
        if entry.kind == "yours" and entry.file_kind:
            lines.append(t(lang, "worker.timeline_your_file", file=t(lang, f"worker.file_{entry.file_kind}"),
                           **values))
        else:
            lines.append(t(lang, f"worker.timeline_{entry.kind}", **values))
    return "\n".join(lines)


def _category(code: str, lang: str) -> str:
    category = get_category(code)
    return escape(category.name(lang) if category else code)


def _short(text: str) -> str:
    return text if len(text) <= ENTRY_CHARACTERS else text[:ENTRY_CHARACTERS - 1] + "…"


def _case_buttons(grievance: Grievance, lang: str) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if grievance.status in cases.OPEN_STATUSES:
        rows += notify.worker_answer_button(grievance, lang).inline_keyboard
    elif grievance.status == CaseStatus.RESOLVED:
        rows += notify.outcome_buttons(grievance, lang).inline_keyboard
    rows.append([InlineKeyboardButton(t(lang, "worker.back"), callback_data="wcp:0")])
    return InlineKeyboardMarkup(rows)


# ----- answering the union -----

async def on_answer_button(update: Update, context: BotContext) -> None:
    """✍️ Answer: the next text, photo, document or voice message in this chat is the answer."""
    member = await current_member(update, context)
    grievance = await _own_case_from(update, context, member, "wans:")
    if grievance is None:
        raise ApplicationHandlerStop
    if grievance.status not in cases.OPEN_STATUSES:
        await ui.alert(update, context, t(member.language, "worker.alert_closed"))
        raise ApplicationHandlerStop
    context.user_data[PENDING] = {"case": grievance.id, "since": utcnow().isoformat()}
    await ui.acknowledge(update, context)
    await ui.send(update, t(member.language, "worker.answer_prompt", code=grievance.code))
    raise ApplicationHandlerStop


def _is_menu_or_command(message: Message) -> bool:
    text = message.text or ""
    return text.startswith("/") or text in MENU_LABELS


MENU_LABELS = frozenset(label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key))


async def on_private_message(update: Update, context: BotContext) -> None:
    """Every private message passes here first. A reply to the bot's message about a case, or the message
    right after ✍️ Answer, is the worker's answer; anything else goes on to the other handlers."""
    message = update.effective_message
    if _is_menu_or_command(message):
        context.user_data.pop(PENDING, None)  # the worker went elsewhere: stop waiting for an answer
        return
    replied = message.reply_to_message
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id
    if not to_bot and PENDING not in context.user_data:
        return  # the common case, decided without the database
    member = await current_member(update, context)
    grievance = await _replied_case(context, message, member)
    if grievance is None:
        grievance = await _pending_case(context, member)
    if grievance is None:
        return
    await _take_answer(update, context, member, grievance)
    raise ApplicationHandlerStop


async def _replied_case(context: BotContext, message: Message, member: Member) -> Grievance | None:
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    grievance_id = None
    for row in (replied.reply_markup.inline_keyboard if replied.reply_markup else ()):
        for button in row:
            match = CASE_BUTTON.match(button.callback_data or "") if isinstance(button.callback_data, str) else None
            grievance_id = grievance_id or (int(match.group(1)) if match else None)
    if grievance_id is not None:
        return await worker_views.own_case(context.db, member.id, grievance_id)
    code = CASE_CODE.search(replied.text or replied.caption or "")
    if code is None:
        return None
    grievance = await context.db.scalar(select(Grievance).where(Grievance.code == code.group(0)))
    return grievance if grievance is not None and grievance.member_id == member.id else None


async def _pending_case(context: BotContext, member: Member) -> Grievance | None:
    pending = context.user_data.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("case"), int):
        return None
    try:
        since = datetime.fromisoformat(str(pending.get("since")))
    except ValueError:
        since = None
    if since is None or utcnow() - since > PENDING_FOR:
        context.user_data.pop(PENDING, None)
        return None
    return await worker_views.own_case(context.db, member.id, pending["case"])


async def _take_answer(update: Update, context: BotContext, member: Member, grievance: Grievance) -> None:
    lang = member.language
    message = update.effective_message
    if grievance.status == CaseStatus.RESOLVED:  # e.g. "not really" typed under "Was it resolved?"
        context.user_data.pop(PENDING, None)
        await ui.send(update, t(lang, "worker.use_outcome_buttons", code=grievance.code),
                      notify.outcome_buttons(grievance, lang))
        return
    if grievance.status not in cases.OPEN_STATUSES:
        context.user_data.pop(PENDING, None)
        await ui.send(update, t(lang, "worker.case_closed", code=grievance.code))
        return
    content = _content_of(message)
    if content is None:
        await ui.send(update, t(lang, "worker.answer_wrong_media", code=grievance.code))
        return
    text, file_id, file_kind, file_size = content
    if file_size is not None and file_size > FILE_LIMIT:
        await ui.send(update, t(lang, "worker.answer_file_too_big"))
        return
    if text is not None and len(text) > ANSWER_LIMIT:
        await ui.send(update, t(lang, "input.too_long", limit=ANSWER_LIMIT))
        return
    try:
        await cases.worker_message(context.db, grievance, member, utcnow(), text=text, file_id=file_id,
                                   file_kind=file_kind, file_size=file_size)
    except cases.CaseRefused:
        await context.db.rollback()
        context.user_data.pop(PENDING, None)
        await ui.send(update, t(lang, "worker.case_closed", code=grievance.code))
        return
    context.user_data.pop(PENDING, None)
    unit = await worker_views.unit_name(context.db, grievance)
    await ui.send(update, t(lang, "worker.answer_sent", code=grievance.code,
                            unit=escape(unit or t(lang, "case.union_admins"))))
    await _answer_to_officers(context, grievance, text, file_id, file_kind)
    await notify.refresh_card(context.bot, context.db, grievance, context.settings.tz, context.settings.admin_ids)


def _content_of(message: Message) -> tuple[str | None, str | None, str | None, int | None] | None:
    """(text, file_id, file kind, file size) of an answer; None for what is not accepted (stickers, …)."""
    caption = nfc(message.caption) if message.caption else None
    if message.text:
        return nfc(message.text), None, None, None
    if message.photo:
        photo = message.photo[-1]
        return caption, photo.file_id, "photo", photo.file_size
    if message.document:
        return caption, message.document.file_id, "document", message.document.file_size
    if message.voice:
        return caption, message.voice.file_id, "voice", message.voice.file_size
    return None


async def _answer_to_officers(context: BotContext, grievance: Grievance, text: str | None, file_id: str | None,
                              file_kind: str | None) -> None:
    """The answer in the case thread, with only the identity the holding unit may see."""
    lang = INBOX_LANGUAGE
    unit = await context.db.get(Unit, grievance.unit_id) if grievance.unit_id else None
    view = await case_views.officer_view(context.db, grievance, unit.level if unit else None)
    who = _who(view)
    if file_id is None:
        body = t(lang, "worker.thread_answer", code=view.code, who=who, text=escape(text or ""))
        await notify.post_to_case_thread(context.bot, context.db, grievance, body)
        return
    caption = t(lang, "worker.thread_file", code=view.code, who=who, file=t(lang, f"worker.file_{file_kind}"))
    if text:
        caption += "\n\n" + escape(text if len(text) <= CAPTION_TEXT_LIMIT else text[:CAPTION_TEXT_LIMIT] + "…")
    card = await cards.current_card(context.db, grievance)
    if card is not None:
        await _send_file(context, card, grievance, file_id, file_kind, caption)


def _who(view: case_views.OfficerView) -> str:
    if view.reporter is None:
        return t(INBOX_LANGUAGE, f"worker.thread_who_{view.identity}")
    parts = [escape(view.reporter.name or t(INBOX_LANGUAGE, "worker.thread_who_named"))]
    if view.reporter.username:
        parts.append("@" + escape(view.reporter.username))
    return " · ".join(parts)


async def _send_file(context: BotContext, card: CaseCard, grievance: Grievance, file_id: str, file_kind: str,
                     caption: str) -> None:
    """Sent again by file_id: the officers get the file, never the worker's account as its sender."""
    send = {"photo": context.bot.send_photo, "document": context.bot.send_document,
            "voice": context.bot.send_voice}[file_kind]
    try:
        await send(card.chat_id, file_id, caption=caption, parse_mode=ParseMode.HTML,
                   message_thread_id=card.thread_id,
                   reply_parameters=ReplyParameters(card.message_id, allow_sending_without_reply=True))
    except TelegramError as error:
        log.warning("case %s: file not posted to the inbox (%s)", grievance.id, type(error).__name__)


# ----- the verdict: was it resolved? then a rating -----

async def on_outcome(update: Update, context: BotContext) -> None:
    """wout:<id>:yes|partly|no — then the 1–5 rating is asked (nothing is recorded yet)."""
    member = await current_member(update, context)
    grievance = await _own_case_from(update, context, member, "wout:")
    choice = update.callback_query.data.rsplit(":", 1)[-1]
    if grievance is None:
        raise ApplicationHandlerStop
    lang = member.language
    if choice not in {outcome.value for outcome in cases.Outcome}:
        await ui.alert(update, context, t(lang, "input.stale_button"))
    elif grievance.status != CaseStatus.RESOLVED:
        await ui.alert(update, context, t(lang, "worker.outcome_stale"))
    else:
        await ui.acknowledge(update, context)
        try:
            # One verdict per question. PTB adds the default parse_mode to this method, which has none
            # (Telegram ignores it, a strict Bot API refuses it): api_kwargs takes it out again.
            await update.callback_query.edit_message_reply_markup(None, api_kwargs={"parse_mode": None})
        except BadRequest:
            pass
        stars = [[(f"{'⭐' * rating}", f"wrate:{grievance.id}:{choice}:{rating}") for rating in RATINGS[:3]],
                 [(f"{'⭐' * rating}", f"wrate:{grievance.id}:{choice}:{rating}") for rating in RATINGS[3:]],
                 [(t(lang, "worker.rating_skip"), f"wrate:{grievance.id}:{choice}:0")]]
        await ui.send(update, t(lang, "worker.rating_question", code=grievance.code,
                                choice=t(lang, f"case.outcome_{choice}")), ui.buttons(stars))
    raise ApplicationHandlerStop


async def on_rating(update: Update, context: BotContext) -> None:
    """wrate:<id>:<outcome>:<0-5> — the verdict is recorded; "no" reopens the case one level up."""
    member = await current_member(update, context)
    grievance = await _own_case_from(update, context, member, "wrate:")
    if grievance is None:
        raise ApplicationHandlerStop
    lang = member.language
    parts = update.callback_query.data.split(":")
    valid = len(parts) == 4 and parts[2] in {o.value for o in cases.Outcome} and parts[3] in {"0", "1", "2", "3",
                                                                                                "4", "5"}
    if not valid:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        raise ApplicationHandlerStop
    outcome, rating = cases.Outcome(parts[2]), int(parts[3]) or None
    settings = context.settings
    try:
        moved = await cases.record_outcome(context.db, grievance, member, outcome, rating, utcnow(), settings.tz)
    except cases.CaseRefused as refused:
        await context.db.rollback()
        log.info("case %s: verdict refused (%s)", parts[1], refused.reason)
        await ui.alert(update, context, t(lang, "worker.outcome_stale"))
        raise ApplicationHandlerStop from None
    verdict = t(INBOX_LANGUAGE, "worker.thread_verdict", code=grievance.code,
                verdict=t(INBOX_LANGUAGE, f"worker.verdict_{outcome.value}"),
                rating=t(INBOX_LANGUAGE, "worker.rating_value", rating=rating) if rating
                else t(INBOX_LANGUAGE, "worker.rating_none"))
    if moved is None:
        await ui.present(update, context, t(lang, "worker.outcome_thanks", code=grievance.code))
        await notify.post_to_case_thread(context.bot, context.db, grievance, verdict)
        await notify.refresh_card(context.bot, context.db, grievance, settings.tz, settings.admin_ids)
    else:
        await ui.present(update, context, t(lang, "worker.outcome_reopened", code=grievance.code))
        await _post_to_unit_card(context, grievance, moved.from_unit_id, verdict)
        await notify.case_moved(context.bot, context.db, grievance, moved.from_unit_id, settings.tz,
                                settings.admin_ids, worker_key="worker.reopened_escalated")
        await notify.post_to_case_thread(context.bot, context.db, grievance, verdict)
    raise ApplicationHandlerStop


async def _post_to_unit_card(context: BotContext, grievance: Grievance, unit_id: int | None, body: str) -> None:
    """A message under the card the case left behind (the officers who resolved it hear the verdict)."""
    card = await context.db.scalar(select(CaseCard).where(
        CaseCard.grievance_id == grievance.id,
        CaseCard.unit_id == unit_id if unit_id else CaseCard.unit_id.is_(None)).order_by(CaseCard.id.desc())
        .limit(1))
    if card is None:
        return
    try:
        await context.bot.send_message(card.chat_id, body, parse_mode=ParseMode.HTML, message_thread_id=card.thread_id,
                                       reply_parameters=ReplyParameters(card.message_id,
                                                                        allow_sending_without_reply=True))
    except TelegramError as error:
        log.warning("case %s: verdict not posted (%s)", grievance.id, type(error).__name__)
