"""/broadcast: the composer (admins everywhere, unit officers within their units' subtrees), the "stop these
messages" button, topic opt-outs in /settings, and the broadcasts section of /admin.

The draft lives in user_data[DRAFT] (persisted, so a restart mid-way loses nothing):
  {"step": what the next message is for, "content": …, "audience": …, "days": [weekly days chosen],
   "quiet": [start, end] (minutes after local midnight, one of broadcasts.QUIET_PRESETS; default 21:00–07:00)}
Every press re-checks the presser's right to compose and that the audience is within their scope.

Callback data (prefix bc:):
  k:<message|article|quiz|survey>  what to send       r:<slug or id>      the quiz or survey chosen
  en:skip                          no English version  a:…                 audience edits (see _on_audience)
  preview · when · w:<now|once|daily|weekly|monthly> · w:d:<0-6> · w:dd · cancel
  q:<p|w> · q:<p|w>:<start>-<end> · q:<p|w>:back   quiet hours, from the preview (p) or the "when" screen (w)
  stop:<topic>  the member's "stop these messages"     topics · tg:<topic> · topics:back   (/settings)
  adm:list · adm:<pause|resume|cancel>:<id>            the /admin section (and an officer's own, from /broadcast)
"""

from __future__ import annotations

import html
import re
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import t
from bot.services import broadcasts, library, provinces, surveys, units
from bot.services.broadcasts import TOPICS
from bot.services.sectors import all_sectors, get_sector
from bot.text import escape, nfc
from db.models import Broadcast, Member, Survey, Unit
from db.types import utcnow
from handlers import broadcast_jobs, notify, profile, ui
from handlers.admin import is_admin
from handlers.context import BotContext, current_member
from handlers.quiz import library as quiz_library

