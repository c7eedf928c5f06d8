"""/quiz and the "🏆 Thi tìm hiểu" menu entry: practice quizzes and contests.

Practice: questions one at a time with buttons (they work the same in Telegram and in the browser sandbox),
the right answer and its explanation at once, the score at the end. Its progress lives in user_data (a run
id in every button, so a button of an earlier run is recognised as stale).

Contests: the open rounds, an attempt's questions with their deadline, the tiebreak prediction typed as a
number at the end, and the round's results and leaderboards once it closes. Everything about an attempt is
in the database (bot/services/contests.py checks every press), so a restart in the middle changes nothing.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import LANGUAGES, t
from bot.services import contests, quizzes
from bot.services.provinces import get_province
from bot.text import escape, nfc
from db.models import Contest, ContestAttempt, ContestRound, Member
from db.types import utcnow
from handlers import notify, ui
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

PRACTICE = "practice"  # user_data: {"run", "slug", "pos", "score"}
PREDICTION = "contest_prediction"  # user_data: the attempt id whose tiebreak prediction is awaited
LIBRARY = "quiz_library"  # bot_data: the loaded quizzes (tests set "quiz_dir" first)
NUMBER = re.compile(r"\d[\d.,\s]{0,12}")
OPTION_LETTERS = "ABCDEFGHIJ"


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """Registered in a group of their own ahead of the others (see handlers/__init__.py); each stops the
    update once it acted. The last one, the typed tiebreak number, lets everything else through."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [
        CommandHandler("quiz", _stops(show_home), filters=private),
        MessageHandler(filters.Text(ui.menu_labels("menu.quiz")) & private, _stops(show_home)),
        CallbackQueryHandler(_stops(on_practice_start), pattern=r"^quiz:practice:"),
        CallbackQueryHandler(_stops(on_practice_answer), pattern=r"^quiz:a:"),
        CallbackQueryHandler(_stops(on_home), pattern=r"^quiz:home$"),
        CallbackQueryHandler(_stops(on_contest_button), pattern=r"^ct:"),
        MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_prediction),
    ]


