"""Broadcast services: schedules and quiet hours with time travel (Asia/Ho_Chi_Minh), audiences with their
exclusions and exact counts, queueing a run, pause/resume/cancel, opt-outs, and the pacer's arithmetic on a
simulated clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from bot.services import broadcasts, pacing
from bot.services.units import get_unit_by_code
from db.models import (
    Broadcast,
    BroadcastDelivery,
    BroadcastRun,
    CaseStatus,
    Grievance,
    Member,
    MemberStatus,
    Officer,
    UnionStatus,
    Workplace,
)
from db.session import create_session_factory
from handlers import broadcast_jobs
from sandbox.demo import load_demo_units

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN).astimezone(UTC)


# ----- schedules (pure arithmetic, any "now" we like) -----

def test_daily_runs_at_local_time_not_utc():
    schedule = {"kind": "daily", "time": "08:00"}
    # 23:30 UTC on 30 Nov is 06:30 on 1 Dec in Vietnam: today's 08:00 is still ahead.
    assert broadcasts.occurrence_after(schedule, datetime(2026, 11, 30, 23, 30, tzinfo=UTC), VN) == \
        local(2026, 12, 1, 8, 0)
    assert broadcasts.occurrence_after(schedule, local(2026, 12, 1, 8, 0), VN) == local(2026, 12, 2, 8, 0)


def test_weekly_on_chosen_days():
    schedule = {"kind": "weekly", "days": [0, 3], "time": "17:30"}  # Mondays and Thursdays
    wednesday = local(2026, 11, 25, 9, 0)
    first = broadcasts.occurrence_after(schedule, wednesday, VN)
    assert first == local(2026, 11, 26, 17, 30)  # Thursday
    assert broadcasts.occurrence_after(schedule, first, VN) == local(2026, 11, 30, 17, 30)  # Monday


def test_monthly_day_31_falls_on_the_last_day_of_shorter_months():
    schedule = {"kind": "monthly", "day": 31, "time": "09:00"}
    after_jan = broadcasts.occurrence_after(schedule, local(2027, 1, 31, 10, 0), VN)
    assert after_jan == local(2027, 2, 28, 9, 0)
    assert broadcasts.occurrence_after(schedule, after_jan, VN) == local(2027, 3, 31, 9, 0)
    assert broadcasts.occurrence_after({"kind": "monthly", "day": 15, "time": "09:00"},
                                       local(2026, 12, 15, 9, 0), VN) == local(2027, 1, 15, 9, 0)


def test_once_and_now():
    now = local(2026, 11, 25, 10, 0)
    assert broadcasts.first_run_at({"kind": "now"}, now, VN) == now
    assert broadcasts.first_run_at({"kind": "once", "at": "2026-12-24T19:00"}, now, VN) == local(2026, 12, 24, 19, 0)
    assert broadcasts.occurrence_after({"kind": "once", "at": "2026-12-24T19:00"}, now, VN) is None


def test_quiet_hours_defer_to_seven_in_the_morning():
    quiet = broadcasts.DEFAULT_QUIET
    assert broadcasts.out_of_quiet_hours(local(2026, 11, 25, 22, 15), quiet, VN) == local(2026, 11, 26, 7, 0)
    assert broadcasts.out_of_quiet_hours(local(2026, 11, 26, 5, 0), quiet, VN) == local(2026, 11, 26, 7, 0)
    assert broadcasts.out_of_quiet_hours(local(2026, 11, 26, 7, 0), quiet, VN) == local(2026, 11, 26, 7, 0)
    assert broadcasts.out_of_quiet_hours(local(2026, 11, 26, 20, 59), quiet, VN) == local(2026, 11, 26, 20, 59)
    # 14:30 UTC is 21:30 in Vietnam: quiet there, whatever the server's clock says.
    assert broadcasts.in_quiet_hours(datetime(2026, 11, 26, 14, 30, tzinfo=UTC), quiet, VN)


def test_typed_dates_and_times():
    assert broadcasts.parse_clock("8h30").strftime("%H:%M") == "08:30"
    assert broadcasts.parse_clock("24:00") is None
    assert broadcasts.parse_local_datetime("25/12/2026 08:00") == datetime(2026, 12, 25, 8, 0)
    assert broadcasts.parse_local_datetime("31/02/2026 08:00") is None
    assert broadcasts.parse_local_datetime("hôm nay") is None


# ----- the pacer, on a simulated clock -----

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)


async def test_pacer_never_exceeds_the_rate_in_any_second():
    clock = FakeClock()
    pacer = pacing.Pacer(29.1, clock=clock, sleep=clock.sleep)
    stamps = []
    for chat in range(300):
        async with pacer.sending(chat):
            stamps.append(clock.now)
    worst = max(sum(1 for s in stamps if start <= s < start + 1.0) for start in stamps)
    assert worst <= 30
    assert stamps[-1] - stamps[0] == pytest.approx(299 / 29.1, rel=0.01)


async def test_pacer_one_chat_once_a_second_and_429_pauses_everyone():
    clock = FakeClock()
    pacer = pacing.Pacer(1000, clock=clock, sleep=clock.sleep)
    async with pacer.sending(7):
        pass
    first = clock.now
    async with pacer.sending(7):
        assert clock.now - first >= pacing.CHAT_INTERVAL
    pacer.pause(3)
    paused_at = clock.now
    async with pacer.sending(8):
        assert clock.now - paused_at >= 3


async def test_pacer_counts_a_message_until_a_second_after_its_answer():
    """Telegram counts a message when it arrives, somewhere between our start and its answer. When the
    receiver stalls, messages sent meanwhile arrive together: in any second, however the arrivals fall
    within their [start, answer] intervals, no more than the rate may land. Real time, no thresholds: the
    property is about the recorded intervals, whatever the machine's speed."""
    rate, stall = 20, {15, 16, 17, 18, 19, 20, 21, 22}  # these answers come 0.6 s late, as if Telegram stalled
    pacer = pacing.Pacer(rate)
    intervals: list[tuple[float, float]] = []

    async def send(number: int) -> None:
        async with pacer.sending(number):
            started = time.monotonic()
            await asyncio.sleep(0.6 if number in stall else 0.002)
        intervals.append((started, time.monotonic()))

    await asyncio.gather(*(send(n) for n in range(70)))
    edges = sorted({edge for interval in intervals for edge in interval})
    worst = max(sum(1 for start, answer in intervals if start < edge + 1.0 and answer >= edge) for edge in edges)
    assert worst <= rate


