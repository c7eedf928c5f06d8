"""Data-protection rights (Law 91/2025/QH15): a member's copy of everything held about them (/mydata),
erasure on request (/forgetme), and the retention job for old cases. See docs/data-protection.md.

Both /mydata and /forgetme walk one registry of sections, one per kind of data. A table with a
`member_id` column that no section claims (a feature added later) is still exported, and on erasure it
follows its own foreign key: rows that CASCADE with the member are deleted, SET NULL links are cut, and
free-text (Text) columns are replaced by the marker. Give a new feature a section to decide better.

Erasure keeps anonymised statistics: case rows stay with category, dates, units and status, their free
text replaced by a marker (privacy.erased_text); the member row stays as an empty shell (no Telegram id,
no names) so counts and links between anonymous rows still add up.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.services import audit, worker_views
from bot.services.cases import OPEN_STATUSES
from bot.services.provinces import get_province
from db.models import (
    Base,
    CaseStatus,
    Consent,
    Consultation,
    ConsultationComment,
    ContentFeedback,
    Contest,
    ContestAnswer,
    ContestAttempt,
    ContestResult,
    ContestRound,
    DataErasure,
    ExampleNomination,
    Grievance,
    GrievanceCosigner,
    GrievanceEvent,
    GrievanceMessage,
    Idea,
    IdeaMessage,
    JoinRequest,
    LeaderboardOptIn,
    Member,
    MemberStatus,
    Officer,
    Point,
    StoredUserData,
    Unit,
    Workplace,
)
from db.types import utcnow

EXPORT_FORMAT = "congdoan-mydata/1"
FORGETME, RETENTION = "forgetme", "retention"
# Open in the union's eyes: the worker withdrawing them is told to the officers.
STILL_OPEN = (*OPEN_STATUSES, CaseStatus.RESOLVED)


def erased_text() -> str:
    """What replaces erased free text (officers read it on cards, hence the inbox language)."""
    return t("vi", "privacy.erased_text")


Exporter = Callable[[AsyncSession, Member], Awaitable[Any]]
Eraser = Callable[[AsyncSession, Member, datetime], Awaitable[None]]


@dataclass(frozen=True)
class Section:
    name: str  # key in the exported JSON
    tables: tuple[str, ...]  # tables it covers (the generic fallback skips them)
    export: Exporter
    erase: Eraser | None = None  # None: rows stay, linked to the emptied member (anonymised statistics)


SECTIONS: list[Section] = []


def section(name: str, *tables: str, erase: Eraser | None = None) -> Callable[[Exporter], Exporter]:
    def register(export: Exporter) -> Exporter:
        SECTIONS.append(Section(name, tables, export, erase))
        return export
    return register


# ----- JSON -----

def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


async def build_export(session: AsyncSession, member: Member, now: datetime | None = None) -> dict[str, Any]:
    """Everything held about the member, as plain JSON values, section by section."""
    data: dict[str, Any] = {"format": EXPORT_FORMAT, "generated_at": (now or utcnow()).isoformat()}
    covered: set[str] = set()
    for item in SECTIONS:
        data[item.name] = jsonable(await item.export(session, member))
        covered |= set(item.tables)
    other = {}
    for table in _member_tables():
        if table.name not in covered:
            rows = (await session.execute(select(table).where(table.c.member_id == member.id))).mappings().all()
            if rows:
                other[table.name] = [jsonable(dict(row)) for row in rows]
    data["other"] = other
    return data


def _member_tables() -> list[Table]:
    return [table for table in Base.metadata.sorted_tables if "member_id" in table.c]


# ----- the sections -----

async def _erase_profile(session: AsyncSession, member: Member, now: datetime) -> None:
    member.first_name = member.last_name = member.username = member.phone = None
    member.workplace_other_name = member.workplace_other_province_code = None
    member.workplace_id = None
    member.telegram_id = None
    member.consent_version, member.consented_at = None, None
    member.status = MemberStatus.ERASED


@section("profile", "members", erase=_erase_profile)
async def _profile(session: AsyncSession, member: Member) -> dict[str, Any]:
    workplace = await session.get(Workplace, member.workplace_id) if member.workplace_id else None
    province = get_province(member.province_code) if member.province_code else None
    return {
        "telegram_id": member.telegram_id, "first_name": member.first_name, "last_name": member.last_name,
        "username": member.username, "phone": member.phone, "language": member.language,
        "province": province.name if province else None, "sector": member.sector,
        "workplace": workplace.name if workplace else None,
        "workplace_other_name": member.workplace_other_name,
        "union_status": member.union_status, "status": member.status,
        "consent_version": member.consent_version, "consented_at": member.consented_at,
        "onboarded_at": member.onboarded_at, "created_at": member.created_at, "last_seen_at": member.last_seen_at,
    }


async def _withdraw_consent(session: AsyncSession, member: Member, now: datetime) -> None:
    """The consent log is kept as the proof the law asks for (version, yes or no, language, time: no
    personal content); erasure adds the withdrawal to it."""
    session.add(Consent(member_id=member.id, version=member.consent_version or "-", granted=False,
                        language=member.language, at=now))


@section("consents", "consents", erase=_withdraw_consent)
async def _consents(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.scalars(select(Consent).where(Consent.member_id == member.id).order_by(Consent.at))
    return [{"version": c.version, "granted": c.granted, "language": c.language, "at": c.at} for c in rows]


async def _erase_cases(session: AsyncSession, member: Member, now: datetime) -> None:
    for grievance in await session.scalars(select(Grievance).where(Grievance.member_id == member.id)):
        if grievance.status in STILL_OPEN:
            _close_withdrawn(session, grievance, member, now)
        await scrub_case(session, grievance, FORGETME, now, member_id=member.id)


@section("cases", "grievances", "grievance_messages", "grievance_events", "case_cards", erase=_erase_cases)
async def _cases(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    """The member's own cases as they may see them in /mycases: their words, the union's replies in the
    unit's name, the steps shown to workers. Never internal notes, never officers' names."""
    cases = []
    for grievance in await session.scalars(select(Grievance).where(Grievance.member_id == member.id)
                                           .order_by(Grievance.created_at, Grievance.id)):
        workplace = await session.get(Workplace, grievance.workplace_id) if grievance.workplace_id else None
        timeline = await worker_views.timeline(session, grievance)
        cases.append({
            "code": grievance.code, "category": grievance.category, "scope": grievance.scope,
            "group_size": grievance.group_size, "identity": grievance.identity, "urgent": grievance.urgent,
            "status": grievance.status, "workplace": workplace.name if workplace else grievance.workplace_other_name,
            "handling_unit": await worker_views.unit_name(session, grievance), "text": grievance.text,
            "created_at": grievance.created_at, "resolved_at": grievance.resolved_at,
            "closed_at": grievance.closed_at, "outcome": grievance.outcome, "rating": grievance.rating,
            "timeline": [{"at": e.at, "kind": e.kind, "unit": e.unit_name, "text": e.text, "file": e.file_kind}
                         for e in timeline],
        })
    return cases


@section("cosigned_cases", "grievance_cosigners")
async def _cosigned(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.execute(select(Grievance.code, Grievance.category, GrievanceCosigner.at)
                                 .join(Grievance, Grievance.id == GrievanceCosigner.grievance_id)
                                 .where(GrievanceCosigner.member_id == member.id).order_by(GrievanceCosigner.at))
    return [{"code": code, "category": category, "at": at} for code, category, at in rows]


async def _revoke_roles(session: AsyncSession, member: Member, now: datetime) -> None:
    await session.execute(update(Officer).where(Officer.member_id == member.id, Officer.revoked_at.is_(None))
                          .values(revoked_at=now))
    await session.execute(update(Grievance).where(Grievance.holder_member_id == member.id,
                                                  Grievance.status.in_(OPEN_STATUSES))
                          .values(holder_member_id=None))


@section("officer_roles", "officers", erase=_revoke_roles)
async def _roles(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.execute(select(Officer, Unit.name).join(Unit, Unit.id == Officer.unit_id)
                                 .where(Officer.member_id == member.id).order_by(Officer.created_at))
    return [{"unit": name, "role": o.role, "since": o.created_at, "revoked_at": o.revoked_at} for o, name in rows]


async def _unlink_feedback(session: AsyncSession, member: Member, now: datetime) -> None:
    await session.execute(update(ContentFeedback).where(ContentFeedback.member_id == member.id)
                          .values(member_id=None))


@section("content_feedback", "content_feedback", erase=_unlink_feedback)
async def _feedback(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.scalars(select(ContentFeedback).where(ContentFeedback.member_id == member.id)
                                 .order_by(ContentFeedback.at))
    return [{"kind": f.item_kind, "item": f.item_slug, "context": f.context, "helped": f.helped, "at": f.at}
            for f in rows]


@section("points", "points")
async def _points(session: AsyncSession, member: Member) -> dict[str, Any]:
    rows = list(await session.scalars(select(Point).where(Point.member_id == member.id).order_by(Point.at)))
    return {"total": sum(p.amount for p in rows),
            "awards": [{"reason": p.reason, "amount": p.amount, "at": p.at} for p in rows]}


async def _drop_optin(session: AsyncSession, member: Member, now: datetime) -> None:
    await session.execute(delete(LeaderboardOptIn).where(LeaderboardOptIn.member_id == member.id))


@section("leaderboard_name_shown", "leaderboard_optins", erase=_drop_optin)
async def _optin(session: AsyncSession, member: Member) -> Any:
    optin = await session.get(LeaderboardOptIn, member.id)
    return optin.at if optin else None


@section("contests", "contest_attempts", "contest_answers", "contest_results")
async def _contests(session: AsyncSession, member: Member) -> dict[str, Any]:
    attempts = []
    rows = await session.execute(
        select(ContestAttempt, ContestRound.number, Contest.slug)
        .join(ContestRound, ContestRound.id == ContestAttempt.round_id)
        .join(Contest, Contest.id == ContestRound.contest_id)
        .where(ContestAttempt.member_id == member.id).order_by(ContestAttempt.started_at))
    for attempt, round_number, slug in rows:
        answers = await session.scalars(select(ContestAnswer).where(ContestAnswer.attempt_id == attempt.id)
                                        .order_by(ContestAnswer.position))
        attempts.append({
            "contest": slug, "round": round_number, "attempt": attempt.number, "started_at": attempt.started_at,
            "submitted_at": attempt.submitted_at, "score": attempt.score, "prediction": attempt.prediction,
            "answers": [{"question": a.position, "chosen": a.chosen, "correct": a.correct, "late": a.late,
                         "at": a.answered_at} for a in answers]})
    results = await session.execute(
        select(ContestResult, ContestRound.number, Contest.slug)
        .join(ContestRound, ContestRound.id == ContestResult.round_id)
        .join(Contest, Contest.id == ContestRound.contest_id).where(ContestResult.member_id == member.id))
    return {"attempts": attempts,
            "results": [{"contest": slug, "round": number, "rank": r.rank, "score": r.score}
                        for r, number, slug in results]}


@section("join_requests", "join_requests")
async def _joins(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.scalars(select(JoinRequest).where(JoinRequest.member_id == member.id))
    return [{"status": j.status, "created_at": j.created_at, "closed_at": j.closed_at} for j in rows]


async def _erase_ideas(session: AsyncSession, member: Member, now: datetime) -> None:
    marker = erased_text()
    for idea in await session.scalars(select(Idea).where(Idea.member_id == member.id)):
        idea.title, idea.text, idea.file_id = marker[:120], marker, None
        await session.execute(update(IdeaMessage).where(IdeaMessage.idea_id == idea.id).values(text=marker))


@section("ideas", "ideas", "idea_messages", erase=_erase_ideas)
async def _ideas(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    ideas = []
    for idea in await session.scalars(select(Idea).where(Idea.member_id == member.id).order_by(Idea.created_at)):
        messages = await session.scalars(select(IdeaMessage).where(IdeaMessage.idea_id == idea.id)
                                         .order_by(IdeaMessage.at))
        ideas.append({"code": idea.code, "title": idea.title, "text": idea.text, "identity": idea.identity,
                      "status": idea.status, "created_at": idea.created_at,
                      "messages": [{"at": m.at, "from_you": m.from_worker, "text": m.text} for m in messages]})
    return ideas


async def _erase_nominations(session: AsyncSession, member: Member, now: datetime) -> None:
    marker = erased_text()
    await session.execute(update(ExampleNomination).where(ExampleNomination.member_id == member.id)
                          .values(nominee=marker[:120], story=marker, photo_file_id=None))


@section("nominations", "example_nominations", erase=_erase_nominations)
async def _nominations(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.scalars(select(ExampleNomination).where(ExampleNomination.member_id == member.id))
    return [{"nominee_kind": n.nominee_kind, "nominee": n.nominee, "story": n.story, "status": n.status,
             "created_at": n.created_at} for n in rows]


async def _erase_comments(session: AsyncSession, member: Member, now: datetime) -> None:
    await session.execute(update(ConsultationComment).where(ConsultationComment.member_id == member.id)
                          .values(text=erased_text()))


@section("consultation_comments", "consultation_comments", erase=_erase_comments)
async def _comments(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.execute(select(ConsultationComment, Consultation.title)
                                 .join(Consultation, Consultation.id == ConsultationComment.consultation_id)
                                 .where(ConsultationComment.member_id == member.id))
    return [{"consultation": title, "identity": c.identity, "text": c.text, "at": c.created_at}
            for c, title in rows]


@section("erasures", "data_erasures")
async def _erasures(session: AsyncSession, member: Member) -> list[dict[str, Any]]:
    rows = await session.scalars(select(DataErasure).where(DataErasure.member_id == member.id))
    return [{"reason": e.reason, "at": e.at} for e in rows]


@section("drafts")
async def _drafts(session: AsyncSession, member: Member) -> Any:
    """What a conversation keeps between steps (e.g. an unfinished report), stored by Telegram id."""
    if member.telegram_id is None:
        return None
    stored = await session.get(StoredUserData, member.telegram_id)
    return stored.data if stored else None


# ----- erasure -----

@dataclass
class Forgotten:
    withdrawn: list[Grievance] = field(default_factory=list)  # cases that were open: tell their officers


def _close_withdrawn(session: AsyncSession, grievance: Grievance, member: Member, now: datetime) -> None:
    grievance.status, grievance.closed_at, grievance.holder_member_id = CaseStatus.CLOSED, now, None
    grievance.updated_at = now
    session.add(GrievanceEvent(grievance_id=grievance.id, at=now, actor=audit.member_actor(member.id),
                               action="withdrawn", from_unit_id=grievance.unit_id))


async def forget(session: AsyncSession, member: Member, now: datetime) -> Forgotten:
    """Erase the member's personal data in one transaction (see the module docstring); open cases are
    closed as withdrawn. The caller tells the officers after the commit."""
    open_ids = set(await session.scalars(select(Grievance.id).where(Grievance.member_id == member.id,
                                                                      Grievance.status.in_(STILL_OPEN))))
    telegram_id = member.telegram_id
    covered: set[str] = set()
    for item in SECTIONS:
        covered |= set(item.tables)
        if item.erase is not None and item.name != "profile":
            await item.erase(session, member, now)
    await _erase_other_tables(session, member, covered)
    if telegram_id is not None:
        await session.execute(delete(StoredUserData).where(StoredUserData.user_id == telegram_id))
    await _erase_profile(session, member, now)  # last: the sections above still needed the Telegram id
    session.add(DataErasure(member_id=member.id, reason=FORGETME, at=now))
    audit.record(session, audit.member_actor(member.id), "member.erased", f"member:{member.id}",
                 cases_withdrawn=len(open_ids))
    await session.commit()
    withdrawn = [await session.get_one(Grievance, gid) for gid in sorted(open_ids)]
    return Forgotten(withdrawn)


async def _erase_other_tables(session: AsyncSession, member: Member, covered: set[str]) -> None:
    """Tables no section claims follow their own foreign key (see the module docstring)."""
    for table in _member_tables():
        if table.name in covered:
            continue
        where = table.c.member_id == member.id
        fk = next(iter(table.c.member_id.foreign_keys), None)
        ondelete = (fk.ondelete or "").upper() if fk else ""
        if ondelete == "CASCADE":
            await session.execute(delete(table).where(where))
            continue
        values: dict[str, Any] = {c.name: erased_text() for c in table.c
                                  if c.type.__class__.__name__ == "Text" and c.name != "member_id"}
        if ondelete == "SET NULL":
            values["member_id"] = None
        if values:
            await session.execute(update(table).where(where).values(**values))


async def scrub_case(session: AsyncSession, grievance: Grievance, reason: str, now: datetime,
                     member_id: int | None = None, unlink: bool = False) -> None:
    """Replace a case's free text (the worker's, the union's replies, internal notes) by the marker and
    drop attachments' file ids; the row keeps category, dates, units, status. `unlink` also cuts every
    link to the people who raised or joined it (retention: they may still be members)."""
    marker = erased_text()
    if grievance.text is not None:
        grievance.text = marker
    grievance.draft_token = None  # the worker's conversation data may keep it: it would link them to the case
    await session.execute(update(GrievanceMessage).where(GrievanceMessage.grievance_id == grievance.id,
                                                         GrievanceMessage.text.is_not(None)).values(text=marker))
    await session.execute(update(GrievanceMessage).where(GrievanceMessage.grievance_id == grievance.id)
                          .values(file_id=None))
    await session.execute(update(GrievanceEvent).where(GrievanceEvent.grievance_id == grievance.id,
                                                       GrievanceEvent.note.is_not(None),
                                                       GrievanceEvent.action == "note").values(note=marker))
    if unlink:
        await _unlink_people(session, grievance)
    if await session.scalar(select(DataErasure.id).where(DataErasure.grievance_id == grievance.id)) is None:
        session.add(DataErasure(grievance_id=grievance.id, member_id=member_id, reason=reason, at=now))


async def _unlink_people(session: AsyncSession, grievance: Grievance) -> None:
    cosigners = list(await session.scalars(select(GrievanceCosigner.member_id)
                                           .where(GrievanceCosigner.grievance_id == grievance.id)))
    people = {audit.member_actor(m): "cosigner" for m in cosigners}
    if grievance.member_id is not None:
        people[audit.member_actor(grievance.member_id)] = "worker"
        await session.execute(update(GrievanceMessage).where(GrievanceMessage.grievance_id == grievance.id,
                                                             GrievanceMessage.author_member_id == grievance.member_id)
                              .values(author_member_id=None))
    for actor, anonymous in people.items():
        await session.execute(update(GrievanceEvent).where(GrievanceEvent.grievance_id == grievance.id,
                                                           GrievanceEvent.actor == actor).values(actor=anonymous))
    await session.execute(delete(GrievanceCosigner).where(GrievanceCosigner.grievance_id == grievance.id))
    grievance.member_id = None


# ----- retention -----

async def expired_case_ids(session: AsyncSession, now: datetime, retention_days: int) -> list[int]:
    """Cases closed more than `retention_days` ago whose personal data is still there."""
    erased = select(DataErasure.grievance_id).where(DataErasure.grievance_id.is_not(None))
    rows = await session.scalars(select(Grievance.id).where(
        Grievance.status == CaseStatus.CLOSED, Grievance.closed_at < now - timedelta(days=retention_days),
        Grievance.id.not_in(erased)).order_by(Grievance.id))
    return list(rows)


async def erase_expired_case(session: AsyncSession, grievance_id: int, now: datetime, retention_days: int) -> bool:
    """Erase one expired case (re-checked: another process may have done it); commits."""
    grievance = await session.get(Grievance, grievance_id)
    if grievance is None or grievance.status != CaseStatus.CLOSED or grievance.closed_at is None \
            or grievance.closed_at >= now - timedelta(days=retention_days):
        return False
    if await session.scalar(select(DataErasure.id).where(DataErasure.grievance_id == grievance_id)) is not None:
        return False
    await scrub_case(session, grievance, RETENTION, now, unlink=True)
    audit.record(session, "system", "case.retention_erased", f"case:{grievance.code}")
    await session.commit()
    return True