DRAFT = "bc"
WEEKDAYS = range(7)
ACTIVE_CHOICES = (7, 30, 90)
KINDS = ("message", "article", "quiz", "survey")


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """A group of their own ahead of the others (handlers/__init__.py): each stops the update when it acts;
    a command other than /broadcast only drops a draft's pending input and goes on."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    menu = filters.Text([label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)])
    return [
        CommandHandler("broadcast", _stops(start), filters=private),
        MessageHandler(private & filters.COMMAND, _drop_pending_input),
        CallbackQueryHandler(_stops(on_button), pattern=r"^bc:"),
        MessageHandler(private & ~menu, on_message),
    ]


def _stops(callback):  # type: ignore[no-untyped-def]
    async def handled(update: Update, context: BotContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    return handled


async def _drop_pending_input(update: Update, context: BotContext) -> None:
    draft = context.user_data.get(DRAFT) if context.user_data is not None else None
    if draft and draft.get("step"):
        draft["step"] = None


# ----- entry and rights -----

async def _scope(update: Update, context: BotContext, member: Member) -> broadcasts.Scope:
    return await broadcasts.composer_scope(context.db, member, await is_admin(update, context))


async def start(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    scope = await _scope(update, context, member)
    if not scope.may_compose:
        await ui.send(update, t(member.language, "broadcast.not_allowed"))
        return
    audience = broadcasts.empty_audience()
    if not scope.is_admin:
        audience["unit_id"] = scope.units[0].id  # an officer's broadcast never leaves their units
    context.user_data[DRAFT] = {"step": None, "content": {"text": {}}, "audience": audience, "days": [],
                                "quiet": list(broadcasts.DEFAULT_QUIET)}
    lang = member.language
    rows = [[(t(lang, f"broadcast.kind_{kind}"), f"bc:k:{kind}")] for kind in KINDS]
    rows.append([(t(lang, "broadcast.manage_button"), "bc:adm:list")])
    rows.append([(t(lang, "broadcast.cancel"), "bc:cancel")])
    await ui.send(update, t(lang, "broadcast.ask_kind"), ui.buttons(rows))


# ----- buttons -----

async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    lang = member.language
    data = update.callback_query.data.removeprefix("bc:")
    head, _, rest = data.partition(":")
    if head == "stop":
        await _on_stop(update, context, member, rest)
        return
    if head in ("topics", "tg"):
        await _on_topics(update, context, member, head, rest)
        return
    if head == "adm":
        await _on_admin(update, context, member, rest)
        return
    scope = await _scope(update, context, member)
    draft = context.user_data.get(DRAFT)
    if not scope.may_compose:
        await ui.alert(update, context, t(lang, "broadcast.not_allowed"))
        return
    if draft is None:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    if head == "cancel":
        context.user_data.pop(DRAFT, None)
        await ui.present(update, context, t(lang, "broadcast.cancelled"))
        return
    steps = {"k": _on_kind, "r": _on_ref, "en": _on_skip_english, "a": _on_audience, "preview": _on_preview,
             "when": _on_when, "w": _on_when_choice, "q": _on_quiet}
    step = steps.get(head)
    if step is None:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    await step(update, context, member, scope, draft, rest)


async def _on_kind(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                   draft: dict[str, Any], kind: str) -> None:
    lang = member.language
    if kind not in KINDS:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    draft["content"] = {"kind": "text", "text": {}, "file_id": None,
                        "attach": None if kind == "message" else {"kind": kind, "ref": None}}
    if kind == "message":
        draft["step"] = "vi"
        await ui.present(update, context, t(lang, "broadcast.ask_vi"))
    elif kind == "article":
        draft["step"] = "article"
        await ui.present(update, context, t(lang, "broadcast.ask_article"))
    elif kind == "quiz":
        loaded = quiz_library(context).quizzes
        rows = [[(quiz.title_in(lang)[:60], f"bc:r:{slug}")] for slug, quiz in loaded.items() if len(slug) < 55]
        await ui.present(update, context, t(lang, "broadcast.ask_quiz"), ui.buttons(rows or [[
            (t(lang, "broadcast.cancel"), "bc:cancel")]]))
    else:
        now = utcnow()
        rows = [[(surveys.localised(survey.title, lang)[:60], f"bc:r:{survey.id}")]
                for survey in await surveys.all_surveys(context.db) if surveys.is_open(survey, now)]
        if not rows:
            await ui.present(update, context, t(lang, "broadcast.no_surveys"))
            return
        await ui.present(update, context, t(lang, "broadcast.ask_survey"), ui.buttons(rows))


async def _on_ref(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                  draft: dict[str, Any], ref: str) -> None:
    attach = draft["content"].get("attach") or {}
    valid = (attach.get("kind") == "quiz" and ref in quiz_library(context).quizzes) or \
            (attach.get("kind") == "survey" and await _survey_not_closed(context, ref))
    if not valid:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        return
    attach["ref"] = ref
    draft["step"] = "vi_intro"
    await ui.present(update, context, t(member.language, "broadcast.ask_vi_intro"))


async def _survey_not_closed(context: BotContext, ref: str) -> bool:
    """A survey button's id names a survey still to open or open (the data can be forged or stale)."""
    survey = await context.db.get(Survey, int(ref)) if ui.is_id(ref) else None
    return survey is not None and surveys.state_of(survey, utcnow()) != "closed"


async def _on_skip_english(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                           draft: dict[str, Any], _: str) -> None:
    if draft.get("step") != "en":
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        return
    draft["content"]["text"]["en"] = None
    await _show_audience(update, context, member, scope, draft)


# ----- typed input: the message, the article slug, provinces, unit codes, dates and times -----

