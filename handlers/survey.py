"""/survey: open surveys, answered one question at a time with buttons; results for admins and officers;
the surveys section of /admin.

Callback data (each press re-checked by bot/services/surveys.py against the stored progress):
  survey:open:<id>           start or resume (also the button a broadcast carries)
  sv:a:<id>:<q>:<option>     single choice or scale     sv:t:<id>:<q>:<option>  tick / untick (multiple)
  sv:d:<id>:<q>              Done (multiple)            sv:s:<id>:<q>           Skip (optional question)
  sv:l                       the list again             sv:r                    surveys with results
  sv:c:<id>                  chart                      sv:x:<id>               XLSX
  adm:sv:list | adm:sv:open:<id> | adm:sv:close:<id>    /admin section (admins only)
A typed answer is expected when user_data[TEXT] names the survey and question; the progress in the database
is the truth (a restart resumes from it with /survey or the survey's button).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import t
from bot.services import officers, survey_results, surveys, units
from bot.services.surveys import Outcome, Step, localised
from bot.text import escape, nfc
from db.models import Member, Survey
from db.types import utcnow
from handlers import notify, survey_jobs, ui
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

TEXT = "survey_text"  # user_data: [survey id, question id] while a typed answer is awaited
UPLOAD = "survey_upload"  # user_data: an admin pressed "load a survey file" and may send it now
UPLOAD_LIMIT = 64 * 1024


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """One group of their own, ahead of the others (handlers/__init__.py). The message handlers act only
    while a typed answer is awaited; a command or a menu button ends that wait and goes on as usual."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    menu = filters.Text([label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)])
    return [
        CommandHandler("survey", _stops(show_list), filters=private),
        CallbackQueryHandler(_stops(on_open), pattern=r"^survey:open:"),
        CallbackQueryHandler(_stops(on_button), pattern=r"^sv:"),
        CallbackQueryHandler(_stops(on_admin), pattern=r"^adm:sv:"),
        MessageHandler(private & filters.TEXT & ~filters.COMMAND & ~menu, on_text),
        MessageHandler(private & (filters.COMMAND | menu), _forget_text),
        MessageHandler(private & filters.Document.ALL, on_document),
        MessageHandler(private & ~filters.TEXT, on_other_message),
        CallbackQueryHandler(_forget_text),  # another feature's button: a typed answer is no longer awaited
    ]


