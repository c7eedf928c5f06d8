"""Officers' and workers' actions on a case, on both databases."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot import CONTENT_DIR
from bot.services import cases, sla_watch
from bot.services.grievances import CaseDraft, submit_case
from bot.services.units import import_units
from db.models import CaseStatus, GrievanceEvent, GrievanceMessage, Member, Officer, Unit, Workplace

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=VN)
INBOXES = ("CDCS-MAYSH", "CDP-LONGBIEN", "LDLD-HN", "LDLD-HCM", "VGCL")


async def unit(session, code):
    return await session.scalar(select(Unit).where(Unit.code == code))


async def world(session, identity="named"):
    await import_units(session, (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8"))
    for index, code in enumerate(INBOXES):
        await session.execute(update(Unit).where(Unit.code == code).values(inbox_chat_id=-2000 - index))
    worker = Member(telegram_id=1, language="vi")
    grassroots_officer = Member(telegram_id=2, language="vi")
    ward_officer = Member(telegram_id=3, language="vi")
    hcm_officer = Member(telegram_id=4, language="vi")
    session.add_all([worker, grassroots_officer, ward_officer, hcm_officer])
    await session.flush()
    for member, code in ((grassroots_officer, "CDCS-MAYSH"), (ward_officer, "CDP-LONGBIEN"),
                         (hcm_officer, "LDLD-HCM")):
        session.add(Officer(member_id=member.id, unit_id=(await unit(session, code)).id))
    await session.commit()
    workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
    submitted = await submit_case(session, worker, CaseDraft("wages", "Công ty trả lương chậm ba tuần",
                                                             identity=identity, workplace_id=workplace), NOW, VN)
    return submitted.grievance, worker, grassroots_officer, ward_officer, hcm_officer


async def actions(session, grievance):
    rows = await session.scalars(select(GrievanceEvent.action).where(GrievanceEvent.grievance_id == grievance.id)
                                 .order_by(GrievanceEvent.id))
    return list(rows)


async def test_who_may_act(session):
    grievance, worker, grassroots, ward, hcm = await world(session)
    assert await cases.can_act(session, grassroots, grievance, is_admin=False)
    assert await cases.can_act(session, ward, grievance, is_admin=False)  # an ancestor unit
    assert not await cases.can_act(session, hcm, grievance, is_admin=False)  # another province
    assert not await cases.can_act(session, worker, grievance, is_admin=False)
    assert await cases.can_act(session, worker, grievance, is_admin=True)


async def test_claim_reply_ask_answer_resolve_close(session):
    grievance, worker, grassroots, ward, _ = await world(session)
    await cases.claim(session, grievance, grassroots, NOW)
    assert grievance.status == CaseStatus.ACKNOWLEDGED and grievance.acknowledged_at is not None
    with pytest.raises(cases.CaseRefused, match="held_by_other"):
        await cases.claim(session, grievance, ward, NOW)
    await cases.reply(session, grievance, grassroots, "Bạn gửi giúp ảnh phiếu lương nhé", NOW,
                      asks_for_information=True)
    assert grievance.status == CaseStatus.WAITING_WORKER
    await cases.worker_message(session, grievance, worker, NOW, file_id="PAYSLIP", file_kind="photo")
    assert grievance.status == CaseStatus.ACKNOWLEDGED
    await cases.add_note(session, grievance, grassroots, "Đã gọi phòng nhân sự", NOW)
    await cases.resolve(session, grievance, grassroots, "Công ty đã trả đủ lương tháng 10", NOW)
    assert grievance.status == CaseStatus.RESOLVED
    await cases.record_outcome(session, grievance, worker, cases.Outcome.YES, 5, NOW, VN)
    assert grievance.status == CaseStatus.CLOSED and grievance.rating == 5
    assert await actions(session, grievance) == ["created", "claimed", "asked", "worker_answered", "note",
                                                 "resolved", "closed"]
    union_messages = await session.scalars(select(GrievanceMessage.text).where(
        GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.from_worker.is_(False)))
    assert "Đã gọi phòng nhân sự" not in list(union_messages)  # notes never become messages


async def test_not_resolved_reopens_one_level_up_with_a_new_clock(session):
    grievance, worker, grassroots, _, _ = await world(session)
    await cases.resolve(session, grievance, grassroots, "Đã xử lý", NOW)
    later = NOW + timedelta(days=1)
    moved = await cases.record_outcome(session, grievance, worker, cases.Outcome.NO, 1, later, VN)
    assert moved.to_unit.code == "CDP-LONGBIEN" and grievance.status == CaseStatus.OPEN
    assert grievance.acknowledge_due_at.astimezone(VN) == datetime(2026, 11, 27, 9, 30, tzinfo=VN)
    assert (await actions(session, grievance))[-2:] == ["reopened", "escalated"]


async def test_escalation_skips_units_without_inbox_and_ends_with_the_admins(session):
    grievance, worker, grassroots, _, _ = await world(session)
    await session.execute(update(Unit).where(Unit.code.in_(["CDP-LONGBIEN", "LDLD-HN", "VGCL"]))
                          .values(inbox_chat_id=None))
    await session.commit()
    moved = await cases.escalate(session, grievance, "system", NOW, VN, "overdue")
    assert moved.to_unit is None and grievance.unit_id is None
    with pytest.raises(cases.CaseRefused, match="nowhere_higher"):
        await cases.escalate(session, grievance, "system", NOW, VN, "overdue")


async def test_transfer_stays_inside_the_officers_reach(session):
    grievance, worker, grassroots, ward, hcm = await world(session)
    with pytest.raises(cases.CaseRefused, match="outside_subtree"):
        await cases.transfer(session, grievance, grassroots, await unit(session, "LDLD-HCM"), NOW, VN)
    moved = await cases.transfer(session, grievance, grassroots, await unit(session, "CDP-LONGBIEN"), NOW, VN)
    assert moved.to_unit.code == "CDP-LONGBIEN"  # the parent of the officer's unit
    moved = await cases.transfer(session, grievance, ward, await unit(session, "CDCS-MAYSH"), NOW, VN)
    assert moved.to_unit.code == "CDCS-MAYSH"  # down into the officer's subtree


async def test_confidential_cases_never_go_down_to_the_grassroots(session):
    grievance, _, _, ward, _ = await world(session, identity="confidential")
    assert (await session.get(Unit, grievance.unit_id)).code == "CDP-LONGBIEN"
    with pytest.raises(cases.CaseRefused, match="confidential_to_grassroots"):
        await cases.transfer(session, grievance, ward, await unit(session, "CDCS-MAYSH"), NOW, VN)


async def test_overdue_and_closing_unanswered(session):
    grievance, worker, grassroots, _, _ = await world(session)
    assert await cases.overdue_cases(session, NOW + timedelta(days=1)) == []
    assert [g.id for g in await cases.overdue_cases(session, NOW + timedelta(days=3))] == [grievance.id]
    await cases.claim(session, grievance, grassroots, NOW)
    assert await cases.overdue_cases(session, NOW + timedelta(days=3)) == []  # acknowledged in time
    assert [g.id for g in await cases.overdue_cases(session, NOW + timedelta(days=20))] == [grievance.id]
    await cases.resolve(session, grievance, grassroots, "Đã xử lý", NOW)
    assert await sla_watch.unanswered_ids(session, NOW + timedelta(days=6)) == []
    assert await sla_watch.unanswered_ids(session, NOW + timedelta(days=8)) == [grievance.id]
    closed = await sla_watch.close_unanswered(session, grievance.id, NOW + timedelta(days=8))
    assert closed.status == CaseStatus.CLOSED


async def test_no_on_a_case_the_admins_hold_reopens_it_with_them(session):
    grievance, worker, grassroots, _, _ = await world(session)
    await session.execute(update(Unit).values(inbox_chat_id=None))
    await session.commit()
    await cases.escalate(session, grievance, "system", NOW, VN, "overdue")
    await cases.resolve(session, grievance, grassroots, "Đã xử lý", NOW)
    moved = await cases.record_outcome(session, grievance, worker, cases.Outcome.NO, None, NOW, VN)
    assert moved.to_unit is None and grievance.unit_id is None and grievance.status == CaseStatus.OPEN
    assert (await actions(session, grievance))[-2:] == ["reopened", "reopened_at_admins"]


async def test_only_the_author_answers_for_the_worker(session):
    grievance, worker, grassroots, _, _ = await world(session)
    with pytest.raises(cases.CaseRefused, match="not_yours"):
        await cases.worker_message(session, grievance, grassroots, NOW, text="giả danh")
    await cases.resolve(session, grievance, grassroots, "Đã xử lý", NOW)
    with pytest.raises(cases.CaseRefused, match="not_yours"):
        await cases.record_outcome(session, grievance, grassroots, cases.Outcome.YES, 5, NOW, VN)
    with pytest.raises(cases.CaseRefused, match="bad_rating"):
        await cases.record_outcome(session, grievance, worker, cases.Outcome.YES, 9, NOW, VN)
