"""/mydata and /forgetme (also from /settings), and the daily retention job.

/mydata sends a JSON file of everything held about the member and a readable summary. /forgetme asks
for confirmation, erases (bot/services/privacy.py), then tells the officers of the cases it closed, in
each case's thread, without saying who it was. Handlers sit in group -7 (handlers/__init__.py) and stop the update they handle.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InputFile, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    filters,
)

from bot.config import Settings
from bot.i18n import t
from bot.services import audit, case_views, privacy
from bot.services.categories import get_category
from bot.text import escape
from db.models import CaseCard, Grievance, Member, Unit
from db.types import utcnow
from handlers import cards, notify, ui
from handlers.cards import INBOX_LANGUAGE
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

RETENTION_JOB = "retention"
RETENTION_AT = time(2, 30)  # local time, when the bot is quiet
SUMMARY_CODES = 20


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [CommandHandler("mydata", on_mydata, filters=private),
            CommandHandler("forgetme", on_forgetme, filters=private),
            CallbackQueryHandler(on_button, pattern=r"^priv:")]


def settings_rows(language: str) -> list[list[tuple[str, str]]]:
    """The /settings buttons for these rights (handlers/profile.py shows them)."""
    return [[(t(language, "privacy.settings_mydata"), "priv:mydata"),
             (t(language, "privacy.settings_forget"), "priv:forget")]]


async def on_mydata(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is not None:
        await _send_mydata(update, context, member)
    raise ApplicationHandlerStop


async def on_forgetme(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is not None:
        await _ask_forget(update, context, member)
    raise ApplicationHandlerStop


async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if member is None:
        raise ApplicationHandlerStop
    action = update.callback_query.data.removeprefix("priv:")
    if action == "mydata":
        await ui.acknowledge(update, context)
        await _send_mydata(update, context, member)
    elif action == "forget":
        await _ask_forget(update, context, member)
    elif action == "keep":
        await ui.present(update, context, t(member.language, "privacy.forget_kept"))
    elif action == f"erase:{member.id}":
        await _forget(update, context, member)
    else:  # an old confirmation (e.g. pressed twice), or forged data
        await ui.alert(update, context, t(member.language, "input.stale_button"))
    raise ApplicationHandlerStop


# ----- /mydata -----

async def _send_mydata(update: Update, context: BotContext, member: Member) -> None:
    lang = member.language
    now = utcnow()
    export = await privacy.build_export(context.db, member, now)
    if context.user_data:  # the live drafts (the stored copy may lag a second behind)
        export["drafts"] = privacy.jsonable(dict(context.user_data))
    audit.record(context.db, audit.member_actor(member.id), "member.exported")
    await context.db.commit()
    body = json.dumps(export, ensure_ascii=False, indent=2).encode("utf-8")
    name = f"congdoan-mydata-{now.astimezone(context.settings.tz):%Y%m%d}.json"
    await update.effective_chat.send_document(InputFile(body, filename=name),
                                              caption=t(lang, "privacy.mydata_caption"))
    await ui.send(update, summary(export, lang))


def summary(export: dict[str, Any], lang: str) -> str:
    """The readable part: what the file holds, section by section."""
    profile = export["profile"]
    name = " ".join(p for p in (profile["first_name"], profile["last_name"]) if p)
    unset = t(lang, "privacy.unset")
    consents = export["consents"]
    current = t(lang, "privacy.consent_given", version=escape(profile["consent_version"])) \
        if profile["consent_version"] else t(lang, "privacy.consent_none")
    cases = export["cases"]
    codes = ", ".join(f"{c['code']} ({escape(_category(c['category'], lang))})" for c in cases[:SUMMARY_CODES])
    contests = export["contests"]
    lines = [
        t(lang, "privacy.summary_title"),
        t(lang, "privacy.summary_profile", name=escape(name) or unset,
          username=escape("@" + profile["username"]) if profile["username"] else unset,
          phone=escape(profile["phone"] or unset), province=escape(profile["province"] or unset),
          workplace=escape(profile["workplace"] or profile["workplace_other_name"] or unset)),
        t(lang, "privacy.summary_consents", count=len(consents), current=current),
        t(lang, "privacy.summary_cases", count=len(cases), codes=codes or "—"),
        t(lang, "privacy.summary_cosigned", count=len(export["cosigned_cases"])),
        t(lang, "privacy.summary_contests", attempts=len(contests["attempts"]), results=len(contests["results"])),
        t(lang, "privacy.summary_points", total=export["points"]["total"], awards=len(export["points"]["awards"])),
        t(lang, "privacy.summary_feedback", count=len(export["content_feedback"])),
        t(lang, "privacy.summary_engagement", ideas=len(export["ideas"]), nominations=len(export["nominations"]),
          comments=len(export["consultation_comments"]), joins=len(export["join_requests"])),
    ]
    if export["officer_roles"]:
        lines.append(t(lang, "privacy.summary_roles", count=len(export["officer_roles"])))
    for table, rows in export["other"].items():
        lines.append(t(lang, "privacy.summary_other", table=escape(table), count=len(rows)))
    lines.append(t(lang, "privacy.summary_footer"))
    return "\n".join(lines)


def _category(code: str, lang: str) -> str:
    category = get_category(code)
    return category.name(lang) if category else code


# ----- /forgetme -----

async def _ask_forget(update: Update, context: BotContext, member: Member) -> None:
    lang = member.language
    rows = [[(t(lang, "privacy.forget_confirm"), f"priv:erase:{member.id}")],
            [(t(lang, "privacy.forget_cancel"), "priv:keep")]]
    await ui.present(update, context, t(lang, "privacy.forget_ask"), ui.buttons(rows))


async def _forget(update: Update, context: BotContext, member: Member) -> None:
    lang = member.language
    settings = context.settings
    forgotten = await privacy.forget(context.db, member, utcnow())  # committed
    context.application.drop_user_data(update.effective_user.id)  # drafts, in memory and stored
    log.info("member %s erased; %s open case(s) withdrawn", member.id, len(forgotten.withdrawn))
    for grievance in forgotten.withdrawn:
        await notify.post_to_case_thread(context.bot, context.db, grievance,
                                         t(INBOX_LANGUAGE, "privacy.case_withdrawn", code=grievance.code))
    for grievance in await _member_cases(context.db, member):
        await erase_cards(context.bot, context.db, grievance, settings.tz)
    await ui.present(update, context, t(lang, "privacy.forgotten"))
    await ui.send(update, t(lang, "privacy.forgotten_menu"), ui.main_menu(lang))


async def _member_cases(session: AsyncSession, member: Member) -> list[Grievance]:
    return list(await session.scalars(select(Grievance).where(Grievance.member_id == member.id)))


async def erase_cards(bot: Bot, session: AsyncSession, grievance: Grievance, tz: tzinfo) -> None:
    """Every card the case has in Telegram groups (and admins' chats) shows the erased text, no buttons.
    A card that cannot be edited (deleted, bot removed) is logged and skipped."""
    for card in await session.scalars(select(CaseCard).where(CaseCard.grievance_id == grievance.id)):
        unit = await session.get(Unit, card.unit_id) if card.unit_id else None
        view = await case_views.officer_view(session, grievance, unit.level if unit else None)
        try:
            await bot.edit_message_text(cards.card_text(view, None, tz), card.chat_id, card.message_id,
                                        reply_markup=None)
        except TelegramError as error:
            log.info("case %s: card %s not edited (%s)", grievance.id, card.id, type(error).__name__)


# ----- retention -----

def start_retention(application: Application) -> None:  # type: ignore[type-arg]
    """Schedule the daily retention run (rebuilt at every start; the database says what is due)."""
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue: the retention job does not run")
        return
    for job in queue.get_jobs_by_name(RETENTION_JOB):
        job.schedule_removal()
    settings: Settings = application.bot_data["settings"]
    queue.run_daily(_retention_job, RETENTION_AT.replace(tzinfo=settings.tz), name=RETENTION_JOB,
                    job_kwargs={"max_instances": 1, "coalesce": True})


async def _retention_job(context: BotContext) -> None:
    erased = await run_retention(context.application, utcnow())
    if erased:
        log.info("retention: personal data erased from %s case(s)", erased)


async def run_retention(application: Application, now: datetime) -> int:  # type: ignore[type-arg]
    """Erase personal data from cases closed more than RETENTION_DAYS before `now`; one session per case,
    one failing case never stops the others. Returns how many were erased."""
    factory: async_sessionmaker[AsyncSession] = application.bot_data["session_factory"]
    settings: Settings = application.bot_data["settings"]
    async with factory() as session:
        due = await privacy.expired_case_ids(session, now, settings.retention_days)
    erased = 0
    for grievance_id in due:
        try:
            async with factory() as session:
                if await privacy.erase_expired_case(session, grievance_id, now, settings.retention_days):
                    erased += 1
                    await erase_cards(application.bot, session, await session.get_one(Grievance, grievance_id),
                                      settings.tz)
        except Exception:  # noqa: BLE001 - one broken case must not stop the job for the others
            log.exception("retention failed for case %s", grievance_id)
    return erased
