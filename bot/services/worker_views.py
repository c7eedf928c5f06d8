"""What a worker may see of their own cases: a list with status, handling unit and next deadline, and a
timeline. Never internal notes, never who in the union did something (only the unit), never other
workers (co-signers are not shown). Built from an allow-list of event kinds, so an action added later
stays hidden from workers until someone decides how to show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.cases import AUTO_CLOSE_AFTER
from db.models import CaseStatus, Grievance, GrievanceEvent, GrievanceMessage, Unit

# Event action -> what the worker reads. Actions missing here (note, passed_up, cosigned, reminders,
# worker_answered and union replies, which the message rows carry) are never shown.
VISIBLE_EVENTS = {
    "created": "received",
    "to_admins": "received",
    "claimed": "acknowledged",
    "escalated": "moved",
    "transferred": "moved",
    "collective": "moved",
    "reopened": "reopened",
    "closed": "closed",
    "closed_without_answer": "closed_without_answer",
}
MOVES = ("created", "to_admins", "escalated", "transferred", "collective")
# The event written together with a union message decides how the message reads.
UNION_MESSAGE_KINDS = {"asked": "question", "resolved": "resolved", "replied": "reply"}


@dataclass(frozen=True)
class CaseSummary:
    id: int
    code: str
    category: str
    status: CaseStatus
    unit_name: str | None  # None: the union's admins hold it
    deadline_kind: str | None  # acknowledge | resolve | confirm, or None when nothing is due
    deadline: datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # received, acknowledged, moved, reopened, closed, closed_without_answer, reply, question,
    #            resolved, yours
    unit_name: str | None  # the unit it is about: the holder then, or where the case went
    text: str | None = None
    file_kind: str | None = None


def next_deadline(grievance: Grievance) -> tuple[str | None, datetime | None]:
    if grievance.status == CaseStatus.OPEN and grievance.acknowledged_at is None:
        return "acknowledge", grievance.acknowledge_due_at
    if grievance.status in (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED, CaseStatus.WAITING_WORKER):
        return "resolve", grievance.resolve_due_at
    if grievance.status == CaseStatus.RESOLVED and grievance.resolved_at is not None:
        return "confirm", grievance.resolved_at + AUTO_CLOSE_AFTER
    return None, None


async def count_cases(session: AsyncSession, member_id: int) -> int:
    return await session.scalar(select(func.count()).select_from(Grievance)
                                .where(Grievance.member_id == member_id)) or 0


async def my_cases(session: AsyncSession, member_id: int, offset: int, limit: int) -> list[CaseSummary]:
    """The member's own cases, newest first."""
    rows = await session.execute(
        select(Grievance, Unit.name).outerjoin(Unit, Unit.id == Grievance.unit_id)
        .where(Grievance.member_id == member_id)
        .order_by(Grievance.created_at.desc(), Grievance.id.desc()).offset(offset).limit(limit))
    summaries = []
    for grievance, unit_name in rows:
        kind, due = next_deadline(grievance)
        summaries.append(CaseSummary(grievance.id, grievance.code, grievance.category, grievance.status, unit_name,
                                     kind, due))
    return summaries


async def own_case(session: AsyncSession, member_id: int, grievance_id: int) -> Grievance | None:
    """The case if it is this member's; None for anyone else's (callback data can be forged)."""
    grievance = await session.get(Grievance, grievance_id)
    return grievance if grievance is not None and grievance.member_id == member_id else None


async def unit_name(session: AsyncSession, grievance: Grievance) -> str | None:
    unit = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
    return unit.name if unit else None


async def timeline(session: AsyncSession, grievance: Grievance) -> list[TimelineEntry]:
    events = list(await session.scalars(select(GrievanceEvent).where(GrievanceEvent.grievance_id == grievance.id)
                                        .order_by(GrievanceEvent.at, GrievanceEvent.id)))
    messages = list(await session.scalars(select(GrievanceMessage)
                                          .where(GrievanceMessage.grievance_id == grievance.id)
                                          .order_by(GrievanceMessage.at, GrievanceMessage.id)))
    unit_ids = {event.to_unit_id for event in events if event.to_unit_id}
    names = dict((await session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))).all()) \
        if unit_ids else {}
    message_kinds = {event.at: UNION_MESSAGE_KINDS[event.action] for event in events
                     if event.action in UNION_MESSAGE_KINDS}
    # Events before messages at the same moment: a case is received before its first words are shown.
    stream: list[tuple[datetime, int, int, GrievanceEvent | GrievanceMessage]] = [
        *((event.at, 0, event.id, event) for event in events),
        *((message.at, 1, message.id, message) for message in messages)]
    stream.sort(key=lambda item: item[:3])
    holder: int | None = None
    entries: list[TimelineEntry] = []
    for at, _, _, item in stream:
        if isinstance(item, GrievanceEvent):
            if item.action in MOVES:
                holder = item.to_unit_id
            kind = VISIBLE_EVENTS.get(item.action)
            if kind is not None:
                entries.append(TimelineEntry(at, kind, names.get(holder) if holder else None))
        elif item.from_worker:
            if item.author_member_id != grievance.member_id:
                continue  # only the worker's own words, never anyone else's
            entries.append(TimelineEntry(at, "yours", None, item.text, item.file_kind))
        else:
            entries.append(TimelineEntry(at, message_kinds.get(at, "reply"), names.get(holder) if holder else None,
                                         item.text))
    return entries
