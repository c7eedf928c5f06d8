"""The deadline check through the real application: a reminder in the case thread once, an overdue case
escalated to the parent unit's group with the worker told, a resolved case closed after 7 days without
an answer, and the job scheduled again after a restart. Time travel: the check is given its `now`."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services import sla_watch
from db.models import CaseStatus
from db.types import utcnow
from handlers import notify, sla_jobs
from tests.support.harness import t
from tests.transcripts.test_cards import inbox_with_officer
from tests.transcripts.test_worker_cases import (
    GRASSROOTS,
    NOW,
    VN,
    next_sent,
    officer_resolves,
    stored,
    worker_and_case,
)

ACK_DUE = datetime(2026, 11, 26, 9, 30, tzinfo=VN)
WARD = "Công đoàn phường Long Biên"


async def test_a_reminder_comes_once_in_the_case_thread(harness):
    _, group = await inbox_with_officer(harness)
    _, grievance = await worker_and_case(harness)
    card = await harness.next(group.id)
    early = await sla_jobs.check_deadlines(harness.application, NOW + timedelta(hours=30))
    assert early == sla_jobs.CheckResult()
    result = await sla_jobs.check_deadlines(harness.application, NOW + timedelta(hours=48 * sla_watch.REMIND_AT))
    assert result.reminded == 1
    reminder = await next_sent(harness, group.id)
    assert reminder["text"] == t("vi", "sla.reminder_acknowledge", code=grievance.code, due="26/11/2026 09:30")
    assert reminder["reply_to_message"]["message_id"] == card["message_id"]
    seen = len(harness.emulator.messages(group.id))
    again = await sla_jobs.check_deadlines(harness.application, NOW + timedelta(hours=47))
    assert again.reminded == 0 and len(harness.emulator.messages(group.id)) == seen


async def test_an_overdue_case_moves_to_the_parent_group_and_the_worker_is_told(harness):
    _, group = await inbox_with_officer(harness)
    _, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN")
    worker, grievance = await worker_and_case(harness)
    card = await harness.next(group.id)
    late = ACK_DUE + timedelta(minutes=1)
    result = await sla_jobs.check_deadlines(harness.application, late)
    assert result.escalated == 1 and result.failed == 0
    new_card = await next_sent(harness, ward_group.id)
    assert new_card["text"].startswith(f"📋 {grievance.code}")
    old_card = await harness.edited(group.id, card["message_id"])
    assert t("vi", "card.moved_to", unit=WARD) in old_card["text"]
    case = await stored(harness, grievance)
    told = await harness.next(worker)
    assert told["text"] == t("vi", "case.worker_escalated", code=grievance.code, category="Tiền lương, thưởng",
                             unit=WARD, due=notify.when(case.resolve_due_at, VN))
    assert case.escalations == 1 and case.status == CaseStatus.OPEN
    assert (await sla_jobs.check_deadlines(harness.application, late)).escalated == 0


async def test_a_resolved_case_closes_after_seven_days_without_an_answer(harness):
    officer, group = await inbox_with_officer(harness)
    worker, grievance = await worker_and_case(harness)
    await harness.next(group.id)
    await officer_resolves(harness, officer, grievance)  # resolved a day after NOW
    resolved = await harness.next(worker)
    assert (await sla_jobs.check_deadlines(harness.application, NOW + timedelta(days=7))).closed == 0
    result = await sla_jobs.check_deadlines(harness.application, NOW + timedelta(days=8, minutes=1))
    assert result.closed == 1
    told = await harness.next(worker)
    assert told["text"] == t("vi", "worker.closed_without_answer", code=grievance.code,
                             category="Tiền lương, thưởng", unit=GRASSROOTS)
    assert (await next_sent(harness, group.id))["text"] == t("vi", "sla.closed_without_answer", code=grievance.code)
    assert (await stored(harness, grievance)).status == CaseStatus.CLOSED
    late_press = await harness.press(worker, resolved, f"wout:{grievance.id}:no")
    assert (await harness.emulator.wait_answer(late_press))["text"] == t("vi", "worker.outcome_stale")


async def test_a_restart_schedules_the_check_again_and_it_acts_on_the_database(harness):
    _, group = await inbox_with_officer(harness)
    _, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN")
    _, grievance = await worker_and_case(harness, when=utcnow() - timedelta(days=30))
    await harness.next(group.id)
    await harness.restart_bot()
    jobs = harness.application.job_queue.get_jobs_by_name(sla_jobs.JOB_NAME)
    assert len(jobs) == 1 and jobs[0].next_t is not None
    assert jobs[0].job.trigger.interval == sla_jobs.CHECK_EVERY
    await jobs[0].run(harness.application)  # what the scheduler does each minute
    assert (await next_sent(harness, ward_group.id))["text"].startswith(f"📋 {grievance.code}")
    assert (await stored(harness, grievance)).escalations == 1