async def on_message(update: Update, context: BotContext) -> None:
    draft = context.user_data.get(DRAFT) if context.user_data is not None else None
    if not draft or not draft.get("step"):
        return  # not ours: the update goes on
    member = await current_member(update, context)
    scope = await _scope(update, context, member)
    if not scope.may_compose:
        context.user_data.pop(DRAFT, None)
        return
    message = update.effective_message
    step = draft["step"]
    if step in ("vi", "vi_intro", "en"):
        await _take_text(update, context, member, scope, draft, message)
    elif step == "article":
        await _take_article(update, context, member, draft, message)
    elif step == "province":
        await _take_province(update, context, member, scope, draft, message)
    elif step == "unit":
        await _take_unit(update, context, member, scope, draft, message)
    elif step.startswith("when_"):
        await _take_when(update, context, member, scope, draft, message)
    raise ApplicationHandlerStop


async def _take_text(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                     draft: dict[str, Any], message: Message) -> None:
    lang, step, content = member.language, draft["step"], draft["content"]
    media_allowed = step == "vi"
    if media_allowed and message.photo:
        content.update(kind="photo", file_id=message.photo[-1].file_id)
        body, limit, plain = message.caption_html or "", broadcasts.CAPTION_LIMIT, message.caption or ""
    elif media_allowed and message.document:
        content.update(kind="document", file_id=message.document.file_id)
        body, limit, plain = message.caption_html or "", broadcasts.CAPTION_LIMIT, message.caption or ""
    elif message.text:
        body, plain = message.text_html, message.text
        limit = broadcasts.TEXT_LIMIT if content.get("kind") == "text" else broadcasts.CAPTION_LIMIT
    else:
        await ui.send(update, t(lang, "broadcast.need_text" if not media_allowed else "broadcast.need_message"))
        return
    if ui.utf16_length(plain) > limit:
        await ui.send(update, t(lang, "input.too_long", limit=limit))
        return
    body = nfc(body).strip()
    if step == "en":
        content["text"]["en"] = body or None
        await _show_audience(update, context, member, scope, draft)
        return
    if not body and content.get("kind") == "text":
        await ui.send(update, t(lang, "broadcast.need_message"))
        return
    content["text"]["vi"] = body
    draft["step"] = "en"
    en_limit = broadcasts.TEXT_LIMIT if content.get("kind") == "text" else broadcasts.CAPTION_LIMIT
    await ui.send(update, t(lang, "broadcast.ask_en", limit=en_limit),
                  ui.buttons([[(t(lang, "broadcast.skip_en"), "bc:en:skip")]]))


async def _take_article(update: Update, context: BotContext, member: Member, draft: dict[str, Any],
                        message: Message) -> None:
    slug = nfc(message.text or "").strip().lower()
    if not slug or len(slug) > 48 or library.get_article(slug, "vi") is None:
        await ui.send(update, t(member.language, "broadcast.unknown_article"))
        return
    draft["content"]["attach"]["ref"] = slug
    draft["step"] = "vi_intro"
    await ui.send(update, t(member.language, "broadcast.ask_vi_intro"))


async def _take_province(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                         draft: dict[str, Any], message: Message) -> None:
    found = provinces.match_provinces(nfc(message.text or ""), limit=1)
    if not found:
        await ui.send(update, t(member.language, "broadcast.unknown_province"))
        return
    chosen = draft["audience"]["provinces"]
    if found[0].code not in chosen:
        chosen.append(found[0].code)
    draft["step"] = None
    await _show_audience(update, context, member, scope, draft)


async def _take_unit(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                     draft: dict[str, Any], message: Message) -> None:
    unit = await units.get_unit_by_code(context.db, nfc(message.text or "").strip().upper()[:32])
    if unit is None or not scope.may_target(unit.id):
        await ui.send(update, t(member.language, "broadcast.unit_not_allowed"))
        return
    draft["audience"]["unit_id"] = unit.id
    draft["step"] = None
    await _show_audience(update, context, member, scope, draft)


# ----- the audience -----

