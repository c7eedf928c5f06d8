"""Officers and their invites: single-use, expiring, revocable deep links bound to a unit."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from db.models import Admin, Member, Officer, OfficerInvite, OfficerRole, Unit
from db.types import utcnow

INVITE_PREFIX = "officer-"
DEFAULT_INVITE_TTL = timedelta(days=7)


class InviteProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class InviteRejected(Exception):
    def __init__(self, problem: InviteProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class Redeemed:
    unit: Unit
    role: OfficerRole
    already_officer: bool


async def create_invite(session: AsyncSession, unit: Unit, created_by: str,
                        role: OfficerRole = OfficerRole.OFFICER,
                        ttl: timedelta = DEFAULT_INVITE_TTL) -> OfficerInvite:
    # 16 random bytes → 22 url-safe characters; the whole payload stays within Telegram's 64.
    invite = OfficerInvite(token=secrets.token_urlsafe(16), unit_id=unit.id, role=role, created_by=created_by,
                           expires_at=utcnow() + ttl)
    session.add(invite)
    await session.flush()
    audit.record(session, created_by, "invite.created", f"invite:{invite.id}", unit=unit.code, role=role.value)
    await session.commit()
    return invite


def invite_payload(invite: OfficerInvite) -> str:
    return INVITE_PREFIX + invite.token


def deep_link(bot_username: str, invite: OfficerInvite) -> str:
    return f"https://t.me/{bot_username}?start={invite_payload(invite)}"


async def redeem_invite(session: AsyncSession, token: str, member: Member) -> Redeemed:
    """Bind the member to the invite's unit. Raises InviteRejected; never half-applies."""
    invite = await session.scalar(select(OfficerInvite).where(OfficerInvite.token == token))
    if invite is None:
        raise InviteRejected(InviteProblem.UNKNOWN)
    if invite.revoked_at is not None:
        raise InviteRejected(InviteProblem.REVOKED)
    if invite.used_at is not None:
        raise InviteRejected(InviteProblem.USED)
    if invite.expires_at <= utcnow():
        raise InviteRejected(InviteProblem.EXPIRED)
    unit = await session.get_one(Unit, invite.unit_id)
    if not await _claim(session, invite, member):
        raise InviteRejected(InviteProblem.USED)
    existing = await active_officer(session, member.id, unit.id)
    if existing is None:
        session.add(Officer(member_id=member.id, unit_id=unit.id, role=invite.role, invite_id=invite.id))
    elif invite.role == OfficerRole.UNIT_ADMIN:
        existing.role = OfficerRole.UNIT_ADMIN
    audit.record(session, audit.member_actor(member.id), "invite.redeemed", f"invite:{invite.id}",
                 unit=unit.code)
    await session.commit()
    return Redeemed(unit=unit, role=invite.role, already_officer=existing is not None)


async def _claim(session: AsyncSession, invite: OfficerInvite, member: Member) -> bool:
    """Mark the invite used in one conditional UPDATE, so two people racing for it cannot both win."""
    result = await session.execute(
        update(OfficerInvite)
        .where(OfficerInvite.id == invite.id, OfficerInvite.used_at.is_(None), OfficerInvite.revoked_at.is_(None))
        .values(used_at=utcnow(), used_by_member_id=member.id)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


async def revoke_invite(session: AsyncSession, invite: OfficerInvite, actor: str) -> None:
    invite.revoked_at = utcnow()
    audit.record(session, actor, "invite.revoked", f"invite:{invite.id}")
    await session.commit()


async def active_officer(session: AsyncSession, member_id: int, unit_id: int) -> Officer | None:
    return await session.scalar(
        select(Officer).where(Officer.member_id == member_id, Officer.unit_id == unit_id,
                              Officer.revoked_at.is_(None))
    )


async def officer_units(session: AsyncSession, member_id: int) -> list[Unit]:
    rows = await session.scalars(
        select(Unit).join(Officer, Officer.unit_id == Unit.id)
        .where(Officer.member_id == member_id, Officer.revoked_at.is_(None)).order_by(Unit.level, Unit.code)
    )
    return list(rows)


async def is_admin(session: AsyncSession, telegram_id: int, configured_ids: list[int]) -> bool:
    if telegram_id in configured_ids:
        return True
    return await session.scalar(select(Admin.id).where(Admin.telegram_id == telegram_id)) is not None


async def add_admin(session: AsyncSession, telegram_id: int, added_by: str) -> bool:
    """Returns False when that user was already an admin."""
    if await session.scalar(select(Admin.id).where(Admin.telegram_id == telegram_id)) is not None:
        return False
    session.add(Admin(telegram_id=telegram_id, added_by=added_by))
    audit.record(session, added_by, "admin.added", f"telegram:{telegram_id}")
    await session.commit()
    return True


class InboxProblem(enum.StrEnum):
    NOT_OFFICER = "not_officer"
    TAKEN = "taken"  # the group already serves another unit


async def register_inbox(session: AsyncSession, unit: Unit, chat_id: int, is_forum: bool, member: Member) -> None:
    """Make a Telegram group the unit's inbox. Only an active officer of that unit may do it."""
    if await active_officer(session, member.id, unit.id) is None:
        raise InboxRejected(InboxProblem.NOT_OFFICER)
    other = await session.scalar(select(Unit).where(Unit.inbox_chat_id == chat_id, Unit.id != unit.id))
    if other is not None:
        raise InboxRejected(InboxProblem.TAKEN, other)
    unit.inbox_chat_id, unit.inbox_is_forum = chat_id, is_forum
    audit.record(session, audit.member_actor(member.id), "inbox.registered", f"unit:{unit.code}", chat=chat_id)
    await session.commit()


class InboxRejected(Exception):
    def __init__(self, problem: InboxProblem, unit: Unit | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.unit = unit


async def admin_telegram_ids(session: AsyncSession, configured_ids: list[int]) -> list[int]:
    """Everyone who is an admin: from ADMIN_IDS and from the admins table, in a stable order."""
    stored = await session.scalars(select(Admin.telegram_id))
    return sorted(set(configured_ids) | set(stored))
