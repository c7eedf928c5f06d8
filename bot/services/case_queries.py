"""What officers look at: who may see a case, their queues (mine, my units' open, overdue) page by page,
a case's timeline, transfer targets, and the log of every officer view. No Telegram here."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, case_views
from bot.services.cases import OPEN_STATUSES, officer_unit_ids
from bot.services.units import subtree_ids, unit_path
from db.models import CaseStatus, Grievance, GrievanceEvent, GrievanceMessage, Member, Officer, Unit

PER_PAGE = 8
VIEWED = "viewed"
# Events whose content is a message of the thread: shown once, with the message's text.
MESSAGE_EVENTS = ("created", "to_admins", "replied", "asked", "worker_answered", "resolved")
_CODE = re.compile(r"([A-Z]{2})-?(\d{4})-?(\d{1,6})")


class Queue(enum.StrEnum):
    MINE = "mine"
    UNITS = "units"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Page:
    items: list[Grievance]
    page: int  # 0-based, clamped to the pages there are
    pages: int
    total: int


@dataclass(frozen=True)
class Viewer:
    """An officer or admin looking at cases: the units they may see (None: all, for admins)."""

    member: Member
    is_admin: bool
    visible_units: set[int] | None

    def sees(self, grievance: Grievance) -> bool:
        if self.visible_units is None:
            return True
        return grievance.unit_id is not None and grievance.unit_id in self.visible_units

    @property
    def is_officer_or_admin(self) -> bool:
        return self.is_admin or bool(self.visible_units)


async def viewer(session: AsyncSession, member: Member, is_admin: bool) -> Viewer:
    """Officers see the cases held by their units and every unit below; admins see all cases."""
    if is_admin:
        return Viewer(member, True, None)
    visible: set[int] = set()
    for unit_id in await officer_unit_ids(session, member.id):
        visible |= await subtree_ids(session, unit_id)
    return Viewer(member, False, visible)


async def viewer_level(session: AsyncSession, member: Member, grievance: Grievance, is_admin: bool) -> int | None:
    """The level whose identity rules apply to this viewer: their highest unit on the case's path. Admins
    who are not officers on the path look as the admins' inbox does (None)."""
    if grievance.unit_id is None:
        return None
    own = await officer_unit_ids(session, member.id)
    levels = [unit.level for unit in await unit_path(session, grievance.unit_id) if unit.id in own]
    if levels:
        return min(levels)
    return None if is_admin else case_views.GRASSROOTS_LEVEL


def normalise_code(raw: str) -> str | None:
    """'pa 2611 42', 'PA-2611-0042', 'pa26110042' → 'PA-2611-0042'; None when it cannot be a case code."""
    compact = re.sub(r"[\s\-_–—.]+", "-", raw.strip().upper()).strip("-")
    match = _CODE.fullmatch(compact)
    if match is None:
        return None
    prefix, month, number = match.groups()
    return f"{prefix}-{month}-{int(number):04d}"


async def find_case(session: AsyncSession, raw: str) -> Grievance | None:
    code = normalise_code(raw)
    return await session.scalar(select(Grievance).where(Grievance.code == code)) if code else None


def _overdue(now: datetime):  # type: ignore[no-untyped-def]
    return or_(Grievance.resolve_due_at < now,
               (Grievance.status == CaseStatus.OPEN) & (Grievance.acknowledge_due_at < now))


async def queue_page(session: AsyncSession, who: Viewer, queue: Queue, now: datetime, page: int = 0,
                     per_page: int = PER_PAGE) -> Page:
    """One page of a queue, oldest deadline first. Only open cases (open, acknowledged, waiting)."""
    conditions = [Grievance.status.in_(OPEN_STATUSES)]
    if queue == Queue.MINE:
        conditions.append(Grievance.holder_member_id == who.member.id)
    if who.visible_units is not None:
        conditions.append(Grievance.unit_id.in_(who.visible_units or {-1}))
    if queue == Queue.OVERDUE:
        conditions.append(_overdue(now))
    total = await session.scalar(select(func.count()).select_from(Grievance).where(*conditions)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 0), pages - 1)
    rows = await session.scalars(select(Grievance).where(*conditions)
                                 .order_by(Grievance.resolve_due_at, Grievance.id)
                                 .offset(page * per_page).limit(per_page))
    return Page(list(rows), page, pages, total)


async def queue_counts(session: AsyncSession, who: Viewer, now: datetime) -> dict[Queue, int]:
    return {queue: (await queue_page(session, who, queue, now, 0, 1)).total for queue in Queue}


def next_deadline(grievance: Grievance) -> datetime | None:
    """Before anyone acknowledges it, the acknowledgement deadline counts; afterwards the resolution one."""
    if grievance.status == CaseStatus.OPEN and grievance.acknowledge_due_at is not None:
        return grievance.acknowledge_due_at
    return grievance.resolve_due_at


def is_overdue(grievance: Grievance, now: datetime) -> bool:
    due = next_deadline(grievance)
    return grievance.status in OPEN_STATUSES and due is not None and due < now


# ----- the timeline -----