async def _show_audience(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                         draft: dict[str, Any]) -> None:
    draft["step"] = None
    lang, audience = member.language, draft["audience"]
    topic = broadcasts.topic_of(draft["content"])
    count = await broadcasts.count_audience(context.db, audience, topic, utcnow())
    text = "\n".join([t(lang, "broadcast.audience_title"), await _describe(context, lang, audience),
                      t(lang, "broadcast.audience_count", count=count)])
    union, language = audience.get("union"), audience.get("language")
    rows = [
        [(t(lang, "broadcast.a_everyone"), "bc:a:all")],
        [(t(lang, "broadcast.a_province"), "bc:a:prov"), (t(lang, "broadcast.a_sector"), "bc:a:sec")],
        [(t(lang, "broadcast.a_unit"), "bc:a:unit")],
        [(_mark(union == "member") + t(lang, "broadcast.a_members"), "bc:a:union:member"),
         (_mark(union == "not_yet") + t(lang, "broadcast.a_non_members"), "bc:a:union:not_yet")],
        [(_mark(language == code) + t(lang, f"broadcast.a_lang_{code}"), f"bc:a:lang:{code}") for code in ("vi", "en")],
        [(_mark(audience.get("active_days") == days) + t(lang, "broadcast.a_active", days=days), f"bc:a:act:{days}")
         for days in ACTIVE_CHOICES],
        [(_mark(bool(audience.get("exclude_open_cases"))) + t(lang, "broadcast.a_no_open_cases"), "bc:a:open")],
        [(t(lang, "broadcast.preview_button"), "bc:preview"), (t(lang, "broadcast.cancel"), "bc:cancel")],
    ]
    await ui.present(update, context, text, ui.buttons(rows))


def _mark(on: bool) -> str:
    return "✅ " if on else ""


async def _describe(context: BotContext, lang: str, audience: dict[str, Any]) -> str:
    parts = []
    if audience.get("provinces"):
        names = [p.name for code in audience["provinces"] if (p := provinces.get_province(code))]
        parts.append(t(lang, "broadcast.d_provinces", names=escape(", ".join(names))))
    if audience.get("sectors"):
        names = [s.name(lang) for code in audience["sectors"] if (s := get_sector(code))]
        parts.append(t(lang, "broadcast.d_sectors", names=escape(", ".join(names))))
    if audience.get("unit_id") is not None:
        unit = await context.db.get(Unit, audience["unit_id"])
        parts.append(t(lang, "broadcast.d_unit", name=escape(unit.name if unit else "?")))
    if audience.get("union"):
        parts.append(t(lang, f"broadcast.d_union_{audience['union']}"))
    if audience.get("language"):
        parts.append(t(lang, f"broadcast.a_lang_{audience['language']}"))
    if audience.get("active_days"):
        parts.append(t(lang, "broadcast.a_active", days=audience["active_days"]))
    if audience.get("exclude_open_cases"):
        parts.append(t(lang, "broadcast.a_no_open_cases"))
    return "\n".join(f"• {part}" for part in parts) or t(lang, "broadcast.d_everyone")


async def _on_audience(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                       draft: dict[str, Any], rest: str) -> None:
    lang, audience = member.language, draft["audience"]
    field, _, value = rest.partition(":")
    if field == "all":
        keep_unit = None if scope.is_admin else audience.get("unit_id")
        draft["audience"] = audience = broadcasts.empty_audience()
        audience["unit_id"] = keep_unit
    elif field == "prov":
        draft["step"] = "province"
        await ui.present(update, context, t(lang, "broadcast.ask_province"))
        return
    elif field == "sec":
        await _show_sectors(update, context, lang, audience)
        return
    elif field == "s" and get_sector(value):
        chosen = audience["sectors"]
        chosen.remove(value) if value in chosen else chosen.append(value)
        await _show_sectors(update, context, lang, audience)
        return
    elif field == "unit":
        draft["step"] = "unit"
        rows = [[(unit.name[:60], f"bc:a:u:{unit.id}")] for unit in scope.units]
        rows.append([(t(lang, "broadcast.back"), "bc:a:back")])
        await ui.present(update, context, t(lang, "broadcast.ask_unit"), ui.buttons(rows))
        return
    elif field == "u" and ui.is_id(value) and scope.may_target(int(value)):
        audience["unit_id"] = int(value)
    elif field == "union" and value in ("member", "not_yet"):
        audience["union"] = None if audience.get("union") == value else value
    elif field == "lang" and value in ("vi", "en"):
        audience["language"] = None if audience.get("language") == value else value
    elif field == "act" and ui.is_id(value) and int(value) in ACTIVE_CHOICES:
        audience["active_days"] = None if audience.get("active_days") == int(value) else int(value)
    elif field == "open":
        audience["exclude_open_cases"] = not audience.get("exclude_open_cases")
    elif field != "back":
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    await _show_audience(update, context, member, scope, draft)


