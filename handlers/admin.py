"""/admin: the administrators' hub. Each feature adds a section to ADMIN_SECTIONS: a catalog key for its
button and the callback data its own handler answers (which re-checks the admin right on every press)."""

from __future__ import annotations

from telegram import Update

from bot.i18n import t
from bot.services import officers
from handlers import ui
from handlers.context import BotContext, current_member

# (catalog key of the button, callback data handled by the feature's own CallbackQueryHandler)
ADMIN_SECTIONS: list[tuple[str, str]] = [
    ("admin.section_contests", "adm:ct:list"),
    ("units.section", "adm:un:top:0"),  # handlers/admin_units.py
    ("admin.section_broadcasts", "bc:adm:list"),
    ("admin.section_surveys", "adm:sv:list"),
    ("admin.section_reports", "adm:rpt"),
]


async def is_admin(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    return user is not None and await officers.is_admin(context.db, user.id, context.settings.admin_ids)


async def show_hub(update: Update, context: BotContext) -> None:
    member = await current_member(update, context)
    language = member.language if member else "vi"
    if not await is_admin(update, context):
        await ui.send(update, t(language, "admin.not_allowed"))
        return
    rows = [[(t(language, key), data)] for key, data in ADMIN_SECTIONS]
    await ui.present(update, context, t(language, "admin.hub_title"), ui.buttons(rows))
