"""The sandbox's cast: who the browser can act as, their chats with the bot, and their rows in the database.

Each persona is an emulator user (created in a fixed order, so ids are the same on every start) and, for
everyone but the newcomer, a member who has finished onboarding. Officers hold their unit directly
(an `officers` row, as a redeemed invite leaves it) and their unit's group is registered as its inbox with
`bot.services.officers.register_inbox`, the service `/inbox` uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import officers, units
from bot.services.members import CONSENT_VERSION
from db.models import Member, Officer, OfficerRole, UnionStatus, Workplace
from sandbox.emulator import BotApiEmulator, EmulatorChat, EmulatorUser


@dataclass(frozen=True)
class Persona:
    key: str
    first_name: str
    last_name: str | None
    username: str | None
    short: dict[str, str]  # the persona switcher's label, per language
    role: dict[str, str]  # what the page shows under the name, per language
    workplace: str | None = None  # workplace code; None: not onboarded (the newcomer)
    sector: str | None = None
    province: int | None = None
    officer_of: str | None = None  # unit code
    admin: bool = False


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    members: tuple[str, ...]  # persona keys, the first one creates the group
    inbox_of: str  # unit code; registered by the first member, who must be its officer


PERSONAS = (
    Persona("worker", "Lan", "Nguyễn Thị", "lan_maysh",
            {"vi": "công nhân may, có CĐCS", "en": "garment worker, has a union"},
            {"vi": "Công nhân may · Công ty May Sông Hồng (có công đoàn cơ sở)",
             "en": "Garment worker · Song Hong Garment (has a grassroots union)"},
            workplace="WP-MAYSH", sector="garment", province=1),
    Persona("newcomer", "Minh", "Lê Văn", None,
            {"vi": "công nhân, chưa có công đoàn", "en": "worker, no union yet"},
            {"vi": "Thợ làm bánh · Xưởng bánh mì Hương Việt (chưa có công đoàn), chưa bắt đầu",
             "en": "Baker · Huong Viet bakery (no union yet), has not started"}),
    Persona("grassroots", "Hùng", "Trần Văn", "hung_cdcs",
            {"vi": "cán bộ CĐCS May Sông Hồng", "en": "grassroots union officer"},
            {"vi": "Cán bộ CĐCS Công ty May Sông Hồng (CDCS-MAYSH)",
             "en": "Officer, grassroots union of Song Hong Garment (CDCS-MAYSH)"},
            workplace="WP-MAYSH", sector="garment", province=1, officer_of="CDCS-MAYSH"),
    Persona("park", "Mai", "Phạm Thị", "mai_kcnhn",
            {"vi": "cán bộ CĐ các KCN Hà Nội", "en": "industrial-park union officer"},
            {"vi": "Cán bộ Công đoàn các KCN-KCX Hà Nội (KCN-HN)",
             "en": "Officer, Hanoi industrial parks union (KCN-HN)"},
            workplace="WP-DIENTUTL", sector="electronics", province=1, officer_of="KCN-HN"),
    Persona("admin", "An", "Đỗ Quốc", "an_quantri",
            {"vi": "quản trị viên", "en": "administrator"},
            {"vi": "Quản trị viên hệ thống · LĐLĐ Hà Nội",
             "en": "System administrator · Hanoi federation"},
            workplace="WP-MAYSH", sector="garment", province=1, officer_of="LDLD-HN", admin=True),
)

GROUPS = (
    Group("maysh", "CĐCS May Sông Hồng · Hộp thư", ("grassroots",), "CDCS-MAYSH"),
    Group("kcn", "CĐ KCN-KCX Hà Nội · Hộp thư", ("park",), "KCN-HN"),
    Group("admins", "Ban quản trị · LĐLĐ Hà Nội", ("admin",), "LDLD-HN"),
)


@dataclass
class Cast:
    """The emulator side of the personas: users by persona key, groups by group key."""

    users: dict[str, EmulatorUser] = field(default_factory=dict)
    groups: dict[str, EmulatorChat] = field(default_factory=dict)

    def persona(self, key: str) -> Persona:
        return next(p for p in PERSONAS if p.key == key)

    def admin_ids(self) -> list[int]:
        return [self.users[p.key].id for p in PERSONAS if p.admin]

    def chats_of(self, key: str) -> list[int]:
        """The persona's private chat with the bot, then the groups they are in."""
        user = self.users[key]
        return [user.id, *(group.id for group in self.groups.values()
                           if group.members.get(user.id) not in (None, "left", "kicked"))]


def create_cast(emulator: BotApiEmulator) -> Cast:
    cast = Cast()
    for persona in PERSONAS:
        cast.users[persona.key] = emulator.create_user(persona.first_name, persona.last_name, persona.username,
                                                       language_code="vi")
    for group in GROUPS:
        cast.groups[group.key] = emulator.create_group(group.title, [cast.users[k] for k in group.members])
    return cast


async def is_seeded(session: AsyncSession, cast: Cast) -> bool:
    """The personas are in this database already (a sandbox restarted without --fresh keeps its data)."""
    return await session.scalar(select(Member.id).where(Member.telegram_id == cast.admin_ids()[0])) is not None


async def seed_database(session: AsyncSession, cast: Cast) -> None:
    """The personas' members, officer rows and inboxes, in a database holding the demo units."""
    now = datetime.now(UTC)
    members: dict[str, Member] = {}
    for persona in PERSONAS:
        user = cast.users[persona.key]
        member = Member(telegram_id=user.id, language="vi")
        if persona.workplace is not None:
            workplace_id = await session.scalar(select(Workplace.id).where(Workplace.code == persona.workplace))
            member.first_name, member.last_name, member.username = user.first_name, user.last_name, user.username
            member.consent_version, member.consented_at = CONSENT_VERSION, now
            member.province_code, member.sector, member.workplace_id = persona.province, persona.sector, workplace_id
            member.union_status, member.onboarded_at = UnionStatus.MEMBER, now
        session.add(member)
        members[persona.key] = member
    await session.flush()
    for persona in PERSONAS:
        if persona.officer_of:
            unit = await units.get_unit_by_code(session, persona.officer_of)
            assert unit is not None, persona.officer_of
            session.add(Officer(member_id=members[persona.key].id, unit_id=unit.id, role=OfficerRole.OFFICER))
    await session.commit()
    for group in GROUPS:
        unit = await units.get_unit_by_code(session, group.inbox_of)
        assert unit is not None, group.inbox_of
        await officers.register_inbox(session, unit, cast.groups[group.key].id, False, members[group.members[0]])
