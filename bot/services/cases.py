"""What officers and workers do with a case once it exists: claim, reply, ask, note, escalate, transfer,
resolve, and the worker's verdict. Every action is an event row; every move restarts the SLA clock.

Plain domain code: handlers/ renders the results and checks nothing here itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, sla
from bot.services.case_views import GRASSROOTS_LEVEL
from bot.services.units import subtree_ids, unit_path
from db.models import (
    CaseStatus,
    Grievance,
    GrievanceEvent,
    GrievanceMessage,
    Member,
    Officer,
    Unit,
)

OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED, CaseStatus.WAITING_WORKER)
AUTO_CLOSE_AFTER = timedelta(days=7)


class Outcome(enum.StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"


class CaseRefused(Exception):
    """The action does not apply: not allowed, already done by someone else, or the case has moved on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Moved:
    from_unit_id: int | None
    to_unit: Unit | None  # None: the admins hold it now


async def officer_unit_ids(session: AsyncSession, member_id: int) -> set[int]:
    rows = await session.scalars(select(Officer.unit_id).where(Officer.member_id == member_id,
                                                               Officer.revoked_at.is_(None)))
    return set(rows)


async def can_act(session: AsyncSession, member: Member, grievance: Grievance, is_admin: bool) -> bool:
    """Officers of the holding unit or of any unit above it may act; admins may act on every case."""
    if is_admin:
        return True
    if grievance.unit_id is None:
        return False
    own = await officer_unit_ids(session, member.id)
    return bool(own & {unit.id for unit in await unit_path(session, grievance.unit_id)})


def _event(session: AsyncSession, grievance: Grievance, actor: str, action: str, now: datetime,
           note: str | None = None, from_unit: int | None = None, to_unit: int | None = None) -> None:
    session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor=actor, action=action, note=note,
                               from_unit_id=from_unit, to_unit_id=to_unit))
    grievance.updated_at = now


def _open(grievance: Grievance) -> None:
    if grievance.status not in OPEN_STATUSES:
        raise CaseRefused("closed")


async def claim(session: AsyncSession, grievance: Grievance, officer: Member, now: datetime) -> None:
    _open(grievance)
    if grievance.holder_member_id not in (None, officer.id):
        raise CaseRefused("held_by_other")
    grievance.holder_member_id = officer.id
    _acknowledge(grievance, now)
    _event(session, grievance, audit.member_actor(officer.id), "claimed", now)
    await session.commit()


def _acknowledge(grievance: Grievance, now: datetime) -> None:
    if grievance.acknowledged_at is None:
        grievance.acknowledged_at = now
    if grievance.status == CaseStatus.OPEN:
        grievance.status = CaseStatus.ACKNOWLEDGED


async def reply(session: AsyncSession, grievance: Grievance, officer: Member, text: str, now: datetime,
                asks_for_information: bool = False) -> GrievanceMessage:
    """A reply in the union unit's name (the worker never sees who wrote it)."""
    _open(grievance)
    message = GrievanceMessage(grievance_id=grievance.id, at=now, from_worker=False, author_member_id=officer.id,
                               text=text)
    session.add(message)
    _acknowledge(grievance, now)
    if asks_for_information:
        grievance.status = CaseStatus.WAITING_WORKER
    _event(session, grievance, audit.member_actor(officer.id), "asked" if asks_for_information else "replied", now)
    await session.commit()
    return message


async def worker_message(session: AsyncSession, grievance: Grievance, member: Member, now: datetime,
                         text: str | None = None, file_id: str | None = None, file_kind: str | None = None,
                         file_size: int | None = None) -> GrievanceMessage:
    if grievance.member_id != member.id:
        raise CaseRefused("not_yours")
    _open(grievance)
    message = GrievanceMessage(grievance_id=grievance.id, at=now, from_worker=True, author_member_id=member.id,
                               text=text, file_id=file_id, file_kind=file_kind, file_size=file_size)
    session.add(message)
    if grievance.status == CaseStatus.WAITING_WORKER:
        grievance.status = CaseStatus.ACKNOWLEDGED
    _event(session, grievance, audit.member_actor(member.id), "worker_answered", now)
    await session.commit()
    return message


async def add_note(session: AsyncSession, grievance: Grievance, officer: Member, note: str, now: datetime) -> None:
    """An internal note: kept in the timeline for officers, never sent to the worker."""
    _event(session, grievance, audit.member_actor(officer.id), "note", now, note=note)
    await session.commit()


async def escalate(session: AsyncSession, grievance: Grievance, actor: str, now: datetime, tz: ZoneInfo,
                   reason: str, sla_config: sla.SlaConfig | None = None) -> Moved:
    """Send the case to the nearest unit above with an inbox (the admins when there is none)."""
    _open(grievance)
    above = (await unit_path(session, grievance.unit_id))[1:] if grievance.unit_id else []
    target = next((unit for unit in above if unit.inbox_chat_id is not None), None)
    if grievance.unit_id is None and target is None:
        raise CaseRefused("nowhere_higher")
    return await _move(session, grievance, target, actor, "escalated", now, tz, reason, sla_config)


async def transfer_scope(session: AsyncSession, member: Member, is_admin: bool = False) -> set[int] | None:
    """The units this person may hand a case to: their units' subtrees and their units' parents; None for
    the admins, who may hand a case to any unit (e.g. one that reached nobody else)."""
    if is_admin:
        return None
    allowed: set[int] = set()
    for unit_id in await officer_unit_ids(session, member.id):
        allowed |= await subtree_ids(session, unit_id)
        own = await session.get(Unit, unit_id)
        if own is not None and own.parent_id is not None:
            allowed.add(own.parent_id)
    return allowed


