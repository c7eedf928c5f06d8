"""/cases (an officer's queues: mine, my units' open, overdue) and /case CODE (the whole timeline with the
action buttons), in the officer's private chat. Officers see the cases of their units and every unit
below; admins see all. Every opened case is logged as a view."""

from __future__ import annotations

from telegram import Update

from bot.i18n import all_keys, t
from bot.services import case_queries, case_views, officers
from bot.services.case_queries import Queue, TimelineEntry
from bot.services.categories import get_category
from bot.text import escape
from db.models import Grievance
from db.types import utcnow
from handlers import cards, notify, ui
from handlers.context import BotContext, current_member

OUTCOMES = ("yes", "partly", "no")


async def _viewer(update: Update, context: BotContext) -> case_queries.Viewer | None:
    """The officer or admin asking; anyone else gets a polite refusal and None."""
    member = await current_member(update, context)
    if member is None:
        return None
    is_admin = await officers.is_admin(context.db, member.telegram_id, context.settings.admin_ids)
    who = await case_queries.viewer(context.db, member, is_admin)
    if not who.is_officer_or_admin:
        if update.callback_query is not None:
            await ui.alert(update, context, t(member.language, "officers.only_officers"))
        else:
            await ui.send(update, t(member.language, "officers.only_officers"))
        return None
    return who


# ----- /cases -----

async def show_queues(update: Update, context: BotContext) -> None:
    who = await _viewer(update, context)
    if who is None:
        return
    counts = await case_queries.queue_counts(context.db, who, utcnow())
    queue = Queue.MINE if counts[Queue.MINE] else Queue.UNITS
    await _show_queue(update, context, who, queue, 0, counts)


async def on_button(update: Update, context: BotContext) -> None:
    """cases:q:<queue>:<page> (a queue page) and cases:open:<case id> (the case's timeline)."""
    parts = (update.callback_query.data or "").split(":")
    who = await _viewer(update, context)
    if who is None:
        return
    language = who.member.language
    if len(parts) == 4 and parts[1] == "q" and parts[2] in set(Queue) and ui.is_id(parts[3]):
        await _show_queue(update, context, who, Queue(parts[2]), int(parts[3]))
        return
    if len(parts) == 3 and parts[1] == "open" and ui.is_id(parts[2]):
        grievance = await context.db.get(Grievance, int(parts[2]))
        if grievance is not None:
            await ui.acknowledge(update, context)
            await _show_case(update, context, who, grievance)
            return
    await ui.alert(update, context, t(language, "input.stale_button"))


async def _show_queue(update: Update, context: BotContext, who: case_queries.Viewer, queue: Queue, page: int,
                      counts: dict[Queue, int] | None = None) -> None:
    now = utcnow()
    language, tz = who.member.language, context.settings.tz
    counts = counts or await case_queries.queue_counts(context.db, who, now)
    shown = await case_queries.queue_page(context.db, who, queue, now, page)
    tabs = [(t(language, f"officers.queue_{name}", count=counts[name]) + (" •" if name == queue else ""),
             f"cases:q:{name.value}:0") for name in Queue]
    lines = [t(language, f"officers.queue_title_{queue.value}", count=shown.total)]
    for grievance in shown.items:
        lines.append(_entry(grievance, language, tz, now))
    if not shown.items:
        lines.append(t(language, "officers.queue_empty"))
    rows: list[list[tuple[str, str]]] = [tabs]
    opens = [(grievance.code, f"cases:open:{grievance.id}") for grievance in shown.items]
    rows += [opens[i:i + 2] for i in range(0, len(opens), 2)]
    if shown.pages > 1:
        nav = []
        if shown.page > 0:
            nav.append((t(language, "nav.previous"), f"cases:q:{queue.value}:{shown.page - 1}"))
        nav.append((f"{shown.page + 1}/{shown.pages}", f"cases:q:{queue.value}:{shown.page}"))
        if shown.page < shown.pages - 1:
            nav.append((t(language, "nav.next"), f"cases:q:{queue.value}:{shown.page + 1}"))
        rows.append(nav)
    await ui.present(update, context, "\n".join(lines), ui.buttons(rows))


def _entry(grievance: Grievance, language: str, tz, now) -> str:  # type: ignore[no-untyped-def]
    category = get_category(grievance.category)
    return t(language, "officers.queue_entry", code=grievance.code,
             category=escape(category.name(language) if category else grievance.category),
             status=t(language, f"officers.status_{grievance.status.value}"),
             due=notify.when(case_queries.next_deadline(grievance), tz),
             late=t(language, "officers.late") if case_queries.is_overdue(grievance, now) else "")


# ----- /case CODE -----

async def show_case(update: Update, context: BotContext) -> None:
    who = await _viewer(update, context)
    if who is None:
        return
    language = who.member.language
    raw = " ".join(context.args or [])
    if not raw.strip():
        await ui.send(update, t(language, "officers.case_usage"))
        return
    grievance = await case_queries.find_case(context.db, raw)
    if grievance is None:
        await ui.send(update, t(language, "officers.case_not_found", code=escape(raw[:20])))
        return
    await _show_case(update, context, who, grievance)


async def _show_case(update: Update, context: BotContext, who: case_queries.Viewer, grievance: Grievance) -> None:
    language, tz = who.member.language, context.settings.tz
    if not who.sees(grievance):
        await ui.send(update, t(language, "officers.case_not_yours"))
        return
    await case_queries.log_view(context.db, grievance, who.member, utcnow())
    level = await case_queries.viewer_level(context.db, who.member, grievance, who.is_admin)
    view = await case_views.officer_view(context.db, grievance, level)
    entries = await case_queries.timeline(context.db, grievance, level,
                                          await officers.admin_telegram_ids(context.db, context.settings.admin_ids))
    body = [cards.card_text(view, await cards.holder_name(context.db, grievance, language), tz, language), "",
            t(language, "officers.timeline_title")]
    body += [_timeline_line(entry, language, tz) for entry in entries]
    await ui.send(update, "\n".join(body), cards.card_buttons(grievance, view, language))


def _timeline_line(entry: TimelineEntry, language: str, tz) -> str:  # type: ignore[no-untyped-def]
    if entry.party == case_queries.Party.WORKER:
        who = escape(entry.who) if entry.who else t(language, "timeline.the_worker")
    elif entry.party == case_queries.Party.OFFICER:
        who = escape(entry.who or t(language, "card.an_officer"))
    elif entry.party == case_queries.Party.CO_WORKER:
        who = t(language, "timeline.a_co_worker")
    else:
        who = t(language, "timeline.system")
    key = f"timeline.{entry.action}"
    values = {"who": who, "unit": escape(entry.to_unit or t(language, "case.union_admins")),
              "from_unit": escape(entry.from_unit or "—"), "action": escape(entry.action),
              "kind": t(language, f"timeline.file_{entry.file_kind}") if entry.file_kind in ("photo", "document", "voice")
              else escape(entry.file_kind or "")}
    line = t(language, key if key in all_keys(language) else "timeline.other", **values)
    line = f"<i>{notify.when(entry.at, tz)}</i> · {line}"
    if entry.action == "closed" and entry.text in OUTCOMES:
        line += " · " + t(language, f"case.outcome_{entry.text}")
    elif entry.text and entry.action not in ("created", "to_admins", "escalated", "transferred", "closed"):
        prefix = t(language, "timeline.internal") if entry.action == "note" else ""
        line += f"\n    {prefix}{escape(entry.text)}"
    return line

