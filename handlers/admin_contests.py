"""/admin for contests (administrators only, re-checked on every press): the rounds with their state, and
opening or closing one now. Closing here sends the results just as the scheduled close does."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.i18n import t
from bot.services import contests, officers, quizzes
from bot.text import escape
from db.types import utcnow
from handlers import contest_jobs, notify, ui
from handlers.context import BotContext, current_member


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """The contests section of /admin (handlers/admin.py)."""
    return [CallbackQueryHandler(on_button, pattern=r"^adm:ct:")]


async def _is_admin(update: Update, context: BotContext) -> bool:
    return await officers.is_admin(context.db, update.effective_user.id, context.settings.admin_ids)


async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    lang = member.language
    if not await _is_admin(update, context):
        await ui.alert(update, context, t(lang, "admin.not_allowed"))
        return
    action, _, raw = update.callback_query.data.removeprefix("adm:ct:").partition(":")
    now = utcnow()
    if action == "list":
        pass
    elif action == "open" and ui.is_id(raw):
        round_ = await contests.open_now(context.db, int(raw), now)
        if round_ is None:
            await ui.alert(update, context, t(lang, "admin.contest_unchanged"))
            return
        contest_jobs.schedule_round(context.application, round_, now)
    elif action == "close" and ui.is_id(raw):
        if not await contest_jobs.close_in_background(context.application, int(raw), now):
            await ui.alert(update, context, t(lang, "admin.contest_unchanged"))
            return
    else:
        await ui.alert(update, context, t(lang, "input.stale_button"))
        return
    await ui.present(update, context, *await _overview(context, lang))


async def _overview(context: BotContext, lang: str) -> tuple[str, object]:
    now = utcnow()
    tz = context.settings.tz
    lines = [t(lang, "admin.contests_title")]
    rows = []
    for round_, contest in await contests.all_rounds(context.db):
        if round_.closed_at is not None:
            state = "closed"
        elif contests.is_open(round_, now):
            state = "open"
            rows.append([(t(lang, "admin.close_round", number=round_.number, slug=contest.slug),
                          f"adm:ct:close:{round_.id}")])
        elif round_.ends_at <= now:  # the close job sends the results within a minute; closing now is allowed
            state = "ended"
            rows.append([(t(lang, "admin.close_round", number=round_.number, slug=contest.slug),
                          f"adm:ct:close:{round_.id}")])
        else:
            state = "scheduled"
            rows.append([(t(lang, "admin.open_round", number=round_.number, slug=contest.slug),
                          f"adm:ct:open:{round_.id}")])
        lines.append(t(lang, "admin.round_line", title=escape(quizzes.localised(contest.title, lang)),
                       number=round_.number, state=t(lang, f"admin.round_{state}"),
                       starts=notify.when(round_.starts_at, tz), ends=notify.when(round_.ends_at, tz)))
    if len(lines) == 1:
        lines.append(t(lang, "admin.no_contests"))
    rows.append([(t(lang, "admin.refresh"), "adm:ct:list")])
    return "\n".join(lines), ui.buttons(rows)