def _stops(callback: Callable[[Update, BotContext], Awaitable[None]]) -> Callable[[Update, BotContext], Awaitable[None]]:
    @functools.wraps(callback)
    async def handled(update: Update, context: BotContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    return handled


def library(context: BotContext) -> quizzes.Loaded:
    data = context.application.bot_data
    if LIBRARY not in data:
        loaded = quizzes.load_quizzes(data.get("quiz_dir", quizzes.QUIZ_DIR))
        for problem in loaded.problems:
            log.error("quiz not loaded: %s", problem)
        data[LIBRARY] = loaded
    return data[LIBRARY]


# ----- home -----

async def show_home(update: Update, context: BotContext) -> None:
    context.user_data.pop(PREDICTION, None)
    member = await current_member(update, context)
    await ui.send(update, *await _home(context, member))


async def on_home(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    await ui.present(update, context, *await _home(context, member))


async def _home(context: BotContext, member: Member) -> tuple[str, object]:
    lang = member.language
    open_now = await contests.open_rounds(context.db, utcnow())
    rows = [[(t(lang, "quiz.contests_button", count=len(open_now)), "ct:list")]]
    rows += [[(quiz.title_in(lang), f"quiz:practice:{quiz.slug}")] for quiz in library(context).quizzes.values()]
    shown = await contests.shows_name(context.db, member.id)
    rows.append([(t(lang, "quiz.name_shown" if shown else "quiz.name_hidden"), f"ct:name:{0 if shown else 1}")])
    return t(lang, "quiz.home"), ui.buttons(rows)


# ----- practice -----

async def on_practice_start(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    slug = update.callback_query.data.removeprefix("quiz:practice:")
    quiz = library(context).quizzes.get(slug)
    if quiz is None:
        await ui.alert(update, context, t(member.language, "quiz.unknown"))
        return
    state = {"run": secrets.token_hex(3), "slug": slug, "pos": 0, "score": 0}
    context.user_data[PRACTICE] = state
    await ui.acknowledge(update, context)
    await ui.send(update, t(member.language, "quiz.practice_intro", title=escape(quiz.title_in(member.language)),
                            count=len(quiz.questions)))
    await _send_practice_question(update, quiz, state, member.language)


async def _send_practice_question(update: Update, quiz: quizzes.Quiz, state: dict, lang: str) -> None:
    position = state["pos"]
    question = quiz.questions[position]
    text = t(lang, "quiz.question", number=position + 1, total=len(quiz.questions),
             question=escape(question.in_language("text", lang)), options=_options_text(question, lang))
    rows = _option_rows(question, lambda index: f"quiz:a:{state['run']}:{position}:{index}")
    await ui.send(update, text, ui.buttons(rows))


def _options_text(question: quizzes.Question, lang: str) -> str:
    return "\n".join(f"<b>{OPTION_LETTERS[i]}.</b> {escape(question.option(i, lang))}"
                     for i in range(len(question.options)))


def _option_rows(question: quizzes.Question, data) -> list[list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    letters = [(OPTION_LETTERS[i], data(i)) for i in range(len(question.options))]
    return [letters[i:i + 5] for i in range(0, len(letters), 5)]


def _parse(data: str, prefix: str, parts: int) -> list[str] | None:
    fields = data.removeprefix(prefix).split(":")
    return fields if len(fields) == parts else None


async def on_practice_answer(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    lang = member.language
    fields = _parse(update.callback_query.data, "quiz:a:", 3)
    state = context.user_data.get(PRACTICE)
    quiz = library(context).quizzes.get(state["slug"]) if state else None
    if fields is None or quiz is None or fields[0] != state["run"] or not all(f.isdecimal() and len(f) <= 9 for f in fields[1:]):
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    position, chosen = int(fields[1]), int(fields[2])
    if position < state["pos"]:
        await ui.alert(update, context, t(lang, "quiz.already_answered"))
        return
    if position != state["pos"] or chosen >= len(quiz.questions[position].options):
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    question = quiz.questions[position]
    right = chosen == question.correct
    state["score"] += right
    state["pos"] += 1
    context.user_data[PRACTICE] = state  # reassigned so the persistence sees the change
    await ui.acknowledge(update, context)
    await _show_feedback(update, question, chosen, right, lang)
    if state["pos"] < len(quiz.questions):
        await _send_practice_question(update, quiz, state, lang)
        return
    context.user_data.pop(PRACTICE, None)
    await quizzes.finish_practice(context.db, member.id, quiz.slug, utcnow())
    key = "quiz.practice_perfect" if state["score"] == len(quiz.questions) else "quiz.practice_done"
    await ui.send(update, t(lang, key, score=state["score"], total=len(quiz.questions)), ui.buttons([
        [(t(lang, "quiz.again"), f"quiz:practice:{quiz.slug}")], [(t(lang, "quiz.back"), "quiz:home")]]))


async def _show_feedback(update: Update, question: quizzes.Question, chosen: int, right: bool, lang: str) -> None:
    """The answered question stays in the chat with the answer and its explanation (buttons removed)."""
    verdict = t(lang, "quiz.right" if right else "quiz.wrong", answer=OPTION_LETTERS[question.correct],
                option=escape(question.option(question.correct, lang)))
    text = t(lang, "quiz.feedback", question=escape(question.in_language("text", lang)),
             chosen=OPTION_LETTERS[chosen], verdict=verdict,
             explanation=escape(question.in_language("explanation", lang)))
    await _replace(update, text)


async def _replace(update: Update, text: str) -> None:
    try:
        await update.callback_query.edit_message_text(text, reply_markup=None)
    except BadRequest:
        await ui.send(update, text)


# ----- contests -----

async def on_contest_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    data = update.callback_query.data
    action, _, rest = data.removeprefix("ct:").partition(":")
    fields = rest.split(":") if rest else []
    if not all(f.isdecimal() and len(f) <= 9 for f in fields):  # forged: "²", or past an INTEGER id
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        return
    numbers = [int(f) for f in fields]
    if action == "list" and not numbers:
        await _show_rounds(update, context, member)
    elif action == "r" and len(numbers) == 1:
        await _show_round(update, context, member, numbers[0])
    elif action == "go" and len(numbers) == 1:
        await _start(update, context, member, numbers[0])
    elif action == "a" and len(numbers) == 3:
        await _answer(update, context, member, *numbers)
    elif action == "lb" and len(numbers) == 2:
        await _show_board(update, context, member, *numbers)
    elif action == "name" and len(numbers) == 1 and numbers[0] in (0, 1):
        await contests.set_show_name(context.db, member, bool(numbers[0]))
        await ui.present(update, context, *await _home(context, member))
    else:
        await ui.alert(update, context, t(member.language, "input.stale_button"))


async def _show_rounds(update: Update, context: BotContext, member: Member) -> None:
    lang = member.language
    tz = context.settings.tz
    open_now = await contests.open_rounds(context.db, utcnow())
    closed = await contests.closed_rounds(context.db)
    rows = [[(t(lang, "quiz.round_button", title=c.title.get(lang) or c.title["vi"], number=r.number),
              f"ct:r:{r.id}")] for r, c in open_now]
    rows += [[(t(lang, "quiz.results_button", title=c.title.get(lang) or c.title["vi"], number=r.number),
               f"ct:r:{r.id}")] for r, c in closed]
    rows.append([(t(lang, "quiz.back"), "quiz:home")])
    lines = [t(lang, "quiz.rounds_title" if open_now else "quiz.no_open_rounds")]
    lines += [t(lang, "quiz.round_line", title=escape(_title(c, lang)), number=r.number,
                ends=notify.when(r.ends_at, tz)) for r, c in open_now]
    await ui.present(update, context, "\n".join(lines), ui.buttons(rows))


def _title(contest: Contest, lang: str) -> str:
    return quizzes.localised(contest.title, lang)


async def _show_round(update: Update, context: BotContext, member: Member, round_id: int) -> None:
    lang = member.language
    found = await contests.get_round(context.db, round_id)
    if found is None:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    round_, contest = found
    tz = context.settings.tz
    attempts = await contests.attempts_of(context.db, round_id, member.id)
    lines = [t(lang, "quiz.round_info", title=escape(_title(contest, lang)), number=round_.number,
               starts=notify.when(round_.starts_at, tz), ends=notify.when(round_.ends_at, tz),
               questions=contest.questions_per_attempt, minutes=contest.time_limit_minutes,
               attempts=contest.attempts_allowed)]
    for attempt in attempts:
        if attempt.submitted_at is not None:
            lines.append(t(lang, "quiz.attempt_line", number=attempt.number, score=attempt.score,
                           total=len(attempt.questions), time=_duration(attempt.duration_ms)))
    rows: list[list[tuple[str, str]]] = []
    now = utcnow()
    if round_.closed_at is not None:
        result = await contests.result_of(context.db, round_id, member.id)
        if result is not None:
            lines.append(t(lang, "quiz.your_rank", rank=result.rank, score=result.score,
                           entrants=await contests.entrants(context.db, round_id)))
        lines.append(t(lang, "quiz.all_correct", count=round_.all_correct or 0))
        rows.append([(t(lang, "quiz.board_people"), f"ct:lb:{round_id}:0")])
    elif contests.is_open(round_, now):
        running = next((a for a in attempts if a.submitted_at is None and now < a.deadline_at), None)
        used = sum(1 for a in attempts if a is not running)
        if running is not None:
            rows.append([(t(lang, "quiz.resume"), f"ct:go:{round_id}")])
        elif used < contest.attempts_allowed:
            rows.append([(t(lang, "quiz.start_attempt", number=used + 1), f"ct:go:{round_id}")])
        else:
            lines.append(t(lang, "quiz.no_attempts_left"))
    else:
        lines.append(t(lang, "quiz.round_not_open"))
    rows.append([(t(lang, "quiz.back"), "ct:list")])
    await ui.present(update, context, "\n".join(lines), ui.buttons(rows))


async def _start(update: Update, context: BotContext, member: Member, round_id: int) -> None:
    lang = member.language
    started = await contests.start_attempt(context.db, round_id, member, utcnow())
    if started.attempt is None:
        key = "quiz.no_attempts_left" if started.outcome is contests.StartOutcome.NO_ATTEMPTS_LEFT \
            else "quiz.round_not_open"
        await ui.alert(update, context, t(lang, key))
        return
    await ui.acknowledge(update, context)
    attempt = started.attempt
    contest = (await contests.get_round(context.db, round_id))[1]
    position = await contests.answered_count(context.db, attempt.id)
    if started.outcome is contests.StartOutcome.STARTED:
        await ui.send(update, t(lang, "quiz.attempt_started", number=attempt.number, total=len(attempt.questions),
                                minutes=contest.time_limit_minutes,
                                deadline=notify.when(attempt.deadline_at, context.settings.tz)))
    if position < len(attempt.questions):
        await _send_contest_question(update, context, contest, attempt, position, lang)
    else:
        await _ask_prediction(update, context, contest, attempt, lang)


async def _send_contest_question(update: Update, context: BotContext, contest: Contest, attempt: ContestAttempt,
                                 position: int, lang: str) -> None:
    question = contests.question_at(contest, attempt, position)
    text = t(lang, "quiz.contest_question", number=position + 1, total=len(attempt.questions),
             question=escape(question.in_language("text", lang)), options=_options_text(question, lang),
             deadline=notify.when(attempt.deadline_at, context.settings.tz))
    rows = _option_rows(question, lambda index: f"ct:a:{attempt.id}:{position}:{index}")
    await ui.send(update, text, ui.buttons(rows))


async def _answer(update: Update, context: BotContext, member: Member, attempt_id: int, position: int,
                  chosen: int) -> None:
    lang = member.language
    answered = await contests.answer(context.db, attempt_id, member.id, position, chosen, utcnow())
    outcome = answered.outcome
    if outcome is contests.AnswerOutcome.INVALID:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    if outcome in (contests.AnswerOutcome.ALREADY, contests.AnswerOutcome.FINISHED):
        await ui.alert(update, context, t(lang, f"quiz.answer_{outcome.value}"))
        return
    attempt = await contests.own_attempt(context.db, attempt_id, member.id)
    round_, contest = await contests.get_round(context.db, attempt.round_id)
    if outcome is contests.AnswerOutcome.LATE:
        await ui.alert(update, context, t(lang, "quiz.answer_late"))
        await _replace(update, t(lang, "quiz.time_up", score=attempt.score, total=len(attempt.questions)))
        return
    await ui.acknowledge(update, context)
    question = contests.question_at(contest, attempt, position)
    await _replace(update, t(lang, "quiz.contest_recorded", number=position + 1,
                             question=escape(question.in_language("text", lang)), chosen=OPTION_LETTERS[chosen],
                             option=escape(question.option(chosen, lang))))
    if answered.next_position is not None:
        await _send_contest_question(update, context, contest, attempt, answered.next_position, lang)
    else:
        await _ask_prediction(update, context, contest, attempt, lang)


async def _ask_prediction(update: Update, context: BotContext, contest: Contest, attempt: ContestAttempt,
                          lang: str) -> None:
    context.user_data[PREDICTION] = attempt.id
    await ui.send(update, t(lang, "quiz.tiebreak", question=escape(quizzes.localised(contest.tiebreak, lang)),
                            deadline=notify.when(attempt.deadline_at, context.settings.tz)))


async def on_prediction(update: Update, context: BotContext) -> None:
    """The typed tiebreak number. Without an attempt waiting for one, the update goes on untouched."""
    attempt_id = context.user_data.get(PREDICTION) if context.user_data is not None else None
    if attempt_id is None:
        return
    text = nfc(update.effective_message.text or "").strip()
    if text in {t(lang, key) for lang in LANGUAGES for key, _ in ui.MAIN_MENU}:
        return  # a menu button: the member went elsewhere; the prediction can still be typed later
    member = await current_member(update, context)
    lang = member.language
    attempt = await contests.own_attempt(context.db, attempt_id, member.id)
    if attempt is None:
        context.user_data.pop(PREDICTION, None)
        return
    if not NUMBER.fullmatch(text):
        if attempt.submitted_at is not None or await contests.expire_if_due(context.db, attempt, utcnow()):
            context.user_data.pop(PREDICTION, None)  # too late for a prediction: this text is about something else
            return
        await ui.send(update, t(lang, "quiz.type_number"))
        raise ApplicationHandlerStop
    outcome = await contests.predict(context.db, attempt, int(re.sub(r"\D", "", text)), utcnow())
    if outcome is contests.PredictionOutcome.NOT_READY:
        await ui.send(update, t(lang, "quiz.answer_questions_first"))
        raise ApplicationHandlerStop
    context.user_data.pop(PREDICTION, None)
    round_, contest = await contests.get_round(context.db, attempt.round_id)
    if outcome is contests.PredictionOutcome.SUBMITTED:
        key = "quiz.submitted"
    elif outcome is contests.PredictionOutcome.LATE:
        key = "quiz.submitted_late"
    else:
        key = "quiz.answer_finished"
    await ui.send(update, t(lang, key, score=attempt.score, total=len(attempt.questions),
                            time=_duration(attempt.duration_ms), prediction=attempt.prediction or 0,
                            ends=notify.when(round_.ends_at, context.settings.tz)),
                  ui.buttons([[(t(lang, "quiz.back_to_round"), f"ct:r:{round_.id}")]]))
    raise ApplicationHandlerStop


def _duration(milliseconds: int | None) -> str:
    seconds = (milliseconds or 0) // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


# ----- leaderboards -----

BOARDS = ("quiz.board_people", "quiz.board_units", "quiz.board_provinces")


async def _show_board(update: Update, context: BotContext, member: Member, round_id: int, kind: int) -> None:
    lang = member.language
    found = await contests.get_round(context.db, round_id)
    if found is None or found[0].closed_at is None or kind >= len(BOARDS):
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    round_, contest = found
    header = t(lang, "quiz.board_title", board=t(lang, BOARDS[kind]), title=escape(_title(contest, lang)),
               number=round_.number)
    lines = [header, *await board_lines(context, round_, kind, lang)]
    rows = [[(t(lang, key), f"ct:lb:{round_id}:{index}") for index, key in enumerate(BOARDS) if index != kind],
            [(t(lang, "quiz.back"), f"ct:r:{round_id}")]]
    await ui.present(update, context, "\n".join(lines), ui.buttons(rows))


async def board_lines(context: BotContext, round_: ContestRound, kind: int, lang: str) -> list[str]:
    if kind == 0:
        people = await contests.person_board(context.db, round_.id)
        return [t(lang, "quiz.board_person_line", rank=row.rank, score=row.score,
                  name=escape(row.name) if row.name else t(lang, "quiz.alias", number=row.member_id))
                for row in people] or [t(lang, "quiz.board_empty")]
    rows = await (contests.unit_board if kind == 1 else contests.province_board)(context.db, round_.id)
    lines = []
    for place, row in enumerate(rows, start=1):
        name = row.name if kind == 1 else (province.name if (province := get_province(row.key)) else str(row.key))
        lines.append(t(lang, "quiz.board_group_line", rank=place, name=escape(name or "?"), entrants=row.entrants,
                       members=row.members, rate=f"{row.participation * 100:.0f}",
                       average=f"{row.average_score:.1f}"))
    return lines or [t(lang, "quiz.board_empty")]
