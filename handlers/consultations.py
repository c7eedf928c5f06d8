"""Consultations (góp ý). Members: /gopy lists the open consultations they may comment on; one shows its
summary, document and deadline; "Send a comment" takes a text (≤ 3,000 characters), then named or anonymous,
and the comment goes to the owning unit's inbox. After the deadline a comment is refused politely.

Registered in group -3: each handler stops the update when it acts (see handlers/__init__.py).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import t
from bot.services import consultations
from bot.services.engagement import Refused
from bot.text import escape, nfc
from db.models import Consultation, Member, Unit
from db.types import utcnow
from handlers import engagement, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

KEY = "comment"
BUTTON_TEXT = 60


async def show_list(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        return
    language = member.language
    reason = consultations.may_take_part(member)
    if reason is not None:
        await ui.present(update, context, t(language, f"gopy.refused_{reason}"))
        raise ApplicationHandlerStop
    items = await consultations.open_for(context.db, member, utcnow())
    if not items:
        await ui.present(update, context, t(language, "gopy.none_open"))
        raise ApplicationHandlerStop
    rows = [[(_short(item.title), f"gy:v:{item.id}")] for item in items]
    await ui.present(update, context, t(language, "gopy.list"), ui.buttons(rows))
    raise ApplicationHandlerStop


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[:BUTTON_TEXT - 1] + "…"


async def on_button(update: Update, context: BotContext) -> None:
    """gy:v:<id> shows one; gy:c:<id> starts a comment; gy:id:<mode> sends it; gy:list goes back."""
    member = await current_member(update, context)
    if member is None:
        return
    parts = update.callback_query.data.split(":")
    if parts[1:] == ["list"]:
        await show_list(update, context)
    if len(parts) == 3 and parts[1] == "id":
        await _send(update, context, member, parts[2])
        raise ApplicationHandlerStop
    consultation = await context.db.get(Consultation, int(parts[2])) \
        if len(parts) == 3 and parts[1] in ("v", "c") and parts[2].isdecimal() and len(parts[2]) <= 9 else None  # not "²"
    if consultation is None or not await consultations.in_audience(context.db, member, consultation):
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        raise ApplicationHandlerStop
    if parts[1] == "v":
        await _show(update, context, member, consultation)
    else:
        await _begin(update, context, member, consultation)
    raise ApplicationHandlerStop


async def _show(update: Update, context: BotContext, member: Member, consultation: Consultation) -> None:
    language = member.language
    owner = await context.db.get(Unit, consultation.owner_unit_id)
    lines = [t(language, "gopy.title", title=escape(consultation.title)), "", escape(consultation.summary), ""]
    if consultation.document_url:
        lines.append(t(language, "gopy.document", url=escape(consultation.document_url)))
    lines.append(t(language, "gopy.owner", unit=escape(owner.name) if owner else "—"))
    lines.append(t(language, "gopy.deadline", deadline=notify.when(consultation.deadline, context.settings.tz)))
    rows = [[(t(language, "gopy.back"), "gy:list")]]
    if consultations.is_open(consultation, utcnow()):
        rows.insert(0, [(t(language, "gopy.comment"), f"gy:c:{consultation.id}")])
    else:
        lines.append(t(language, "gopy.refused_closed"))
    await ui.present(update, context, "\n".join(lines), ui.buttons(rows))


async def _begin(update: Update, context: BotContext, member: Member, consultation: Consultation) -> None:
    try:
        await consultations.check_may_comment(context.db, member, consultation, utcnow())
    except Refused as refused:
        await ui.present(update, context, t(member.language, f"gopy.refused_{refused.reason}"))
        return
    engagement.begin_draft(context, KEY, {"step": "text", "consultation": consultation.id})
    await ui.acknowledge(update, context)
    await ui.send(update, t(member.language, "gopy.ask_text", title=escape(consultation.title),
                            high=consultations.COMMENT_LIMITS[1]))


async def take_message(update: Update, context: BotContext) -> bool:
    continued = await engagement.continued_draft(update, context, KEY)
    if continued is None:
        return False
    draft, member = continued
    message = update.effective_message
    language = member.language
    if draft["step"] != "text":
        await ui.send(update, t(language, "input.press_button"))
        return True
    if not message.text:
        await ui.send(update, t(language, "idea.text_only"))
        return True
    text = nfc(message.text).strip()
    low, high = consultations.COMMENT_LIMITS
    if not low <= len(text) <= high:
        key = "gopy.too_short" if len(text) < low else "gopy.too_long"
        await ui.send(update, t(language, key, low=low, high=high, length=len(text)))
        return True
    draft["text"], draft["step"] = text, "identity"
    rows = [[(t(language, "idea.named"), "gy:id:named")], [(t(language, "idea.anonymous"), "gy:id:anonymous")]]
    await ui.send(update, t(language, "gopy.ask_identity"), ui.buttons(rows))
    return True


async def _send(update: Update, context: BotContext, member: Member, identity: str) -> None:
    language = member.language
    draft = engagement.draft_of(context, KEY)
    if draft is None or draft.get("step") != "identity" or identity not in consultations.IDENTITIES:
        await ui.alert(update, context, t(language, "input.stale_button"))
        return
    context.user_data.pop(KEY, None)
    consultation = await context.db.get(Consultation, draft.get("consultation") or 0)
    if consultation is None:
        await ui.alert(update, context, t(language, "input.stale_button"))
        return
    try:
        comment = await consultations.add_comment(context.db, member, consultation, draft["text"], identity,
                                                  utcnow())
    except Refused as refused:
        await ui.present(update, context, t(language, f"gopy.refused_{refused.reason}"))
        return
    unit = await consultations.receiving_unit(context.db, consultation)
    view = await consultations.comment_view(context.db, comment)
    await engagement.post_cards(context, consultations.KIND, comment.id, unit, _card_text(view), None)
    await ui.present(update, context, t(language, "gopy.sent", title=escape(consultation.title)))


def _card_text(view: consultations.CommentView) -> str:
    lang = INBOX_LANGUAGE
    if view.identity == "named":
        who = escape(view.name or "—") + (" · @" + escape(view.username) if view.username else "")
        author = t(lang, "idea.card_author", who=who)
    else:
        author = t(lang, "gopy.card_anonymous")
    lines = [t(lang, "gopy.card_title", number=view.id, title=escape(view.title)), author]
    if view.province:
        lines.append(t(lang, "gopy.card_province", province=escape(view.province)))
    return "\n".join([*lines, "", escape(view.text)])


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    engagement.on_message_taker(take_message)
    return [
        CommandHandler("gopy", show_list, filters=private),
        CallbackQueryHandler(on_button, pattern=r"^gy:"),
    ]
