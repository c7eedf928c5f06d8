"""The deadline watch on both databases: reminders once per deadline, overdue cases up one level exactly
once even when two runs race, resolved cases closed after 7 days without an answer."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.services import cases, sla_watch
from bot.services.sla_watch import Deadline
from db.models import CaseStatus, Grievance, GrievanceEvent, Unit
from db.session import create_session_factory
from handlers import sla_jobs
from tests.test_cases import NOW, VN, actions, world

ACK_DUE = datetime(2026, 11, 26, 9, 30, tzinfo=VN)  # 2 working days after Tuesday 24/11 09:30


async def test_acknowledgement_reminder_comes_once_at_80_percent(session):
    grievance, *_ = await world(session)
    assert grievance.acknowledge_due_at == ACK_DUE
    eighty_percent = NOW + timedelta(hours=48 * 0.8)
    assert await sla_watch.reminders_due(session, eighty_percent - timedelta(minutes=1)) == []
    due = await sla_watch.reminders_due(session, eighty_percent)
    assert due == [sla_watch.Reminder(grievance.id, Deadline.ACKNOWLEDGE, ACK_DUE)]
    assert (await sla_watch.claim_reminder(session, due[0], eighty_percent)).id == grievance.id
    assert await sla_watch.claim_reminder(session, due[0], eighty_percent) is None  # a second run: nothing
    assert await sla_watch.reminders_due(session, eighty_percent + timedelta(hours=1)) == []
    assert (await actions(session, grievance))[-1] == "reminded_acknowledge"


async def test_a_claimed_case_gets_no_acknowledgement_reminder_but_a_resolution_one(session):
    grievance, _, grassroots, _, _ = await world(session)
    await cases.claim(session, grievance, grassroots, NOW)
    late = NOW + timedelta(days=12)  # 80% of 10 working days (14 calendar days) has passed
    assert await sla_watch.reminders_due(session, late) == [
        sla_watch.Reminder(grievance.id, Deadline.RESOLVE, grievance.resolve_due_at)]


async def test_a_moved_case_is_reminded_again_for_its_new_deadline(session):
    grievance, *_ = await world(session)
    first = (await sla_watch.reminders_due(session, NOW + timedelta(hours=40)))[0]
    await sla_watch.claim_reminder(session, first, NOW + timedelta(hours=40))
    moved_at = NOW + timedelta(hours=41)
    await cases.escalate(session, grievance, "system", moved_at, VN, "overdue")  # the clock restarts
    assert grievance.acknowledge_due_at == datetime(2026, 11, 30, 2, 30, tzinfo=VN)  # over the weekend
    assert await sla_watch.reminders_due(session, moved_at + timedelta(hours=48 * 0.8 + 1)) == []
    again = await sla_watch.reminders_due(session, moved_at + (grievance.acknowledge_due_at - moved_at) * 0.8)
    assert again == [sla_watch.Reminder(grievance.id, Deadline.ACKNOWLEDGE, grievance.acknowledge_due_at)]


async def test_an_overdue_case_goes_up_once_even_when_two_runs_race(engine):
    factory = create_session_factory(engine)
    async with factory() as session:
        grievance, *_ = await world(session)
    late = ACK_DUE + timedelta(minutes=1)
    async with factory() as session:
        assert await sla_watch.overdue_ids(session, ACK_DUE - timedelta(minutes=1)) == []
        assert await sla_watch.overdue_ids(session, late) == [grievance.id]

    async def one_run():
        async with factory() as session:
            done = await sla_watch.escalate_overdue(session, grievance.id, late, VN)
            return done[1].to_unit.code if done else None

    assert sorted(await asyncio.gather(one_run(), one_run()), key=str) == ["CDP-LONGBIEN", None]
    async with factory() as session:
        stored = await session.get(Grievance, grievance.id)
        assert stored.escalations == 1 and stored.status == CaseStatus.OPEN
        assert (await actions(session, stored)).count("escalated") == 1
        assert await sla_watch.overdue_ids(session, late) == []  # the new unit has a new clock


async def test_cases_the_admins_hold_are_not_escalated(session):
    grievance, *_ = await world(session)
    await session.execute(update(Unit).where(Unit.code.in_(["CDP-LONGBIEN", "LDLD-HN", "VGCL"]))
                          .values(inbox_chat_id=None))
    await session.commit()
    await cases.escalate(session, grievance, "system", NOW, VN, "overdue")
    assert grievance.unit_id is None
    much_later = NOW + timedelta(days=30)
    assert await sla_watch.overdue_ids(session, much_later) == []
    assert await sla_watch.escalate_overdue(session, grievance.id, much_later, VN) is None


async def test_resolved_cases_close_after_seven_days_without_an_answer(session):
    grievance, _, grassroots, _, _ = await world(session)
    await cases.resolve(session, grievance, grassroots, "Đã xử lý", NOW)
    assert await sla_watch.unanswered_ids(session, NOW + timedelta(days=6)) == []
    week = NOW + timedelta(days=7, minutes=1)
    assert await sla_watch.unanswered_ids(session, week) == [grievance.id]
    closed = await sla_watch.close_unanswered(session, grievance.id, week)
    assert closed.status == CaseStatus.CLOSED and closed.closed_at == week
    assert await sla_watch.close_unanswered(session, grievance.id, week) is None
    events = await session.scalars(select(GrievanceEvent.actor).where(
        GrievanceEvent.grievance_id == grievance.id, GrievanceEvent.action == "closed_without_answer"))
    assert list(events) == ["system"]


async def test_a_worker_who_answered_in_time_is_not_closed_by_a_late_run(session):
    grievance, worker, grassroots, _, _ = await world(session)
    await cases.resolve(session, grievance, grassroots, "Đã xử lý", NOW)
    week = NOW + timedelta(days=8)
    stale = await sla_watch.unanswered_ids(session, week)
    await cases.record_outcome(session, grievance, worker, cases.Outcome.PARTLY, 3, week, VN)
    assert await sla_watch.close_unanswered(session, stale[0], week) is None
    assert (await actions(session, grievance))[-1] == "closed"


async def test_one_failing_case_does_not_stop_the_others(engine):
    factory = create_session_factory(engine)
    handled = []

    async def handle(session, item):
        if item == 2:
            raise RuntimeError("a broken case")
        handled.append(item)
        return True

    result = sla_jobs.CheckResult()
    assert await sla_jobs._each(factory, [1, 2, 3], handle, result) == 2
    assert handled == [1, 3] and result.failed == 1
