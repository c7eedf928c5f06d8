"""The worker raises a concern: /report or the 📝 menu button, then category, scope, description, files,
workplace, "me too", identity mode, urgency, a review screen, submit.

One persistent ConversationHandler ("intake"). The draft lives in user_data["intake"] as plain JSON
(bot.services.intake), so a restart mid-way loses nothing. `draft["step"]` is the question on screen;
`draft["editing"]` sends every answer back to the review screen. See docs/grievance-flow.mmd.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.i18n import t
from bot.services import grievances, limits, members, provinces, workplaces
from bot.services import intake as drafts
from bot.services.categories import all_categories, get_category, is_emergency
from bot.text import escape
from db.models import Grievance, Member, Workplace
from db.types import utcnow
from handlers import learn, menu, notify, ui
from handlers.context import BotContext, current_member
from handlers.province_picker import ProvincePicker

log = logging.getLogger(__name__)

(CATEGORY, SCOPE, GROUP_SIZE, DESCRIPTION, ATTACHMENTS, WORKPLACE, WORKPLACE_SEARCH, WORKPLACE_NAME,
 WORKPLACE_PROVINCE, METOO, IDENTITY, URGENCY, REVIEW) = (
    "category", "scope", "group_size", "description", "attachments", "workplace", "workplace_search",
    "workplace_name", "workplace_province", "metoo", "identity", "urgency", "review")
EDITABLE = {"category": CATEGORY, "scope": SCOPE, "description": DESCRIPTION, "attachments": ATTACHMENTS,
            "workplace": WORKPLACE, "identity": IDENTITY, "urgency": URGENCY}
KEY = "intake"
SENT = "intake_sent"  # user_data: the token of the draft sent last, so a Send pressed again is answered
END = ConversationHandler.END
PROVINCE_PICKER = ProvincePicker("rep:prov", "intake.ask_workplace_province", "intake.province_no_match",
                                 "intake.province_pick", own_key="intake.same_province")
REVIEW_PREVIEW = 600
BUTTON_TEXT = 60


# ----- entry, resuming, leaving -----

async def start(update: Update, context: BotContext) -> str | int:
    """/report or the menu button. A draft already there (an unfinished report) is offered back, or, when
    it was sent before a restart lost the acknowledgement, acknowledged."""
    member = await current_member(update, context)
    if member is None:
        return END
    sent = await grievances.submitted_case(context.db, member.id, (_draft(context) or {}).get("token"))
    if sent is not None:
        return await _acknowledge(update, context, member, sent, summary=None)
    if not _may_report(member):
        await ui.send(update, t(member.language, "intake.needs_profile"), ui.main_menu(member.language))
        return END
    if not await _under_daily_limit(update, context, member):
        return END
    draft = _draft(context)
    if draft is not None and draft.get("step"):
        rows = [[(t(member.language, "intake.continue"), "rep:go:continue")],
                [(t(member.language, "intake.restart"), "rep:go:restart")]]
        await ui.send(update, t(member.language, "intake.in_progress"), ui.buttons(rows))
        return draft["step"]
    return await _begin(update, context, member)


async def _begin(update: Update, context: BotContext, member: Member) -> str:
    context.user_data.pop(SENT, None)  # a new draft: an old Send no longer stands for the case sent last
    context.user_data[KEY] = drafts.new_draft()
    return await ask_category(update, context, member, _draft(context))


async def busy(update: Update, context: BotContext) -> None:
    """Another command or menu button mid-way: nothing is lost; continue, or discard and do the other thing."""
    member = await current_member(update, context)
    if member is None:
        return
    rows = [[(t(member.language, "intake.continue"), "rep:go:continue")],
            [(t(member.language, "intake.discard"), "rep:go:discard")]]
    await ui.send(update, t(member.language, "intake.busy"), ui.buttons(rows))


async def on_go(update: Update, context: BotContext) -> str | int | None:
    member = await current_member(update, context)
    choice = update.callback_query.data.removeprefix("rep:go:")
    draft = _draft(context)
    if draft is None:
        return await _lost(update, context, member)
    if choice == "continue":
        return await _ask(draft["step"], update, context, member, draft)
    if choice == "restart":
        return await _begin(update, context, member)
    if choice == "discard":
        context.user_data.pop(KEY, None)
        ui.note(context, t(member.language, "intake.discarded"))
        await ui.present(update, context, t(member.language, "menu.title"), ui.main_menu(member.language))
        return END
    await ui.alert(update, context, t(member.language, "input.stale_button"))
    return None


async def on_menu_label(update: Update, context: BotContext) -> None:
    """A main-menu button typed mid-way is not an answer (📝 itself is an entry point: resume or restart)."""
    if update.effective_message.text in ui.menu_labels("menu.help"):
        await menu.show_help(update, context)
    else:
        await busy(update, context)


async def _lost(update: Update, context: BotContext, member: Member | None) -> int:
    """The draft is gone (e.g. cleared elsewhere): say so instead of failing."""
    language = member.language if member else "vi"
    await ui.acknowledge(update, context)
    await ui.send(update, t(language, "intake.lost"), ui.main_menu(language))
    return END


def _may_report(member: Member) -> bool:
    return member.onboarded_at is not None and not members.needs_consent(member)


async def _under_daily_limit(update: Update, context: BotContext, member: Member) -> bool:
    """At most CASES_PER_DAY new cases a day per member (bot/services/limits.py); refused politely."""
    per_day = context.settings.cases_per_day
    if await limits.may_open_case(context.db, member.id, utcnow(), context.settings.tz, per_day):
        return True
    await ui.acknowledge(update, context)
    await ui.send(update, t(member.language, "limits.cases_per_day", limit=per_day), ui.main_menu(member.language))
    return False


def _draft(context: BotContext) -> dict[str, Any] | None:
    return context.user_data.get(KEY)


# ----- category and scope -----

async def ask_category(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = CATEGORY
    items = [(category.name(member.language), f"rep:cat:{category.code}") for category in all_categories()]
    rows = [items[i:i + 2] for i in range(0, len(items), 2)]
    await ui.present(update, context, t(member.language, "intake.ask_category"), ui.buttons(rows))
    return CATEGORY


async def on_category(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    category = get_category(update.callback_query.data.removeprefix("rep:cat:"))
    if category is None:
        return await _stale(update, context, member, draft)
    draft["category"] = category.code
    lines = [t(member.language, "intake.category_chosen", category=escape(category.name(member.language)),
               hint=escape(category.hint(member.language)))]
    lines.append(_helps(member.language, category.code))
    ui.note(context, "\n".join(line for line in lines if line))
    return await _after(CATEGORY, update, context, member, draft)


def _helps(language: str, category_code: str | None) -> str:
    category = get_category(category_code or "")
    helps = category.helps(language) if category else []
    if not helps:
        return ""
    return t(language, "intake.helps_title") + "\n" + "\n".join(f"• {escape(item)}" for item in helps)


async def ask_scope(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = SCOPE
    rows = [[(t(member.language, "intake.scope_individual"), "rep:scope:individual")],
            [(t(member.language, "intake.scope_group"), "rep:scope:group")]]
    await ui.present(update, context, t(member.language, "intake.ask_scope"), ui.buttons(rows))
    return SCOPE


async def on_scope(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    scope = update.callback_query.data.removeprefix("rep:scope:")
    if scope not in drafts.SCOPES:
        return await _stale(update, context, member, draft)
    draft["scope"] = scope
    if scope == "group":
        return await ask_group_size(update, context, member, draft)
    draft["group_size"] = draft["group_label"] = None
    ui.note(context, t(member.language, "intake.scope_chosen", scope=_scope_value(member.language, draft)))
    return await _after(SCOPE, update, context, member, draft)


async def ask_group_size(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = GROUP_SIZE
    rows = [[(label, f"rep:size:{label}") for label, _ in drafts.GROUP_SIZES]]
    await ui.present(update, context, t(member.language, "intake.ask_group_size"), ui.buttons(rows))
    return GROUP_SIZE


async def on_group_size_button(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    label = update.callback_query.data.removeprefix("rep:size:")
    size = drafts.group_size_from_button(label)
    if size is None:
        return await _stale(update, context, member, draft)
    return await _group_size_chosen(update, context, member, draft, size, label)


async def on_group_size_text(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    size = drafts.parse_group_size(update.effective_message.text)
    if size is None:
        ui.note(context, t(member.language, "intake.group_size_invalid", min=drafts.GROUP_SIZE_MIN,
                           max=drafts.GROUP_SIZE_MAX))
        return await ask_group_size(update, context, member, draft)
    return await _group_size_chosen(update, context, member, draft, size, str(size))


async def _group_size_chosen(update: Update, context: BotContext, member: Member, draft: dict[str, Any],
                             size: int, label: str) -> str | int:
    draft["scope"], draft["group_size"], draft["group_label"] = "group", size, label
    ui.note(context, t(member.language, "intake.scope_chosen", scope=_scope_value(member.language, draft)))
    return await _after(SCOPE, update, context, member, draft)


def _scope_value(language: str, draft: dict[str, Any]) -> str:
    if draft.get("scope") == "group":
        return t(language, "intake.scope_group_value", size=escape(str(draft.get("group_label") or "?")))
    return t(language, "intake.scope_individual_value")


# ----- description -----

async def ask_description(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = DESCRIPTION
    await ui.present(update, context, t(member.language, "intake.ask_description", min=drafts.DESCRIPTION_MIN,
                                        max=drafts.DESCRIPTION_MAX))
    return DESCRIPTION


async def on_description_text(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    text, problem = drafts.check_description(update.effective_message.text)
    if is_emergency(text):  # before anything else, even before "too short"
        await ui.send(update, t(member.language, "intake.emergency"))
    if problem is drafts.Problem.TOO_SHORT:
        await ui.send(update, t(member.language, "intake.description_too_short", length=len(text),
                                min=drafts.DESCRIPTION_MIN))
        return DESCRIPTION
    if problem is drafts.Problem.TOO_LONG:
        await ui.send(update, t(member.language, "intake.description_too_long", length=len(text),
                                max=drafts.DESCRIPTION_MAX))
        return DESCRIPTION
    draft["text"] = text
    ui.note(context, t(member.language, "intake.description_chosen"))
    return await _after(DESCRIPTION, update, context, member, draft)


async def on_description_voice(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    voice = update.effective_message.voice
    problem = drafts.add_attachment(draft, voice.file_id, "voice", voice.file_size)
    if problem is not None:
        await _attachment_refused(update, member, problem)
        return DESCRIPTION
    ui.note(context, t(member.language, "intake.voice_chosen"))
    return await _after(DESCRIPTION, update, context, member, draft)


# ----- attachments -----

async def ask_attachments(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = ATTACHMENTS
    lines = [t(member.language, "intake.ask_attachments", limit=grievances.ATTACHMENT_LIMIT,
               size_mb=drafts.FILE_SIZE_LIMIT_MB)]
    helps = _helps(member.language, draft["category"])
    if helps:
        lines.append(helps)
    if draft["attachments"]:
        lines.append(t(member.language, "intake.attachments_so_far", count=len(draft["attachments"]),
                       limit=grievances.ATTACHMENT_LIMIT))
    await ui.present(update, context, "\n\n".join(lines), _attachment_buttons(member.language, draft))
    return ATTACHMENTS


def _attachment_buttons(language: str, draft: dict[str, Any]) -> InlineKeyboardMarkup:
    if not draft["attachments"]:
        return ui.buttons([[(t(language, "intake.attachments_skip"), "rep:att:done")]])
    return ui.buttons([[(t(language, "intake.attachments_done"), "rep:att:done")],
                       [(t(language, "intake.attachments_clear"), "rep:att:clear")]])


async def on_attachment(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    kind, file = _file_of(update.effective_message)
    if file is None:
        return await _wrong_input(ATTACHMENTS)(update, context)
    problem = drafts.add_attachment(draft, file.file_id, kind, file.file_size)
    if problem is not None:
        await _attachment_refused(update, member, problem, _attachment_buttons(member.language, draft))
        return ATTACHMENTS
    await ui.send(update, t(member.language, "intake.attachment_received", count=len(draft["attachments"]),
                            limit=grievances.ATTACHMENT_LIMIT), _attachment_buttons(member.language, draft))
    return ATTACHMENTS


def _file_of(message: Message) -> tuple[str, Any]:
    if message.photo:
        return "photo", message.photo[-1]  # the largest size
    if message.document is not None:
        return "document", message.document
    if message.voice is not None:
        return "voice", message.voice
    return "", None


async def _attachment_refused(update: Update, member: Member, problem: drafts.Problem,
                              reply_markup: object = None) -> None:
    key = "intake.attachment_too_big" if problem is drafts.Problem.TOO_BIG else "intake.attachment_limit"
    await ui.send(update, t(member.language, key, size_mb=drafts.FILE_SIZE_LIMIT_MB,
                            limit=grievances.ATTACHMENT_LIMIT), reply_markup)


async def on_attachments_button(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    choice = update.callback_query.data.removeprefix("rep:att:")
    if choice == "clear":
        draft["attachments"] = [a for a in draft["attachments"] if a["kind"] == "voice" and not draft.get("text")]
        ui.note(context, t(member.language, "intake.attachments_cleared"))
        return await ask_attachments(update, context, member, draft)
    if choice != "done":
        return await _stale(update, context, member, draft)
    ui.note(context, t(member.language, "intake.attachments_chosen", count=len(draft["attachments"])))
    return await _after(ATTACHMENTS, update, context, member, draft)


# ----- workplace -----

async def ask_workplace(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = WORKPLACE
    own = await _own_workplace_name(context, member)
    rows = []
    if own:
        rows.append([(t(member.language, "intake.workplace_own", workplace=_short(own)), "rep:wp:own")])
    rows.append([(t(member.language, "intake.workplace_other"), "rep:wp:other")])
    await ui.present(update, context, t(member.language, "intake.ask_workplace"), ui.buttons(rows))
    return WORKPLACE


async def _own_workplace_name(context: BotContext, member: Member) -> str | None:
    workplace = await members.load_workplace(context.db, member)
    if workplace is not None:
        return workplace.name
    if member.workplace_other_name and member.workplace_other_province_code:
        return member.workplace_other_name
    return None


async def on_workplace_button(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    choice = update.callback_query.data.removeprefix("rep:wp:")
    if choice == "own":
        workplace = await members.load_workplace(context.db, member)
        if workplace is not None:
            return await _workplace_chosen(update, context, member, draft, workplace.id, workplace.name, None)
        if member.workplace_other_name and member.workplace_other_province_code:
            return await _workplace_chosen(update, context, member, draft, None, member.workplace_other_name,
                                           member.workplace_other_province_code)
        return await _stale(update, context, member, draft)
    if choice == "other":
        return await ask_workplace_search(update, context, member, draft)
    if choice == "unlisted":
        return await ask_workplace_name(update, context, member, draft)
    workplace = await context.db.get(Workplace, int(choice)) if ui.is_id(choice) else None
    if workplace is None or draft["step"] != WORKPLACE_SEARCH:
        return await _stale(update, context, member, draft)
    return await _workplace_chosen(update, context, member, draft, workplace.id, workplace.name, None)


async def ask_workplace_search(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = WORKPLACE_SEARCH
    rows = [[(t(member.language, "intake.workplace_not_listed"), "rep:wp:unlisted")]]
    await ui.present(update, context, t(member.language, "intake.ask_workplace_search"), ui.buttons(rows))
    return WORKPLACE_SEARCH


async def on_workplace_search(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    typed, valid = drafts.check_workplace_name(update.effective_message.text)
    if not valid:
        await ui.send(update, t(member.language, "intake.workplace_name_invalid", min=drafts.WORKPLACE_NAME_MIN,
                                max=drafts.WORKPLACE_NAME_MAX))
        return WORKPLACE_SEARCH
    found = await workplaces.search_workplaces(context.db, typed, member.province_code)
    rows = [[(_short(w.name), f"rep:wp:{w.id}")] for w in found]
    rows.append([(t(member.language, "intake.workplace_not_listed"), "rep:wp:unlisted")])
    key = "intake.workplace_results" if found else "intake.workplace_no_results"
    await ui.send(update, t(member.language, key, typed=escape(typed)), ui.buttons(rows))
    return WORKPLACE_SEARCH


async def ask_workplace_name(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = WORKPLACE_NAME
    await ui.present(update, context, t(member.language, "intake.ask_workplace_name"))
    return WORKPLACE_NAME


async def on_workplace_name(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    name, valid = drafts.check_workplace_name(update.effective_message.text)
    if not valid:
        await ui.send(update, t(member.language, "intake.workplace_name_invalid", min=drafts.WORKPLACE_NAME_MIN,
                                max=drafts.WORKPLACE_NAME_MAX))
        return WORKPLACE_NAME
    draft["pending_workplace_name"] = name
    return await ask_workplace_province(update, context, member, draft)


async def ask_workplace_province(update: Update, context: BotContext, member: Member, draft: dict[str, Any],
                                 page: int = 0) -> str:
    draft["step"] = WORKPLACE_PROVINCE
    await PROVINCE_PICKER.ask(update, context, member.language, page, member.province_code)
    return WORKPLACE_PROVINCE


async def on_province_page(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    page = PROVINCE_PICKER.page_of(update.callback_query.data)
    if page is None:
        return await _stale(update, context, member, draft)
    return await ask_workplace_province(update, context, member, draft, page)


async def on_province_button(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    province = PROVINCE_PICKER.province_of(update.callback_query.data)
    if province is None or not draft.get("pending_workplace_name"):
        return await _stale(update, context, member, draft)
    return await _workplace_chosen(update, context, member, draft, None, draft.pop("pending_workplace_name"),
                                   province.code)


async def on_province_text(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    typed, _ = drafts.check_workplace_name(update.effective_message.text)
    matches = provinces.match_provinces(typed[:drafts.WORKPLACE_NAME_MAX])
    if len(matches) == 1 and draft.get("pending_workplace_name"):
        return await _workplace_chosen(update, context, member, draft, None, draft.pop("pending_workplace_name"),
                                       matches[0].code)
    await PROVINCE_PICKER.answer_typed(update, context, member.language, typed[:BUTTON_TEXT], matches,
                                       member.province_code)
    return WORKPLACE_PROVINCE


async def _workplace_chosen(update: Update, context: BotContext, member: Member, draft: dict[str, Any],
                            workplace_id: int | None, name: str, province_code: int | None) -> str | int:
    draft["workplace_id"], draft["workplace_name"], draft["province_code"] = workplace_id, name, province_code
    ui.note(context, t(member.language, "intake.workplace_chosen", workplace=escape(name)))
    return await _after(WORKPLACE, update, context, member, draft)


# ----- "me too" -----

async def ask_metoo(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str | int:
    """Offer to join an open case of the same category at the same workplace; only its category and
    how many have joined are shown, never its text or who raised it."""
    similar = await grievances.similar_open_case(context.db, draft["category"], draft["workplace_id"], member.id)
    if similar is None:
        draft.pop("similar_id", None)
        return await _after(METOO, update, context, member, draft)
    draft["step"], draft["similar_id"] = METOO, similar.grievance_id
    category = get_category(similar.category)
    rows = [[(t(member.language, "intake.metoo_join"), f"rep:metoo:{similar.grievance_id}")],
            [(t(member.language, "intake.metoo_own"), "rep:metoo:own")]]
    await ui.present(update, context, t(member.language, "intake.ask_metoo", voices=similar.voices,
                                        category=escape(category.name(member.language) if category else "")),
                     ui.buttons(rows))
    return METOO


async def on_metoo(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    choice = update.callback_query.data.removeprefix("rep:metoo:")
    if choice == "own":
        draft.pop("similar_id", None)
        return await _after(METOO, update, context, member, draft)
    if not ui.is_id(choice) or int(choice) != draft.get("similar_id"):
        return await _stale(update, context, member, draft)
    # Re-check: the case may have closed, or this worker may have joined it meanwhile.
    similar = await grievances.similar_open_case(context.db, draft["category"], draft["workplace_id"], member.id)
    if similar is None or similar.grievance_id != int(choice):
        draft.pop("similar_id", None)
        ui.note(context, t(member.language, "intake.metoo_gone"))
        return await _after(METOO, update, context, member, draft)
    return await _join(update, context, member, similar.grievance_id)


async def _join(update: Update, context: BotContext, member: Member, grievance_id: int) -> int:
    grievance = await context.db.get_one(Grievance, grievance_id)
    from_unit_id = grievance.unit_id
    settings = context.settings
    cosigned = await grievances.add_voice(context.db, grievance_id, member, utcnow(), settings.tz)  # commits
    context.user_data.pop(KEY, None)
    category = get_category(grievance.category)
    ui.note(context, t(member.language, "intake.metoo_chosen"))
    await _tell_worker(update, context, grievance_id, t(
        member.language, "intake.metoo_joined", voices=cosigned.voices,
        category=escape(category.name(member.language) if category else "")), ui.main_menu(member.language))
    if cosigned.became_collective and grievance.unit_id != from_unit_id:
        await notify.case_moved(context.bot, context.db, grievance, from_unit_id, settings.tz, settings.admin_ids)
    else:
        await notify.refresh_card(context.bot, context.db, grievance, settings.tz, settings.admin_ids)
    log.info("member %s joined case %s", member.id, grievance_id)
    return END


# ----- identity and urgency -----

async def ask_identity(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = IDENTITY
    rows = [[(t(member.language, f"intake.identity_{mode}"), f"rep:id:{mode}")] for mode in drafts.IDENTITIES]
    await ui.present(update, context, t(member.language, "intake.ask_identity"), ui.buttons(rows))
    return IDENTITY


async def on_identity(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    mode = update.callback_query.data.removeprefix("rep:id:")
    if mode not in drafts.IDENTITIES:
        return await _stale(update, context, member, draft)
    draft["identity"] = mode
    ui.note(context, t(member.language, "intake.identity_chosen", identity=t(member.language, f"intake.identity_{mode}")))
    return await _after(IDENTITY, update, context, member, draft)


async def ask_urgency(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"] = URGENCY
    key = "intake.ask_urgent" if drafts.proposes_urgency(draft) else "intake.ask_urgent_plain"
    rows = [[(t(member.language, "intake.urgent_yes"), "rep:urg:yes"), (t(member.language, "intake.urgent_no"),
                                                                        "rep:urg:no")]]
    await ui.present(update, context, t(member.language, key), ui.buttons(rows))
    return URGENCY


async def on_urgency(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    choice = update.callback_query.data.removeprefix("rep:urg:")
    if choice not in ("yes", "no"):
        return await _stale(update, context, member, draft)
    draft["urgent"] = choice == "yes"
    ui.note(context, t(member.language, "intake.urgent_chosen", value=_urgent_value(member.language, draft)))
    return await _after(URGENCY, update, context, member, draft)


def _urgent_value(language: str, draft: dict[str, Any]) -> str:
    return t(language, "intake.urgent_value_yes" if draft.get("urgent") else "intake.urgent_value_no")


# ----- review and submit -----

async def show_review(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str:
    draft["step"], draft["editing"] = REVIEW, True
    lang = member.language
    rows = [[(t(lang, "intake.edit_category"), "rep:edit:category"), (t(lang, "intake.edit_scope"), "rep:edit:scope")],
            [(t(lang, "intake.edit_description"), "rep:edit:description"),
             (t(lang, "intake.edit_attachments"), "rep:edit:attachments")],
            [(t(lang, "intake.edit_workplace"), "rep:edit:workplace"),
             (t(lang, "intake.edit_identity"), "rep:edit:identity")],
            [(t(lang, "intake.edit_urgency"), "rep:edit:urgency")],
            [(t(lang, "intake.submit"), "rep:submit")],
            [(t(lang, "intake.cancel"), "rep:cancel")]]
    text = t(lang, "intake.review", summary=_summary(lang, draft))
    await ui.present(update, context, text, ui.buttons(rows))
    return REVIEW


def _summary(lang: str, draft: dict[str, Any]) -> str:
    category = get_category(draft.get("category") or "")
    text = draft.get("text") or ""
    preview = escape(text if len(text) <= REVIEW_PREVIEW else text[:REVIEW_PREVIEW] + "…")
    if not text:
        preview = t(lang, "intake.voice_only")
    attachments = len(draft["attachments"])
    identity = draft.get("identity")
    lines = [
        t(lang, "intake.review_category", value=escape(category.name(lang)) if category else "—"),
        t(lang, "intake.review_scope", value=_scope_value(lang, draft)),
        t(lang, "intake.review_description", value=preview),
        t(lang, "intake.review_attachments", count=attachments),
        t(lang, "intake.review_workplace", value=escape(draft.get("workplace_name") or "—")),
        t(lang, "intake.review_identity", value=t(lang, f"intake.identity_{identity}") if identity else "—"),
        t(lang, "intake.review_urgent", value=_urgent_value(lang, draft)),
    ]
    return "\n".join(lines)


async def on_edit(update: Update, context: BotContext) -> str | int:
    member, draft = await _member_and_draft(update, context)
    if draft is None:
        return await _lost(update, context, member)
    step = EDITABLE.get(update.callback_query.data.removeprefix("rep:edit:"))
    if step is None:
        return await _stale(update, context, member, draft)
    draft["editing"] = True
    return await _ask(step, update, context, member, draft)


async def on_cancel(update: Update, context: BotContext) -> int:
    member = await current_member(update, context)
    context.user_data.pop(KEY, None)
    ui.note(context, t(member.language, "intake.cancelled"))
    await ui.present(update, context, t(member.language, "menu.title"), ui.main_menu(member.language))
    return END


async def on_submit(update: Update, context: BotContext) -> str | int:
    """Send. Also an entry point, in every step: a Send pressed twice, or again after a restart lost the
    acknowledgement (the stored draft may be a step or two behind), is answered with the case already made."""
    member, draft = await _member_and_draft(update, context)
    token = draft.get("token") if draft is not None else context.user_data.get(SENT)
    sent = await grievances.submitted_case(context.db, member.id, token)
    if sent is not None:
        summary = _summary(member.language, draft) if draft is not None else None
        return await _acknowledge(update, context, member, sent, summary)
    if draft is None:
        return await _lost(update, context, member)
    if draft.get("step") != REVIEW:  # the Send of a review screen left behind
        return await _stale(update, context, member, draft)
    if not _may_report(member):
        context.user_data.pop(KEY, None)
        await ui.present(update, context, t(member.language, "intake.needs_profile"), ui.main_menu(member.language))
        return END
    missing = drafts.missing_fields(draft)
    if missing:  # only a forged press can get here; ask what is missing
        await ui.alert(update, context, t(member.language, "intake.incomplete"))
        return await _ask(EDITABLE[missing[0]], update, context, member, draft)
    if not await _under_daily_limit(update, context, member):  # the draft stays for tomorrow
        return REVIEW
    if await learn.offer_answers(update, context, member, draft):  # once per draft; "continue" is rep:submit
        return REVIEW
    settings = context.settings
    case = drafts.build_case_draft(draft, member.language)
    submitted = await grievances.submit_case(context.db, member, case, utcnow(), settings.tz)  # commits
    if not submitted.created:  # sent at the same moment by another update
        return await _acknowledge(update, context, member, submitted.grievance, _summary(member.language, draft))
    grievance = submitted.grievance
    log.info("member %s filed case %s", member.id, grievance.id)
    await _tell_sent(update, context, member, grievance, _summary(member.language, draft))
    await notify.new_case(context.bot, context.db, grievance, settings.tz, settings.admin_ids)
    return END


async def _acknowledge(update: Update, context: BotContext, member: Member, grievance: Grievance,
                       summary: str | None) -> int:
    """The draft was sent before: the same acknowledgement again, and the card, in case the bot stopped
    before posting it (an existing card is only refreshed)."""
    log.info("member %s: case %s was sent before, acknowledged again", member.id, grievance.id)
    await _tell_sent(update, context, member, grievance, summary)
    settings = context.settings
    await notify.refresh_card(context.bot, context.db, grievance, settings.tz, settings.admin_ids)
    return END


async def _tell_sent(update: Update, context: BotContext, member: Member, grievance: Grievance,
                     summary: str | None) -> None:
    """The draft is done with; the review becomes "sent" (when there is one to mark) and the worker gets
    the case code, the unit and the deadline."""
    context.user_data.pop(KEY, None)
    if grievance.draft_token:
        context.user_data[SENT] = grievance.draft_token
    if summary is not None:
        ui.note(context, t(member.language, "intake.sent", summary=summary))
    else:
        await ui.acknowledge(update, context)  # a new message; the screen pressed stays as it is
    await _tell_worker(update, context, grievance.id, t(
        member.language, "intake.submitted", code=grievance.code,
        unit=await notify.unit_name(context.db, grievance, member.language),
        due=notify.when(grievance.acknowledge_due_at, context.settings.tz),
        mycases=t(member.language, "menu.mycases")), ui.main_menu(member.language))


async def _tell_worker(update: Update, context: BotContext, grievance_id: int, text: str,
                       reply_markup: ReplyKeyboardMarkup) -> None:
    """After the commit: a worker who cannot be told (e.g. blocked the bot just now) must not keep the
    officers from getting the case."""
    try:
        await ui.present(update, context, text, reply_markup)
    except TelegramError as error:
        log.warning("case %s: worker not told (%s)", grievance_id, type(error).__name__)


# ----- flow control -----

async def _after(step: str, update: Update, context: BotContext, member: Member,
                 draft: dict[str, Any]) -> str | int:
    """What follows an answered step: the next question, or the review screen when editing."""
    if draft.get("editing"):
        if step in (CATEGORY, DESCRIPTION) and drafts.proposes_urgency(draft) and not draft.get("urgent"):
            return await ask_urgency(update, context, member, draft)
        return await show_review(update, context, member, draft)
    following = {CATEGORY: ask_scope, SCOPE: ask_description, DESCRIPTION: ask_attachments,
                 ATTACHMENTS: ask_workplace, WORKPLACE: _metoo_if_listed, METOO: ask_identity,
                 IDENTITY: _urgency_if_proposed, URGENCY: show_review}
    return await following[step](update, context, member, draft)


async def _metoo_if_listed(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str | int:
    if draft.get("workplace_id") is None:
        return await ask_identity(update, context, member, draft)
    return await ask_metoo(update, context, member, draft)


async def _urgency_if_proposed(update: Update, context: BotContext, member: Member,
                               draft: dict[str, Any]) -> str | int:
    if drafts.proposes_urgency(draft):
        return await ask_urgency(update, context, member, draft)
    draft["urgent"] = False
    return await show_review(update, context, member, draft)


async def _ask(step: str | None, update: Update, context: BotContext, member: Member,
               draft: dict[str, Any]) -> str | int:
    askers = {CATEGORY: ask_category, SCOPE: ask_scope, GROUP_SIZE: ask_group_size, DESCRIPTION: ask_description,
              ATTACHMENTS: ask_attachments, WORKPLACE: ask_workplace, WORKPLACE_SEARCH: ask_workplace_search,
              WORKPLACE_NAME: ask_workplace_name, WORKPLACE_PROVINCE: ask_workplace_province, METOO: ask_metoo,
              IDENTITY: ask_identity, URGENCY: ask_urgency, REVIEW: show_review}
    return await askers.get(step or CATEGORY, ask_category)(update, context, member, draft)


async def _member_and_draft(update: Update, context: BotContext) -> tuple[Member, dict[str, Any] | None]:
    return await current_member(update, context), _draft(context)


async def _stale(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str | int:
    """A button from an earlier step, or forged data: say so and ask the current question again."""
    if update.callback_query:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
    return await _reprompt(update, context, member, draft)


async def _reprompt(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> str | int:
    return await _ask(draft.get("step"), update, context, member, draft)


def _wrong_input(state: str):  # type: ignore[no-untyped-def]
    async def reply(update: Update, context: BotContext) -> str | int:
        member, draft = await _member_and_draft(update, context)
        if member is None:
            return state
        if draft is None:
            return await _lost(update, context, member)
        if update.callback_query:
            return await _stale(update, context, member, draft)
        ui.note(context, t(member.language, _HINTS.get(state, "input.press_button")))
        return await _reprompt(update, context, member, draft)

    return reply


_HINTS = {GROUP_SIZE: "intake.group_size_hint", DESCRIPTION: "intake.description_expected",
          ATTACHMENTS: "intake.attachments_expected", WORKPLACE_SEARCH: "input.type_or_press",
          WORKPLACE_NAME: "input.text_only", WORKPLACE_PROVINCE: "input.type_or_press"}


def _short(name: str, limit: int = BUTTON_TEXT) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


# ----- wiring -----

def conversation(fallbacks: list[BaseHandler]) -> ConversationHandler:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE  # edits are not new answers
    menu_labels = filters.Text([label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)])
    text = filters.TEXT & ~filters.COMMAND & ~menu_labels & private
    files = (filters.PHOTO | filters.Document.ALL | filters.VOICE) & private

    def with_catch_all(state: str, handlers: list[BaseHandler]) -> list[BaseHandler]:  # type: ignore[type-arg]
        catch = _wrong_input(state)
        return [MessageHandler(menu_labels & private, on_menu_label),
                *handlers,
                CallbackQueryHandler(catch), MessageHandler(private & ~filters.COMMAND, catch)]

    states = {
        CATEGORY: [CallbackQueryHandler(on_category, pattern=r"^rep:cat:")],
        SCOPE: [CallbackQueryHandler(on_scope, pattern=r"^rep:scope:")],
        GROUP_SIZE: [CallbackQueryHandler(on_group_size_button, pattern=r"^rep:size:"),
                     CallbackQueryHandler(on_scope, pattern=r"^rep:scope:"),
                     MessageHandler(text, on_group_size_text)],
        DESCRIPTION: [MessageHandler(text, on_description_text),
                      MessageHandler(filters.VOICE & private, on_description_voice)],
        ATTACHMENTS: [CallbackQueryHandler(on_attachments_button, pattern=r"^rep:att:"),
                      MessageHandler(files, on_attachment)],
        WORKPLACE: [CallbackQueryHandler(on_workplace_button, pattern=r"^rep:wp:")],
        WORKPLACE_SEARCH: [CallbackQueryHandler(on_workplace_button, pattern=r"^rep:wp:"),
                           MessageHandler(text, on_workplace_search)],
        WORKPLACE_NAME: [MessageHandler(text, on_workplace_name)],
        WORKPLACE_PROVINCE: [CallbackQueryHandler(on_province_page, pattern=PROVINCE_PICKER.page_pattern),
                             CallbackQueryHandler(on_province_button, pattern=PROVINCE_PICKER.choose_pattern),
                             MessageHandler(text, on_province_text)],
        METOO: [CallbackQueryHandler(on_metoo, pattern=r"^rep:metoo:")],
        IDENTITY: [CallbackQueryHandler(on_identity, pattern=r"^rep:id:")],
        URGENCY: [CallbackQueryHandler(on_urgency, pattern=r"^rep:urg:")],
        REVIEW: [CallbackQueryHandler(on_edit, pattern=r"^rep:edit:"),
                 CallbackQueryHandler(learn.on_intake_helped, pattern=r"^rep:faq:\d+$"),
                 CallbackQueryHandler(on_cancel, pattern=r"^rep:cancel$")],
    }
    with warnings.catch_warnings():
        # One report per person at a time, tracked per user and chat on purpose; PTB warns about
        # per_message=False whenever a CallbackQueryHandler is involved.
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[  # checked first in every state too (allow_reentry)
                CommandHandler("report", start, filters=private),
                MessageHandler(filters.Text(ui.menu_labels("menu.report")) & private, start),
                CallbackQueryHandler(on_go, pattern=r"^rep:go:"),  # also after /menu left a draft behind
                CallbackQueryHandler(on_submit, pattern=r"^rep:submit$"),  # a Send pressed again: see on_submit
            ],
            states={state: with_catch_all(state, handlers) for state, handlers in states.items()},
            fallbacks=[*fallbacks, MessageHandler(filters.COMMAND & private, busy)],
            name="intake",
            persistent=True,
            allow_reentry=True,
        )