async def test_broadcast_yields_the_room_the_applications_own_messages_take():
    clock = FakeClock()
    window = pacing.SendWindow(3, clock)
    pacer = pacing.Pacer(1000, clock=clock, sleep=clock.sleep, window=window)
    for _ in range(2):  # two answers to members, sent by the application (bot/http.py counts them)
        window.started()
        window.answered()
    answers_at = clock.now
    async with pacer.sending(1):
        assert clock.now == answers_at  # room for one more in this second
    async with pacer.sending(2):
        assert clock.now > answers_at + 1.0  # the second one waits until the answers are a second old


async def test_pacer_holds_a_chat_while_its_message_is_in_flight():
    clock = FakeClock()
    pacer = pacing.Pacer(1000, clock=clock, sleep=clock.sleep)
    order: list[str] = []

    async def first() -> None:
        async with pacer.sending(7):
            order.append("first sent")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            order.append("first answered")

    async def second() -> None:
        await asyncio.sleep(0)
        async with pacer.sending(7):
            order.append("second sent")

    await asyncio.gather(first(), second())
    assert order == ["first sent", "first answered", "second sent"]


def test_effective_rate_keeps_headroom_under_the_ceiling():
    assert pacing.effective_rate(25, paid=False) == 25
    assert pacing.effective_rate(30, paid=False) == pytest.approx(29.1)
    assert pacing.effective_rate(1000, paid=True) == pytest.approx(990)


