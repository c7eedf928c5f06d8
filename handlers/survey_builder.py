"""The in-chat survey builder (/admin → Surveys → "New survey"): buttons first, typed text where it must be.

Steps: title (vi, then en or skip) → intro (vi, then en or skip; or keep the standard one) → anonymous or
named → questions one by one (kind → text vi → en or skip → for a scale the names of 1 and 5, vi → en or skip,
or none → for choices the options one a line, vi → en or skip) → after each: required or optional (workers get
a Skip button; free text starts optional, the others required), add another, edit or remove the last, done →
skip logic (if wanted; single choice and scale: "if the answer is X go to question N / end", forward only) →
opening time (typed or now) → closing time (typed or N days after opening) → preview → Save, which goes the
way of a survey file: bot/services/survey_builder.build (surveys.load_text's validator), surveys.save_survey,
survey_jobs.schedule_survey.

The draft lives in user_data[DRAFT] (persisted: a restart mid-way loses nothing). A command, a main-menu
button or another feature's button pauses its typed input (the draft stays; "New survey" offers to continue
it). Every press and every typed step re-checks the admin right.

Callback data (prefix svb:): new · resume · fresh · cancel · skip:<step> · anon:<1|0> · kind:<kind> ·
opt:<1|0> · add · edit · drop · done · rq:<question id> · ro:<option id> · rt:<question id|end|next> · back ·
times · now · days:<n> · save
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.i18n import t
from bot.services import officers, surveys
from bot.services import survey_builder as builder
from bot.services.surveys import END
from bot.text import escape, nfc
from db.models import Member
from db.types import utcnow
from handlers import notify, survey_jobs, ui
from handlers.context import BotContext, current_member

DRAFT = "survey_builder"
TYPED_STEPS = ("title_vi", "title_en", "intro_vi", "intro_en", "q_vi", "q_en", "labels_vi", "labels_en",
               "opts_vi", "opts_en", "opens", "closes")
# Steps with a skip button; its data names the step, so a stale one from an earlier screen changes nothing.
SKIP_STEPS = ("title_en", "intro_vi", "intro_en", "q_en", "labels_vi", "labels_en", "opts_en")


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """A group of their own ahead of the others (handlers/__init__.py): each stops the update when it acts; a
    command, a menu button or another feature's button only pauses the draft's typed input and goes on."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    menu = filters.Text([label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)])
    return [
        CallbackQueryHandler(on_button, pattern=r"^svb:"),
        MessageHandler(private & (filters.COMMAND | menu), _pause),
        MessageHandler(private, on_message),
        CallbackQueryHandler(_pause),
    ]


def _draft(context: BotContext) -> dict[str, Any] | None:
    draft = context.user_data.get(DRAFT) if context.user_data is not None else None
    return draft if builder.is_draft(draft) else None


async def _pause(update: Update, context: BotContext) -> None:
    draft = _draft(context)
    if draft is not None:
        draft["paused"] = True


async def _is_admin(update: Update, context: BotContext) -> bool:
    return await officers.is_admin(context.db, update.effective_user.id, context.settings.admin_ids)


# ----- buttons -----

async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    lang = member.language
    if not await _is_admin(update, context):
        await ui.alert(update, context, t(lang, "admin.not_allowed"))
        raise ApplicationHandlerStop
    action, _, arg = update.callback_query.data.removeprefix("svb:").partition(":")
    draft = _draft(context)
    if action in ("new", "fresh"):
        await _new(update, context, lang, draft, fresh=action == "fresh")
    elif draft is None:
        await ui.alert(update, context, t(lang, "input.stale_button"))
    elif action == "cancel":
        context.user_data.pop(DRAFT, None)
        await ui.present(update, context, t(lang, "survey_builder.cancelled"),
                         ui.buttons([[(t(lang, "survey_builder.back_to_surveys"), "adm:sv:list")]]))
    elif action == "resume":
        draft["paused"] = False
        await _show(update, context, lang, draft)
    elif not await _step(update, context, member, draft, action, arg):
        await ui.alert(update, context, t(lang, "input.stale_button"))
    raise ApplicationHandlerStop


