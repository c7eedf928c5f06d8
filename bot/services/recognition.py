"""Recognition: the month's most active members of a unit by emulation points (quiz attempts, accepted ideas,
accepted nominations…), for officers to commend. A name shows only for members who opted in to appear on
leaderboards (the quiz helper's LeaderboardOptIn); the others appear by an alias made of their member id.

A member belongs to a unit through their workplace's grassroots union, wherever it sits under the unit;
members without a grassroots union (unlisted workplace, or none at it) count for the provincial
federation of their province; the VGCL counts everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.engagement import display_name
from bot.services.units import subtree_ids
from db.models import LeaderboardOptIn, Member, Point, Unit, Workplace

LIST_LENGTH = 10
_MONTH = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")


@dataclass(frozen=True)
class Row:
    rank: int
    member_id: int
    name: str | None  # None: the member did not opt in; show an alias
    points: int


def month_bounds(year: int, month: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month in the union's time zone, as [start, end)."""
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def parse_month(text: str, today: date) -> tuple[int, int] | None:
    """"11/2026" (also 11-2026, 11.2026), or nothing for the current month; None when unreadable."""
    if not text.strip():
        return today.year, today.month
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match.group(1)) <= 12 or not 2000 <= int(match.group(2)) <= 2100:
        return None
    return int(match.group(2)), int(match.group(1))


async def _belongs(session: AsyncSession, unit: Unit):  # type: ignore[no-untyped-def]
    """A condition on Member (joined with its Workplace, outer) for belonging to the unit."""
    if unit.level == 1:
        return true()
    grassroots = Workplace.grassroots_unit_id.in_(await subtree_ids(session, unit.id))
    if unit.level == 2 and unit.province_code is not None:
        province = func.coalesce(Workplace.province_code, Member.workplace_other_province_code, Member.province_code)
        without_grassroots = and_(Workplace.grassroots_unit_id.is_(None), province == unit.province_code)
        return or_(grassroots, without_grassroots)
    return grassroots


async def monthly_list(session: AsyncSession, unit: Unit, year: int, month: int, tz: ZoneInfo,
                       limit: int = LIST_LENGTH) -> list[Row]:
    """The unit's members with the most points in that month, most first (ties: earlier member first)."""
    start, end = month_bounds(year, month, tz)
    total = func.sum(Point.amount).label("total")
    query = (select(Member, total, LeaderboardOptIn.member_id)
             .join(Point, Point.member_id == Member.id)
             .outerjoin(Workplace, Workplace.id == Member.workplace_id)
             .outerjoin(LeaderboardOptIn, LeaderboardOptIn.member_id == Member.id)
             .where(Point.at >= start, Point.at < end, await _belongs(session, unit))
             .group_by(Member.id, LeaderboardOptIn.member_id)
             .having(total > 0)
             .order_by(total.desc(), Member.id).limit(limit))
    rows = (await session.execute(query)).all()
    return [Row(rank, member.id, display_name(member) if opted else None, int(points))
            for rank, (member, points, opted) in enumerate(rows, start=1)]


async def inbox_unit(session: AsyncSession, chat_id: int) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.inbox_chat_id == chat_id))
