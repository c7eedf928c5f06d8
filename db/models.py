"""Typed SQLAlchemy models. Each schema change comes with an Alembic migration in db/migrations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def _enum(enum_cls: type[enum.Enum]) -> Enum:
    return Enum(enum_cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    ERASED = "erased"


class UnionStatus(enum.StrEnum):
    MEMBER = "member"
    NOT_YET = "not_yet"


class OfficerRole(enum.StrEnum):
    OFFICER = "officer"
    UNIT_ADMIN = "unit_admin"


class Unit(Base):
    """A union organisation: level 1 VGCL, 2 provincial/sector, 3 upper-level (commune/ward, IP), 4 grassroots."""

    __tablename__ = "units"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 4", name="level_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    province_code: Mapped[int | None] = mapped_column(Integer, index=True)
    sector: Mapped[str | None] = mapped_column(String(32))
    unit_type: Mapped[str | None] = mapped_column(String(16))
    inbox_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    inbox_is_forum: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id", lazy="raise")


class Workplace(Base):
    __tablename__ = "workplaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    search_key: Mapped[str] = mapped_column(String(255), index=True)
    province_code: Mapped[int] = mapped_column(Integer, index=True)
    grassroots_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    grassroots_unit: Mapped[Unit | None] = relationship(lazy="raise")


class Member(Base):
    """A Telegram user who talked to the bot. Personal fields are nulled when the member is erased."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2), default="vi")
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consented_at: Mapped[datetime | None]
    province_code: Mapped[int | None] = mapped_column(Integer, index=True)
    sector: Mapped[str | None] = mapped_column(String(32))
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"), index=True)
    workplace_other_name: Mapped[str | None] = mapped_column(String(255))
    workplace_other_province_code: Mapped[int | None] = mapped_column(Integer)
    union_status: Mapped[UnionStatus | None] = mapped_column(_enum(UnionStatus))
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus), default=MemberStatus.ACTIVE)
    onboarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    workplace: Mapped[Workplace | None] = relationship(lazy="raise")

    @property
    def has_consent(self) -> bool:
        return self.consent_version is not None


class Consent(Base):
    """Every consent decision, versioned: granting, declining and withdrawing are all kept."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(2))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Admin(Base):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(64))


class Officer(Base):
    __tablename__ = "officers"
    __table_args__ = (
        Index("ix_officers_member_unit_active", "member_id", "unit_id", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[OfficerRole] = mapped_column(_enum(OfficerRole), default=OfficerRole.OFFICER)
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("officer_invites.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    unit: Mapped[Unit] = relationship(lazy="raise")


class OfficerInvite(Base):
    """A single-use, expiring, revocable deep link that makes its redeemer an officer of a unit."""

    __tablename__ = "officer_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(48), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[OfficerRole] = mapped_column(_enum(OfficerRole), default=OfficerRole.OFFICER)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    revoked_at: Mapped[datetime | None]

    unit: Mapped[Unit] = relationship(lazy="raise")


class AuditLog(Base):
    """Who did what to which record. Ids and codes only, never message text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]


