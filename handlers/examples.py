"""Nominate a good example (nêu gương). The member: /nominate, a person or a team, their name, the story,
an optional photo, then a review with a required checkbox (the nominee agreed to be published) before
sending. The draft lives in user_data["example"]; a command or a menu button leaves it. Officers: the card in
the receiving unit's inbox with Approve and Reject (a note the nominator receives), and the photo.

Registered in group -3: each handler stops the update when it acts (see handlers/__init__.py).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import t
from bot.services import engagement as engagement_service
from bot.services import examples
from bot.services.engagement import Refused
from bot.text import escape, nfc
from db.models import ExampleNomination, Member, NominationStatus, Unit
from db.types import utcnow
from handlers import engagement, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

KEY = "example"
KIND, NOMINEE, STORY, PHOTO, REVIEW = "kind", "nominee", "story", "photo", "review"
REVIEW_PREVIEW = 600


async def start(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        return
    reason = examples.may_nominate(member)
    if reason is not None:
        await ui.send(update, t(member.language, f"example.refused_{reason}"))
        raise ApplicationHandlerStop
    engagement.begin_draft(context, KEY, {"step": KIND})
    rows = [[(t(member.language, f"example.kind_{kind}"), f"ex:kind:{kind}")] for kind in examples.NOMINEE_KINDS]
    await ui.send(update, t(member.language, "example.intro"), ui.buttons(rows))
    raise ApplicationHandlerStop


async def take_message(update: Update, context: BotContext) -> bool:
    continued = await engagement.continued_draft(update, context, KEY)
    if continued is None:
        return False
    draft, member = continued
    message = update.effective_message
    step = draft["step"]
    if step in (NOMINEE, STORY):
        await _take_text(update, context, member, draft, step)
    elif step == PHOTO and message.photo:
        draft["photo_file_id"] = message.photo[-1].file_id
        await _review(update, context, member, draft)
    elif step == PHOTO:
        await ui.send(update, t(member.language, "example.photo_expected"), _skip_button(member.language))
    else:
        await ui.send(update, t(member.language, "input.press_button"))
    return True


async def _take_text(update: Update, context: BotContext, member: Member, draft: dict[str, Any], step: str) -> None:
    language, message = member.language, update.effective_message
    limits = examples.NOMINEE_LIMITS if step == NOMINEE else examples.STORY_LIMITS
    if not message.text:
        await ui.send(update, t(language, "idea.text_only"))
        return
    text = nfc(message.text).strip()
    if step == NOMINEE:
        text = " ".join(text.split())
    problem = examples.length_problem(text, limits)
    if problem is not None:
        await ui.send(update, t(language, f"example.{step}_{problem}", low=limits[0], high=limits[1],
                                length=len(text)))
        return
    draft[step] = text
    if step == NOMINEE:
        draft["step"] = STORY
        await ui.send(update, t(language, "example.ask_story", low=examples.STORY_LIMITS[0],
                                high=examples.STORY_LIMITS[1]))
        return
    draft["step"] = PHOTO
    await ui.send(update, t(language, "example.ask_photo"), _skip_button(language))


def _skip_button(language: str) -> InlineKeyboardMarkup:
    return ui.buttons([[(t(language, "idea.skip_file"), "ex:skip")]])


async def _review(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> None:
    draft["step"] = REVIEW
    language = member.language
    where = await engagement_service.destination(context.db, member)
    story = draft["story"]
    body = t(language, "example.review", kind=t(language, f"example.kind_{draft['kind']}"),
             nominee=escape(draft["nominee"]),
             story=escape(story if len(story) <= REVIEW_PREVIEW else story[:REVIEW_PREVIEW] + "…"),
             photo=t(language, "example.review_photo_yes" if draft.get("photo_file_id") else "example.review_photo_no"),
             unit=escape(where.unit.name) if where.unit else t(language, "case.union_admins"))
    box = "example.consent_checked" if draft.get("consent") else "example.consent_unchecked"
    rows = [[(t(language, box), "ex:consent")], [(t(language, "example.send"), "ex:send")],
            [(t(language, "idea.cancel"), "ex:cancel")]]
    await ui.present(update, context, body, ui.buttons(rows))


async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        return
    draft = engagement.draft_of(context, KEY)
    data = update.callback_query.data
    step = draft["step"] if draft else None
    if data.startswith("ex:kind:") and step == KIND and data[8:] in examples.NOMINEE_KINDS:
        draft["kind"], draft["step"] = data[8:], NOMINEE
        await ui.present(update, context, t(member.language, f"example.ask_nominee_{data[8:]}",
                                            high=examples.NOMINEE_LIMITS[1]))
    elif data == "ex:skip" and step == PHOTO:
        await _review(update, context, member, draft)
    elif data == "ex:consent" and step == REVIEW:
        draft["consent"] = not draft.get("consent")
        await _review(update, context, member, draft)
    elif data == "ex:send" and step == REVIEW and not draft.get("consent"):
        await ui.alert(update, context, t(member.language, "example.refused_consent_required"))
    elif data == "ex:send" and step == REVIEW:
        await _send(update, context, member, draft)
    elif data == "ex:cancel" and draft is not None:
        context.user_data.pop(KEY, None)
        await ui.present(update, context, t(member.language, "example.cancelled"))
    else:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
    raise ApplicationHandlerStop


async def _send(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> None:
    language = member.language
    context.user_data.pop(KEY, None)
    try:
        submitted = await examples.submit(context.db, member, examples.NominationDraft(
            nominee_kind=draft["kind"], nominee=draft["nominee"], story=draft["story"],
            photo_file_id=draft.get("photo_file_id"), consent_confirmed=bool(draft.get("consent")),
            language=language), utcnow())
    except Refused as refused:
        await ui.present(update, context, t(language, f"example.refused_{refused.reason}"))
        return
    nomination = submitted.nomination
    await engagement.post_cards(context, examples.KIND, nomination.id, submitted.unit,
                                await card_text(context, nomination), card_buttons(nomination))
    unit = escape(submitted.unit.name) if submitted.unit else t(language, "case.union_admins")
    await ui.present(update, context, t(language, "example.sent", nominee=escape(nomination.nominee), unit=unit))


# ----- the card -----

async def card_text(context: BotContext, nomination: ExampleNomination) -> str:
    lang = INBOX_LANGUAGE
    name, username = await examples.nominator_name(context.db, nomination)
    by = escape(name or "—") + (" · @" + escape(username) if username else "")
    lines = [t(lang, "example.card_title", number=nomination.id, nominee=escape(nomination.nominee),
               kind=t(lang, f"example.kind_{nomination.nominee_kind}")),
             t(lang, "example.card_by", who=by), "", escape(nomination.story), ""]
    if nomination.photo_file_id:
        lines.append(t(lang, "example.card_has_photo"))
    lines.append(t(lang, "example.card_consent", when=notify.when(nomination.consent_confirmed_at,
                                                                    context.settings.tz)))
    lines.append(t(lang, "idea.card_status", status=t(lang, f"example.status_{nomination.status.value}")))
    if nomination.decision_note:
        lines.append(t(lang, "idea.card_note", note=escape(nomination.decision_note)))
    return "\n".join(lines)


def card_buttons(nomination: ExampleNomination) -> InlineKeyboardMarkup | None:
    lang, nid = INBOX_LANGUAGE, nomination.id
    rows: list[list[tuple[str, str]]] = []
    if nomination.status == NominationStatus.PENDING:
        rows.append([(t(lang, "example.card_approve"), f"ec:ok:{nid}"), (t(lang, "example.card_reject"), f"ec:no:{nid}")])
    if nomination.photo_file_id:
        rows.append([(t(lang, "example.card_photo"), f"ec:photo:{nid}")])
    return ui.buttons(rows) if rows else None


async def _send_photo(update: Update, context: BotContext, press: engagement.Press,
                      nomination: ExampleNomination) -> None:
    if not nomination.photo_file_id:
        await ui.alert(update, context, t(press.language, "input.stale_button"))
        return
    await ui.acknowledge(update, context)
    try:
        await context.bot.send_photo(update.callback_query.message.chat.id, nomination.photo_file_id,
                                     caption=t(press.language, "example.photo_caption", number=nomination.id))
    except TelegramError as error:
        log.warning("example %s: photo not sent (%s)", nomination.id, type(error).__name__)


async def _approve(update: Update, context: BotContext, press: engagement.Press, nomination: ExampleNomination) -> None:
    await examples.decide(context.db, nomination, press.member, True, None, utcnow())
    await ui.acknowledge(update, context)
    await _decided(context, nomination)


async def _ask_reason(update: Update, context: BotContext, press: engagement.Press,
                      nomination: ExampleNomination) -> None:
    await engagement.ask_for_text(update, context, press, examples.KIND, "example.prompt_reject", number=nomination.id)


async def _reject(update: Update, context: BotContext, press: engagement.Press, nomination: ExampleNomination,
                  note: str) -> None:
    """The rejection note, once engagement.CardActions has checked it again."""
    await examples.decide(context.db, nomination, press.member, False, note, utcnow())
    await engagement.say(update, context, t(press.language, "idea.decision_saved"))
    await _decided(context, nomination)


async def _decided(context: BotContext, nomination: ExampleNomination) -> None:
    await engagement.edit_cards(context, examples.KIND, nomination.id, await card_text(context, nomination),
                                card_buttons(nomination))
    nominator = await context.db.get(Member, nomination.member_id) if nomination.member_id else None
    if nominator is None or nominator.telegram_id is None:
        return
    unit = await context.db.get(Unit, nomination.unit_id) if nomination.unit_id else None
    language = nominator.language
    key = f"example.worker_{nomination.status.value}"
    await notify.send_private(context.bot, context.db, nominator.telegram_id, t(
        language, key, nominee=escape(nomination.nominee), note=escape(nomination.decision_note or ""),
        unit=escape(unit.name) if unit else t(language, "case.union_admins")))


CARDS = engagement.CardActions(
    kind=examples.KIND, model=ExampleNomination, texts="example",
    is_open=lambda nomination: nomination.status == NominationStatus.PENDING,
    while_open={"ok": _approve, "no": _ask_reason}, any_time={"photo": _send_photo}, text_actions={"no": _reject})


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    CARDS.register_text()
    engagement.on_message_taker(take_message)
    return [
        CommandHandler("nominate", start, filters=private),
        CallbackQueryHandler(on_button, pattern=r"^ex:"),
        CallbackQueryHandler(CARDS.on_press, pattern=r"^ec:"),
    ]
