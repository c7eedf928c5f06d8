"""The deadline watch (no Telegram): which open cases need a reminder before a deadline, which are overdue
and go up a level, which resolved cases close because the worker never answered.

Every case is handled in a transaction of its own that starts with a conditional UPDATE (the claim): on
PostgreSQL it takes the row lock and is re-evaluated against the committed row if another transaction
got there first; on SQLite it takes the single write lock. So two runs at once (two bot processes on
one database, or a slow run overlapping the next) never remind, escalate or close the same case twice,
and a restart just looks again: the database is the only state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import cases, sla
from db.models import CaseStatus, Grievance, GrievanceEvent

REMIND_AT = 0.8  # remind the holding unit once 80% of a deadline's window has passed
# Events that (re)start a case's SLA clock: its deadlines were computed from their time.
CLOCK_STARTS = ("created", "to_admins", "escalated", "transferred", "collective")


class Deadline(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Reminder:
    grievance_id: int
    deadline: Deadline
    due_at: datetime


def _columns(deadline: Deadline) -> tuple[ColumnElement[datetime], ColumnElement[datetime]]:
    if deadline == Deadline.ACKNOWLEDGE:
        return Grievance.acknowledge_due_at, Grievance.acknowledge_reminded_for
    return Grievance.resolve_due_at, Grievance.resolve_reminded_for


def _statuses(deadline: Deadline) -> tuple[CaseStatus, ...]:
    """An acknowledgement deadline only matters until someone claims the case."""
    return (CaseStatus.OPEN,) if deadline == Deadline.ACKNOWLEDGE else cases.OPEN_STATUSES


def _not_reminded(deadline: Deadline) -> ColumnElement[bool]:
    due, reminded_for = _columns(deadline)
    return or_(reminded_for.is_(None), reminded_for != due)


async def reminders_due(session: AsyncSession, now: datetime, fraction: float = REMIND_AT) -> list[Reminder]:
    """Deadlines not yet passed whose window is `fraction` gone, and that got no reminder yet."""
    clock_start = (select(func.max(GrievanceEvent.at))
                   .where(GrievanceEvent.grievance_id == Grievance.id, GrievanceEvent.action.in_(CLOCK_STARTS))
                   .correlate(Grievance).scalar_subquery())
    found: list[Reminder] = []
    for deadline in Deadline:
        due, _ = _columns(deadline)
        rows = await session.execute(
            select(Grievance.id, due, Grievance.created_at, clock_start)
            .where(Grievance.status.in_(_statuses(deadline)), due.is_not(None), due > now, _not_reminded(deadline))
            .order_by(Grievance.id))
        for grievance_id, due_at, created_at, started_at in rows:
            start = started_at or created_at
            if start + (due_at - start) * fraction <= now:
                found.append(Reminder(grievance_id, deadline, due_at))
    return found


async def claim_reminder(session: AsyncSession, reminder: Reminder, now: datetime) -> Grievance | None:
    """Mark the reminder as sent for this deadline and commit; None if the deadline changed or another
    run sent it. The caller sends the reminder only after this returns the case."""
    due, reminded_for = _columns(reminder.deadline)
    result = await session.execute(
        update(Grievance)
        .where(Grievance.id == reminder.grievance_id, Grievance.status.in_(_statuses(reminder.deadline)),
               due == reminder.due_at, _not_reminded(reminder.deadline))
        .values({reminded_for: reminder.due_at})
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        await _nothing_to_do(session)
        return None
    session.add(GrievanceEvent(grievance_id=reminder.grievance_id, at=now, actor="system",
                               action=f"reminded_{reminder.deadline.value}"))
    await session.commit()
    return await session.get_one(Grievance, reminder.grievance_id, populate_existing=True)


async def _nothing_to_do(session: AsyncSession) -> None:
    """End the claim's empty transaction (and free SQLite's write lock) without expiring what the session
    holds, as a rollback would."""
    await session.commit()


def _overdue(now: datetime) -> ColumnElement[bool]:
    """The same test as cases.overdue_cases, for a case a unit holds (the admins have nobody above)."""
    return and_(Grievance.unit_id.is_not(None), Grievance.status.in_(cases.OPEN_STATUSES),
                or_(Grievance.resolve_due_at < now,
                    and_(Grievance.status == CaseStatus.OPEN, Grievance.acknowledge_due_at < now)))


async def overdue_ids(session: AsyncSession, now: datetime) -> list[int]:
    return [grievance.id for grievance in await cases.overdue_cases(session, now) if grievance.unit_id is not None]


async def escalate_overdue(session: AsyncSession, grievance_id: int, now: datetime, tz: ZoneInfo,
                           sla_config: sla.SlaConfig | None = None) -> tuple[Grievance, cases.Moved] | None:
    """Send one overdue case to the parent unit, committed; None if it is no longer overdue (another run
    escalated it, or an officer acted in time)."""
    claimed = await session.execute(update(Grievance).where(Grievance.id == grievance_id, _overdue(now))
                                    .values(updated_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        await _nothing_to_do(session)
        return None
    grievance = await session.get_one(Grievance, grievance_id, populate_existing=True)
    try:
        moved = await cases.escalate(session, grievance, "system", now, tz, "overdue", sla_config)
    except cases.CaseRefused:
        await session.rollback()
        return None
    return grievance, moved


async def unanswered_ids(session: AsyncSession, now: datetime) -> list[int]:
    rows = await session.scalars(select(Grievance.id).where(
        Grievance.status == CaseStatus.RESOLVED, Grievance.resolved_at < now - cases.AUTO_CLOSE_AFTER)
        .order_by(Grievance.id))
    return list(rows)


async def close_unanswered(session: AsyncSession, grievance_id: int, now: datetime) -> Grievance | None:
    """Close one resolved case the worker left unanswered for 7 days, committed; None if the worker answered meanwhile or another run closed it."""
    closed = await session.execute(
        update(Grievance)
        .where(Grievance.id == grievance_id, Grievance.status == CaseStatus.RESOLVED,
               Grievance.resolved_at < now - cases.AUTO_CLOSE_AFTER)
        .values(status=CaseStatus.CLOSED, closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    if closed.rowcount != 1:
        await _nothing_to_do(session)
        return None
    session.add(GrievanceEvent(grievance_id=grievance_id, at=now, actor="system", action="closed_without_answer"))
    await session.commit()
    return await session.get_one(Grievance, grievance_id, populate_existing=True)
