"""/admin → Units and officers: the unit tree (paged), each unit's officers and inbox status, invites,
revoking an officer (after a confirmation), and the muted accounts. Admins see every unit; a unit admin
gets the same screens for their subtree only (/admin opens them directly for a unit admin who is not an
admin). Every press re-reads the person's scope: callback data can be forged.

🔍 Search: after the button, what the person types is looked up in unit names and codes (their subtree only)
until they press another button, send a command or use the menu. user_data[SEARCH] holds that wait and the
last query (for paging its results)."""

from __future__ import annotations

import time

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
from bot.services import admin_units, audit, limits
from bot.services.officers import deep_link
from bot.text import escape, nfc
from db.models import Member, OfficerRole
from handlers import admin, notify, ui
from handlers.context import BotContext, current_member
from handlers.limits import mute_cache

PREFIX = "adm:un:"
SECTION = f"{PREFIX}top:0"  # the callback data of the /admin hub button
PER_PAGE = 8
BUTTON_TEXT = 48
RESULT_TEXT = 64  # a search result shows the code after the name
SEARCH = "admin_units_search"  # user_data: {"awaiting": bool, "at": epoch seconds, "query": str}
SEARCH_WAIT = 15 * 60  # seconds a search waits for typed words: days later, a text is not a search


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """A group of their own, ahead of the features that read typed text (handlers/__init__.py): the
    message handlers act only while a search is awaited; a command, a menu label or another feature's
    button ends that wait and goes on as usual."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    menu = filters.Text([label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)])
    return [CommandHandler("admin", on_admin_command, filters=private),
            CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}"),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND & ~menu, on_search_text),
            MessageHandler(private & (filters.COMMAND | menu), _stop_awaiting),
            MessageHandler(private & ~filters.TEXT, on_other_message),
            CallbackQueryHandler(_stop_awaiting)]


async def _scope(update: Update, context: BotContext) -> tuple[Member | None, admin_units.Scope | None, bool]:
    member = await current_member(update, context)
    is_admin = await admin.is_admin(update, context)
    return member, await admin_units.scope_of(context.db, member, is_admin), is_admin


async def on_admin_command(update: Update, context: BotContext) -> None:
    """A unit admin who is not an admin: /admin opens their units. Admins go on to the hub."""
    await _stop_awaiting(update, context)
    member, scope, is_admin = await _scope(update, context)
    if is_admin or scope is None or member is None:
        return
    await ui.present(update, context, *await _top(context, member.language, scope, 0, False))
    raise ApplicationHandlerStop


async def on_button(update: Update, context: BotContext) -> None:
    member, scope, is_admin = await _scope(update, context)
    lang = member.language if member else "vi"
    if scope is None or member is None:
        await ui.alert(update, context, t(lang, "admin.not_allowed"))
        raise ApplicationHandlerStop
    parts = update.callback_query.data.removeprefix(PREFIX).split(":")
    action, args = parts[0], parts[1:]
    # the unmute button carries a Telegram user id (10 digits today), every other one a database id
    numbers = [int(arg) for arg in args if (ui.is_telegram_id if action == "um" else ui.is_id)(arg)]
    if action != "sp":
        await _stop_awaiting(update, context)
    try:
        screen = await _screen(update, context, member, scope, is_admin, action, args, numbers)
    except admin_units.NotAllowed:
        screen = None
    if screen is None:
        await ui.alert(update, context, t(lang, "input.stale_button"))
    else:
        await ui.present(update, context, *screen)
    raise ApplicationHandlerStop


async def _screen(update: Update, context: BotContext, member: Member, scope: admin_units.Scope, is_admin: bool,
                  action: str, args: list[str], numbers: list[int]) -> tuple[str, object] | None:
    lang, actor = member.language, audit.member_actor(member.id)
    if len(numbers) != len(args):
        return None
    if action == "top" and len(numbers) == 1:
        return await _top(context, lang, scope, numbers[0], is_admin)
    if action == "u" and len(numbers) == 2:
        return await _unit(context, lang, scope, numbers[0], numbers[1])
    if action == "o" and len(numbers) == 1:
        return await _officers(context, lang, scope, numbers[0])
    if action == "s" and not numbers:
        context.user_data[SEARCH] = {"awaiting": True, "at": time.time()}
        return t(lang, "units.search_ask"), ui.buttons([[(t(lang, "units.top"), f"{PREFIX}top:0")]])
    if action == "sp" and len(numbers) == 1 and context.user_data.get(SEARCH, {}).get("query"):
        return await _results(context, lang, scope, context.user_data[SEARCH]["query"], numbers[0])
    if action == "r" and len(numbers) == 1:
        return await _confirm_revoke(context, lang, scope, numbers[0])
    if action == "R" and len(numbers) == 1:
        officer, unit = await admin_units.revoke_officer(context.db, numbers[0], scope, actor)  # committed
        revoked = await context.db.get_one(Member, officer.member_id)
        if revoked.telegram_id is not None:
            await notify.send_private(context.bot, context.db, revoked.telegram_id,
                                      t(revoked.language, "units.you_were_revoked", unit=escape(unit.name)))
        ui.note(context, t(lang, "units.revoked", name=escape(_name(revoked))))
        return await _officers(context, lang, scope, unit.id)
    if action in ("io", "ia") and len(numbers) == 1:
        role = OfficerRole.UNIT_ADMIN if action == "ia" else OfficerRole.OFFICER
        unit, invite = await admin_units.invite(context.db, numbers[0], scope, actor, role)
        text = t(lang, "units.invite_created", role=t(lang, f"units.role_{role.value}"), unit=escape(unit.name),
                 expires=notify.when(invite.expires_at, context.settings.tz),
                 link=escape(deep_link(context.bot.username, invite)))
        return text, ui.buttons([[(t(lang, "units.back"), f"{PREFIX}u:{unit.id}:0")]])
    if is_admin and action == "m" and not numbers:
        return await _muted(context, lang)
    if is_admin and action == "um" and len(numbers) == 1:
        if await limits.unmute(context.db, numbers[0], actor):
            mute_cache(context.application).set(numbers[0], False)
            ui.note(context, t(lang, "units.unmuted"))
        return await _muted(context, lang)
    return None


async def _top(context: BotContext, lang: str, scope: admin_units.Scope, page: int,
               is_admin: bool) -> tuple[str, object]:
    tops = await admin_units.top_units(context.db, scope)
    if len(tops) == 1 and not is_admin:
        return await _unit(context, lang, scope, tops[0].id, 0)
    items = [(_short(unit.name), f"{PREFIX}u:{unit.id}:0") for unit in tops]
    rows = ui.paged(items, page, PER_PAGE, f"{PREFIX}top:", lang, columns=1)
    rows.append([(t(lang, "units.search_button"), f"{PREFIX}s")])
    if is_admin:
        rows.append([(t(lang, "units.muted_button"), f"{PREFIX}m")])
    return t(lang, "units.title"), ui.buttons(rows)


async def _unit(context: BotContext, lang: str, scope: admin_units.Scope, unit_id: int,
                page: int) -> tuple[str, object]:
    info = await admin_units.unit_info(context.db, unit_id, scope)
    unit = info.unit
    text = t(lang, "units.unit", name=escape(unit.name), code=escape(unit.code), level=unit.level,
             inbox=t(lang, "units.inbox_yes" if unit.inbox_chat_id is not None else "units.inbox_no"),
             officers=info.officers, open=info.open_cases, children=len(info.children))
    items = [(_short(child.name), f"{PREFIX}u:{child.id}:0") for child in info.children]
    rows = ui.paged(items, page, PER_PAGE, f"{PREFIX}u:{unit.id}:", lang, columns=1)
    rows.append([(t(lang, "units.officers_button", count=info.officers), f"{PREFIX}o:{unit.id}")])
    rows.append([(t(lang, "units.invite_officer"), f"{PREFIX}io:{unit.id}"),
                 (t(lang, "units.invite_admin"), f"{PREFIX}ia:{unit.id}")])
    nav = []
    if info.parent_in_scope:
        nav.append((t(lang, "units.up"), f"{PREFIX}u:{unit.parent_id}:0"))
    nav.append((t(lang, "units.top"), f"{PREFIX}top:0"))
    nav.append((t(lang, "units.search_button"), f"{PREFIX}s"))
    rows.append(nav)
    return text, ui.buttons(rows)


# ----- search -----

async def on_search_text(update: Update, context: BotContext) -> None:
    """A typed search, while one is awaited; any other text goes on to the other features."""
    if not _awaiting(context):
        return
    member, scope, _ = await _scope(update, context)
    if member is None or scope is None:  # no longer allowed: the wait ends, the text goes on
        context.user_data.pop(SEARCH, None)
        return
    typed = nfc(update.effective_message.text)
    if len(typed) > admin_units.SEARCH_MAX:
        await ui.send(update, t(member.language, "input.too_long", limit=admin_units.SEARCH_MAX))
        raise ApplicationHandlerStop
    context.user_data[SEARCH] = {"awaiting": True, "at": time.time(), "query": typed}
    await ui.present(update, context, *await _results(context, member.language, scope, typed, 0))
    raise ApplicationHandlerStop


async def on_other_message(update: Update, context: BotContext) -> None:
    """A sticker, a photo… while a search is awaited: ask for words again."""
    if not _awaiting(context):
        return
    member = await current_member(update, context)
    await ui.send(update, t(member.language if member else "vi", "units.search_text_only"))
    raise ApplicationHandlerStop


def _awaiting(context: BotContext) -> bool:
    search = context.user_data.get(SEARCH, {})
    return bool(search.get("awaiting")) and time.time() - search.get("at", 0) < SEARCH_WAIT


async def _stop_awaiting(update: Update, context: BotContext) -> None:
    if context.user_data.get(SEARCH, {}).get("awaiting"):
        context.user_data[SEARCH] = {**context.user_data[SEARCH], "awaiting": False}


async def _results(context: BotContext, lang: str, scope: admin_units.Scope, typed: str,
                   page: int) -> tuple[str, object]:
    found = await admin_units.search_units(context.db, scope, typed)
    shown = escape(typed[:BUTTON_TEXT])
    if not found.units:
        text = t(lang, "units.search_none", typed=shown)
    elif found.total > len(found.units):
        text = t(lang, "units.search_many", typed=shown, total=found.total, shown=len(found.units))
    else:
        text = t(lang, "units.search_found", typed=shown, total=found.total)
    items = [(_labelled(unit.name, unit.code), f"{PREFIX}u:{unit.id}:0") for unit in found.units]
    rows = ui.paged(items, page, PER_PAGE, f"{PREFIX}sp:", lang, columns=1)
    rows.append([(t(lang, "units.top"), f"{PREFIX}top:0")])
    return text, ui.buttons(rows)


def _labelled(name: str, code: str) -> str:
    return f"{_short(name, max(16, RESULT_TEXT - len(code) - 3))} · {code}"


async def _officers(context: BotContext, lang: str, scope: admin_units.Scope, unit_id: int) -> tuple[str, object]:
    unit, rows_ = await admin_units.unit_officers(context.db, unit_id, scope)
    lines = [t(lang, "units.officers_title", unit=escape(unit.name))]
    rows = []
    for row in rows_:
        officer = row.officer
        name = escape(row.name or t(lang, "units.no_name"))
        lines.append(t(lang, "units.officer_line", id=officer.id, name=name,
                       username=escape(f" @{row.username}") if row.username else "",
                       role=t(lang, f"units.role_{officer.role.value}"),
                       since=notify.when(officer.created_at, context.settings.tz)))
        rows.append([(t(lang, "units.revoke_button", id=officer.id, name=_short(row.name or "", 30)),
                      f"{PREFIX}r:{officer.id}")])
    if not rows_:
        lines.append(t(lang, "units.no_officers"))
    rows.append([(t(lang, "units.back"), f"{PREFIX}u:{unit.id}:0")])
    return "\n".join(lines), ui.buttons(rows)


async def _confirm_revoke(context: BotContext, lang: str, scope: admin_units.Scope,
                          officer_id: int) -> tuple[str, object]:
    officer, unit, member = await admin_units.officer_in_scope(context.db, officer_id, scope)
    text = t(lang, "units.revoke_ask", name=escape(_name(member)), role=t(lang, f"units.role_{officer.role.value}"),
             unit=escape(unit.name))
    rows = [[(t(lang, "units.revoke_yes"), f"{PREFIX}R:{officer.id}"),
             (t(lang, "units.revoke_no"), f"{PREFIX}o:{unit.id}")]]
    return text, ui.buttons(rows)


async def _muted(context: BotContext, lang: str) -> tuple[str, object]:
    mutes = await limits.muted_list(context.db)
    lines = [t(lang, "units.muted_title")]
    rows = []
    for number, mute in enumerate(mutes[:20], start=1):
        lines.append(t(lang, "units.muted_line", number=number, at=notify.when(mute.at, context.settings.tz),
                       by=escape(mute.muted_by)))
        rows.append([(t(lang, "units.unmute_button", number=number), f"{PREFIX}um:{mute.telegram_id}")])
    if not mutes:
        lines.append(t(lang, "units.muted_none"))
    lines.append(t(lang, "units.muted_hint"))
    rows.append([(t(lang, "units.top"), f"{PREFIX}top:0")])
    return "\n".join(lines), ui.buttons(rows)


def _name(member: Member) -> str:
    return " ".join(p for p in (member.first_name, member.last_name) if p) or "#" + str(member.id)


def _short(name: str, limit: int = BUTTON_TEXT) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"