# ----- audiences -----

async def _seed(session) -> dict[str, Member]:  # type: ignore[no-untyped-def]
    await session.commit()
    workplace = await session.scalar(select(Workplace).where(Workplace.code == "WP-MAYSH"))
    now = datetime.now(UTC)
    specs = {
        "hn_member": dict(province_code=1, sector="garment", union_status=UnionStatus.MEMBER, workplace_id=workplace.id),
        "hn_other": dict(province_code=1, sector="electronics", union_status=UnionStatus.NOT_YET),
        "hcm_en": dict(province_code=79, sector="garment", union_status=UnionStatus.MEMBER, language="en"),
        "idle": dict(province_code=79, sector="garment", last_seen_at=now - timedelta(days=60)),
        "blocked": dict(province_code=1, status=MemberStatus.BLOCKED),
        "erased": dict(province_code=1, status=MemberStatus.ERASED),
        "with_case": dict(province_code=1, sector="garment"),
    }
    members = {}
    for index, (name, fields) in enumerate(specs.items()):
        member = Member(telegram_id=5000 + index, first_name=name, **fields)
        session.add(member)
        members[name] = member
    await session.flush()
    session.add(Grievance(code="PA-2611-0001", member_id=members["with_case"].id, category="wages",
                          status=CaseStatus.OPEN))
    await session.commit()
    return members


@pytest.fixture
async def seeded(db_url, session):  # type: ignore[no-untyped-def]
    await load_demo_units(db_url)
    return await _seed(session)


async def test_audience_filters_and_exclusions(session, seeded):
    now = datetime.now(UTC)

    async def names(audience: dict, topic: str = "news") -> set[str]:
        full = broadcasts.empty_audience() | audience
        ids = set((await session.scalars(await broadcasts.audience_query(session, full, topic, now))).all())
        count = await broadcasts.count_audience(session, full, topic, now)
        assert count == len(ids)
        return {name for name, member in seeded.items() if member.id in ids}

    everyone = {"hn_member", "hn_other", "hcm_en", "idle", "with_case"}
    assert await names({}) == everyone  # blocked and erased never
    assert await names({"provinces": [1]}) == {"hn_member", "hn_other", "with_case"}
    assert await names({"sectors": ["garment"]}) == {"hn_member", "hcm_en", "idle", "with_case"}
    assert await names({"union": "member"}) == {"hn_member", "hcm_en"}
    assert await names({"union": "not_yet"}) == {"hn_other"}
    assert await names({"language": "en"}) == {"hcm_en"}
    assert await names({"active_days": 30}) == everyone - {"idle"}
    assert await names({"exclude_open_cases": True}) == everyone - {"with_case"}
    hanoi = await get_unit_by_code(session, "LDLD-HN")
    hcm = await get_unit_by_code(session, "LDLD-HCM")
    assert await names({"unit_id": hanoi.id}) == {"hn_member"}  # the workplace's grassroots unit is under it
    assert await names({"unit_id": hcm.id}) == set()
    await broadcasts.set_opt_out(session, seeded["hn_other"].id, "surveys", True)
    assert await names({}, "surveys") == everyone - {"hn_other"}
    assert await names({}, "news") == everyone


async def test_officer_scope_is_their_subtree(session, seeded):
    grassroots = await get_unit_by_code(session, "CDCS-MAYSH")
    officer_member = seeded["hn_member"]
    session.add(Officer(member_id=officer_member.id, unit_id=grassroots.id))
    await session.commit()
    scope = await broadcasts.composer_scope(session, officer_member, is_admin=False)
    hanoi = await get_unit_by_code(session, "LDLD-HN")
    assert scope.may_compose and scope.may_target(grassroots.id)
    assert not scope.may_target(hanoi.id) and not scope.may_target(None)
    nobody = await broadcasts.composer_scope(session, seeded["hn_other"], is_admin=False)
    assert not nobody.may_compose