class ConversationState(Base):
    """PTB ConversationHandler state: one row per (handler name, conversation key)."""

    __tablename__ = "ptb_conversations"
    __table_args__ = (UniqueConstraint("name", "conv_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    conv_key: Mapped[str] = mapped_column(String(128))
    state: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StoredUserData(Base):
    """PTB user_data: small per-user drafts (e.g. an onboarding step's page), one row per user."""

    __tablename__ = "ptb_user_data"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StoredChatData(Base):
    __tablename__ = "ptb_chat_data"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CaseStatus(enum.StrEnum):
    OPEN = "open"  # received, waiting for the handling unit to acknowledge
    ACKNOWLEDGED = "acknowledged"  # an officer claimed it
    WAITING_WORKER = "waiting_worker"  # the union asked the worker for information
    RESOLVED = "resolved"  # an officer resolved it; the worker is asked whether it was
    CLOSED = "closed"  # the worker confirmed, or 7 days passed without an answer


class Grievance(Base):
    """A worker's concern. Anonymity is kept by what officer-visible messages show, never by losing the
    member link: the union's replies must still reach the worker."""

    __tablename__ = "grievances"
    # One case per draft: a Send pressed again (after a crash, or twice) finds the case already stored. A
    # unique index rather than a constraint: SQLite adds it without rebuilding the table.
    __table_args__ = (Index("uq_grievances_member_draft", "member_id", "draft_token", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    draft_token: Mapped[str | None] = mapped_column(String(32))  # random, made when the intake draft starts
    category: Mapped[str] = mapped_column(String(32), index=True)
    scope: Mapped[str] = mapped_column(String(16), default="individual")
    group_size: Mapped[int | None] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    identity: Mapped[str] = mapped_column(String(16), default="named")
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="vi")
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"), index=True)
    workplace_other_name: Mapped[str | None] = mapped_column(String(255))
    province_code: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.OPEN, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)  # None: the admins hold it
    holder_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    collective: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(index=True)
    resolve_due_at: Mapped[datetime | None] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(8))  # yes | partly | no, the worker's answer
    rating: Mapped[int | None] = mapped_column(Integer)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    # The deadline a reminder was sent for (see bot/services/sla_watch.py): a case that moves gets new
    # deadlines, so it is reminded again without anyone resetting these.
    acknowledge_reminded_for: Mapped[datetime | None]
    resolve_reminded_for: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GrievanceEvent(Base):
    """The audit trail of a case: every action, who did it, from and to which unit."""

    __tablename__ = "grievance_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    grievance_id: Mapped[int] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    note: Mapped[str | None] = mapped_column(Text)  # internal notes: never sent to the worker


class GrievanceMessage(Base):
    """The thread both ways: the worker's words and files, and the union's replies."""

    __tablename__ = "grievance_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    grievance_id: Mapped[int] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_worker: Mapped[bool] = mapped_column(Boolean)
    author_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(255))
    file_kind: Mapped[str | None] = mapped_column(String(16))  # photo | document | voice
    file_size: Mapped[int | None] = mapped_column(Integer)