async def _show_sectors(update: Update, context: BotContext, lang: str, audience: dict[str, Any]) -> None:
    items = [(_mark(s.code in audience["sectors"]) + s.name(lang)[:40], f"bc:a:s:{s.code}") for s in all_sectors()]
    rows = [items[i:i + 2] for i in range(0, len(items), 2)]
    rows.append([(t(lang, "broadcast.back"), "bc:a:back")])
    await ui.present(update, context, t(lang, "broadcast.ask_sectors"), ui.buttons(rows))


# ----- preview and when -----

async def _ready(update: Update, context: BotContext, lang: str, scope: broadcasts.Scope,
                 draft: dict[str, Any]) -> bool:
    """The draft has its message and an audience the presser may reach; otherwise a polite alert."""
    problem = _not_ready(scope, draft)
    if problem is not None:
        await ui.alert(update, context, t(lang, problem))
    return problem is None


def _not_ready(scope: broadcasts.Scope, draft: dict[str, Any]) -> str | None:
    """What keeps the draft from being sent (a catalog key), or None. Buttons of an earlier draft can be
    pressed on a new one, so every step that previews or creates checks it."""
    content, audience = draft["content"], draft["audience"]
    if content.get("kind", "text") == "text" and not content.get("text", {}).get("vi"):
        return "broadcast.need_message"
    if content.get("kind") in ("photo", "document") and not content.get("file_id"):
        return "broadcast.need_message"
    if not scope.may_target(audience.get("unit_id")):
        return "broadcast.unit_not_allowed"
    return None


async def _on_preview(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                      draft: dict[str, Any], _: str) -> None:
    lang, content = member.language, draft["content"]
    if not await _ready(update, context, lang, scope, draft):
        return
    await ui.acknowledge(update, context)
    topic = broadcasts.topic_of(content)
    chat_id = update.effective_chat.id
    languages = ["vi", "en"] if content["text"].get("en") else ["vi"]
    for language in languages:
        await ui.send(update, t(lang, f"broadcast.preview_{language}"))
        await broadcast_jobs.send_content(context.bot, chat_id, content, topic, language)
    await ui.send(update, *await _summary(context, lang, draft))


async def _summary(context: BotContext, lang: str, draft: dict[str, Any]) -> tuple[str, Any]:
    """The preview's closing message: the count, the audience, the quiet hours, and what comes next."""
    audience = draft["audience"]
    count = await broadcasts.count_audience(context.db, audience, broadcasts.topic_of(draft["content"]), utcnow())
    text = "\n".join([t(lang, "broadcast.preview_summary", count=count), await _describe(context, lang, audience),
                      t(lang, "broadcast.quiet_line", window=_quiet_window(lang, _draft_quiet(draft)))])
    rows = [[(t(lang, "broadcast.when_button"), "bc:when")], [(t(lang, "broadcast.quiet_button"), "bc:q:p")],
            [(t(lang, "broadcast.edit_audience"), "bc:a:back")], [(t(lang, "broadcast.cancel"), "bc:cancel")]]
    return text, ui.buttons(rows)


