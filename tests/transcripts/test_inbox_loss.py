"""The bot removed from a unit's inbox group: the unit has no inbox, its open cases go up to the nearest
unit above with an inbox (or to the admins), and the admins are told."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import officers
from db.models import AuditLog, CaseStatus, Grievance, GrievanceEvent, Unit
from tests.support.harness import t
from tests.transcripts.test_mydata import file_case, officer_with_inbox, ready_member


async def an_admin(harness):
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    return admin


async def unit(harness, code) -> Unit:
    async with harness.session_factory() as session:
        return await session.scalar(select(Unit).where(Unit.code == code))


async def test_open_cases_go_to_the_parent_inbox_and_admins_are_told(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    _, ward = await officer_with_inbox(harness, "CDP-LONGBIEN", first_name="Minh", last_name="Lê")
    worker = harness.user("Lan")
    member_id = await ready_member(harness, worker)
    grievance = await file_case(harness, member_id)
    await harness.next(grassroots.id)  # the card
    harness.emulator.drain(worker)

    await harness.emulator.remove_bot_from_group(grassroots, officer)

    card = await harness.next(ward.id)
    assert card["text"].startswith(f"📋 {grievance.code}")
    alert = await harness.next(admin)
    assert alert["text"] == t("vi", "units.inbox_lost", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội",
                              code="CDCS-MAYSH", moved=1)
    told = await harness.next(worker)
    assert grievance.code in told["text"] and "Công đoàn phường Long Biên" in told["text"]
    assert (await unit(harness, "CDCS-MAYSH")).inbox_chat_id is None
    ward_unit = await unit(harness, "CDP-LONGBIEN")
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, grievance.id)
        assert g.unit_id == ward_unit.id and g.status == CaseStatus.OPEN
        event = await session.scalar(select(GrievanceEvent).where(GrievanceEvent.grievance_id == g.id,
                                                                  GrievanceEvent.action == "escalated"))
        assert (event.actor, event.note) == ("system", "inbox_lost")
        assert await session.scalar(select(AuditLog.subject).where(AuditLog.action == "inbox.lost")) == \
            "unit:CDCS-MAYSH"


async def test_nobody_above_with_an_inbox_means_the_admins_hold_it(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    grievance = await file_case(harness, await ready_member(harness, harness.user("Lan")))
    await harness.next(grassroots.id)
    await harness.emulator.remove_bot_from_group(grassroots, officer)
    card = await harness.next(admin)  # the admins get the card in their private chats…
    assert card["text"].startswith(f"📋 {grievance.code}")
    texts = [(await harness.next(admin))["text"] for _ in range(2)]  # …and two alerts
    assert t("vi", "admin.case_without_inbox", code=grievance.code) in texts
    assert t("vi", "units.inbox_lost", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội",
             code="CDCS-MAYSH", moved=1) in texts
    async with harness.session_factory() as session:
        assert (await session.get_one(Grievance, grievance.id)).unit_id is None


async def test_leaving_another_group_changes_nothing_and_a_new_inbox_works(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    chatter = harness.emulator.create_group("Nhóm tán gẫu", members=[officer])
    await harness.emulator.remove_bot_from_group(chatter, officer)
    await harness.emulator.add_bot_to_group(chatter, officer)  # joining is no loss either
    answer = await harness.reply_to(admin, "/help")
    assert answer["text"] == t("vi", "help.text_no_consent")  # nothing was sent to the admin before it
    assert (await unit(harness, "CDCS-MAYSH")).inbox_chat_id == grassroots.id
    # After a loss, /inbox in a new group makes it the inbox again.
    await harness.emulator.remove_bot_from_group(grassroots, officer)
    alert = await harness.next(admin)
    assert alert["text"].startswith("⚠️")
    fresh = harness.emulator.create_group("Hộp thư mới", members=[officer])
    await harness.send(officer, "/inbox", chat=fresh)
    assert (await harness.next(fresh.id))["text"].startswith("✅")
    assert (await unit(harness, "CDCS-MAYSH")).inbox_chat_id == fresh.id
