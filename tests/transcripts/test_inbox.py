"""/inbox: an officer makes their unit's Telegram group the place where its cases arrive."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import officers, units
from db.models import Unit
from tests.support.harness import buttons_of, t


async def officer_of(harness, *codes):
    user = harness.user("Hùng")
    for code in codes:
        async with harness.session_factory() as session:
            unit = await units.get_unit_by_code(session, code)
            invite = await officers.create_invite(session, unit, "test")
        await harness.reply_to(user, f"/start officer-{invite.token}")
    return user


async def inbox_of(harness, code):
    async with harness.session_factory() as session:
        return await session.scalar(select(Unit.inbox_chat_id).where(Unit.code == code))


async def test_an_officer_registers_the_group(harness):
    officer = await officer_of(harness, "CDCS-MAYSH")
    group = harness.emulator.create_group("Hộp thư CĐCS May Sông Hồng", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    reply = await harness.next(group.id)
    assert reply["text"] == t("vi", "inbox.registered", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội")
    assert await inbox_of(harness, "CDCS-MAYSH") == group.id


async def test_someone_who_is_not_an_officer_cannot(harness):
    stranger = harness.user("Khách")
    group = harness.emulator.create_group("Nhóm lạ", members=[stranger])
    await harness.send(stranger, "/inbox@congdoan_test_bot", chat=group)
    assert (await harness.next(group.id))["text"] == t("vi", "inbox.not_officer")
    assert await inbox_of(harness, "CDCS-MAYSH") is None


async def test_an_officer_of_two_units_picks_one_and_a_group_serves_one_unit(harness):
    officer = await officer_of(harness, "CDCS-MAYSH", "CDP-LONGBIEN")
    group = harness.emulator.create_group("Hộp thư", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    question = await harness.next(group.id)
    assert question["text"] == t("vi", "inbox.pick_unit")
    ward = next(data for text, data in buttons_of(question) if "Long Biên" in text)
    await harness.press(officer, question, ward)
    assert (await harness.next(group.id))["text"].startswith("✅")
    assert await inbox_of(harness, "CDP-LONGBIEN") == group.id
    await harness.press(officer, question, next(d for x, d in buttons_of(question) if "May" in x))
    taken = await harness.next(group.id)
    assert taken["text"] == t("vi", "inbox.taken", unit="Công đoàn phường Long Biên")
    assert await inbox_of(harness, "CDCS-MAYSH") is None


async def test_a_forged_unit_button_is_refused(harness):
    officer = await officer_of(harness, "CDCS-MAYSH")
    group = harness.emulator.create_group("Hộp thư", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    message = await harness.next(group.id)
    query_id = await harness.press(officer, message, "inbox:99999", force=True)
    assert (await harness.emulator.wait_answer(query_id))["text"] == t("vi", "input.stale_button")
    async with harness.session_factory() as session:
        other = await units.get_unit_by_code(session, "LDLD-HCM")
    query_id = await harness.press(officer, message, f"inbox:{other.id}", force=True)
    assert (await harness.next(group.id))["text"] == t("vi", "inbox.not_officer")
    assert await inbox_of(harness, "LDLD-HCM") is None
