"""The monthly recognition list per unit, on both databases: who belongs to a unit, the month in the
union's time zone, names only for members who opted in."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.services import recognition
from bot.services.units import get_unit_by_code, import_units
from db.models import LeaderboardOptIn, Member, Point, Workplace

VN = ZoneInfo("Asia/Ho_Chi_Minh")
_TELEGRAM_IDS = count(700_000)
DEMO = Path(__file__).resolve().parents[1] / "content" / "demo" / "units.csv"


async def _member(session, name, workplace_code, opted_in=False) -> Member:
    workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
    member = Member(telegram_id=next(_TELEGRAM_IDS), first_name=name, language="vi",
                    workplace_id=workplace.id, province_code=workplace.province_code)
    session.add(member)
    await session.flush()
    if opted_in:
        session.add(LeaderboardOptIn(member_id=member.id))
    return member


def _point(member, amount, when, ref):
    return Point(member_id=member.id, reason="test", amount=amount, ref=ref, at=when)


async def test_monthly_list_per_unit(session):
    await import_units(session, DEMO.read_text(encoding="utf-8"))
    lan = await _member(session, "Lan", "WP-MAYSH", opted_in=True)
    binh = await _member(session, "Bình", "WP-MAYSH")
    chi = await _member(session, "Chi", "WP-BANHMIHN", opted_in=True)  # no grassroots union there
    dung = await _member(session, "Dũng", "WP-GIAYBT", opted_in=True)  # Hồ Chí Minh City
    session.add_all([
        _point(lan, 30, datetime(2026, 11, 3, 9, tzinfo=VN), "a"),
        _point(lan, 10, datetime(2026, 10, 31, 23, 30, tzinfo=VN), "b"),  # October in Vietnam
        _point(binh, 50, datetime(2026, 11, 30, 23, 30, tzinfo=VN), "c"),  # still November in Vietnam
        _point(binh, 99, datetime(2026, 12, 1, 0, 30, tzinfo=VN), "d"),  # November 30 in UTC, December here
        _point(chi, 20, datetime(2026, 11, 15, 12, tzinfo=VN), "e"),
        _point(dung, 40, datetime(2026, 11, 15, 12, tzinfo=VN), "f"),
    ])
    await session.commit()

    async def board(code, month=11):
        unit = await get_unit_by_code(session, code)
        return [(row.rank, row.name, row.points)
                for row in await recognition.monthly_list(session, unit, 2026, month, VN)]

    assert await board("CDCS-MAYSH") == [(1, None, 50), (2, "Lan", 30)]
    assert await board("CDP-LONGBIEN") == [(1, None, 50), (2, "Lan", 30)]
    assert await board("LDLD-HN") == [(1, None, 50), (2, "Lan", 30), (3, "Chi", 20)]
    assert await board("VGCL") == [(1, None, 50), (2, "Dũng", 40), (3, "Lan", 30), (4, "Chi", 20)]
    assert await board("KCN-HN") == []
    assert await board("CDCS-MAYSH", month=10) == [(1, "Lan", 10)]
    assert await board("CDCS-MAYSH", month=12) == [(1, None, 99)]
    rows = await recognition.monthly_list(session, await get_unit_by_code(session, "CDCS-MAYSH"), 2026, 11, VN)
    assert rows[0].member_id == binh.id


@pytest.mark.parametrize(("typed", "month"), [
    ("", (2026, 11)), ("10/2026", (2026, 10)), (" 1-2027 ", (2027, 1)), ("12.2025", (2025, 12)),
    ("13/2026", None), ("tháng 10", None), ("10/26", None),
])
def test_months_are_read_as_officers_type_them(typed, month):
    assert recognition.parse_month(typed, date(2026, 11, 25)) == month


def test_month_bounds_follow_the_union_time_zone():
    start, end = recognition.month_bounds(2026, 12, VN)
    assert start.isoformat() == "2026-12-01T00:00:00+07:00" and end.isoformat() == "2027-01-01T00:00:00+07:00"