async def _new(update: Update, context: BotContext, lang: str, draft: dict[str, Any] | None,
               fresh: bool) -> None:
    if draft is not None and not fresh and (draft["title"] or draft["questions"]):
        title = escape(draft["title"].get("vi") or t(lang, "survey_builder.untitled"))
        rows = [[(t(lang, "survey_builder.resume_button"), "svb:resume")],
                [(t(lang, "survey_builder.fresh_button"), "svb:fresh")],
                [(t(lang, "survey_builder.cancel_button"), "svb:cancel")]]
        text = t(lang, "survey_builder.resume_prompt", title=title, count=len(draft["questions"]))
        await ui.present(update, context, text, ui.buttons(rows))
        return
    draft = builder.new_draft()
    context.user_data[DRAFT] = draft
    await _show(update, context, lang, draft)


async def _step(update: Update, context: BotContext, member: Member, draft: dict[str, Any], action: str,
                arg: str) -> bool:
    """One press on the draft's current screen; False when it does not belong there (stale or forged)."""
    step, lang = draft["step"], member.language
    if action == "skip" and step == arg and step in SKIP_STEPS:
        _skip(draft)
    elif action == "anon" and step == "privacy" and arg in ("1", "0"):
        draft["anonymous"], draft["step"] = arg == "1", "kind"
    elif action == "kind" and step == "kind" and arg in builder.KINDS:
        builder.start_question(draft, arg)
        draft["step"] = "q_vi"
    elif action == "opt" and step == "more" and arg in ("1", "0") and builder.set_optional(draft, arg == "1"):
        pass
    elif action == "add" and step == "more" and builder.may_add(draft):
        draft["step"] = "kind"
    elif action == "edit" and step == "more" and draft["questions"]:
        removed = builder.remove_last(draft)
        draft["step"] = "kind"
        ui.note(context, t(lang, "survey_builder.editing", number=len(draft["questions"]) + 1,
                           question=escape(removed["text"]["vi"])))
    elif action == "drop" and step == "more" and draft["questions"]:
        builder.remove_last(draft)
        ui.note(context, t(lang, "survey_builder.removed", number=len(draft["questions"]) + 1))
        draft["step"] = "more" if draft["questions"] else "kind"
    elif action == "done" and step == "more" and draft["questions"]:
        draft["step"] = "rules"
    elif action == "rq" and step in ("rules", "rule_option", "rule_target") and \
            any(q["id"] == arg for q in builder.rule_questions(draft)):
        draft["rule"], draft["step"] = [arg], "rule_option"
    elif action == "ro" and step == "rule_option" and arg in builder.option_ids(_rule_question(draft)):
        draft["rule"], draft["step"] = [draft["rule"][0], arg], "rule_target"
    elif action == "rt" and step == "rule_target" and builder.set_rule(
            draft, draft["rule"][0], draft["rule"][1], None if arg == "next" else arg):
        draft["rule"], draft["step"] = None, "rules"
    elif action == "back" and step in ("rule_option", "rule_target"):
        draft["rule"], draft["step"] = None, "rules"
    elif action == "back" and step in ("rules", "opens", "closes", "preview"):
        draft["step"] = "more"
    elif action == "times" and step in ("rules", "preview"):
        draft["step"] = "opens"
    elif action == "now" and step == "opens":
        builder.set_opens(draft, None)
        draft["step"] = "closes"
    elif action == "days" and step == "closes" and arg.isascii() and arg.isdigit() and \
            int(arg) in builder.CLOSE_PRESETS:
        builder.set_closes_after(draft, int(arg))
        draft["step"] = "preview"
    elif action == "save" and step == "preview":
        await _save(update, context, lang, draft)
        return True
    else:
        return False
    draft["paused"] = False
    await _show(update, context, lang, draft)
    return True


