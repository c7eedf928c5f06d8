"""Grievance intake: a case is routed, given its deadlines and committed whole, before the worker hears
back. Rendering for officers and workers lives in handlers/; this module never imports telegram."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, routing, sla
from bot.services.units import unit_path
from db.models import CaseCounter, Grievance, GrievanceEvent, GrievanceMessage, Member, Unit, Workplace

CODE_PREFIX = "PA"
ATTACHMENT_LIMIT = 5
TEXT_MIN, TEXT_MAX = 20, 3000


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


@dataclass(frozen=True)
class Submitted:
    grievance: Grievance
    route: routing.Route
    unit: Unit | None  # None: the admins hold it


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


async def submit_case(session: AsyncSession, member: Member, draft: CaseDraft, now: datetime,
                      tz: ZoneInfo, sla_config: sla.SlaConfig | None = None) -> Submitted:
    """Route, date and store the case in one transaction; the caller tells the worker only after this."""
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
        created_at=now, updated_at=now)
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