async def _on_when(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                   draft: dict[str, Any], _: str) -> None:
    await ui.present(update, context, *_when_screen(context, member.language, draft))


def _when_screen(context: BotContext, lang: str, draft: dict[str, Any]) -> tuple[str, Any]:
    start, end = _draft_quiet(draft)
    quiet = t(lang, "broadcast.quiet_when_none") if start == end else \
        t(lang, "broadcast.quiet_when", start=_clock(start), end=_clock(end))
    rows = [[(t(lang, f"broadcast.w_{kind}"), f"bc:w:{kind}")] for kind in broadcasts.SCHEDULE_KINDS]
    rows.append([(t(lang, "broadcast.quiet_button"), "bc:q:w")])
    rows.append([(t(lang, "broadcast.cancel"), "bc:cancel")])
    return t(lang, "broadcast.ask_when", tz=context.settings.tz_name, quiet=quiet), ui.buttons(rows)


# ----- quiet hours -----

def _draft_quiet(draft: dict[str, Any]) -> tuple[int, int]:
    stored = draft.get("quiet") or broadcasts.DEFAULT_QUIET
    return broadcasts.quiet_preset(*stored) or broadcasts.DEFAULT_QUIET


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _quiet_window(lang: str, quiet: tuple[int, int]) -> str:
    start, end = quiet
    return t(lang, "broadcast.quiet_none") if start == end else f"{_clock(start)}–{_clock(end)}"


async def _on_quiet(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                    draft: dict[str, Any], rest: str) -> None:
    """q:<origin> shows the choices; q:<origin>:<start>-<end> takes one; q:<origin>:back goes back. The
    origin (p: the preview's summary, w: the "when" screen) is where the choice returns to."""
    lang = member.language
    origin, _, value = rest.partition(":")
    start, _, end = value.partition("-")
    chosen = broadcasts.quiet_preset(int(start), int(end)) if ui.is_id(start) and ui.is_id(end) else None
    if origin not in ("p", "w") or (value not in ("", "back") and chosen is None):
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    if not await _ready(update, context, lang, scope, draft):
        return
    draft["step"] = None  # a typed date or time pending on the "when" screen is asked again from there
    if not value:
        current = _draft_quiet(draft)
        rows = [[(_mark(preset == current) + _quiet_label(lang, preset), f"bc:q:{origin}:{preset[0]}-{preset[1]}")]
                for preset in broadcasts.QUIET_PRESETS]
        rows.append([(t(lang, "broadcast.back"), f"bc:q:{origin}:back")])
        await ui.present(update, context, t(lang, "broadcast.ask_quiet", tz=context.settings.tz_name),
                         ui.buttons(rows))
        return
    if chosen is not None:
        draft["quiet"] = list(chosen)
    screen = await _summary(context, lang, draft) if origin == "p" else _when_screen(context, lang, draft)
    await ui.present(update, context, *screen)


def _quiet_label(lang: str, quiet: tuple[int, int]) -> str:
    if quiet == broadcasts.NO_QUIET:
        return t(lang, "broadcast.quiet_off")
    window = _quiet_window(lang, quiet)
    return t(lang, "broadcast.quiet_default", window=window) if quiet == broadcasts.DEFAULT_QUIET else window


async def _on_when_choice(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                          draft: dict[str, Any], rest: str) -> None:
    lang = member.language
    kind, _, value = rest.partition(":")
    if kind == "now":
        await _create(update, context, member, scope, draft, {"kind": "now"})
    elif kind in ("once", "daily", "monthly"):
        draft["step"] = f"when_{kind}"
        await ui.present(update, context, t(lang, f"broadcast.ask_{kind}"))
    elif kind == "weekly":
        await _show_days(update, context, lang, draft)
    elif kind == "d" and ui.is_id(value) and int(value) in WEEKDAYS:
        days = draft.setdefault("days", [])
        days.remove(int(value)) if int(value) in days else days.append(int(value))
        await _show_days(update, context, lang, draft)
    elif kind == "dd" and draft.get("days"):
        draft["step"] = "when_weekly"
        await ui.present(update, context, t(lang, "broadcast.ask_daily"))
    else:
        await ui.alert(update, context, t(lang, "input.stale_button"))


