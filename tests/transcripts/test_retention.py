"""The retention job: personal data of cases closed longer than RETENTION_DAYS is erased, once; statistics
stay. Time travel by a chosen `now`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.services import cases
from bot.services.grievances import add_voice
from bot.services.privacy import erased_text
from db.models import (
    CaseStatus,
    DataErasure,
    Grievance,
    GrievanceCosigner,
    GrievanceEvent,
    GrievanceMessage,
    Member,
)
from db.types import utcnow
from handlers.privacy import RETENTION_JOB, run_retention
from tests.transcripts.test_mydata import CASE_TEXT, VN, file_case, officer_with_inbox, ready_member


async def closed_case(harness, officer, worker_id, cosigner_id=None) -> Grievance:
    grievance = await file_case(harness, worker_id, attachments=["EMUPHOTO7"])
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, grievance.id)
        g.draft_token = "5d0b7c2e9a4f41e3b8c6d1a2f7e09b34"  # as intake stores it
        if cosigner_id:
            await add_voice(session, g.id, await session.get_one(Member, cosigner_id), utcnow(), VN)
        holder = await session.scalar(select(Member).where(Member.telegram_id == officer.id))
        await cases.add_note(session, g, holder, "Chị ấy ở tổ 3", utcnow())
        await cases.resolve(session, g, holder, "Đã trả đủ lương", utcnow())
        await cases.record_outcome(session, g, await session.get_one(Member, worker_id), cases.Outcome.YES, 5,
                                   utcnow(), VN)
        return g


async def test_old_closed_cases_lose_their_personal_data_once(harness):
    officer, group = await officer_with_inbox(harness)
    worker, colleague = harness.user("Lan"), harness.user("Hoa")
    worker_id, colleague_id = await ready_member(harness, worker), await ready_member(harness, colleague)
    old = await closed_case(harness, officer, worker_id, colleague_id)
    still_open = await file_case(harness, worker_id)
    async with harness.session_factory() as session:
        closed_at = (await session.get_one(Grievance, old.id)).closed_at
    days = harness.settings.retention_days
    assert days == 730

    assert await run_retention(harness.application, closed_at + timedelta(days=days - 1)) == 0
    async with harness.session_factory() as session:
        assert (await session.get_one(Grievance, old.id)).text == CASE_TEXT
    harness.emulator.drain(group)

    assert await run_retention(harness.application, closed_at + timedelta(days=days, minutes=1)) == 1
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, old.id)
        assert g.text == erased_text() and g.member_id is None and g.draft_token is None
        assert (g.status, g.category, g.outcome, g.rating) == (CaseStatus.CLOSED, "wages", "yes", 5)
        messages = (await session.scalars(select(GrievanceMessage).where(GrievanceMessage.grievance_id == g.id))).all()
        assert all(m.text in (None, erased_text()) and m.file_id is None for m in messages)
        assert all(m.author_member_id != worker_id for m in messages)
        actors = set((await session.scalars(select(GrievanceEvent.actor).where(GrievanceEvent.grievance_id == g.id))).all())
        assert f"member:{worker_id}" not in actors and f"member:{colleague_id}" not in actors
        assert await session.scalar(select(func.count()).select_from(GrievanceCosigner)) == 0
        assert (await session.get_one(Grievance, still_open.id)).text == CASE_TEXT  # not closed: untouched
        assert await session.scalar(select(DataErasure.reason).where(DataErasure.grievance_id == g.id)) == "retention"
        # The members themselves are untouched: retention is about old cases, not people.
        assert (await session.get_one(Member, worker_id)).first_name == "Lan"
    card = await harness.next(group.id)  # the card in the inbox shows the erased text too
    assert erased_text() in card["text"] and CASE_TEXT not in card["text"]

    assert await run_retention(harness.application, closed_at + timedelta(days=days + 400)) == 0  # once only
    # The worker's /mycases no longer lists it.
    listing = await harness.reply_to(worker, "/mycases")
    assert old.code not in listing["text"] and still_open.code in listing["text"]


async def test_the_job_is_scheduled_daily_and_rebuilt_at_start(harness):
    [job] = harness.application.job_queue.get_jobs_by_name(RETENTION_JOB)
    await harness.restart_bot()
    assert len(harness.application.job_queue.get_jobs_by_name(RETENTION_JOB)) == 1
    assert job.name == RETENTION_JOB