# ----- runs -----

async def _broadcast(session, member, schedule, now, audience=None):  # type: ignore[no-untyped-def]
    return await broadcasts.create_broadcast(
        session, member=member, chat_id=member.telegram_id, language="vi", scope_unit_id=None,
        content={"kind": "text", "text": {"vi": "Tin", "en": None}}, audience=audience or broadcasts.empty_audience(),
        schedule=schedule, now=now, tz=VN)


async def test_a_run_queues_exactly_its_audience_once(session, seeded):
    now = local(2026, 11, 25, 10, 0)
    broadcast = await _broadcast(session, seeded["hn_member"], {"kind": "now"}, now)
    run = await broadcasts.start_run(session, broadcast.id, now, VN)
    assert run is not None and run.total == 5
    assert await session.scalar(select(func.count()).select_from(BroadcastDelivery)
                                .where(BroadcastDelivery.run_id == run.id)) == 5
    assert await broadcasts.start_run(session, broadcast.id, now, VN) is None  # never twice
    await session.refresh(broadcast)
    assert broadcast.next_run_at is None
    counts = await broadcasts.run_counts(session, run.id)
    assert counts["pending"] == 5


async def test_cancelling_skips_what_was_not_sent_so_the_figures_add_up(session, seeded):
    now = local(2026, 11, 25, 10, 0)
    broadcast = await _broadcast(session, seeded["hn_member"], {"kind": "now"}, now)
    run = await broadcasts.start_run(session, broadcast.id, now, VN)
    first = await session.scalar(select(BroadcastDelivery).where(BroadcastDelivery.run_id == run.id)
                                 .order_by(BroadcastDelivery.id))
    await broadcasts.record(session, [broadcasts.Outcome(first.id, first.member_id, broadcasts.SENT)], now)
    assert await broadcasts.control(session, broadcast.id, "cancel", now, VN) is not None
    assert await broadcasts.run_counts(session, run.id) == {"pending": 0, "sent": 1, "blocked": 0, "failed": 0,
                                                            "skipped": 4}


async def test_a_flush_cancelled_midway_keeps_its_outcomes_for_the_next_one(engine, session, seeded):
    """The sender's watcher is cancelled when delivery ends, possibly inside a flush: the batch must not be
    lost, or sent rows stay pending and the run's resume sends them a second time."""
    now = local(2026, 11, 25, 10, 0)
    broadcast = await _broadcast(session, seeded["hn_member"], {"kind": "now"}, now)
    run = await broadcasts.start_run(session, broadcast.id, now, VN)
    rows = (await session.scalars(select(BroadcastDelivery).where(BroadcastDelivery.run_id == run.id))).all()
    delivery = broadcast_jobs._Delivery(None, create_session_factory(engine), run.id, VN,  # type: ignore[arg-type]
                                        lambda: True)
    delivery.outcomes = [broadcasts.Outcome(row.id, row.member_id, broadcasts.SENT) for row in rows]
    flush = asyncio.create_task(delivery._flush())
    await asyncio.sleep(0)  # the flush has taken the batch and is waiting on the database
    flush.cancel()
    await asyncio.gather(flush, return_exceptions=True)
    assert len(delivery.outcomes) == len(rows)
    await delivery._flush()
    assert (await broadcasts.run_counts(session, run.id))["sent"] == len(rows) and delivery.outcomes == []


