"""The weekly digest to each unit inbox, with a chosen `now` (time travel without touching the clock): sent
once per week, never twice (also across a restart), and caught up when the bot was down on Monday."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.services import digest, units
from db.models import CaseStatus, DigestLog, Grievance
from db.types import utcnow
from handlers import digest_jobs
from sandbox.emulator import NoMessage
from tests.support.harness import t
from tests.transcripts.test_inbox import officer_of

TZ_NAME = "Asia/Ho_Chi_Minh"


async def registered_inbox(harness, code="CDCS-MAYSH"):
    officer = await officer_of(harness, code)
    group = harness.emulator.create_group("Hộp thư", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    await harness.next(group.id)
    harness.emulator.drain(group.id)
    return group


async def add_cases(harness, monday):
    """At the grassroots union: one open case on time, one overdue, one resolved in the week before the
    digest, one resolved the week before that (not counted)."""
    async with harness.session_factory() as session:
        unit = await units.get_unit_by_code(session, "CDCS-MAYSH")
        rows = [
            ("PA-D-1", CaseStatus.ACKNOWLEDGED, monday + timedelta(days=3), None),
            ("PA-D-2", CaseStatus.OPEN, monday - timedelta(hours=1), None),
            ("PA-D-3", CaseStatus.RESOLVED, monday + timedelta(days=3), monday - timedelta(days=2)),
            ("PA-D-4", CaseStatus.CLOSED, monday + timedelta(days=3), monday - timedelta(days=9)),
        ]
        for code, status, due, resolved in rows:
            session.add(Grievance(code=code, category="wages", unit_id=unit.id, status=status,
                                  created_at=monday - timedelta(days=20), acknowledge_due_at=due,
                                  resolve_due_at=due, resolved_at=resolved))
        await session.commit()


async def sent_to(harness, group_id):
    try:
        return await harness.next(group_id, timeout=1)
    except NoMessage:
        return None


async def test_digest_once_a_week_across_restarts(harness):
    group = await registered_inbox(harness)
    tz = harness.settings.tz
    monday = digest.next_due(utcnow(), tz)  # the next Monday 08:00 in Hà Nội
    assert monday.astimezone(tz).weekday() == 0 and monday.astimezone(tz).hour == 8
    await add_cases(harness, monday)

    assert await digest_jobs.send_due(harness.application, monday - timedelta(minutes=1)) == 0
    assert await sent_to(harness, group.id) is None  # the inbox did not exist at last week's digest time

    assert await digest_jobs.send_due(harness.application, monday + timedelta(minutes=1)) == 1
    message = await harness.next(group.id)
    since = (monday - timedelta(days=7)).astimezone(tz)
    assert message["text"] == "\n".join([
        t("vi", "digest.title", since=f"{since:%d/%m/%Y}"),
        t("vi", "digest.counts", open=2, overdue=1, resolved=1),
        t("vi", "digest.overdue_list", codes="PA-D-2")])

    assert await digest_jobs.send_due(harness.application, monday + timedelta(hours=3)) == 0
    await harness.restart_bot()  # the start-up catch-up runs with the real clock: last week, nothing due
    assert await digest_jobs.send_due(harness.application, monday + timedelta(hours=5)) == 0
    assert await sent_to(harness, group.id) is None

    # the bot was down on the next Monday morning: the digest goes out when it is back, on Tuesday
    tuesday = monday + timedelta(days=8)
    assert await digest_jobs.send_due(harness.application, tuesday) == 1
    assert (await harness.next(group.id))["text"].startswith(t("vi", "digest.title", since="")[:10])
    assert await digest_jobs.send_due(harness.application, tuesday + timedelta(hours=1)) == 0
    async with harness.session_factory() as session:
        weeks = await session.scalars(select(DigestLog.week).order_by(DigestLog.week))
        assert list(weeks) == [monday.astimezone(tz).date().isoformat(),
                               (monday + timedelta(days=7)).astimezone(tz).date().isoformat()]


async def test_a_claim_left_by_a_crash_is_taken_over_later(harness):
    group = await registered_inbox(harness)
    tz = harness.settings.tz
    monday = digest.next_due(utcnow(), tz)
    async with harness.session_factory() as session:
        unit = await units.get_unit_by_code(session, "CDCS-MAYSH")
        assert await digest.claim(session, unit.id, monday, tz)  # claimed, then the process died
    assert await digest_jobs.send_due(harness.application, monday + timedelta(minutes=2)) == 0
    assert await digest_jobs.send_due(harness.application, monday + digest.CLAIM_TIMEOUT + timedelta(minutes=1)) == 1
    assert (await harness.next(group.id))["text"].startswith("🗓")
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(DigestLog)) == 1


async def test_the_next_monday_is_scheduled_at_start(harness):
    jobs = harness.application.job_queue.get_jobs_by_name(digest_jobs.JOB_NAME)
    weekly = [job for job in jobs if job.data == "weekly"]
    assert len(weekly) == 1
    expected = digest.next_due(utcnow(), harness.settings.tz)
    assert abs((weekly[0].next_t - expected).total_seconds()) < 1
    await harness.restart_bot()
    assert len([j for j in harness.application.job_queue.get_jobs_by_name(digest_jobs.JOB_NAME)
                if j.data == "weekly"]) == 1