def _rule_question(draft: dict[str, Any]) -> dict[str, Any]:
    rule = draft.get("rule") or []
    return (builder.question_by_id(draft, rule[0]) if rule else None) or {"type": "text", "options": []}


def _skip(draft: dict[str, Any]) -> None:
    """No English text: the Vietnamese one stands for both (the format needs both: see the builder service).
    No intro: the standard one. No scale labels: plain 1 … 5."""
    step = draft["step"]
    if step == "title_en":
        draft["title"]["en"] = draft["title"]["vi"]
        draft["step"] = "intro_vi"
    elif step == "intro_vi":
        draft["intro"], draft["step"] = {}, "privacy"
    elif step == "intro_en":  # the Vietnamese intro is the English one already
        draft["step"] = "privacy"
    elif step == "q_en":
        draft["current"]["text"]["en"] = draft["current"]["text"]["vi"]
        _after_question_text(draft)
    elif step == "labels_vi":
        draft["current"]["low"], draft["current"]["high"] = {}, {}
        _finish(draft)
    else:  # labels_en, opts_en: the Vietnamese labels or options stay as the English ones
        _finish(draft)


def _after_question_text(draft: dict[str, Any]) -> None:
    kind = draft["current"]["type"]
    if kind in builder.CHOICE_KINDS:
        draft["step"] = "opts_vi"
    elif kind == "scale":
        draft["step"] = "labels_vi"
    else:
        _finish(draft)


def _finish(draft: dict[str, Any]) -> None:
    builder.finish_question(draft)
    draft["step"] = "more"


# ----- typed steps -----

async def on_message(update: Update, context: BotContext) -> None:
    draft = _draft(context)
    if draft is None or draft["paused"] or draft["step"] not in TYPED_STEPS:
        return  # not ours: the update goes on
    member = await current_member(update, context)
    lang = member.language
    if not await _is_admin(update, context):
        context.user_data.pop(DRAFT, None)
        await ui.send(update, t(lang, "admin.not_allowed"))
        raise ApplicationHandlerStop
    text = update.effective_message.text
    if text is None:
        await ui.send(update, t(lang, "survey_builder.text_expected"))
        raise ApplicationHandlerStop
    problem, values = _take(draft, nfc(text), utcnow())
    if problem is not None:
        await ui.send(update, t(lang, f"survey_builder.problem_{problem}", **values))
    else:
        await _show(update, context, lang, draft)
    raise ApplicationHandlerStop


Taken = tuple[str | None, dict[str, object]]


def _take(draft: dict[str, Any], text: str, now: datetime) -> Taken:
    """Store the typed piece and move on; or (problem code, its values) and the step stays."""
    step = draft["step"]
    if step in ("title_vi", "title_en", "q_vi", "q_en"):
        return _take_text(draft, text)
    if step in ("intro_vi", "intro_en"):
        return _take_intro(draft, text)
    if step in ("labels_vi", "labels_en"):
        return _take_labels(draft, text)
    if step in ("opts_vi", "opts_en"):
        return _take_options(draft, text)
    return _take_time(draft, text, now)


def _take_text(draft: dict[str, Any], text: str) -> Taken:
    step, current = draft["step"], draft.get("current")
    limit = surveys.TITLE_LIMIT if step.startswith("title") else surveys.QUESTION_LIMIT
    problem = builder.text_problem(text, limit)
    if problem:
        return problem, {"limit": limit, "length": len(text)}
    language = step.rpartition("_")[2]
    (draft["title"] if step.startswith("title") else current["text"])[language] = text
    if step == "title_vi":
        draft["title"]["en"], draft["step"] = text, "title_en"
    elif step == "title_en":
        draft["step"] = "intro_vi"
    elif step == "q_vi":
        current["text"]["en"], draft["step"] = text, "q_en"
    else:
        _after_question_text(draft)
    return None, {}