class GrievanceCosigner(Base):
    """A worker who added their voice ("me too") to a case at their workplace."""

    __tablename__ = "grievance_cosigners"
    __table_args__ = (UniqueConstraint("grievance_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grievance_id: Mapped[int] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseCard(Base):
    """Where a case's card stands in a unit inbox, so it can be edited in place as the case changes."""

    __tablename__ = "case_cards"
    __table_args__ = (UniqueConstraint("grievance_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grievance_id: Mapped[int] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)


class CaseCounter(Base):
    """The last case number given in a month, for codes like PA-2611-0042."""

    __tablename__ = "case_counters"

    month: Mapped[str] = mapped_column(String(4), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ContentFeedback(Base):
    """Whether an article or a FAQ answer helped, e.g. the answers offered before a grievance is sent."""

    __tablename__ = "content_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    item_kind: Mapped[str] = mapped_column(String(16))  # faq | article
    item_slug: Mapped[str] = mapped_column(String(64), index=True)
    context: Mapped[str] = mapped_column(String(16))  # intake | search | library
    helped: Mapped[bool | None] = mapped_column(Boolean)  # None: shown, no answer yet
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Point(Base):
    """Emulation points for taking part: one row per award (a finished practice quiz, a contest attempt, …).
    `ref` names what earned it (e.g. "attempt:12"), so the same thing is never counted twice."""

    __tablename__ = "points"
    __table_args__ = (UniqueConstraint("member_id", "reason", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LeaderboardOptIn(Base):
    """A member who chose to show their name on contest leaderboards (others appear by an alias)."""

    __tablename__ = "leaderboard_optins"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Contest(Base):
    """A "cuộc thi tìm hiểu" loaded from content/contests/<slug>.yaml. The question pool is copied in, so
    attempts keep their questions whatever happens to the content files later."""

    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    title: Mapped[dict[str, Any]]
    tiebreak: Mapped[dict[str, Any]]
    pool: Mapped[list[Any]] = mapped_column(JSON)
    questions_per_attempt: Mapped[int] = mapped_column(Integer)
    time_limit_minutes: Mapped[int] = mapped_column(Integer, default=20)
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContestRound(Base):
    __tablename__ = "contest_rounds"
    __table_args__ = (UniqueConstraint("contest_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column(index=True)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    all_correct: Mapped[int | None] = mapped_column(Integer)  # entrants with every answer right, at closing

    contest: Mapped[Contest] = relationship(lazy="raise")


class ContestAttempt(Base):
    """One try at a round: the questions drawn for it (by a stored seed), its deadline, and the tiebreak
    prediction. Submitted when the prediction is given, or at the deadline without one."""

    __tablename__ = "contest_attempts"
    __table_args__ = (UniqueConstraint("round_id", "member_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("contest_rounds.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    questions: Mapped[list[Any]] = mapped_column(JSON)  # indices into the contest's pool
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    prediction: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)


class ContestAnswer(Base):
    """One answer per question of an attempt (the unique key makes a second answer impossible)."""

    __tablename__ = "contest_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("contest_attempts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    chosen: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool] = mapped_column(Boolean)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # after the deadline: kept, never counted
    answered_at: Mapped[datetime]


class ContestResult(Base):
    """A member's place in a closed round, from their best attempt; notified_at once they were told."""

    __tablename__ = "contest_results"
    __table_args__ = (UniqueConstraint("round_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("contest_rounds.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("contest_attempts.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    notified_at: Mapped[datetime | None]


# ----- engagement (issue 4): joining the union, ideas, good examples, consultations -----

class EngagementCard(Base):
    """A card in a unit's inbox (or an admin's private chat) for a join request, an idea, a nomination or a
    consultation comment, so it can be edited in place and a press on it checked against what it shows."""

    __tablename__ = "engagement_cards"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"), Index("ix_engagement_cards_item", "kind", "item_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # join | idea | example | comment
    item_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # None: an admin's private chat
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)


class JoinStatus(enum.StrEnum):
    OPEN = "open"
    CONTACTED = "contacted"
    JOINED = "joined"
    NOT_NOW = "not_now"


class JoinRequest(Base):
    """A worker who is not a member asks to join. They agreed (consented_at) to share their name and contact
    with the unit that receives the request, for this purpose only."""

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)  # None: the admins have it
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"))
    status: Mapped[JoinStatus] = mapped_column(_enum(JoinStatus), default=JoinStatus.OPEN, index=True)
    consented_at: Mapped[datetime]
    handled_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    contacted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdeaStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"


class Idea(Base):
    """An idea or initiative (sáng kiến) for a workplace or the union. Like a grievance, anonymity is kept by
    what officer-visible messages show; the member link stays so the union's answers reach the author."""

    __tablename__ = "ideas"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)  # None: the admins have it
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"))
    province_code: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(255))
    file_kind: Mapped[str | None] = mapped_column(String(16))  # photo | document
    identity: Mapped[str] = mapped_column(String(16), default="named")  # named | anonymous
    language: Mapped[str] = mapped_column(String(2), default="vi")
    status: Mapped[IdeaStatus] = mapped_column(_enum(IdeaStatus), default=IdeaStatus.OPEN, index=True)
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def code(self) -> str:
        return f"SK-{self.id:04d}"


class IdeaMessage(Base):
    """The union's replies about an idea (relayed in the unit's name), kept with the idea."""

    __tablename__ = "idea_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_worker: Mapped[bool] = mapped_column(Boolean)
    author_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)


class NominationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ExampleNomination(Base):
    """A good example (nêu gương) nominated by a member: a person or a team and their story. The nominator
    confirmed that the nominee agreed to be published; approved stories appear in the library."""

    __tablename__ = "example_nominations"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)  # None: the admins have it
    nominee_kind: Mapped[str] = mapped_column(String(8))  # person | team
    nominee: Mapped[str] = mapped_column(String(120))
    story: Mapped[str] = mapped_column(Text)
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default="vi")
    consent_confirmed_at: Mapped[datetime]
    status: Mapped[NominationStatus] = mapped_column(_enum(NominationStatus), default=NominationStatus.PENDING,
                                                     index=True)
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consultation(Base):
    """A consultation (góp ý) on a draft law or policy, opened by an admin from a YAML file: who may comment
    (everyone, a province, or a unit's subtree), until when, and which unit receives the comments."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text)
    document_url: Mapped[str | None] = mapped_column(String(500))
    deadline: Mapped[datetime] = mapped_column(index=True)
    audience: Mapped[str] = mapped_column(String(16))  # all | province | unit
    audience_province: Mapped[int | None] = mapped_column(Integer)
    audience_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConsultationComment(Base):
    """A member's comment on a consultation. For an anonymous one the member link is kept (as for grievances)
    but never shown to officers nor exported."""

    __tablename__ = "consultation_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    identity: Mapped[str] = mapped_column(String(16), default="named")  # named | anonymous
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="vi")
    province_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ----- surveys (issue 5) -----

class Survey(Base):
    """A survey from content/surveys/<slug>.yaml (or loaded by an admin). The questions are copied in, so
    responses keep their meaning whatever happens to the file later. Open while opens_at <= now < closes_at
    and closed_at is unset; closed_at is set once, when the close job ran (then the summary goes out)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    title: Mapped[dict[str, Any]]
    intro: Mapped[dict[str, Any]]
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    questions: Mapped[list[Any]] = mapped_column(JSON)
    opens_at: Mapped[datetime] = mapped_column(index=True)
    closes_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    loaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SurveyProgress(Base):
    """A member's answers so far, one question at a time, so a restart loses nothing. Deleted in the same
    transaction that stores the finished response (for an anonymous survey the link ends there)."""

    __tablename__ = "survey_progress"
    __table_args__ = (UniqueConstraint("survey_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    current: Mapped[str | None] = mapped_column(String(16))  # the question awaiting an answer
    answers: Mapped[dict[str, Any]]
    selected: Mapped[list[Any]] = mapped_column(JSON)  # toggled options of the current multiple-choice question
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SurveyParticipation(Base):
    """That a member answered a survey (never what): one per member and survey, which is what prevents a
    second response, and who gets the summary after closing. For anonymous surveys `at` is only the day."""

    __tablename__ = "survey_participations"
    __table_args__ = (UniqueConstraint("survey_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    summary_sent_at: Mapped[datetime | None]


class SurveyResponse(Base):
    """One finished response. Anonymous surveys: no member, no time, and a random id (so neither a column nor
    the insertion order ties it to a participation row); the province, sector and grassroots unit at answering
    time are kept for results per group."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    province_code: Mapped[int | None] = mapped_column(Integer)
    sector: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(2), default="vi")
    answers: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime | None]


# ----- data-protection rights, limits and muting (issue 7) -----

class DataErasure(Base):
    """A record that personal data was erased: a member's (/forgetme) or a case's (/forgetme, retention).
    Holds ids and the reason only; it is the proof of erasure and keeps the retention job from redoing it."""

    __tablename__ = "data_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    grievance_id: Mapped[int | None] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(String(16))  # forgetme | retention
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberMute(Base):
    """An account an admin muted for abuse: its updates get one short answer and nothing else. Keyed by the
    Telegram id, so erasing the member (/forgetme) does not lift it."""

    __tablename__ = "member_mutes"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    muted_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


# ----- weekly digest (issue 7) -----

class DigestLog(Base):
    """The weekly digest of a unit's inbox: one row per unit and week (its Monday, local date), written
    before the digest is sent, so a restart neither repeats nor skips a week; sent_at once it went out."""

    __tablename__ = "digest_log"
    __table_args__ = (UniqueConstraint("unit_id", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    week: Mapped[str] = mapped_column(String(10))  # ISO date of the week's Monday, e.g. 2026-11-23
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


# ----- broadcasts (issue 5): composer, schedules, per-recipient deliveries, topic opt-outs -----

class TopicOptOut(Base):
    """A member who does not want broadcasts of a topic (news | quizzes | surveys)."""

    __tablename__ = "topic_optouts"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    topic: Mapped[str] = mapped_column(String(16), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    """A message composed once and sent now, at a date and time, or on a recurrence. `content`, `audience`
    and `schedule` are small JSON documents (see bot/services/broadcasts.py); next_run_at is the next time
    a run starts, already moved out of the quiet hours."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    composer_chat_id: Mapped[int] = mapped_column(BigInteger)
    composer_language: Mapped[str] = mapped_column(String(2), default="vi")
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # None: an admin's broadcast
    topic: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]]
    audience: Mapped[dict[str, Any]]
    schedule: Mapped[dict[str, Any]]
    quiet_start: Mapped[int] = mapped_column(Integer, default=21 * 60)  # minutes after local midnight
    quiet_end: Mapped[int] = mapped_column(Integer, default=7 * 60)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active|paused|cancelled|finished
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BroadcastRun(Base):
    """One sending of a broadcast (a recurring one has one per occurrence) and its audience snapshot."""

    __tablename__ = "broadcast_runs"
    __table_args__ = (UniqueConstraint("broadcast_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime]
    not_before: Mapped[datetime | None]  # deferred past the quiet hours
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)  # running|done|cancelled
    total: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)


class BroadcastDelivery(Base):
    """One recipient of a run: pending, then sent | blocked | failed | skipped (opted out or erased since)."""

    __tablename__ = "broadcast_deliveries"
    # (run_id, status, id): the sender reads a run's pending rows in id order, page after page.
    __table_args__ = (UniqueConstraint("run_id", "member_id"), Index("ix_broadcast_deliveries_run_status",
                                                                     "run_id", "status", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("broadcast_runs.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8), default="pending")
    at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(32))