async def _show_days(update: Update, context: BotContext, lang: str, draft: dict[str, Any]) -> None:
    days = draft.setdefault("days", [])
    items = [(_mark(day in days) + t(lang, f"broadcast.day_{day}"), f"bc:w:d:{day}") for day in WEEKDAYS]
    rows = [items[:4], items[4:], [(t(lang, "broadcast.days_done"), "bc:w:dd")]]
    await ui.present(update, context, t(lang, "broadcast.ask_days"), ui.buttons(rows))


async def _take_when(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                     draft: dict[str, Any], message: Message) -> None:
    lang, typed, kind = member.language, nfc(message.text or "").strip(), draft["step"].removeprefix("when_")
    schedule: dict[str, Any] | None = None
    if kind == "once":
        at = broadcasts.parse_local_datetime(typed)
        if at is not None and at.replace(tzinfo=context.settings.tz) > utcnow():
            schedule = {"kind": "once", "at": at.isoformat(timespec="minutes")}
    elif kind in ("daily", "weekly"):
        clock = broadcasts.parse_clock(typed)
        if clock is not None:
            schedule = {"kind": kind, "time": clock.strftime("%H:%M")}
            if kind == "weekly":
                schedule["days"] = sorted(draft.get("days", []))
    elif kind == "monthly":
        day, _, clock_text = typed.partition(" ")
        clock = broadcasts.parse_clock(clock_text) if clock_text else None
        if day.isascii() and day.isdigit() and 1 <= int(day) <= 31 and clock is not None:
            schedule = {"kind": "monthly", "day": int(day), "time": clock.strftime("%H:%M")}
    if schedule is None:
        await ui.send(update, t(lang, f"broadcast.bad_{kind}"))
        return
    await _create(update, context, member, scope, draft, schedule)


async def _create(update: Update, context: BotContext, member: Member, scope: broadcasts.Scope,
                  draft: dict[str, Any], schedule: dict[str, Any]) -> None:
    lang, audience = member.language, draft["audience"]
    problem = _not_ready(scope, draft)
    if problem is not None:
        if update.callback_query is not None:
            await ui.alert(update, context, t(lang, problem))
        else:
            await ui.send(update, t(lang, problem))
        return
    broadcast = await broadcasts.create_broadcast(
        context.db, member=member, chat_id=update.effective_chat.id, language=lang,
        scope_unit_id=None if scope.is_admin else audience.get("unit_id"), content=draft["content"],
        audience=audience, schedule=schedule, now=utcnow(), tz=context.settings.tz, quiet=_draft_quiet(draft))
    context.user_data.pop(DRAFT, None)
    if broadcast.next_run_at is not None:
        broadcast_jobs.schedule_broadcast(context.application, broadcast.id, broadcast.next_run_at)
    count = await broadcasts.count_audience(context.db, audience, broadcast.topic, utcnow())
    key = "broadcast.created_now" if schedule["kind"] == "now" and broadcast.next_run_at and \
        broadcast.next_run_at <= utcnow() else "broadcast.created_scheduled"
    await ui.present(update, context, t(lang, key, count=count, at=notify.when(broadcast.next_run_at,
                                                                              context.settings.tz)))


# ----- members: "stop these messages" and /settings -----

async def _on_stop(update: Update, context: BotContext, member: Member, topic: str) -> None:
    lang = member.language
    if topic not in TOPICS:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    await broadcasts.set_opt_out(context.db, member.id, topic, True)
    await ui.alert(update, context, t(lang, "broadcast.stopped", topic=t(lang, f"broadcast.topic_{topic}")))


