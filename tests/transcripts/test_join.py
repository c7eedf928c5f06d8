"""Joining the union: the worker's one-tap request, the card in the receiving unit's inbox, Contacted and
Joined updating the profile; routing without a grassroots union; the admins when nobody has an inbox;
forged and unauthorised presses."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import officers, units
from db.models import AuditLog, JoinRequest, JoinStatus, Member, UnionStatus, Workplace
from db.types import utcnow
from tests.support.harness import buttons_of, data_of, t


async def inbox_with_officer(harness, code="CDCS-MAYSH", first_name="Hùng", last_name="Trần"):
    """An officer of the unit `code`, with the unit's inbox group; returns (officer, group)."""
    officer = harness.user(first_name, last_name=last_name)
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, code), "test")
    await harness.reply_to(officer, f"/start officer-{invite.token}")
    group = harness.emulator.create_group(f"Hộp thư {code}", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    await harness.next(group.id)
    return officer, group


async def onboarded_worker(harness, workplace_code="WP-MAYSH", union_status=UnionStatus.NOT_YET,
                           first_name="Lan", username="lan_may", phone="+84912345678", language="vi"):
    """A worker who finished onboarding (straight into the database); returns the emulator user."""
    user = harness.user(first_name, last_name="Nguyễn", username=username, language_code=language)
    async with harness.session_factory() as session:
        workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
        session.add(Member(telegram_id=user.id, first_name=first_name, last_name="Nguyễn", username=username,
                           phone=phone, language=language, consent_version="2026.1", consented_at=utcnow(),
                           province_code=workplace.province_code, workplace_id=workplace.id,
                           union_status=union_status, onboarded_at=utcnow()))
        await session.commit()
    return user


async def member_of(harness, user) -> Member:
    async with harness.session_factory() as session:
        return await session.scalar(select(Member).where(Member.telegram_id == user.id))


async def audit_actions(harness, subject_prefix: str) -> list[str]:
    async with harness.session_factory() as session:
        rows = await session.scalars(select(AuditLog.action).where(AuditLog.subject.startswith(subject_prefix))
                                     .order_by(AuditLog.id))
        return list(rows)


async def send_request(harness, worker) -> dict:
    offer = await harness.reply_to(worker, "/join")
    await harness.press(worker, offer, "join:send")
    return await harness.next(worker)


async def test_a_join_request_goes_to_the_grassroots_inbox_and_joined_updates_the_profile(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness)
    offer = await harness.reply_to(worker, "/join")
    assert "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội" in offer["text"]
    assert "@username" in offer["text"] and t("vi", "join.share_phone") in offer["text"]
    assert [data for _, data in buttons_of(offer)] == ["join:send", "join:cancel"]
    await harness.press(worker, offer, "join:send")
    sent = await harness.next(worker)
    assert sent["message_id"] == offer["message_id"]
    assert sent["text"] == t("vi", "join.sent", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội")

    card = await harness.next(group.id)
    assert "Lan Nguyễn · @lan_may · +84912345678" in card["text"]
    assert "Công ty TNHH May Sông Hồng Hà Nội" in card["text"]
    assert t("vi", "join.status_open") in card["text"]
    await harness.press(officer, card, data_of(card, t("vi", "join.card_contacted")))
    contacted = await harness.edited(group.id, card["message_id"])
    assert t("vi", "join.status_contacted") in contacted["text"] and "Hùng Trần" in contacted["text"]
    assert t("vi", "join.card_contacted") not in [text for text, _ in buttons_of(contacted)]
    assert (await member_of(harness, worker)).union_status == UnionStatus.NOT_YET

    await harness.press(officer, contacted, data_of(contacted, t("vi", "join.card_joined")))
    joined = await harness.edited(group.id, card["message_id"])
    assert t("vi", "join.status_joined") in joined["text"] and not buttons_of(joined)
    told = await harness.next(worker)
    assert told["text"] == t("vi", "join.worker_joined", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội")
    assert (await member_of(harness, worker)).union_status == UnionStatus.MEMBER
    assert await audit_actions(harness, "join:") == ["join.requested", "join.contacted", "join.joined"]

    again = await harness.reply_to(worker, "/join")
    assert again["text"] == t("vi", "join.refused_already_member")


async def test_a_second_request_while_one_is_open_creates_nothing_new(harness):
    _, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness)
    await send_request(harness, worker)
    await harness.next(group.id)
    pending = await harness.reply_to(worker, "/join")
    assert t("vi", "join.already_pending", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội",
             date=pending["text"].split("ngày ")[1][:10]) == pending["text"]
    async with harness.session_factory() as session:
        assert len((await session.scalars(select(JoinRequest))).all()) == 1


async def test_without_a_grassroots_union_the_upper_level_union_receives_it(harness):
    """Xưởng bánh mì Hương Việt has no grassroots union: the Hà Nội federation is the union of the area."""
    federation_officer, federation_group = await inbox_with_officer(harness, "LDLD-HN", "Mai", "Phạm")
    grassroots_officer, _ = await inbox_with_officer(harness, "CDCS-MAYSH")
    worker = await onboarded_worker(harness, "WP-BANHMIHN", first_name="Tú", username=None, phone=None)
    offer = await harness.reply_to(worker, "/join")
    assert "Liên đoàn Lao động Thành phố Hà Nội" in offer["text"] and "@username" not in offer["text"]
    await harness.press(worker, offer, "join:send")
    await harness.next(worker)
    card = await harness.next(federation_group.id)
    assert "Tú Nguyễn" in card["text"] and "Xưởng bánh mì Hương Việt" in card["text"]

    # An officer of another unit (not on the worker's path) may not act, even with the card's own data.
    refused = await harness.press(grassroots_officer, card, data_of(card, t("vi", "join.card_joined")))
    answer = await harness.emulator.wait_answer(refused)
    assert answer["text"] == t("vi", "card.not_allowed") and answer["show_alert"]
    await harness.press(federation_officer, card, data_of(card, t("vi", "join.card_notnow")))
    closed = await harness.edited(federation_group.id, card["message_id"])
    assert t("vi", "join.status_not_now") in closed["text"]
    told = await harness.next(worker)
    assert told["text"] == t("vi", "join.worker_not_now", unit="Liên đoàn Lao động Thành phố Hà Nội")
    assert (await member_of(harness, worker)).union_status == UnionStatus.NOT_YET
    # Already decided: a second press changes nothing.
    late = await harness.press(federation_officer, card, data_of(card, t("vi", "join.card_notnow")), force=True)
    assert (await harness.emulator.wait_answer(late))["text"] == t("vi", "join.refused_already_decided")


async def test_nobody_with_an_inbox_the_admins_get_the_card(harness):
    admin = harness.user("Quản trị")
    await harness.reply_to(admin, "/start")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    worker = await onboarded_worker(harness)
    await send_request(harness, worker)
    card = await harness.next(admin)
    assert "Lan Nguyễn" in card["text"]
    await harness.press(admin, card, data_of(card, t("vi", "join.card_joined")))
    await harness.edited(admin, card["message_id"])
    assert (await harness.next(worker))["text"] == t("vi", "join.worker_joined", unit=t("vi", "case.union_admins"))
    async with harness.session_factory() as session:
        request = await session.scalar(select(JoinRequest))
    assert request.status == JoinStatus.JOINED and request.unit_id is None


async def test_forged_presses_are_refused(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness)
    await send_request(harness, worker)
    card = await harness.next(group.id)
    request_id = int(data_of(card, t("vi", "join.card_joined")).rsplit(":", 1)[1])
    for forged in (f"jr:joined:{request_id + 100}", "jr:joined:abc", f"jr:promote:{request_id}"):
        query = await harness.press(officer, card, forged, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    # The worker presses the card's button in their own chat (on a message that is not the card).
    sent = await harness.reply_to(worker, "/menu")
    query = await harness.press(worker, sent, f"jr:joined:{request_id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    assert (await member_of(harness, worker)).union_status == UnionStatus.NOT_YET
    forged_send = await harness.press(worker, sent, "join:promote", force=True)
    assert (await harness.emulator.wait_answer(forged_send))["text"] == t("vi", "input.stale_button")


async def test_onboarding_as_a_non_member_offers_joining_and_settings_too(harness):
    worker = harness.user("Hoa")
    question = await harness.reply_to(worker, "/start")
    await harness.press(worker, question, "lang:vi")
    await harness.press(worker, await harness.next(worker), "consent:yes")
    await harness.next(worker)
    await harness.press(worker, await harness.reply_to(worker, "ha noi"), "sector:garment")
    await harness.next(worker)
    results = await harness.reply_to(worker, "may song hong")
    await harness.press(worker, results, buttons_of(results)[0][1])
    await harness.press(worker, await harness.next(worker), "union:not_yet")
    await harness.next(worker)  # the answer shown in place
    await harness.next(worker)  # the summary with the main menu
    offer = await harness.next(worker)
    assert offer["text"] == t("vi", "join.onboarding_offer") and buttons_of(offer) == [
        (t("vi", "join.button"), "join:ask")]
    await harness.press(worker, offer, "join:ask")
    shown = await harness.next(worker)
    assert shown["message_id"] == offer["message_id"] and "join:send" in [d for _, d in buttons_of(shown)]
    await harness.press(worker, shown, "join:cancel")
    assert (await harness.next(worker))["text"] == t("vi", "join.cancelled")

    settings = await harness.reply_to(worker, "/settings")
    assert "join:ask" in [data for _, data in buttons_of(settings)]
    await harness.press(worker, settings, "join:ask")
    assert "join:send" in [d for _, d in buttons_of(await harness.next(worker))]


async def test_english_worker_and_profile_needed(harness):
    stranger = harness.user("Kim", language_code="en")
    assert (await harness.reply_to(stranger, "/join"))["text"] == t("en", "join.refused_needs_profile")
    worker = await onboarded_worker(harness, language="en", first_name="Ann", username="ann_w")
    offer = await harness.reply_to(worker, "/join")
    assert offer["text"].startswith(t("en", "join.offer", unit="x", shared="y").split("\n")[0])
