"""What officers may see of a case. Identity is decided here, so no handler can show what it never gets:

- named: officers of the holding unit and above see the worker's name, username and phone;
- confidential: only officers of units above the grassroots level see them (the case also skips the
  grassroots union when routed);
- anonymous: nobody in the union does; replies are relayed by the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.categories import get_category
from bot.services.provinces import get_province
from db.models import CaseStatus, Grievance, GrievanceCosigner, GrievanceMessage, Member, Unit, Workplace

GRASSROOTS_LEVEL = 4


@dataclass(frozen=True)
class Reporter:
    name: str | None
    username: str | None
    phone: str | None


@dataclass(frozen=True)
class OfficerView:
    code: str
    category: str  # code; the handler names it in the officer's language
    urgent: bool
    scope: str
    group_size: int | None
    voices: int
    collective: bool
    workplace: str | None
    province: str | None
    text: str | None
    attachments: int
    status: CaseStatus
    identity: str
    reporter: Reporter | None  # None unless the identity mode lets this unit see who it is
    unit_name: str | None  # None: the admins hold it
    held_by_someone: bool
    acknowledge_due_at: datetime | None
    resolve_due_at: datetime | None


def may_see_identity(identity: str, viewer_level: int | None) -> bool:
    """viewer_level: the level of the unit whose officers look (None for the admins' inbox)."""
    if identity == "named":
        return True
    if identity == "confidential":
        return viewer_level is None or viewer_level < GRASSROOTS_LEVEL
    return False


async def officer_view(session: AsyncSession, grievance: Grievance, viewer_level: int | None) -> OfficerView:
    member = await session.get(Member, grievance.member_id) if grievance.member_id else None
    reporter = None
    if member is not None and may_see_identity(grievance.identity, viewer_level):
        name = " ".join(part for part in (member.first_name, member.last_name) if part) or None
        reporter = Reporter(name, member.username, member.phone)
    workplace = await session.get(Workplace, grievance.workplace_id) if grievance.workplace_id else None
    province = get_province(grievance.province_code) if grievance.province_code else None
    unit = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
    cosigners = await session.scalar(select(func.count()).select_from(GrievanceCosigner)
                                     .where(GrievanceCosigner.grievance_id == grievance.id))
    attachments = await session.scalar(select(func.count()).select_from(GrievanceMessage).where(
        GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.file_id.is_not(None),
        GrievanceMessage.from_worker.is_(True)))
    category = get_category(grievance.category)
    return OfficerView(
        code=grievance.code, category=category.code if category else grievance.category, urgent=grievance.urgent,
        scope=grievance.scope, group_size=grievance.group_size, voices=1 + (cosigners or 0),
        collective=grievance.collective,
        workplace=workplace.name if workplace else grievance.workplace_other_name,
        province=province.name if province else None, text=grievance.text, attachments=attachments or 0,
        status=grievance.status, identity=grievance.identity, reporter=reporter,
        unit_name=unit.name if unit else None, held_by_someone=grievance.holder_member_id is not None,
        acknowledge_due_at=grievance.acknowledge_due_at, resolve_due_at=grievance.resolve_due_at)