def _stops(callback: Callable[[Update, BotContext], Awaitable[None]]) -> Callable[[Update, BotContext], Awaitable[None]]:
    @functools.wraps(callback)
    async def handled(update: Update, context: BotContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    return handled


# ----- the list -----

async def show_list(update: Update, context: BotContext) -> None:
    context.user_data.pop(TEXT, None)
    member = await current_member(update, context)
    await ui.send(update, *await _list(update, context, member))


async def _list(update: Update, context: BotContext, member: Member) -> tuple[str, object]:
    lang = member.language
    rows = []
    if not surveys.may_take_part(member):
        text = t(lang, "survey.needs_profile")
    else:
        listed = await surveys.open_for(context.db, member, utcnow())
        text = t(lang, "survey.list_title") if listed else t(lang, "survey.none_open")
        for item in listed:
            key = "survey.continue_button" if item.started else "survey.open_button"
            rows.append([(t(lang, key, title=localised(item.survey.title, lang)), f"survey:open:{item.survey.id}")])
    if (await _scope(update, context, member))[0]:
        rows.append([(t(lang, "survey.results_button"), "sv:r")])
    return text, ui.buttons(rows) if rows else None


# ----- answering -----

async def on_open(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    raw = update.callback_query.data.removeprefix("survey:open:")
    if not ui.is_id(raw):
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        return
    if not surveys.may_take_part(member):
        await ui.alert(update, context, t(member.language, "survey.needs_profile"))
        return
    step = await surveys.start(context.db, int(raw), member, utcnow())
    if step.outcome is not Outcome.QUESTION:
        await _refuse(update, context, member, step)
        return
    await ui.acknowledge(update, context)
    lang = member.language
    if not step.resumed:
        survey = step.survey
        kind = "survey.anonymous_note" if survey.anonymous else "survey.named_note"
        await ui.send(update, t(lang, "survey.intro", title=escape(localised(survey.title, lang)),
                                intro=escape(localised(survey.intro, lang)), count=step.total, privacy=t(lang, kind)))
    await _show(update, context, member, step, new_message=True)


async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    lang = member.language
    action, *fields = update.callback_query.data.removeprefix("sv:").split(":")
    if action == "l":
        await ui.present(update, context, *await _list(update, context, member))
        return
    if action in ("r", "c", "x"):
        await _results(update, context, member, action, fields)
        return
    shapes = {"a": 3, "t": 3, "d": 2, "s": 2}
    if action not in shapes or len(fields) != shapes[action] or not ui.is_id(fields[0]):
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    survey_id, question_id, now = int(fields[0]), fields[1], utcnow()
    if action == "a":
        step = await surveys.choose(context.db, survey_id, member, question_id, fields[2], now)
    elif action == "t":
        step = await surveys.toggle(context.db, survey_id, member, question_id, fields[2], now)
    elif action == "d":
        step = await surveys.done(context.db, survey_id, member, question_id, now)
    else:
        step = await surveys.skip(context.db, survey_id, member, question_id, now)
    if step.outcome is Outcome.EMPTY:
        await ui.alert(update, context, t(lang, "survey.pick_one"))
        return
    if step.outcome not in (Outcome.QUESTION, Outcome.DONE):
        await _refuse(update, context, member, step)
        return
    await _show(update, context, member, step, new_message=False)


async def on_text(update: Update, context: BotContext) -> None:
    """A typed answer, when one is awaited; anything else goes on to the other handlers."""
    awaited = context.user_data.get(TEXT)
    if not awaited:
        return
    member = await current_member(update, context)
    lang = member.language
    step = await surveys.write(context.db, awaited[0], member, awaited[1], update.message.text or "", utcnow())
    if step.outcome is Outcome.STALE:
        context.user_data.pop(TEXT, None)
        return
    if step.outcome is Outcome.TOO_LONG:
        await ui.send(update, t(lang, "survey.too_long", limit=step.question.max_length,
                                length=len(nfc(update.message.text))))
    elif step.outcome is Outcome.EMPTY:
        await ui.send(update, t(lang, "survey.text_expected"))
    elif step.outcome in (Outcome.QUESTION, Outcome.DONE):
        await _show(update, context, member, step, new_message=True)
    else:
        context.user_data.pop(TEXT, None)
        await _refuse(update, context, member, step)
    raise ApplicationHandlerStop


async def on_other_message(update: Update, context: BotContext) -> None:
    if context.user_data.get(TEXT):
        member = await current_member(update, context)
        await ui.send(update, t(member.language, "survey.text_expected"))
        raise ApplicationHandlerStop


async def _forget_text(update: Update, context: BotContext) -> None:
    context.user_data.pop(TEXT, None)
    context.user_data.pop(UPLOAD, None)


async def _refuse(update: Update, context: BotContext, member: Member, step: Step) -> None:
    key = {Outcome.ALREADY: "survey.already", Outcome.NOT_OPEN: "survey.not_open"}.get(
        step.outcome, "input.stale_button")
    if update.callback_query is not None:
        await ui.alert(update, context, t(member.language, key))
    else:
        await ui.send(update, t(member.language, key))


async def _show(update: Update, context: BotContext, member: Member, step: Step, new_message: bool) -> None:
    lang = member.language
    if step.outcome is Outcome.DONE:
        context.user_data.pop(TEXT, None)
        text = t(lang, "survey.thanks", title=escape(localised(step.survey.title, lang)),
                 points=surveys.SURVEY_POINTS)
        markup = None
    else:
        text, markup = _question_view(step, lang)
        if step.question.kind == "text":
            context.user_data[TEXT] = [step.survey.id, step.question.id]
        else:
            context.user_data.pop(TEXT, None)
    if new_message:
        await ui.send(update, text, markup)
    else:
        await ui.present(update, context, text, markup)


def _question_view(step: Step, lang: str) -> tuple[str, object]:
    question, survey_id = step.question, step.survey.id
    lines = [t(lang, "survey.question", number=step.number, total=step.total,
               question=escape(localised(question.text, lang)))]
    prefix = f"{survey_id}:{question.id}"
    rows: list[list[tuple[str, str]]] = []
    if question.kind == "single":
        rows = [[(localised(o.text, lang), f"sv:a:{prefix}:{o.id}")] for o in question.options]
    elif question.kind == "scale":
        if question.low and question.high:
            lines.append(t(lang, "survey.scale_hint", low=escape(localised(question.low, lang)),
                           high=escape(localised(question.high, lang))))
        rows = [[(n, f"sv:a:{prefix}:{n}") for n in surveys.SCALE]]
    elif question.kind == "multiple":
        lines.append(t(lang, "survey.multiple_hint"))
        rows = [[(("☑️ " if o.id in step.selected else "⬜ ") + localised(o.text, lang), f"sv:t:{prefix}:{o.id}")]
                for o in question.options]
        rows.append([(t(lang, "survey.done_button", count=len(step.selected)), f"sv:d:{prefix}")])
    else:
        lines.append(t(lang, "survey.text_hint", limit=question.max_length))
    if question.optional:
        rows.append([(t(lang, "survey.skip_button"), f"sv:s:{prefix}")])
    return "\n\n".join(lines), ui.buttons(rows) if rows else None


# ----- results -----

async def _scope(update: Update, context: BotContext, member: Member) -> tuple[bool, set[int] | None]:
    """(allowed, unit ids): admins see everything (None); officers their units' subtrees."""
    if await officers.is_admin(context.db, update.effective_user.id, context.settings.admin_ids):
        return True, None
    held = await officers.officer_units(context.db, member.id)
    if not held:
        return False, None
    ids: set[int] = set()
    for unit in held:
        ids |= await units.subtree_ids(context.db, unit.id)
    return True, ids


async def _results(update: Update, context: BotContext, member: Member, action: str, fields: list[str]) -> None:
    lang = member.language
    allowed, scope = await _scope(update, context, member)
    if not allowed:
        await ui.alert(update, context, t(lang, "survey.results_not_allowed"))
        return
    if action == "r":
        await ui.present(update, context, *await _results_list(context, lang))
        return
    survey = await context.db.get(Survey, int(fields[0])) if len(fields) == 1 and ui.is_id(fields[0]) else None
    if survey is None:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    await ui.acknowledge(update, context)
    results = await survey_results.compute(context.db, survey, lang, scope)
    chat_id = update.effective_chat.id
    title = escape(localised(survey.title, lang))
    if action == "c":
        chart = await asyncio.to_thread(survey_results.render_chart, results)
        caption = t(lang, "survey.chart_caption", title=title, count=results.respondents)
        await context.bot.send_photo(chat_id, photo=chart, caption=caption[:1024],
                                     reply_markup=ui.buttons([[(t(lang, "survey.xlsx_button"), f"sv:x:{survey.id}")]]))
    else:
        workbook = await asyncio.to_thread(survey_results.build_xlsx, results, context.settings.tz)
        await context.bot.send_document(chat_id, document=workbook, filename=f"{survey.slug}.xlsx",
                                        caption=t(lang, "survey.xlsx_caption", title=title)[:1024])


async def _results_list(context: BotContext, lang: str) -> tuple[str, object]:
    now = utcnow()
    found = await surveys.all_surveys(context.db)
    rows = [[(t(lang, "survey.result_entry", title=localised(s.title, lang),
                state=t(lang, f"survey.state_{surveys.state_of(s, now)}")), f"sv:c:{s.id}")] for s in found[:20]]
    return t(lang, "survey.results_title" if found else "survey.no_surveys"), ui.buttons(rows) if rows else None


# ----- /admin: surveys -----

async def on_admin(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    lang = member.language
    if not await officers.is_admin(context.db, update.effective_user.id, context.settings.admin_ids):
        await ui.alert(update, context, t(lang, "admin.not_allowed"))
        return
    action, _, raw = update.callback_query.data.removeprefix("adm:sv:").partition(":")
    now = utcnow()
    if action == "open" and ui.is_id(raw):
        survey = await surveys.open_now(context.db, int(raw), now)
        if survey is None:
            await ui.alert(update, context, t(lang, "survey.admin_unchanged"))
            return
        survey_jobs.schedule_survey(context.application, survey, now)
    elif action == "close" and ui.is_id(raw):
        if not await survey_jobs.close_in_background(context.application, int(raw), now):
            await ui.alert(update, context, t(lang, "survey.admin_unchanged"))
            return
    elif action == "upload":
        context.user_data[UPLOAD] = True
        await ui.present(update, context, t(lang, "survey.upload_prompt"),
                         ui.buttons([[(t(lang, "survey.admin_back"), "adm:sv:list")]]))
        return
    elif action != "list":
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    context.user_data.pop(UPLOAD, None)
    await ui.present(update, context, *await _admin_overview(context, lang))


async def on_document(update: Update, context: BotContext) -> None:
    """The minimal builder: an admin sends a survey file (the format of content/surveys/) after pressing
    "load a survey file" in /admin; it is checked like `congdoan survey load` and saved, or each problem
    is listed with its line."""
    if not context.user_data.get(UPLOAD):
        await on_other_message(update, context)
        return
    member = await current_member(update, context)
    lang = member.language
    if not await officers.is_admin(context.db, update.effective_user.id, context.settings.admin_ids):
        context.user_data.pop(UPLOAD, None)
        return
    document = update.message.document
    name = Path(document.file_name or "survey.yaml").name
    if not name.endswith((".yaml", ".yml")) or (document.file_size or 0) > UPLOAD_LIMIT:
        await ui.send(update, t(lang, "survey.upload_not_yaml", limit=UPLOAD_LIMIT // 1024))
        raise ApplicationHandlerStop
    data = await (await document.get_file()).download_as_bytearray()
    try:
        spec, problems = surveys.load_text(bytes(data).decode("utf-8"), Path(name))
    except UnicodeDecodeError:
        spec, problems = None, [f"{name}:1: not UTF-8 text"]
    if spec is None:
        shown = "\n".join(f"• {escape(problem)}" for problem in problems[:20])
        await ui.send(update, t(lang, "survey.upload_problems", count=len(problems), problems=shown))
        raise ApplicationHandlerStop
    try:
        survey, created = await surveys.save_survey(context.db, spec, f"admin:{update.effective_user.id}")
    except surveys.SurveyError as error:
        await context.db.rollback()
        await ui.send(update, t(lang, f"survey.upload_refused_{error.code}"))
        raise ApplicationHandlerStop from None
    context.user_data.pop(UPLOAD, None)
    survey_jobs.schedule_survey(context.application, survey, utcnow())
    tz = context.settings.tz
    await ui.send(update, t(lang, "survey.upload_created" if created else "survey.upload_updated",
                            title=escape(localised(survey.title, lang)), count=len(survey.questions),
                            opens=notify.when(survey.opens_at, tz), closes=notify.when(survey.closes_at, tz)))
    await ui.send(update, *await _admin_overview(context, lang))
    raise ApplicationHandlerStop


async def _admin_overview(context: BotContext, lang: str) -> tuple[str, object]:
    now, tz = utcnow(), context.settings.tz
    lines, rows = [t(lang, "survey.admin_title")], []
    for survey in await surveys.all_surveys(context.db):
        state = surveys.state_of(survey, now)
        title = localised(survey.title, lang)
        lines.append(t(lang, "survey.admin_line", title=escape(title), state=t(lang, f"survey.state_{state}"),
                       opens=notify.when(survey.opens_at, tz), closes=notify.when(survey.closes_at, tz),
                       count=await surveys.respondents(context.db, survey.id)))
        if state == "scheduled":
            rows.append([(t(lang, "survey.admin_open", title=title), f"adm:sv:open:{survey.id}")])
        elif survey.closed_at is None:
            rows.append([(t(lang, "survey.admin_close", title=title), f"adm:sv:close:{survey.id}")])
        rows.append([(t(lang, "survey.admin_results", title=title), f"sv:c:{survey.id}")])
    if len(lines) == 1:
        lines.append(t(lang, "survey.admin_none"))
    rows.append([(t(lang, "survey_builder.new_button"), "svb:new")])
    rows.append([(t(lang, "survey.admin_upload"), "adm:sv:upload")])
    rows.append([(t(lang, "survey.admin_refresh"), "adm:sv:list")])
    return "\n\n".join(lines), ui.buttons(rows)
