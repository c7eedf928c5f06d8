"""The weekly digest of each unit inbox: its open cases, the overdue ones, and those resolved in the week.

It is due every Monday at 08:00 local time. `digest_log` holds one row per unit and week, inserted (the
claim) before the digest is sent and marked sent after: a restart or a second process finds the row and
does not send again, and a bot that was down at 08:00 sends the week's digest when it comes back. A claim
left unsent by a crash between the two steps is taken over after CLAIM_TIMEOUT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog, CaseStatus, DigestLog, Grievance, Unit

DIGEST_WEEKDAY = 0  # Monday
DIGEST_TIME = time(8, 0)
CLAIM_TIMEOUT = timedelta(minutes=10)
OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED, CaseStatus.WAITING_WORKER)
LISTED = 10  # overdue case codes shown in the digest
INBOX_REGISTERED = "inbox.registered"  # the audit action of officers.register_inbox


def due_moment(now: datetime, tz: ZoneInfo) -> datetime:
    """The latest Monday 08:00 (local) at or before now: the digest this moment belongs to."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    moment = datetime.combine(monday, DIGEST_TIME, tz)
    return moment if moment <= local else moment - timedelta(days=7)


def next_due(now: datetime, tz: ZoneInfo) -> datetime:
    return due_moment(now, tz) + timedelta(days=7)


def week_of(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).date().isoformat()


@dataclass(frozen=True)
class Figures:
    open: int
    overdue: int
    resolved: int
    overdue_codes: list[str]
    since: date  # the first day of the week the resolved cases are counted from


async def units_due(session: AsyncSession, now: datetime, tz: ZoneInfo) -> list[int]:
    """Units whose inbox existed at this week's digest time (registered with /inbox before it) and whose
    digest for the week has not been claimed, or whose claim went stale. A group made an inbox on a
    Wednesday gets its first digest the Monday after."""
    moment = due_moment(now, tz)
    week = week_of(moment, tz)
    done = select(DigestLog.unit_id).where(DigestLog.week == week, or_(
        DigestLog.sent_at.is_not(None), DigestLog.claimed_at > now - CLAIM_TIMEOUT))
    registered = (select(AuditLog.subject.label("subject"), func.max(AuditLog.at).label("at"))
                  .where(AuditLog.action == INBOX_REGISTERED).group_by(AuditLog.subject).subquery())
    rows = await session.scalars(
        select(Unit.id).join(registered, registered.c.subject == literal("unit:") + Unit.code)
        .where(Unit.inbox_chat_id.is_not(None), registered.c.at <= moment, Unit.id.not_in(done))
        .order_by(Unit.level, Unit.id))
    return list(rows)


async def claim(session: AsyncSession, unit_id: int, now: datetime, tz: ZoneInfo) -> bool:
    """Take this week's digest of the unit; False when someone else has (or it was sent). Committed."""
    week = week_of(due_moment(now, tz), tz)
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    inserted = await session.execute(insert(DigestLog).values(unit_id=unit_id, week=week, claimed_at=now)
                                     .on_conflict_do_nothing().returning(DigestLog.id))
    taken = inserted.scalar() is not None
    if not taken:  # a claim a crash left unsent, older than the timeout, is taken over
        result = await session.execute(update(DigestLog).where(
            DigestLog.unit_id == unit_id, DigestLog.week == week, DigestLog.sent_at.is_(None),
            DigestLog.claimed_at <= now - CLAIM_TIMEOUT).values(claimed_at=now))
        taken = result.rowcount == 1
    await session.commit()
    return taken


async def mark_sent(session: AsyncSession, unit_id: int, now: datetime, tz: ZoneInfo) -> None:
    week = week_of(due_moment(now, tz), tz)
    await session.execute(update(DigestLog).where(DigestLog.unit_id == unit_id, DigestLog.week == week)
                          .values(sent_at=now))
    await session.commit()


async def figures(session: AsyncSession, unit_id: int, now: datetime, tz: ZoneInfo) -> Figures:
    """What the unit holds now, and what it resolved in the 7 days before this week's digest time."""
    end = due_moment(now, tz)
    start = end - timedelta(days=7)
    is_open = and_(Grievance.unit_id == unit_id, Grievance.status.in_(OPEN_STATUSES))
    overdue = and_(is_open, or_(and_(Grievance.acknowledged_at.is_(None), Grievance.acknowledge_due_at < now),
                                Grievance.resolve_due_at < now))
    open_count = await session.scalar(select(func.count()).where(is_open))
    codes = list(await session.scalars(select(Grievance.code).where(overdue)
                                       .order_by(Grievance.resolve_due_at, Grievance.id)))
    resolved = await session.scalar(select(func.count()).where(
        Grievance.unit_id == unit_id, Grievance.resolved_at >= start, Grievance.resolved_at < end))
    return Figures(int(open_count or 0), len(codes), int(resolved or 0), codes[:LISTED],
                   start.astimezone(tz).date())
