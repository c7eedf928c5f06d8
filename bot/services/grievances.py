"""Grievance intake: a case is routed, given its deadlines and committed whole, before the worker hears
back. Rendering for officers and workers lives in handlers/; this module never imports telegram."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, routing, sla
from bot.services.cases import OPEN_STATUSES
from bot.services.units import unit_path
from db.models import (
    CaseCounter,
    Grievance,
    GrievanceCosigner,
    GrievanceEvent,
    GrievanceMessage,
    Member,
    Unit,
    Workplace,
)

CODE_PREFIX = "PA"
ATTACHMENT_LIMIT = 5


@dataclass(frozen=True)
class Attachment:
    file_id: str
    kind: str  # photo | document | voice
    size: int | None = None


@dataclass
class CaseDraft:
    category: str
    text: str | None
    scope: str = "individual"
    group_size: int | None = None
    urgent: bool = False
    identity: str = "named"
    workplace_id: int | None = None
    workplace_other_name: str | None = None
    province_code: int | None = None
    language: str = "vi"
    attachments: list[Attachment] = field(default_factory=list)
    # The intake draft's random token: the same draft sent again (a Send pressed twice, or again after a
    # crash lost the acknowledgement) finds the case it made instead of making a second one.
    token: str | None = None


@dataclass(frozen=True)
class Submitted:
    grievance: Grievance
    route: routing.Route | None  # None: the draft had been sent before (created is False)
    unit: Unit | None  # None: the admins hold it
    created: bool = True


async def next_case_code(session: AsyncSession, when: datetime, tz: ZoneInfo) -> str:
    """PA-YYMM-NNNN, numbered per month in the union's time zone; safe under concurrent intake."""
    month = when.astimezone(tz).strftime("%y%m")
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(CaseCounter).values(month=month, last=0).on_conflict_do_nothing())
    number = await session.scalar(
        update(CaseCounter).where(CaseCounter.month == month).values(last=CaseCounter.last + 1)
        .returning(CaseCounter.last))
    return f"{CODE_PREFIX}-{month}-{number:04d}"


async def worker_path(session: AsyncSession, workplace: Workplace | None,
                      province_code: int | None) -> list[routing.PathUnit]:
    """The units above the worker, grassroots first. Without a grassroots union, or for a workplace the
    bot does not know, the path starts at the provincial federation of the province given."""
    if workplace is not None and workplace.grassroots_unit_id is not None:
        units = await unit_path(session, workplace.grassroots_unit_id)
    else:
        province = workplace.province_code if workplace is not None else province_code
        federation = await _federation(session, province)
        units = await unit_path(session, federation.id) if federation else await _roots(session)
    return [routing.PathUnit(u.id, u.level, u.inbox_chat_id is not None, u.unit_type == "industrial_park")
            for u in units]


async def _federation(session: AsyncSession, province_code: int | None) -> Unit | None:
    if province_code is None:
        return None
    return await session.scalar(
        select(Unit).where(Unit.level == 2, Unit.province_code == province_code)
        .order_by((Unit.unit_type == "federation").desc(), Unit.id).limit(1))


async def _roots(session: AsyncSession) -> list[Unit]:
    return list((await session.scalars(select(Unit).where(Unit.level == 1).order_by(Unit.id))).all())


async def submitted_case(session: AsyncSession, member_id: int, token: str | None) -> Grievance | None:
    """The case a member's draft became, if it was sent already."""
    if not token:
        return None
    return await session.scalar(select(Grievance).where(Grievance.member_id == member_id,
                                                        Grievance.draft_token == token))


async def submit_case(session: AsyncSession, member: Member, draft: CaseDraft, now: datetime,
                      tz: ZoneInfo, sla_config: sla.SlaConfig | None = None) -> Submitted:
    """Route, date and store the case in one transaction; the caller tells the worker only after this.

    Idempotent per draft token: a draft sent before gives back the case it made (created=False). Two sends
    racing past the check are settled by the unique index on (member_id, draft_token)."""
    stored = await submitted_case(session, member.id, draft.token)
    if stored is None:
        try:
            return await _store_case(session, member, draft, now, tz, sla_config)
        except IntegrityError:
            await session.rollback()  # the other send won; the rollback expired what this session had loaded
            if member in session:
                await session.refresh(member)
            stored = await submitted_case(session, member.id, draft.token)
            if stored is None:
                raise
    unit = await session.get(Unit, stored.unit_id) if stored.unit_id else None
    return Submitted(stored, None, unit, created=False)


