"""Case cards in a unit's inbox group: posted, claimed by an officer, edited in place, refused to others."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import officers, units
from bot.services.grievances import CaseDraft, submit_case
from db.models import Member, Workplace
from handlers.cards import show_card
from tests.support.harness import buttons_of, t

VN = ZoneInfo("Asia/Ho_Chi_Minh")


async def inbox_with_officer(harness, code="CDCS-MAYSH"):
    officer = harness.user("Hùng", last_name="Trần")
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, code), "test")
    await harness.reply_to(officer, f"/start officer-{invite.token}")
    group = harness.emulator.create_group("Hộp thư", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    await harness.next(group.id)
    return officer, group


async def file_case(harness, identity="named", first_name="Lan", username="lan_may"):
    async with harness.session_factory() as session:
        worker = Member(telegram_id=424242, first_name=first_name, username=username, phone="+84912345678",
                        language="vi", consent_version="2026.1")
        session.add(worker)
        await session.commit()
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
        submitted = await submit_case(session, worker, CaseDraft(
            "wages", "Công ty trả lương chậm ba tuần <b>liên tục</b>", identity=identity, workplace_id=workplace),
            datetime(2026, 11, 24, 9, 30, tzinfo=VN), VN)
        await show_card(harness.application.bot, session, submitted.grievance, VN)
        return submitted.grievance


async def test_card_arrives_escaped_and_a_claim_edits_it_in_place(harness):
    officer, group = await inbox_with_officer(harness)
    grievance = await file_case(harness)
    card = await harness.next(group.id)
    assert card["text"].startswith(f"📋 {grievance.code} · Tiền lương, thưởng")
    assert "<b>liên tục</b>" in card["text"]  # the worker's text is shown as typed, not as markup
    assert "Lan · @lan_may · +84912345678" in card["text"]
    assert "26/11/2026 09:30" in card["text"]
    await harness.press(officer, card, buttons_of(card)[0][1])
    claimed = await harness.next(group.id)
    assert claimed["message_id"] == card["message_id"]
    assert t("vi", "card.status_acknowledged") in claimed["text"] and "Hùng Trần" in claimed["text"]
    assert f"case:claim:{grievance.id}" not in [data for _, data in buttons_of(claimed)]


async def test_anonymous_card_shows_no_identity(harness):
    _, group = await inbox_with_officer(harness)
    await file_case(harness, identity="anonymous", first_name="Nguyễn Thị Bí Mật", username="bimat_99")
    card = await harness.next(group.id)
    for secret in ("Bí Mật", "bimat_99", "+84912345678", "424242"):
        assert secret not in card["text"]
    assert t("vi", "card.identity_anonymous") in card["text"]


async def test_others_cannot_claim(harness):
    _, group = await inbox_with_officer(harness)
    grievance = await file_case(harness)
    card = await harness.next(group.id)
    outsider = harness.user("Người ngoài")
    query_id = await harness.press(outsider, card, f"case:claim:{grievance.id}")
    answer = await harness.emulator.wait_answer(query_id)
    assert answer["text"] == t("vi", "card.not_allowed") and answer["show_alert"]
    forged = await harness.press(outsider, card, "case:claim:abc", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "input.stale_button")


async def test_a_reply_to_the_card_reaches_the_worker_in_the_units_name(harness):
    officer, group = await inbox_with_officer(harness)
    worker = harness.emulator.create_user("Lan")  # the worker's Telegram account
    async with harness.session_factory() as session:
        member = Member(telegram_id=worker.id, first_name="Lan", language="vi", consent_version="2026.1")
        session.add(member)
        await session.commit()
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
        submitted = await submit_case(session, member, CaseDraft("wages", "Công ty trả lương chậm ba tuần",
                                                                 identity="anonymous", workplace_id=workplace),
                                      datetime(2026, 11, 24, 9, 30, tzinfo=VN), VN)
        await show_card(harness.application.bot, session, submitted.grievance, VN)
    card = await harness.next(group.id)
    await harness.send(officer, "Công đoàn đã làm việc với công ty, tuần sau trả đủ <lương>.", chat=group,
                       reply_to=card)
    relayed = await harness.next(worker)
    assert submitted.grievance.code in relayed["text"] and "tuần sau trả đủ <lương>." in relayed["text"]
    assert "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội" in relayed["text"]
    assert "Hùng" not in relayed["text"] and "Trần" not in relayed["text"]  # never the officer's name
    assert (await harness.next(group.id))["text"] == t("vi", "card.reply_sent")
    refreshed = await harness.next(group.id)
    assert refreshed["message_id"] == card["message_id"] and t("vi", "card.status_acknowledged") in refreshed["text"]


async def test_group_chatter_and_strangers_replies(harness):
    officer, group = await inbox_with_officer(harness)
    await file_case(harness)
    card = await harness.next(group.id)
    stranger = harness.user("Khách")
    harness.emulator.chats[group.id].members[stranger.id] = "member"
    await harness.send(stranger, "Tôi trả lời thử", chat=group, reply_to=card)
    assert (await harness.next(group.id))["text"] == t("vi", "card.not_allowed")
    await harness.send(officer, "Chào cả nhóm", chat=group)  # not a reply to a card: ignored
    await harness.send(officer, "/inbox", chat=group)
    assert (await harness.next(group.id))["text"].startswith("✅")