def _take_intro(draft: dict[str, Any], text: str) -> Taken:
    problem = builder.intro_problem(text)
    if problem:
        return problem, {"limit": surveys.INTRO_LIMIT, "length": len(text)}
    language = draft["step"].removeprefix("intro_")
    builder.set_intro(draft, language, text)
    draft["step"] = "intro_en" if language == "vi" else "privacy"
    return None, {}


def _take_labels(draft: dict[str, Any], text: str) -> Taken:
    labels, problem = builder.parse_labels(text)
    if problem:
        return problem, {"limit": surveys.OPTION_LIMIT}
    language = draft["step"].removeprefix("labels_")
    builder.set_labels(draft["current"], language, *labels)
    if language == "vi":
        draft["step"] = "labels_en"
    else:
        _finish(draft)
    return None, {}


def _take_options(draft: dict[str, Any], text: str) -> Taken:
    step, current = draft["step"], draft["current"]
    count = len(current["options"]) if step == "opts_en" else None
    options, problem = builder.parse_options(text, count)
    if problem:
        return problem, {"min": surveys.OPTIONS_MIN, "max": surveys.OPTIONS_MAX,
                         "limit": surveys.OPTION_LIMIT, "count": count or 0, "given": len(options)}
    builder.set_options(current, step.removeprefix("opts_"), options)
    if step == "opts_vi":
        draft["step"] = "opts_en"
    else:
        _finish(draft)
    return None, {}


def _take_time(draft: dict[str, Any], text: str, now: datetime) -> Taken:
    step = draft["step"]
    moment, problem = builder.parse_time(text, now)
    if problem is None and step == "closes":
        problem = builder.close_problem(draft, moment, now)
    if problem:
        return problem, {"example": _example(now)}
    if step == "opens":
        builder.set_opens(draft, moment)
        draft["step"] = "closes"
    else:
        builder.set_closes(draft, moment)
        draft["step"] = "preview"
    return None, {}


def _example(now: datetime) -> str:
    return (now + timedelta(days=1)).astimezone(surveys.SURVEY_TZ).strftime("%d/%m/%Y 08:00")


# ----- screens -----

async def _show(update: Update, context: BotContext, lang: str, draft: dict[str, Any]) -> None:
    """The current step's screen: in place of the pressed message, or as a new one after typed text."""
    text, rows = _screen(context, lang, draft)
    rows = [*rows, [(t(lang, "survey_builder.cancel_button"), "svb:cancel")]]
    if update.callback_query is not None:
        await ui.present(update, context, text, ui.buttons(rows))
    else:
        await ui.send(update, text, ui.buttons(rows))


Rows = list[list[tuple[str, str]]]


