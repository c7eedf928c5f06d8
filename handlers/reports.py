"""/reports (officers: their units' subtrees; admins: any unit, also from /admin): pick a unit and a period,
get a chart (PNG) and the full report as an XLSX file, one sheet per table.

Buttons: rpt:pg:<page> (unit list page), rpt:u:<unit id> (periods), rpt:p:<unit id>:<period>. Every press
re-checks that the unit is one this person may see. The report is read through reports.report_session (off
the event loop on SQLite); the chart and the workbook are made in a thread.
"""

from __future__ import annotations

import asyncio
import io
import logging

from sqlalchemy import select
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import t
from bot.services import officers, reports
from bot.services.units import subtree_ids
from bot.text import escape
from db.models import Unit
from db.types import utcnow
from handlers import ui
from handlers.admin import is_admin
from handlers.context import BotContext, current_member

log = logging.getLogger(__name__)

PER_PAGE = 8
ADMIN_SECTION = "adm:rpt"


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    return [CommandHandler("reports", show_units, filters=private),
            CallbackQueryHandler(on_button, pattern=r"^rpt:"),
            CallbackQueryHandler(on_admin_section, pattern=rf"^{ADMIN_SECTION}$")]


async def allowed_units(update: Update, context: BotContext) -> list[Unit]:
    """Every unit for the admins; for an officer, their units and every unit below them."""
    member = await current_member(update, context)
    if member is None:
        return []
    query = select(Unit).order_by(Unit.level, Unit.code)
    if not await is_admin(update, context):
        ids: set[int] = set()
        for unit in await officers.officer_units(context.db, member.id):
            ids |= await subtree_ids(context.db, unit.id)
        if not ids:
            return []
        query = query.where(Unit.id.in_(ids))
    return list(await context.db.scalars(query))


async def show_units(update: Update, context: BotContext, page: int = 0) -> None:
    member = await current_member(update, context)
    language = member.language if member else "vi"
    units = await allowed_units(update, context)
    if not units:
        if update.callback_query:
            await ui.alert(update, context, t(language, "report.not_allowed"))
        else:
            await ui.send(update, t(language, "report.not_allowed"))
        return
    items = [(f"{unit.code}", f"rpt:u:{unit.id}") for unit in units]
    rows = ui.paged(items, page, PER_PAGE, "rpt:pg:", language)
    await ui.present(update, context, t(language, "report.pick_unit"), ui.buttons(rows))


async def on_admin_section(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    if not await is_admin(update, context):
        await ui.alert(update, context, t(member.language if member else "vi", "admin.not_allowed"))
        return
    await show_units(update, context)


async def on_button(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    language = member.language if member else "vi"
    parts = (update.callback_query.data or "").split(":")
    if len(parts) == 3 and parts[1] == "pg" and ui.is_id(parts[2]) and len(parts[2]) <= 4:
        await show_units(update, context, int(parts[2]))
        return
    unit = await _allowed_unit(update, context, parts[2] if len(parts) >= 3 else "")
    if unit is None:
        await ui.alert(update, context, t(language, "report.not_allowed"))
        return
    if len(parts) == 3 and parts[1] == "u":
        rows = [[(t(language, f"report.period_{name}"), f"rpt:p:{unit.id}:{name}")] for name in reports.PERIODS]
        await ui.present(update, context, t(language, "report.pick_period", unit=escape(unit.name)), ui.buttons(rows))
        return
    if len(parts) == 4 and parts[1] == "p" and parts[3] in reports.PERIODS:
        await _send_report(update, context, unit, parts[3], language)
        return
    await ui.alert(update, context, t(language, "input.stale_button"))


async def _allowed_unit(update: Update, context: BotContext, raw: str) -> Unit | None:
    if not ui.is_id(raw):
        return None
    unit_id = int(raw)
    return next((unit for unit in await allowed_units(update, context) if unit.id == unit_id), None)


async def _send_report(update: Update, context: BotContext, unit: Unit, period_name: str, language: str) -> None:
    settings = context.settings
    now = utcnow()
    period = reports.named_period(period_name, now.astimezone(settings.tz).date())
    await ui.present(update, context, t(language, "report.preparing", unit=escape(unit.name),
                                         period=period.label()))
    engine = context.application.bot_data["engine"]
    async with reports.report_session(engine) as session:
        report = await reports.build_report(session, unit.id, period, settings.tz, now, language)
    chart = await asyncio.to_thread(reports.render_chart, report)
    workbook = io.BytesIO()
    await asyncio.to_thread(reports.write_xlsx, report, workbook)
    chat_id = update.effective_chat.id
    caption = "\n".join([escape(report.title()), *reports.summary_lines(report)])
    await context.bot.send_photo(chat_id, photo=chart, caption=caption)  # bounded: a unit name is ≤ 255
    filename = f"baocao-{unit.code}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
    await context.bot.send_document(chat_id, document=workbook.getvalue(), filename=filename)
    log.info("report for unit %s, %s sent to %s", unit.id, period_name, update.effective_user.id)