class Party(enum.StrEnum):
    WORKER = "worker"  # the worker who raised it (named only when the viewer may see identity)
    CO_WORKER = "co_worker"  # another worker, e.g. one who added their voice: never named
    OFFICER = "officer"  # officers and admins: named, officers know each other
    SYSTEM = "system"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    party: Party
    who: str | None  # the officer's name, or the worker's when the viewer may see it; else None
    action: str  # an event action, or "message" / "attachment" for thread items without an event
    text: str | None = None  # message text, or an internal note
    file_kind: str | None = None
    from_unit: str | None = None
    to_unit: str | None = None


async def timeline(session: AsyncSession, grievance: Grievance, viewer_unit_level: int | None,
                   admin_telegram_ids: list[int] | None = None) -> list[TimelineEntry]:
    """Events and messages in time order, as officers may see them: identity per case_views, internal notes
    included, views left out (they are the audit trail, not the case's story)."""
    events = list(await session.scalars(select(GrievanceEvent).where(
        GrievanceEvent.grievance_id == grievance.id, GrievanceEvent.action != VIEWED).order_by(GrievanceEvent.id)))
    messages = list(await session.scalars(select(GrievanceMessage).where(
        GrievanceMessage.grievance_id == grievance.id).order_by(GrievanceMessage.id)))
    names = _Names(session, grievance, case_views.may_see_identity(grievance.identity, viewer_unit_level),
                   set(admin_telegram_ids or ()))
    entries: list[tuple[datetime, int, TimelineEntry]] = []
    unpaired = list(events)
    for index, message in enumerate(messages):
        actor = audit.member_actor(message.author_member_id) if message.author_member_id else None
        event = None
        if message.file_id is None:
            event = next((e for e in unpaired if e.at == message.at and e.actor == actor
                          and e.action in MESSAGE_EVENTS), None)
        if event is not None:
            unpaired.remove(event)
        party, who = await names.of(actor)
        action = event.action if event else ("attachment" if message.file_id else "message")
        entries.append((message.at, index, TimelineEntry(
            message.at, party, who, action, text=message.text, file_kind=message.file_kind,
            to_unit=await _unit_name(session, event.to_unit_id) if event else None)))
    for event in unpaired:
        party, who = await names.of(event.actor)
        entries.append((event.at, len(messages) + event.id, TimelineEntry(
            event.at, party, who, event.action, text=event.note,
            from_unit=await _unit_name(session, event.from_unit_id),
            to_unit=await _unit_name(session, event.to_unit_id))))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [entry for _, _, entry in entries]


async def _unit_name(session: AsyncSession, unit_id: int | None) -> str | None:
    unit = await session.get(Unit, unit_id) if unit_id else None
    return unit.name if unit else None


class _Names:
    def __init__(self, session: AsyncSession, grievance: Grievance, identity_visible: bool, admins: set[int]) -> None:
        self.session, self.grievance, self.identity_visible, self.admins = session, grievance, identity_visible, admins

    async def of(self, actor: str | None) -> tuple[Party, str | None]:
        member_id = int(actor.removeprefix("member:")) if actor and actor.startswith("member:") \
            and actor.removeprefix("member:").isascii() and actor.removeprefix("member:").isdigit() else None
        if member_id is None:
            return Party.SYSTEM, None
        member = await self.session.get(Member, member_id)
        name = " ".join(p for p in (member.first_name, member.last_name) if p) if member else None
        if member_id == self.grievance.member_id:
            return Party.WORKER, name if self.identity_visible else None
        if member is not None and (member.telegram_id in self.admins or await self.session.scalar(
                select(Officer.id).where(Officer.member_id == member_id).limit(1)) is not None):
            return Party.OFFICER, name or None
        return Party.CO_WORKER, None


# ----- transfers and views -----

def page_of(items: list, page: int, per_page: int) -> tuple[list, int, int]:  # type: ignore[type-arg]
    """(the page's items, the clamped page, the number of pages)."""
    pages = max(1, -(-len(items) // per_page))
    page = min(max(page, 0), pages - 1)
    return items[page * per_page:(page + 1) * per_page], page, pages


async def log_view(session: AsyncSession, grievance: Grievance, member: Member, now: datetime) -> None:
    """Every officer view of a case (its card via /case, timeline, full text, attachments) is on record."""
    session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor=audit.member_actor(member.id),
                               action=VIEWED))
    await session.commit()


async def attachments(session: AsyncSession, grievance: Grievance) -> list[GrievanceMessage]:
    """The worker's files, in the order sent."""
    return list(await session.scalars(select(GrievanceMessage).where(
        GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.from_worker.is_(True),
        GrievanceMessage.file_id.is_not(None)).order_by(GrievanceMessage.id)))


async def escalation_target(session: AsyncSession, grievance: Grievance) -> Unit | None:
    """Where cases.escalate would send the case: the nearest unit above with an inbox (None: the admins)."""
    above = (await unit_path(session, grievance.unit_id))[1:] if grievance.unit_id else []
    return next((unit for unit in above if unit.inbox_chat_id is not None), None)