def _screen(context: BotContext, lang: str, draft: dict[str, Any]) -> tuple[str, Rows]:
    step, current = draft["step"], draft.get("current")
    number = len(draft["questions"]) + 1
    skip = [[(t(lang, "survey_builder.skip_button"), f"svb:skip:{step}")]]
    if step == "title_vi":
        return t(lang, "survey_builder.ask_title_vi", limit=surveys.TITLE_LIMIT), []
    if step == "title_en":
        return t(lang, "survey_builder.ask_title_en", limit=surveys.TITLE_LIMIT), skip
    if step == "intro_vi":
        keep = [[(t(lang, "survey_builder.keep_intro_button"), f"svb:skip:{step}")]]
        return t(lang, "survey_builder.ask_intro_vi", limit=surveys.INTRO_LIMIT,
                 standard=t(lang, "survey_builder.default_intro")), keep
    if step == "intro_en":
        return t(lang, "survey_builder.ask_intro_en", limit=surveys.INTRO_LIMIT), skip
    if step == "privacy":
        return t(lang, "survey_builder.ask_privacy"), [
            [(t(lang, "survey_builder.anonymous_button"), "svb:anon:1")],
            [(t(lang, "survey_builder.named_button"), "svb:anon:0")]]
    if step == "kind":
        kinds = [[(t(lang, f"survey_builder.kind_{kind}"), f"svb:kind:{kind}")] for kind in builder.KINDS]
        return t(lang, "survey_builder.ask_kind", number=number), kinds
    if step == "q_vi":
        kind = t(lang, f"survey_builder.kind_{current['type']}")
        return t(lang, "survey_builder.ask_question_vi", number=number, kind=kind,
                 limit=surveys.QUESTION_LIMIT), []
    if step == "q_en":
        return t(lang, "survey_builder.ask_question_en", number=number, limit=surveys.QUESTION_LIMIT), skip
    if step == "labels_vi":
        none = [[(t(lang, "survey_builder.no_labels_button"), f"svb:skip:{step}")]]
        return t(lang, "survey_builder.ask_labels_vi", number=number, limit=surveys.OPTION_LIMIT), none
    if step == "labels_en":
        return t(lang, "survey_builder.ask_labels_en", number=number, limit=surveys.OPTION_LIMIT), skip
    if step == "opts_vi":
        return t(lang, "survey_builder.ask_options_vi", min=surveys.OPTIONS_MIN, max=surveys.OPTIONS_MAX,
                 limit=surveys.OPTION_LIMIT), []
    if step == "opts_en":
        return t(lang, "survey_builder.ask_options_en", count=len(current["options"])), skip
    if step == "more":
        return _more(lang, draft)
    if step in ("rules", "rule_option", "rule_target"):
        return _rules(lang, draft)
    back = [[(t(lang, "survey_builder.back_to_questions"), "svb:back")]]
    example = _example(utcnow())
    if step == "opens":
        now_button = [(t(lang, "survey_builder.open_now_button"), "svb:now")]
        return t(lang, "survey_builder.ask_opens", example=example), [now_button, *back]
    if step == "closes":
        presets = [(t(lang, "survey_builder.close_days_button", days=days), f"svb:days:{days}")
                   for days in builder.CLOSE_PRESETS]
        return t(lang, "survey_builder.ask_closes", example=example), [presets, *back]
    return t(lang, "survey_builder.preview", survey=preview(context, lang, draft)), [
        [(t(lang, "survey_builder.save_button"), "svb:save")],
        [(t(lang, "survey_builder.change_times_button"), "svb:times")], *back]


def _more(lang: str, draft: dict[str, Any]) -> tuple[str, Rows]:
    count, last = len(draft["questions"]), draft["questions"][-1]
    optional = builder.is_optional(last)
    requirement = t(lang, "survey_builder.optional_note" if optional else "survey_builder.required_note")
    text = t(lang, "survey_builder.question_added", number=count, count=count, max=surveys.QUESTIONS_MAX,
             question=escape(last["text"]["vi"]), requirement=requirement)
    if optional:
        rows = [[(t(lang, "survey_builder.make_required_button"), "svb:opt:0")]]
    else:
        rows = [[(t(lang, "survey_builder.make_optional_button"), "svb:opt:1")]]
    if builder.may_add(draft):
        rows.append([(t(lang, "survey_builder.add_button"), "svb:add")])
    rows += [[(t(lang, "survey_builder.edit_last_button"), "svb:edit"),
              (t(lang, "survey_builder.remove_last_button"), "svb:drop")],
             [(t(lang, "survey_builder.done_button"), "svb:done")]]
    return text, rows


def _number(draft: dict[str, Any], question_id: str) -> int:
    return [q["id"] for q in draft["questions"]].index(question_id) + 1


def _target(lang: str, draft: dict[str, Any], target: str) -> str:
    if target == END:
        return t(lang, "survey_builder.to_end")
    return t(lang, "survey_builder.to_question", number=_number(draft, target))


