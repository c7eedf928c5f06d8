"""The privacy and limits services without Telegram: the export registry and its fallback for tables added
later, erasure by foreign key, settings, the burst limiter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import ConfigError, load_settings
from bot.services import limits, privacy
from db.models import Base, Consent, LeaderboardOptIn, Member, MemberMute, MemberStatus, Point

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


async def a_member(session, telegram_id=5551234) -> Member:
    member = Member(telegram_id=telegram_id, first_name="Lan", username="lan_may", phone="+84912345678",
                    language="vi", consent_version="2026.1", consented_at=NOW, workplace_other_name="Xưởng nhỏ")
    session.add(member)
    await session.flush()
    session.add(Consent(member_id=member.id, version="2026.1", granted=True, language="vi", at=NOW))
    session.add(Point(member_id=member.id, reason="practice", amount=3, ref="quiz:1", at=NOW))
    session.add(LeaderboardOptIn(member_id=member.id, at=NOW))
    await session.commit()
    return member


async def test_every_member_table_is_exported_even_one_no_section_knows(session):
    member = await a_member(session)
    await limits.mute(session, member.telegram_id, "test")  # member_mutes: no section claims it
    data = await privacy.build_export(session, member, NOW)
    json.dumps(data)  # plain JSON all the way down
    assert data["profile"]["workplace_other_name"] == "Xưởng nhỏ"
    assert data["points"]["total"] == 3 and data["leaderboard_name_shown"] == NOW.isoformat()
    assert [row["telegram_id"] for row in data["other"]["member_mutes"]] == [member.telegram_id]
    covered = {table for section in privacy.SECTIONS for table in section.tables}
    for table in Base.metadata.sorted_tables:
        if "member_id" in table.c and table.name not in covered:
            assert table.name in data["other"] or not (await session.execute(
                select(table).where(table.c.member_id == member.id))).first()


async def test_erasure_follows_each_tables_foreign_key(session):
    member = await a_member(session)
    await limits.mute(session, member.telegram_id, "test")
    forgotten = await privacy.forget(session, member, NOW)
    assert forgotten.withdrawn == []
    erased = await session.get_one(Member, member.id)
    assert erased.status == MemberStatus.ERASED and erased.telegram_id is None
    assert (erased.first_name, erased.username, erased.phone, erased.workplace_other_name) == (None,) * 4
    assert await session.get(LeaderboardOptIn, member.id) is None  # a choice about showing a name: gone
    assert (await session.scalars(select(Point.amount).where(Point.member_id == member.id))).all() == [3]
    mute = await session.get_one(MemberMute, 5551234)
    assert mute.member_id is None  # SET NULL: cut from the erased member, the mute itself stays
    assert (await session.scalars(select(Consent.granted).where(Consent.member_id == member.id)
                                  .order_by(Consent.id))).all() == [True, False]
    data = await privacy.build_export(session, erased, NOW)
    assert data["profile"]["first_name"] is None and data["erasures"][0]["reason"] == "forgetme"


def test_retention_days_is_validated_and_documented_default():
    assert load_settings(env_file=None).retention_days == 730
    assert load_settings(env_file=None, retention_days=30).retention_days == 30
    with pytest.raises(ConfigError, match="^RETENTION_DAYS: "):
        load_settings(env_file=None, retention_days=29)
    with pytest.raises(ConfigError, match="^CASES_PER_DAY: "):
        load_settings(env_file=None, cases_per_day=0)


def test_retention_days_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "365")
    monkeypatch.setenv("CASES_PER_DAY", "3")
    settings = load_settings(env_file=None)
    assert (settings.retention_days, settings.cases_per_day) == (365, 3)


def test_the_burst_window_slides_and_the_pause_ends():
    now = [0.0]
    limiter = limits.BurstLimiter(limit=2, window=10, pause=5, clock=lambda: now[0])
    assert [limiter.check(1) for _ in range(2)] == ["ok", "ok"]
    now[0] = 10.5  # the first two left the window
    assert [limiter.check(1) for _ in range(2)] == ["ok", "ok"]
    assert limiter.check(2) == "ok"  # another person is counted apart
    assert limiter.check(1) == "warn"
    assert limiter.check(1) == "drop"
    now[0] = 15.6
    assert limiter.check(1) == "ok"


def test_the_mute_cache_tells_once_and_reloads():
    now = [0.0]
    cache = limits.MuteCache(refresh=60, clock=lambda: now[0])
    assert cache.stale()
    cache.load({7})
    assert not cache.stale()
    assert cache.first_time(7) and not cache.first_time(7)
    now[0] = 61
    assert cache.stale()
    cache.load(set())
    cache.set(7, True)
    assert cache.first_time(7)  # muted again: told again


def test_the_day_starts_at_midnight_in_vietnam():
    from zoneinfo import ZoneInfo

    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    start = limits.day_start(datetime(2026, 11, 24, 17, 30, tzinfo=UTC), vn)  # 00:30 on the 25th in Hà Nội
    assert start == datetime(2026, 11, 25, tzinfo=vn)
    assert start - timedelta(minutes=1) < datetime(2026, 11, 24, 17, 30, tzinfo=UTC)