async def _on_topics(update: Update, context: BotContext, member: Member, head: str, rest: str) -> None:
    lang = member.language
    if head == "tg":
        if rest not in TOPICS:
            await ui.alert(update, context, t(lang, "input.stale_button"))
            return
        out = rest in await broadcasts.opted_out(context.db, member.id)
        await broadcasts.set_opt_out(context.db, member.id, rest, not out)
    elif rest == "back":
        await profile.show_settings(update, context, member)
        return
    out = await broadcasts.opted_out(context.db, member.id)
    rows = [[(("🔕 " if topic in out else "🔔 ") + t(lang, f"broadcast.topic_{topic}"), f"bc:tg:{topic}")]
            for topic in TOPICS]
    rows.append([(t(lang, "broadcast.back"), "bc:topics:back")])
    await ui.present(update, context, t(lang, "broadcast.topics_title"), ui.buttons(rows))


# ----- /admin: scheduled and running broadcasts -----

async def _on_admin(update: Update, context: BotContext, member: Member, rest: str) -> None:
    """Admins manage every broadcast; a unit officer those aimed at their units (from /broadcast)."""
    lang = member.language
    scope = await _scope(update, context, member)
    if not scope.may_compose:
        await ui.alert(update, context, t(lang, "admin.not_allowed"))
        return
    action, _, raw = rest.partition(":")
    if action in ("pause", "resume", "cancel") and ui.is_id(raw):
        target = await context.db.get(Broadcast, int(raw))
        if target is None or not (scope.is_admin or target.scope_unit_id in scope.allowed):
            await ui.alert(update, context, t(lang, "input.stale_button"))
            return
        changed = await broadcasts.control(context.db, int(raw), action, utcnow(), context.settings.tz)
        if changed is None:
            await ui.alert(update, context, t(lang, "broadcast.unchanged"))
            return
        if action == "resume":
            if changed.next_run_at is not None:
                broadcast_jobs.schedule_broadcast(context.application, changed.id, changed.next_run_at)
            for run_id in await broadcasts.running_run_ids(context.db, changed.id):
                broadcast_jobs.schedule_run(context.application, run_id)
    elif action != "list":
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    await ui.present(update, context, *await _overview(context, lang, scope))


async def _overview(context: BotContext, lang: str, scope: broadcasts.Scope | None = None) -> tuple[str, Any]:
    lines, rows = [t(lang, "broadcast.admin_title")], []
    for broadcast, running in await broadcasts.open_broadcasts(context.db, scope):
        state = "paused" if broadcast.status == "paused" else "running" if running else "scheduled"
        lines.append(t(lang, "broadcast.admin_line", id=broadcast.id, state=t(lang, f"broadcast.state_{state}"),
                       preview=escape(_snippet(broadcast)), topic=t(lang, f"broadcast.topic_{broadcast.topic}"),
                       next=notify.when(broadcast.next_run_at, context.settings.tz)))
        toggle = ("resume", "broadcast.resume") if broadcast.status == "paused" else ("pause", "broadcast.pause")
        rows.append([(f"#{broadcast.id} " + t(lang, toggle[1]), f"bc:adm:{toggle[0]}:{broadcast.id}"),
                     (f"#{broadcast.id} " + t(lang, "broadcast.cancel_broadcast"), f"bc:adm:cancel:{broadcast.id}")])
    if len(lines) == 1:
        lines.append(t(lang, "broadcast.admin_none"))
    rows.append([(t(lang, "admin.refresh"), "bc:adm:list")])
    return "\n".join(lines), ui.buttons(rows)


def _snippet(broadcast: Broadcast) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", "", broadcasts.text_for(broadcast.content, "vi")))
    return text[:40] + ("…" if len(text) > 40 else "")