def _target_button(lang: str, draft: dict[str, Any], target: str) -> tuple[str, str]:
    if target == END:
        return t(lang, "survey_builder.target_end"), f"svb:rt:{END}"
    return t(lang, "survey_builder.target_question", number=_number(draft, target)), f"svb:rt:{target}"


def _rule_lines(lang: str, draft: dict[str, Any]) -> list[str]:
    return [t(lang, "survey_builder.rule_line", number=_number(draft, q["id"]),
              option=escape(builder.option_label(q, option)), target=_target(lang, draft, target))
            for q in draft["questions"] for option, target in q.get("next", {}).items()]


def _rules(lang: str, draft: dict[str, Any]) -> tuple[str, Rows]:
    back = [[(t(lang, "survey_builder.back_button"), "svb:back")]]
    if draft["step"] == "rule_option":
        question = _rule_question(draft)
        rows = [[(builder.option_label(question, option)[:60], f"svb:ro:{option}")]
                for option in builder.option_ids(question)]
        return t(lang, "survey_builder.rule_pick_option", number=_number(draft, question["id"]),
                 question=escape(question["text"]["vi"])), rows + back
    if draft["step"] == "rule_target":
        question, option = _rule_question(draft), draft["rule"][1]
        rows = [[_target_button(lang, draft, target)] for target in builder.targets(draft, question["id"])]
        rows.append([(t(lang, "survey_builder.target_next"), "svb:rt:next")])
        return t(lang, "survey_builder.rule_pick_target", number=_number(draft, question["id"]),
                 option=escape(builder.option_label(question, option))), rows + back
    candidates = builder.rule_questions(draft)
    lines = [t(lang, "survey_builder.rules_title")]
    if not candidates:
        lines.append(t(lang, "survey_builder.rules_unavailable"))
    else:
        lines += _rule_lines(lang, draft) or [t(lang, "survey_builder.rules_none")]
    rows = [[(t(lang, "survey_builder.rule_question_button", number=_number(draft, q["id"]),
               question=q["text"]["vi"][:50]), f"svb:rq:{q['id']}")] for q in candidates]
    rows += [[(t(lang, "survey_builder.continue_button"), "svb:times")],
             [(t(lang, "survey_builder.back_to_questions"), "svb:back")]]
    return "\n\n".join(lines), rows


def preview(context: BotContext, lang: str, draft: dict[str, Any]) -> str:
    """The whole survey as text: both languages, the options, the skip logic, the window."""
    tz = context.settings.tz
    if draft.get("opens") == "now":
        opens = t(lang, "survey_builder.preview_open_now")
    else:
        opens = notify.when(builder.opens_at(draft, utcnow()), tz)
    if draft["anonymous"]:
        privacy = t(lang, "survey_builder.preview_anonymous")
    else:
        privacy = t(lang, "survey_builder.preview_named")
    lines = [t(lang, "survey_builder.preview_head", title=escape(draft["title"]["vi"]),
               title_en=escape(draft["title"]["en"]), privacy=privacy, opens=opens,
               closes=_closes(lang, draft, tz)), _preview_intro(lang, draft)]
    for number, question in enumerate(draft["questions"], 1):
        lines.append("\n".join(_preview_question(lang, draft, number, question)))
    return "\n\n".join(lines)


def _preview_intro(lang: str, draft: dict[str, Any]) -> str:
    intro = draft.get("intro") or {}
    if not intro.get("vi"):
        return t(lang, "survey_builder.preview_intro_standard",
                 intro=t(lang, "survey_builder.default_intro"))
    part = [t(lang, "survey_builder.preview_intro", intro=escape(intro["vi"]))]
    if intro.get("en") and intro["en"] != intro["vi"]:
        part.append(t(lang, "survey_builder.preview_english", text=escape(intro["en"])))
    return "\n".join(part)


