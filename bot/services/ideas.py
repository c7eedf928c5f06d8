"""Ideas and initiatives (sáng kiến): a worker sends an idea for their workplace or the union; the grassroots
union (else the upper-level union of the area) receives it like a case: acknowledges, replies in the unit's
name, accepts or does not accept it with a note. An anonymous idea shows nobody in the union who sent it.

Separate from grievances on purpose: no SLA clock, no escalation, no worker verdict, no "me too". What it
shares with them (routing to the worker's unit, who may act, cards) is in bot.services.engagement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, quizzes
from bot.services.engagement import Refused, Rehomed, destination, display_name, rehome_open
from bot.services.provinces import get_province
from db.models import Idea, IdeaMessage, IdeaStatus, Member, Unit, Workplace

KIND = "idea"
TITLE_LIMITS = (3, 120)
TEXT_LIMITS = (20, 3000)
IDENTITIES = ("named", "anonymous")
FILE_KINDS = ("photo", "document")
ACCEPTED_POINTS = 20  # emulation points for an accepted idea (Phát huy sáng kiến)
OPEN_STATUSES = (IdeaStatus.OPEN, IdeaStatus.ACKNOWLEDGED)


@dataclass
class IdeaDraft:
    title: str
    text: str
    identity: str = "named"
    file_id: str | None = None
    file_kind: str | None = None
    language: str = "vi"


@dataclass(frozen=True)
class Submitted:
    idea: Idea
    unit: Unit | None  # None: the admins received it


@dataclass(frozen=True)
class Author:
    name: str | None
    username: str | None


@dataclass(frozen=True)
class OfficerView:
    """What officers may see of an idea: the author only when it was sent named."""

    code: str
    title: str
    text: str
    identity: str
    author: Author | None
    workplace: str | None
    province: str | None
    status: IdeaStatus
    has_file: bool
    decision_note: str | None


def may_submit(member: Member) -> str | None:
    if not member.has_consent or member.onboarded_at is None:
        return "needs_profile"
    return None


def length_problem(text: str, limits: tuple[int, int]) -> str | None:
    """"too_short" / "too_long" / None for a title or a text."""
    low, high = limits
    if len(text) < low:
        return "too_short"
    if len(text) > high:
        return "too_long"
    return None


async def submit(session: AsyncSession, member: Member, draft: IdeaDraft, now: datetime) -> Submitted:
    """Route and store the idea; committed before the worker hears back."""
    reason = may_submit(member)
    if reason is not None:
        raise Refused(reason)
    if draft.identity not in IDENTITIES or draft.file_kind not in (None, *FILE_KINDS) \
            or length_problem(draft.title, TITLE_LIMITS) or length_problem(draft.text, TEXT_LIMITS):
        raise Refused("bad_draft")
    where = await destination(session, member)
    workplace = where.workplace
    idea = Idea(member_id=member.id, unit_id=where.unit.id if where.unit else None,
                workplace_id=workplace.id if workplace else None,
                province_code=workplace.province_code if workplace else (
                    member.workplace_other_province_code or member.province_code),
                title=draft.title, text=draft.text, identity=draft.identity, file_id=draft.file_id,
                file_kind=draft.file_kind if draft.file_id else None, language=draft.language,
                created_at=now, updated_at=now)
    session.add(idea)
    await session.flush()
    audit.record(session, audit.member_actor(member.id), "idea.submitted", f"idea:{idea.id}",
                 unit=where.unit.code if where.unit else None, identity=draft.identity)
    await session.commit()
    return Submitted(idea, where.unit)


def _still_open(idea: Idea) -> None:
    if idea.status not in OPEN_STATUSES:
        raise Refused("already_decided")


def _acknowledge(idea: Idea, now: datetime) -> bool:
    """Returns whether this was the first acknowledgement."""
    if idea.status != IdeaStatus.OPEN:
        return False
    idea.status, idea.acknowledged_at, idea.updated_at = IdeaStatus.ACKNOWLEDGED, now, now
    return True


async def acknowledge(session: AsyncSession, idea: Idea, officer: Member, now: datetime) -> bool:
    _still_open(idea)
    first = _acknowledge(idea, now)
    if not first:
        raise Refused("already_acknowledged")
    audit.record(session, audit.member_actor(officer.id), "idea.acknowledged", f"idea:{idea.id}")
    await session.commit()
    return first


async def reply(session: AsyncSession, idea: Idea, officer: Member, text: str, now: datetime) -> bool:
    """A reply relayed in the unit's name; it acknowledges the idea too. Returns whether it was the first
    acknowledgement."""
    _still_open(idea)
    first = _acknowledge(idea, now)
    session.add(IdeaMessage(idea_id=idea.id, at=now, from_worker=False, author_member_id=officer.id, text=text))
    idea.updated_at = now
    audit.record(session, audit.member_actor(officer.id), "idea.replied", f"idea:{idea.id}")
    await session.commit()
    return first


async def worker_answer(session: AsyncSession, idea: Idea, member: Member, text: str, now: datetime) -> None:
    """The author answers the union's reply; officers see it in the inbox without who wrote it."""
    if idea.member_id != member.id:
        raise Refused("not_yours")
    _still_open(idea)
    if length_problem(text, (1, TEXT_LIMITS[1])):
        raise Refused("bad_draft")
    session.add(IdeaMessage(idea_id=idea.id, at=now, from_worker=True, author_member_id=member.id, text=text))
    idea.updated_at = now
    audit.record(session, audit.member_actor(member.id), "idea.worker_answered", f"idea:{idea.id}")
    await session.commit()


