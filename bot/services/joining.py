"""Joining the union: a worker who is not a member asks to join; the request goes to the grassroots union of
their workplace, or to the upper-level union of the area where there is none; officers mark it contacted,
joined or not now, and "joined" makes the worker a member in their profile. Every step is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.engagement import Destination, Refused, Rehomed, destination, rehome_open
from bot.services.provinces import get_province
from db.models import JoinRequest, JoinStatus, Member, UnionStatus, Unit, Workplace

KIND = "join"
PENDING_STATUSES = (JoinStatus.OPEN, JoinStatus.CONTACTED)
# What officers may do from each status: contacted → joined or not now; nothing after a decision.
MOVES = {
    JoinStatus.OPEN: (JoinStatus.CONTACTED, JoinStatus.JOINED, JoinStatus.NOT_NOW),
    JoinStatus.CONTACTED: (JoinStatus.JOINED, JoinStatus.NOT_NOW),
}


@dataclass(frozen=True)
class Requested:
    request: JoinRequest
    unit: Unit | None  # None: the admins received it
    already: bool  # an earlier request is still open; nothing new was created


@dataclass(frozen=True)
class Contact:
    """What the receiving officers see: the worker agreed to share it for this request."""

    name: str | None
    username: str | None
    phone: str | None
    telegram_id: int | None
    workplace: str | None
    province: str | None


def may_ask(member: Member) -> str | None:
    """Why this member cannot ask to join (a reason code), or None."""
    if member.union_status == UnionStatus.MEMBER:
        return "already_member"
    if not member.has_consent or member.onboarded_at is None:
        return "needs_profile"
    return None


async def pending_request(session: AsyncSession, member: Member) -> JoinRequest | None:
    return await session.scalar(select(JoinRequest).where(JoinRequest.member_id == member.id,
                                                          JoinRequest.status.in_(PENDING_STATUSES))
                                .order_by(JoinRequest.id.desc()).limit(1))


async def where_it_goes(session: AsyncSession, member: Member) -> Destination:
    return await destination(session, member)


async def request_to_join(session: AsyncSession, member: Member, now: datetime) -> Requested:
    """Store the request with the worker's consent to share their contact; committed before they hear back."""
    reason = may_ask(member)
    if reason is not None:
        raise Refused(reason)
    existing = await pending_request(session, member)
    if existing is not None:
        unit = await session.get(Unit, existing.unit_id) if existing.unit_id else None
        return Requested(existing, unit, already=True)
    where = await destination(session, member)
    request = JoinRequest(member_id=member.id, unit_id=where.unit.id if where.unit else None,
                          workplace_id=member.workplace_id, consented_at=now, created_at=now, updated_at=now)
    session.add(request)
    await session.flush()
    audit.record(session, audit.member_actor(member.id), "join.requested", f"join:{request.id}",
                 unit=where.unit.code if where.unit else None, contact_shared=True)
    await session.commit()
    return Requested(request, where.unit, already=False)


async def decide(session: AsyncSession, request: JoinRequest, officer: Member, to: JoinStatus,
                 now: datetime) -> Member:
    """Contacted, joined or not now. Joined makes the worker a member. Returns the worker."""
    if to not in MOVES.get(request.status, ()):
        raise Refused("already_decided")
    worker = await session.get_one(Member, request.member_id)
    request.status, request.handled_by_member_id, request.updated_at = to, officer.id, now
    if to == JoinStatus.CONTACTED:
        request.contacted_at = now
    else:
        request.closed_at = now
    if to == JoinStatus.JOINED:
        worker.union_status = UnionStatus.MEMBER
    audit.record(session, audit.member_actor(officer.id), f"join.{to.value}", f"join:{request.id}",
                 member=worker.id)
    await session.commit()
    return worker


async def move_open(session: AsyncSession, unit: Unit, actor: str) -> Rehomed:
    """The unit lost its inbox: its pending join requests go up (engagement.rehome_open). Committed."""
    return await rehome_open(session, KIND, JoinRequest, JoinRequest.status.in_(PENDING_STATUSES), unit, actor)


async def contact(session: AsyncSession, request: JoinRequest) -> Contact:
    worker = await session.get(Member, request.member_id)
    workplace = await session.get(Workplace, request.workplace_id) if request.workplace_id else None
    province_code = (workplace.province_code if workplace else None) or (
        worker.workplace_other_province_code or worker.province_code if worker else None)
    province = get_province(province_code) if province_code else None
    name = " ".join(part for part in (worker.first_name, worker.last_name) if part) if worker else None
    return Contact(name=name or None, username=worker.username if worker else None,
                   phone=worker.phone if worker else None, telegram_id=worker.telegram_id if worker else None,
                   workplace=workplace.name if workplace else (worker.workplace_other_name if worker else None),
                   province=province.name if province else None)