async def test_recurring_run_sets_the_next_one_and_quiet_hours_defer(session, seeded):
    evening = local(2026, 11, 25, 20, 30)
    broadcast = await _broadcast(session, seeded["hn_member"], {"kind": "daily", "time": "22:00"}, evening)
    assert broadcast.next_run_at == local(2026, 11, 26, 7, 0)  # 22:00 is quiet: 07:00 next morning
    assert await broadcasts.start_run(session, broadcast.id, local(2026, 11, 26, 6, 59), VN) is None  # not yet
    run = await broadcasts.start_run(session, broadcast.id, local(2026, 11, 26, 7, 0), VN)
    assert run is not None
    await session.refresh(broadcast)
    assert broadcast.next_run_at == local(2026, 11, 27, 7, 0)
    # Due while quiet (the bot was down at 07:00 and starts at 23:00): moved, not sent.
    late = local(2026, 11, 27, 23, 0)
    assert await broadcasts.start_run(session, broadcast.id, late, VN) is None
    await session.refresh(broadcast)
    assert broadcast.next_run_at == local(2026, 11, 28, 7, 0)


async def test_pause_resume_cancel(session, seeded):
    now = local(2026, 11, 25, 10, 0)
    broadcast = await _broadcast(session, seeded["hn_member"], {"kind": "weekly", "days": [2], "time": "09:00"}, now)
    assert broadcast.next_run_at == local(2026, 12, 2, 9, 0)
    assert (await broadcasts.control(session, broadcast.id, "pause", now, VN)).status == "paused"
    assert await broadcasts.control(session, broadcast.id, "pause", now, VN) is None
    later = local(2026, 12, 10, 12, 0)  # missed occurrences are not sent in a burst on resume
    resumed = await broadcasts.control(session, broadcast.id, "resume", later, VN)
    assert resumed.status == "active" and resumed.next_run_at == local(2026, 12, 16, 9, 0)
    cancelled = await broadcasts.control(session, broadcast.id, "cancel", later, VN)
    assert cancelled.status == "cancelled" and cancelled.next_run_at is None
    assert await broadcasts.start_run(session, broadcast.id, local(2026, 12, 16, 9, 0), VN) is None
    listed = await broadcasts.open_broadcasts(session)
    assert broadcast.id not in [b.id for b, _ in listed]


async def test_claim_skips_members_who_opted_out_since(session, seeded):
    now = local(2026, 11, 25, 10, 0)
    broadcast = await _broadcast(session, seeded["hn_member"], {"kind": "now"}, now)
    run = await broadcasts.start_run(session, broadcast.id, now, VN)
    await broadcasts.set_opt_out(session, seeded["hn_other"].id, "news", True)
    recipients, last, skipped = await broadcasts.claim_page(session, run.id, "news", 0, 100)
    assert skipped == 1 and len(recipients) == 4
    assert seeded["hn_other"].id not in {r.member_id for r in recipients}
    outcome = [broadcasts.Outcome(recipients[0].delivery_id, recipients[0].member_id, broadcasts.BLOCKED, "forbidden")]
    await broadcasts.record(session, outcome, now)
    blocked = await session.get(Member, recipients[0].member_id)
    await session.refresh(blocked)
    assert blocked.status == MemberStatus.BLOCKED
    counts = await broadcasts.run_counts(session, run.id)
    assert counts == {"pending": 3, "sent": 0, "blocked": 1, "failed": 0, "skipped": 1}


async def test_chat_migration_updates_stored_ids(session, seeded):
    await session.execute(insert(Broadcast).values(
        composer_chat_id=-4001, composer_language="vi", topic="news", content={}, audience={}, schedule={},
        quiet_start=0, quiet_end=0, status="finished", created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    await session.commit()
    await broadcasts.chat_migrated(session, -4001, -1004001)
    assert await session.scalar(select(func.count()).select_from(Broadcast)
                                .where(Broadcast.composer_chat_id == -1004001)) == 1
    assert await session.scalar(select(func.count()).select_from(BroadcastRun)) == 0


async def test_pacer_slows_after_a_429_and_recovers():
    clock = FakeClock()
    pacer = pacing.Pacer(100, clock=clock, sleep=clock.sleep)
    pacer.pause(1)
    assert pacer.rate == pytest.approx(95)
    async with pacer.sending(1):
        assert pacer.rate == pytest.approx(95)
    clock.now += pacing.RECOVER_AFTER + 1
    async with pacer.sending(2):
        assert pacer.rate == 100
