"""Good examples (nêu gương người tốt, việc tốt): a member nominates a person or a team with their story and
an optional photo, confirming that the nominee agreed to be published; the grassroots union (else the
upper-level union) approves or rejects it with a note; approved stories are published in the library under
the topic `good_examples` (see `approved_stories`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, quizzes
from bot.services.engagement import Refused, Rehomed, destination, display_name, rehome_open
from db.models import ExampleNomination, Member, NominationStatus, Unit

KIND = "example"
TOPIC = "good_examples"
NOMINEE_KINDS = ("person", "team")
NOMINEE_LIMITS = (2, 120)
STORY_LIMITS = (50, 3000)
APPROVED_POINTS = 15  # emulation points for the nominator of an approved story


@dataclass
class NominationDraft:
    nominee_kind: str
    nominee: str
    story: str
    photo_file_id: str | None = None
    consent_confirmed: bool = False
    language: str = "vi"


@dataclass(frozen=True)
class Submitted:
    nomination: ExampleNomination
    unit: Unit | None


@dataclass(frozen=True)
class Story:
    """An approved story as the library shows it: no nominator, no officer."""

    id: int
    nominee_kind: str
    nominee: str
    story: str
    photo_file_id: str | None
    unit_name: str | None
    approved_at: datetime
    language: str


def may_nominate(member: Member) -> str | None:
    if not member.has_consent or member.onboarded_at is None:
        return "needs_profile"
    return None


def length_problem(text: str, limits: tuple[int, int]) -> str | None:
    low, high = limits
    if len(text) < low:
        return "too_short"
    if len(text) > high:
        return "too_long"
    return None


async def submit(session: AsyncSession, member: Member, draft: NominationDraft, now: datetime) -> Submitted:
    reason = may_nominate(member)
    if reason is not None:
        raise Refused(reason)
    if not draft.consent_confirmed:
        raise Refused("consent_required")
    if draft.nominee_kind not in NOMINEE_KINDS or length_problem(draft.nominee, NOMINEE_LIMITS) \
            or length_problem(draft.story, STORY_LIMITS):
        raise Refused("bad_draft")
    where = await destination(session, member)
    nomination = ExampleNomination(
        member_id=member.id, unit_id=where.unit.id if where.unit else None, nominee_kind=draft.nominee_kind,
        nominee=draft.nominee, story=draft.story, photo_file_id=draft.photo_file_id, language=draft.language,
        consent_confirmed_at=now, created_at=now)
    session.add(nomination)
    await session.flush()
    audit.record(session, audit.member_actor(member.id), "example.nominated", f"example:{nomination.id}",
                 unit=where.unit.code if where.unit else None, nominee_consent_confirmed=True)
    await session.commit()
    return Submitted(nomination, where.unit)


async def decide(session: AsyncSession, nomination: ExampleNomination, officer: Member, approve: bool,
                 note: str | None, now: datetime) -> None:
    """Approve (published; the nominator earns points) or reject with a note the nominator receives."""
    if nomination.status != NominationStatus.PENDING:
        raise Refused("already_decided")
    if not approve and not note:
        raise Refused("note_required")
    nomination.status = NominationStatus.APPROVED if approve else NominationStatus.REJECTED
    nomination.decision_note, nomination.decided_by_member_id, nomination.decided_at = note, officer.id, now
    if approve and nomination.member_id is not None:
        await quizzes.record_points(session, nomination.member_id, "nomination_approved", APPROVED_POINTS,
                                    f"example:{nomination.id}", now)
    audit.record(session, audit.member_actor(officer.id), f"example.{nomination.status.value}",
                 f"example:{nomination.id}")
    await session.commit()


async def move_open(session: AsyncSession, unit: Unit, actor: str) -> Rehomed:
    """The unit lost its inbox: its nominations awaiting a decision go up (engagement.rehome_open). Committed."""
    return await rehome_open(session, KIND, ExampleNomination, ExampleNomination.status == NominationStatus.PENDING,
                             unit, actor)


async def nominator_name(session: AsyncSession, nomination: ExampleNomination) -> tuple[str | None, str | None]:
    member = await session.get(Member, nomination.member_id) if nomination.member_id else None
    return (display_name(member), member.username) if member else (None, None)


async def approved_stories(session: AsyncSession, language: str, limit: int = 50,
                           offset: int = 0) -> list[Story]:
    """Published stories for the library's `good_examples` topic, newest first: those written in `language`
    first, then the others (most are written in Vietnamese)."""
    rows = await session.execute(
        select(ExampleNomination, Unit.name).outerjoin(Unit, Unit.id == ExampleNomination.unit_id)
        .where(ExampleNomination.status == NominationStatus.APPROVED)
        .order_by((ExampleNomination.language == language).desc(), ExampleNomination.decided_at.desc(),
                  ExampleNomination.id.desc())
        .limit(limit).offset(offset))
    return [Story(n.id, n.nominee_kind, n.nominee, n.story, n.photo_file_id, unit_name, n.decided_at, n.language)
            for n, unit_name in rows]


async def approved_story(session: AsyncSession, story_id: int) -> Story | None:
    """One published story (e.g. for a library button `ex:<id>`); None unless it is approved."""
    for story in await _one(session, story_id):
        return story
    return None


async def _one(session: AsyncSession, story_id: int) -> list[Story]:
    rows = await session.execute(
        select(ExampleNomination, Unit.name).outerjoin(Unit, Unit.id == ExampleNomination.unit_id)
        .where(ExampleNomination.id == story_id, ExampleNomination.status == NominationStatus.APPROVED))
    return [Story(n.id, n.nominee_kind, n.nominee, n.story, n.photo_file_id, unit_name, n.decided_at, n.language)
            for n, unit_name in rows]