async def _store_case(session: AsyncSession, member: Member, draft: CaseDraft, now: datetime,
                      tz: ZoneInfo, sla_config: sla.SlaConfig | None) -> Submitted:
    workplace = await session.get(Workplace, draft.workplace_id) if draft.workplace_id else None
    path = await worker_path(session, workplace, draft.province_code)
    facts = routing.CaseFacts(category=draft.category, scope=draft.scope, urgent=draft.urgent,
                              identity=draft.identity,
                              has_grassroots=workplace is not None and workplace.grassroots_unit_id is not None)
    route = routing.decide(facts, path)
    unit = await session.get(Unit, route.unit_id) if route.unit_id else None
    due = sla.deadlines(now, draft.urgent, unit.level if unit else 1, tz, sla_config)
    grievance = Grievance(
        code=await next_case_code(session, now, tz), member_id=member.id, category=draft.category,
        scope=draft.scope, group_size=draft.group_size, urgent=draft.urgent, identity=draft.identity,
        text=draft.text, language=draft.language, workplace_id=draft.workplace_id,
        workplace_other_name=draft.workplace_other_name,
        province_code=workplace.province_code if workplace else draft.province_code,
        unit_id=unit.id if unit else None, acknowledge_due_at=due.acknowledge_by, resolve_due_at=due.resolve_by,
        draft_token=draft.token, created_at=now, updated_at=now)
    session.add(grievance)
    await session.flush()
    session.add(GrievanceMessage(grievance_id=grievance.id, at=now, from_worker=True, author_member_id=member.id,
                                 text=draft.text))
    for attachment in draft.attachments[:ATTACHMENT_LIMIT]:
        session.add(GrievanceMessage(grievance_id=grievance.id, at=now, from_worker=True,
                                     author_member_id=member.id, file_id=attachment.file_id,
                                     file_kind=attachment.kind, file_size=attachment.size))
    actor = audit.member_actor(member.id)
    for skipped in route.passed_over:
        session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor="system", action="passed_up",
                                   from_unit_id=skipped))
    session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor=actor,
                               action="to_admins" if route.to_admins else "created", to_unit_id=route.unit_id,
                               note=route.rule))
    await session.commit()
    return Submitted(grievance, route, unit)



@dataclass(frozen=True)
class SimilarCase:
    """What a worker may see of someone else's case before adding their voice: never text or identity."""

    grievance_id: int
    category: str
    voices: int  # the author and the co-signers


@dataclass(frozen=True)
class Cosigned:
    voices: int
    became_collective: bool
    moved_to: Unit | None  # the unit that took the case when it became collective


async def similar_open_case(session: AsyncSession, category: str, workplace_id: int | None,
                            member_id: int) -> SimilarCase | None:
    """An open case in the same category at the same workplace that this member has not joined yet."""
    if workplace_id is None:
        return None
    joined = select(GrievanceCosigner.grievance_id).where(GrievanceCosigner.member_id == member_id)
    grievance = await session.scalar(
        select(Grievance).where(Grievance.category == category, Grievance.workplace_id == workplace_id,
                                Grievance.status.in_(OPEN_STATUSES), Grievance.member_id != member_id,
                                Grievance.id.not_in(joined))
        .order_by(Grievance.created_at.desc()).limit(1))
    if grievance is None:
        return None
    return SimilarCase(grievance.id, grievance.category, await _voices(session, grievance.id))


async def _voices(session: AsyncSession, grievance_id: int) -> int:
    cosigners = await session.scalar(select(func.count()).select_from(GrievanceCosigner)
                                     .where(GrievanceCosigner.grievance_id == grievance_id))
    return 1 + (cosigners or 0)


async def add_voice(session: AsyncSession, grievance_id: int, member: Member, now: datetime, tz: ZoneInfo,
                    sla_config: sla.SlaConfig | None = None) -> Cosigned:
    """Join a case ("me too"). At the threshold the case becomes collective and goes to the upper level."""
    config = sla_config or sla.default_config()
    grievance = await session.get_one(Grievance, grievance_id)
    session.add(GrievanceCosigner(grievance_id=grievance.id, member_id=member.id, at=now))
    session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor=audit.member_actor(member.id),
                               action="cosigned"))
    await session.flush()
    voices = await _voices(session, grievance.id)
    moved_to = None
    became_collective = not grievance.collective and voices >= config.collective_threshold
    if became_collective:
        grievance.collective = True
        moved_to = await _reroute(session, grievance, now, tz, config)
    await session.commit()
    return Cosigned(voices, became_collective, moved_to)


async def _reroute(session: AsyncSession, grievance: Grievance, now: datetime, tz: ZoneInfo,
                   config: sla.SlaConfig) -> Unit | None:
    workplace = await session.get(Workplace, grievance.workplace_id) if grievance.workplace_id else None
    path = await worker_path(session, workplace, grievance.province_code)
    facts = routing.CaseFacts(category=grievance.category, scope=grievance.scope, urgent=grievance.urgent,
                              identity=grievance.identity, collective=True,
                              has_grassroots=workplace is not None and workplace.grassroots_unit_id is not None)
    route = routing.decide(facts, path)
    if route.unit_id == grievance.unit_id:
        return None
    unit = await session.get(Unit, route.unit_id) if route.unit_id else None
    session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor="system", action="collective",
                               from_unit_id=grievance.unit_id, to_unit_id=route.unit_id, note=route.rule))
    grievance.unit_id = route.unit_id
    grievance.escalations += 1
    due = sla.deadlines(now, grievance.urgent, unit.level if unit else 1, tz, config)  # the clock restarts
    grievance.acknowledge_due_at, grievance.resolve_due_at = due.acknowledge_by, due.resolve_by
    return unit
