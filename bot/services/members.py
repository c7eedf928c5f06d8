"""Members: who they are, their consent, and their profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from db.models import Consent, Member, MemberStatus, Officer, UnionStatus, Workplace
from db.types import utcnow

# Bump when the privacy notice (catalog key consent.notice) changes in substance: members are asked again.
CONSENT_VERSION = "2026.1"
# last_seen_at is for "active in the last N days" audiences; an hour's precision saves a write per update.
_LAST_SEEN_PRECISION = timedelta(hours=1)
NAME_LIMIT = 255


@dataclass(frozen=True)
class TelegramIdentity:
    """What Telegram tells us about a user, without importing telegram here."""

    telegram_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    language_code: str | None


async def find_member(session: AsyncSession, telegram_id: int) -> Member | None:
    return await session.scalar(select(Member).where(Member.telegram_id == telegram_id))


async def get_or_create_member(session: AsyncSession, who: TelegramIdentity, language: str) -> Member:
    """The member for this Telegram user, created on first contact; names kept current."""
    member = await find_member(session, who.telegram_id)
    now = utcnow()
    if member is None:
        member = Member(telegram_id=who.telegram_id, language=language, last_seen_at=now)
        session.add(member)
        await session.commit()
        return member
    changed = _copy_names(member, who) if member.has_consent or await _is_officer(session, member) else False
    if member.status == MemberStatus.BLOCKED:
        member.status = MemberStatus.ACTIVE  # they wrote to us again, so they unblocked the bot
        changed = True
    if now - member.last_seen_at > _LAST_SEEN_PRECISION:
        member.last_seen_at = now
        changed = True
    if changed:
        await session.commit()
    return member


async def _is_officer(session: AsyncSession, member: Member) -> bool:
    return await session.scalar(select(Officer.id).where(Officer.member_id == member.id,
                                                         Officer.revoked_at.is_(None)).limit(1)) is not None


def _copy_names(member: Member, who: TelegramIdentity) -> bool:
    values = {
        "first_name": _clip(who.first_name),
        "last_name": _clip(who.last_name),
        "username": _clip(who.username, 64),
    }
    changed = False
    for field, value in values.items():
        if getattr(member, field) != value:
            setattr(member, field, value)
            changed = True
    return changed


def _clip(value: str | None, limit: int = NAME_LIMIT) -> str | None:
    return value[:limit] if value else None


async def set_language(session: AsyncSession, member: Member, language: str) -> None:
    member.language = language
    await session.commit()


async def record_consent(session: AsyncSession, member: Member, granted: bool, who: TelegramIdentity) -> None:
    """Store the decision as a new versioned row; the member's current consent follows it.

    Names and username are kept only while consent stands; declining or withdrawing clears them.
    """
    now = utcnow()
    session.add(Consent(member_id=member.id, version=CONSENT_VERSION, granted=granted,
                        language=member.language, at=now))
    member.consent_version = CONSENT_VERSION if granted else None
    member.consented_at = now if granted else None
    if granted:
        _copy_names(member, who)
    else:
        member.first_name = member.last_name = member.username = member.phone = None
    audit.record(session, audit.member_actor(member.id), "consent.granted" if granted else "consent.declined",
                 version=CONSENT_VERSION)
    await session.commit()


async def keep_names_for_role(session: AsyncSession, member: Member, who: TelegramIdentity) -> None:
    """An officer's name is kept for the role they accepted (colleagues see who holds a case)."""
    if _copy_names(member, who):
        await session.commit()


def needs_consent(member: Member) -> bool:
    return member.consent_version != CONSENT_VERSION


async def set_province(session: AsyncSession, member: Member, province_code: int) -> None:
    member.province_code = province_code
    await session.commit()


async def set_sector(session: AsyncSession, member: Member, sector_code: str) -> None:
    member.sector = sector_code
    await session.commit()


async def set_workplace(session: AsyncSession, member: Member, workplace: Workplace) -> None:
    member.workplace_id = workplace.id
    member.workplace_other_name = None
    member.workplace_other_province_code = None
    await session.commit()


async def set_unlisted_workplace(session: AsyncSession, member: Member, name: str, province_code: int) -> None:
    member.workplace_id = None
    member.workplace_other_name = name
    member.workplace_other_province_code = province_code
    await session.commit()


async def set_union_status(session: AsyncSession, member: Member, status: UnionStatus) -> None:
    member.union_status = status
    await session.commit()


async def finish_onboarding(session: AsyncSession, member: Member) -> None:
    if member.onboarded_at is None:
        member.onboarded_at = utcnow()
        audit.record(session, audit.member_actor(member.id), "member.onboarded")
        await session.commit()


async def load_workplace(session: AsyncSession, member: Member) -> Workplace | None:
    if member.workplace_id is None:
        return None
    return await session.get(Workplace, member.workplace_id)


async def mark_blocked(session: AsyncSession, telegram_id: int) -> None:
    """Telegram said 403 for this user: stop sending to them until they write again."""
    member = await find_member(session, telegram_id)
    if member is not None and member.status == MemberStatus.ACTIVE:
        member.status = MemberStatus.BLOCKED
        await session.commit()