async def transfer_targets(session: AsyncSession, member: Member, grievance: Grievance,
                           is_admin: bool = False) -> list[Unit]:
    """Units this case may go to now, as `transfer` checks: in scope, with an inbox, not where it is,
    never grassroots for a confidential case."""
    scope = await transfer_scope(session, member, is_admin)
    query = select(Unit).where(Unit.inbox_chat_id.is_not(None))
    if scope is not None:
        query = query.where(Unit.id.in_(scope or {-1}))
    if grievance.unit_id is not None:
        query = query.where(Unit.id != grievance.unit_id)
    if grievance.identity == "confidential":
        query = query.where(Unit.level < GRASSROOTS_LEVEL)
    return list(await session.scalars(query.order_by(Unit.level, Unit.code)))


async def transfer(session: AsyncSession, grievance: Grievance, officer: Member, target: Unit, now: datetime,
                   tz: ZoneInfo, sla_config: sla.SlaConfig | None = None, is_admin: bool = False) -> Moved:
    """Hand the case to a unit in the officer's subtree or to the parent of one of their units (admins: to
    any unit with an inbox). A confidential case never goes to a grassroots union."""
    _open(grievance)
    scope = await transfer_scope(session, officer, is_admin)
    if scope is not None and target.id not in scope:
        raise CaseRefused("outside_subtree")
    if grievance.identity == "confidential" and target.level >= GRASSROOTS_LEVEL:
        raise CaseRefused("confidential_to_grassroots")
    if target.inbox_chat_id is None:
        raise CaseRefused("no_inbox")
    if target.id == grievance.unit_id:  # only forged data gets here; a move would restart the clock
        raise CaseRefused("unknown_action")
    return await _move(session, grievance, target, audit.member_actor(officer.id), "transferred", now, tz, None,
                       sla_config)


async def _move(session: AsyncSession, grievance: Grievance, target: Unit | None, actor: str, action: str,
                now: datetime, tz: ZoneInfo, note: str | None, sla_config: sla.SlaConfig | None) -> Moved:
    source = grievance.unit_id
    grievance.unit_id = target.id if target else None
    grievance.holder_member_id = None
    grievance.status = CaseStatus.OPEN
    grievance.acknowledged_at = None
    grievance.escalations += 1
    due = sla.deadlines(now, grievance.urgent, target.level if target else 1, tz, sla_config)  # clock restarts
    grievance.acknowledge_due_at, grievance.resolve_due_at = due.acknowledge_by, due.resolve_by
    _event(session, grievance, actor, action, now, note=note, from_unit=source, to_unit=grievance.unit_id)
    await session.commit()
    return Moved(source, target)


async def resolve(session: AsyncSession, grievance: Grievance, officer: Member, resolution: str,
                  now: datetime) -> None:
    """Resolved by the union; the worker is then asked whether it really was."""
    _open(grievance)
    grievance.status = CaseStatus.RESOLVED
    grievance.resolved_at = now
    _acknowledge_time(grievance, now)
    session.add(GrievanceMessage(grievance_id=grievance.id, at=now, from_worker=False, author_member_id=officer.id,
                                 text=resolution))
    _event(session, grievance, audit.member_actor(officer.id), "resolved", now)
    await session.commit()


def _acknowledge_time(grievance: Grievance, now: datetime) -> None:
    if grievance.acknowledged_at is None:
        grievance.acknowledged_at = now


async def record_outcome(session: AsyncSession, grievance: Grievance, member: Member, outcome: Outcome,
                         rating: int | None, now: datetime, tz: ZoneInfo,
                         sla_config: sla.SlaConfig | None = None) -> Moved | None:
    """The worker's verdict. "No" reopens the case one level up; the others close it."""
    if grievance.member_id != member.id:
        raise CaseRefused("not_yours")
    if grievance.status != CaseStatus.RESOLVED:
        raise CaseRefused("not_resolved")
    if rating is not None and not 1 <= rating <= 5:
        raise CaseRefused("bad_rating")
    grievance.outcome, grievance.rating = outcome.value, rating
    actor = audit.member_actor(member.id)
    if outcome == Outcome.NO:
        grievance.status = CaseStatus.OPEN
        _event(session, grievance, actor, "reopened", now)
        if grievance.unit_id is None:  # the admins hold it: nobody is higher, it reopens with them
            return await _move(session, grievance, None, actor, "reopened_at_admins", now, tz,
                               "worker_not_satisfied", sla_config)
        return await escalate(session, grievance, actor, now, tz, "worker_not_satisfied", sla_config)
    grievance.status, grievance.closed_at = CaseStatus.CLOSED, now
    _event(session, grievance, actor, "closed", now, note=outcome.value)
    await session.commit()
    return None


async def overdue_cases(session: AsyncSession, now: datetime) -> list[Grievance]:
    """Open cases past their acknowledgement deadline, or past their resolution deadline."""
    rows = await session.scalars(select(Grievance).where(
        Grievance.status.in_(OPEN_STATUSES),
        or_(Grievance.resolve_due_at < now,
            (Grievance.status == CaseStatus.OPEN) & (Grievance.acknowledge_due_at < now)),
    ).order_by(Grievance.id))
    return list(rows)