def _closes(lang: str, draft: dict[str, Any], tz: Any) -> str:
    closes = draft.get("closes")
    if isinstance(closes, dict) and draft.get("opens") == "now":
        return t(lang, "survey_builder.preview_days_after", days=closes["days"])
    return notify.when(builder.closes_at(draft, utcnow()), tz)


def _preview_question(lang: str, draft: dict[str, Any], number: int, question: dict[str, Any]) -> list[str]:
    part = [t(lang, "survey_builder.preview_question", number=number, question=escape(question["text"]["vi"]),
              kind=t(lang, f"survey_builder.kind_{question['type']}"))]
    if question["text"]["en"] != question["text"]["vi"]:
        part.append(t(lang, "survey_builder.preview_english", text=escape(question["text"]["en"])))
    for option in question["options"]:
        if option["en"] == option["vi"]:
            part.append(t(lang, "survey_builder.preview_option", option=escape(option["vi"])))
        else:
            part.append(t(lang, "survey_builder.preview_option_en", option=escape(option["vi"]),
                          english=escape(option["en"])))
    if question["type"] == "scale":
        part += _preview_scale(lang, question)
    if builder.is_optional(question):
        part.append(t(lang, "survey_builder.preview_optional"))
    for option, target in question.get("next", {}).items():
        label = escape(builder.option_label(question, option))
        part.append(t(lang, "survey_builder.preview_rule", option=label, target=_target(lang, draft, target)))
    return part


def _preview_scale(lang: str, question: dict[str, Any]) -> list[str]:
    low, high = question.get("low") or {}, question.get("high") or {}
    if not low.get("vi") or not high.get("vi"):
        return [t(lang, "survey_builder.preview_scale")]
    part = [t(lang, "survey_builder.preview_scale_labels", low=escape(low["vi"]), high=escape(high["vi"]))]
    if (low.get("en"), high.get("en")) != (low["vi"], high["vi"]):
        part.append(t(lang, "survey_builder.preview_scale_labels_en", low=escape(low.get("en", "")),
                      high=escape(high.get("en", ""))))
    return part


# ----- saving -----

PROBLEM_CODES = ("no_title", "no_privacy", "no_questions", "no_opens", "no_closes", "closes_past",
                 "closes_before_opens")


async def _save(update: Update, context: BotContext, lang: str, draft: dict[str, Any]) -> None:
    """The way of a survey file: the validator, save_survey (committed), then the close job; told after."""
    now = utcnow()
    intro = {language: t(language, "survey_builder.default_intro") for language in surveys.LANGS}
    spec, problems = builder.build(draft, intro, now)
    if spec is None:
        shown = "\n".join(f"• {_problem_text(lang, problem)}" for problem in problems[:20])
        await ui.present(update, context, t(lang, "survey_builder.cannot_save", problems=shown),
                         ui.buttons([[(t(lang, "survey_builder.change_times_button"), "svb:times")],
                                     [(t(lang, "survey_builder.back_to_questions"), "svb:back")],
                                     [(t(lang, "survey_builder.cancel_button"), "svb:cancel")]]))
        return
    try:
        survey, _ = await surveys.save_survey(context.db, spec, f"admin:{update.effective_user.id}")
    except surveys.SurveyError as error:
        await context.db.rollback()
        await ui.alert(update, context, t(lang, f"survey.upload_refused_{error.code}"))
        return
    context.user_data.pop(DRAFT, None)
    survey_jobs.schedule_survey(context.application, survey, now)
    tz = context.settings.tz
    text = t(lang, "survey_builder.saved", title=escape(surveys.localised(survey.title, lang)),
             count=len(survey.questions), opens=notify.when(survey.opens_at, tz),
             closes=notify.when(survey.closes_at, tz))
    await ui.present(update, context, text,
                     ui.buttons([[(t(lang, "survey_builder.back_to_surveys"), "adm:sv:list")]]))


def _problem_text(lang: str, problem: str) -> str:
    return t(lang, f"survey_builder.problem_{problem}") if problem in PROBLEM_CODES else escape(problem)