async def decide(session: AsyncSession, idea: Idea, officer: Member, accepted: bool, note: str,
                 now: datetime) -> None:
    """Accepted (the author earns emulation points) or not accepted, with a note the author receives."""
    _still_open(idea)
    _acknowledge(idea, now)
    idea.status = IdeaStatus.ACCEPTED if accepted else IdeaStatus.NOT_ACCEPTED
    idea.decision_note, idea.decided_by_member_id, idea.decided_at, idea.updated_at = note, officer.id, now, now
    session.add(IdeaMessage(idea_id=idea.id, at=now, from_worker=False, author_member_id=officer.id, text=note))
    if accepted and idea.member_id is not None:
        await quizzes.record_points(session, idea.member_id, "idea_accepted", ACCEPTED_POINTS, f"idea:{idea.id}",
                                    now)
    audit.record(session, audit.member_actor(officer.id), f"idea.{idea.status.value}", f"idea:{idea.id}")
    await session.commit()


async def move_open(session: AsyncSession, unit: Unit, actor: str) -> Rehomed:
    """The unit lost its inbox: its open ideas go up (engagement.rehome_open). Committed."""
    return await rehome_open(session, KIND, Idea, Idea.status.in_(OPEN_STATUSES), unit, actor)


async def officer_view(session: AsyncSession, idea: Idea) -> OfficerView:
    author = None
    if idea.identity == "named" and idea.member_id is not None:
        member = await session.get(Member, idea.member_id)
        if member is not None:
            author = Author(display_name(member), member.username)
    workplace = await session.get(Workplace, idea.workplace_id) if idea.workplace_id else None
    if workplace is None and idea.member_id is not None and idea.identity == "named":
        member = await session.get(Member, idea.member_id)
        workplace_name = member.workplace_other_name if member else None
    else:
        workplace_name = workplace.name if workplace else None
    province = get_province(idea.province_code) if idea.province_code else None
    return OfficerView(code=idea.code, title=idea.title, text=idea.text, identity=idea.identity, author=author,
                       workplace=workplace_name, province=province.name if province else None, status=idea.status,
                       has_file=idea.file_id is not None, decision_note=idea.decision_note)
