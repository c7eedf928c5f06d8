"""Ideas (sáng kiến): the worker's draft, the card in the grassroots inbox, Received, a reply relayed in the
unit's name, Accept with a note and the points it earns; an anonymous idea leaks no identity; bad input and
unauthorised or forged presses."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Idea, IdeaStatus, Point
from tests.support.harness import buttons_of, data_of, t
from tests.transcripts.test_join import audit_actions, inbox_with_officer, onboarded_worker

UNIT = "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"
TITLE = "Lắp thêm quạt hút ở xưởng may số 2"
TEXT = "Xưởng số 2 rất nóng vào buổi chiều; đề xuất lắp 4 quạt hút <gió> để giảm nhiệt độ và giữ năng suất."


async def draft_idea(harness, worker, identity="named", with_photo=True) -> dict:
    """/idea through the review screen; returns the review message."""
    intro = await harness.reply_to(worker, "/idea")
    assert intro["text"].endswith(t("vi", "idea.ask_title", limit=120))
    ask_text = await harness.reply_to(worker, TITLE)
    assert ask_text["text"] == t("vi", "idea.ask_text", low=20, high=3000)
    ask_file = await harness.reply_to(worker, TEXT)
    assert ask_file["text"] == t("vi", "idea.ask_file")
    if with_photo:
        await harness.emulator.send_photo(worker)
        ask_identity = await harness.next(worker)
    else:
        await harness.press(worker, ask_file, "idea:skip")
        ask_identity = await harness.next(worker)
    await harness.press(worker, ask_identity, f"idea:id:{identity}")
    review = await harness.next(worker)
    assert TITLE in review["text"] and "<gió>" in review["text"] and UNIT in review["text"]
    return review


async def send_idea(harness, worker, **kwargs) -> dict:
    review = await draft_idea(harness, worker, **kwargs)
    await harness.press(worker, review, "idea:send")
    sent = await harness.next(worker)
    assert sent["message_id"] == review["message_id"]
    return sent


async def answer_prompt(harness, officer, group, card, button_text: str, text: str) -> dict:
    """Press a text action on the card, reply to the prompt; returns the bot's confirmation."""
    await harness.press(officer, card, data_of(card, button_text))
    prompt = await harness.next(group.id)
    assert prompt["reply_keyboard"]["force_reply"] is True
    await harness.send(officer, text, chat=group, reply_to=prompt)
    return await harness.next(group.id)


async def test_a_named_idea_is_received_answered_and_accepted(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness, union_status=None)
    sent = await send_idea(harness, worker)
    assert sent["text"] == t("vi", "idea.sent", code="SK-0001", unit=UNIT)

    card = await harness.next(group.id)
    assert card["text"].startswith(f"💡 Sáng kiến SK-0001: {TITLE}")
    assert "Lan Nguyễn · @lan_may" in card["text"] and "<gió>" in card["text"]
    assert t("vi", "idea.card_has_file") in card["text"]
    await harness.press(officer, card, data_of(card, t("vi", "idea.card_ack")))
    received = await harness.edited(group.id, card["message_id"])
    assert t("vi", "idea.status_acknowledged") in received["text"]
    assert t("vi", "idea.card_ack") not in [text for text, _ in buttons_of(received)]
    assert (await harness.next(worker))["text"] == t("vi", "idea.worker_acknowledged", unit=UNIT, code="SK-0001",
                                                     title=TITLE)

    confirmation = await answer_prompt(harness, officer, group, received, t("vi", "idea.card_reply"),
                                       "Cảm ơn bạn, tuần sau công đoàn sẽ khảo sát nhiệt độ xưởng.")
    assert confirmation["text"] == t("vi", "idea.reply_sent")
    relayed = await harness.next(worker)
    assert relayed["text"] == t("vi", "idea.worker_reply", unit=UNIT, code="SK-0001", title=TITLE,
                                text="Cảm ơn bạn, tuần sau công đoàn sẽ khảo sát nhiệt độ xưởng.")
    assert "Hùng" not in relayed["text"] and "Trần" not in relayed["text"]

    confirmation = await answer_prompt(harness, officer, group, received, t("vi", "idea.card_accept"),
                                       "Công ty đồng ý lắp quạt trong tháng 12.")
    assert confirmation["text"] == t("vi", "idea.decision_saved")
    told = await harness.next(worker)
    assert told["text"] == t("vi", "idea.worker_accepted", unit=UNIT, code="SK-0001", title=TITLE,
                             text="Công ty đồng ý lắp quạt trong tháng 12.")
    decided = await harness.edited(group.id, card["message_id"])
    assert t("vi", "idea.status_accepted") in decided["text"] and "tháng 12" in decided["text"]
    assert [data for _, data in buttons_of(decided)] == [data_of(card, t("vi", "idea.card_file"))]

    async with harness.session_factory() as session:
        idea = await session.scalar(select(Idea))
        points = (await session.scalars(select(Point).where(Point.member_id == idea.member_id))).all()
    assert idea.status == IdeaStatus.ACCEPTED and idea.decision_note == "Công ty đồng ý lắp quạt trong tháng 12."
    assert [(p.reason, p.amount, p.ref) for p in points] == [("idea_accepted", 20, f"idea:{idea.id}")]
    assert await audit_actions(harness, "idea:") == ["idea.submitted", "idea.acknowledged", "idea.replied",
                                                     "idea.accepted"]
    # Decided: the buttons that change it are refused even when forged.
    late = await harness.press(officer, decided, f"ic:acc:{idea.id}", force=True)
    assert (await harness.emulator.wait_answer(late))["text"] == t("vi", "idea.refused_already_decided")


async def test_an_anonymous_idea_shows_no_identity_anywhere_officers_look(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness, first_name="Bí Mật", username="bimat_99", phone="+84987654321")
    await send_idea(harness, worker, identity="anonymous")
    card = await harness.next(group.id)
    assert t("vi", "idea.card_anonymous") in card["text"]
    await harness.press(officer, card, data_of(card, t("vi", "idea.card_file")))
    photo = await harness.next(group.id)
    assert photo.get("photo") and photo["caption"] == t("vi", "idea.file_caption", code="SK-0001")
    assert "forward_origin" not in photo
    await answer_prompt(harness, officer, group, card, t("vi", "idea.card_reply"), "Bạn cho biết xưởng số mấy?")
    await harness.edited(group.id, card["message_id"])  # now acknowledged
    relayed = await harness.next(worker)
    await harness.press(worker, relayed, data_of(relayed, t("vi", "case.answer_button")))
    assert (await harness.next(worker))["text"] == t("vi", "idea.ask_answer", code="SK-0001")
    assert (await harness.reply_to(worker, "Xưởng số 2, tổ cắt biết rõ."))["text"] == t(
        "vi", "idea.answer_sent", code="SK-0001")
    answer = await harness.next(group.id)
    assert answer["text"].startswith("💬") and "Xưởng số 2" in answer["text"]
    assert answer["reply_to_message"]["message_id"] == card["message_id"]
    await answer_prompt(harness, officer, group, card, t("vi", "idea.card_reject"),
                        "Xưởng sẽ chuyển sang nhà mới, chưa cần lắp.")
    told = await harness.next(worker)
    assert told["text"].startswith(UNIT) and "chuyển sang nhà mới" in told["text"]
    await harness.edited(group.id, card["message_id"])
    for message in harness.emulator.messages(group.id):
        shown = (message.get("text") or "") + (message.get("caption") or "")
        for secret in ("Bí Mật", "bimat_99", "+84987654321", str(worker.id), "Nguyễn"):
            assert secret not in shown, (secret, shown)
        assert str(worker.id) not in str(message.get("entities") or "")
    late = await harness.press(worker, relayed, data_of(relayed, t("vi", "case.answer_button")))
    assert (await harness.emulator.wait_answer(late))["text"] == t("vi", "idea.refused_already_decided")
    async with harness.session_factory() as session:
        idea = await session.scalar(select(Idea))
        assert idea.status == IdeaStatus.NOT_ACCEPTED
        assert (await session.scalars(select(Point))).all() == []


async def test_bad_input_keeps_the_draft_usable_and_a_command_leaves_it(harness):
    worker = await onboarded_worker(harness)
    await harness.reply_to(worker, "/idea")
    assert (await harness.reply_to(worker, "Ý"))["text"] == t("vi", "idea.title_too_short", low=3, high=120,
                                                               length=1)
    await harness.emulator.send_sticker(worker)
    assert (await harness.next(worker))["text"] == t("vi", "idea.text_only")
    await harness.reply_to(worker, TITLE)
    assert (await harness.reply_to(worker, "Quá ngắn"))["text"] == t("vi", "idea.text_too_short", low=20,
                                                                      high=3000, length=8)
    too_long = await harness.reply_to(worker, "a" * 3001)
    assert too_long["text"] == t("vi", "idea.text_too_long", low=20, high=3000, length=3001)
    ask_file = await harness.reply_to(worker, TEXT)
    wrong = await harness.reply_to(worker, "không có tệp")
    assert wrong["text"] == t("vi", "idea.file_expected")
    stale = await harness.press(worker, ask_file, "idea:id:named", force=True)  # not this step's button
    assert (await harness.emulator.wait_answer(stale))["text"] == t("vi", "input.stale_button")
    menu = await harness.reply_to(worker, "/menu")  # a command leaves the draft
    assert menu["text"] == t("vi", "menu.title")
    after = await harness.reply_to(worker, "Văn bản bất kỳ")  # no longer read as the idea's next step
    assert after["text"] not in (t("vi", "idea.file_expected"), t("vi", "input.press_button"))
    gone = await harness.press(worker, ask_file, "idea:skip")
    assert (await harness.emulator.wait_answer(gone))["text"] == t("vi", "input.stale_button")


async def test_a_worker_without_a_profile_is_sent_to_start(harness):
    stranger = harness.user("Kim")
    assert (await harness.reply_to(stranger, "/idea"))["text"] == t("vi", "idea.refused_needs_profile")


async def test_outsiders_and_forged_presses_are_refused(harness):
    officer, group = await inbox_with_officer(harness)
    other_officer, _ = await inbox_with_officer(harness, "CDCS-GIAYBT", "Bình", "Lê")
    worker = await onboarded_worker(harness)
    await send_idea(harness, worker, with_photo=False)
    card = await harness.next(group.id)
    harness.emulator.chats[group.id].members[other_officer.id] = "member"
    for who in (other_officer, worker):
        query = await harness.press(who, card, data_of(card, t("vi", "idea.card_ack")))
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "card.not_allowed")
    for forged in ("ic:ack:999", "ic:ack:x", "ic:erase:1", "ic:file:1"):
        query = await harness.press(officer, card, forged, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    # Someone else cannot answer the union in the author's place.
    async with harness.session_factory() as session:
        idea_id = (await session.scalar(select(Idea))).id
    own_chat = await harness.reply_to(other_officer, "/menu")
    query = await harness.press(other_officer, own_chat, f"idea:ans:{idea_id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    # The officer's Reply prompt: someone else's reply to it is not taken as the officer's answer.
    await harness.press(officer, card, data_of(card, t("vi", "idea.card_reply")))
    prompt = await harness.next(group.id)
    await harness.send(other_officer, "Tôi trả lời thay", chat=group, reply_to=prompt)
    await harness.send(officer, "Công đoàn đã nhận.", chat=group, reply_to=prompt)
    assert (await harness.next(group.id))["text"] == t("vi", "idea.reply_sent")
    relayed = await harness.next(worker)
    assert "Công đoàn đã nhận." in relayed["text"] and "Tôi trả lời thay" not in relayed["text"]
    async with harness.session_factory() as session:
        assert (await session.scalar(select(Idea))).status == IdeaStatus.ACKNOWLEDGED


async def test_recognition_in_the_inbox_lists_the_months_points(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness)
    await send_idea(harness, worker, with_photo=False)
    card = await harness.next(group.id)
    await answer_prompt(harness, officer, group, card, t("vi", "idea.card_accept"), "Áp dụng từ tháng sau.")
    await harness.edited(group.id, card["message_id"])
    async with harness.session_factory() as session:
        member_id = (await session.scalar(select(Idea))).member_id
    await harness.send(officer, "/recognition", chat=group)
    shown = await harness.next(group.id)
    assert t("vi", "recognition.row", rank=1, name=t("vi", "recognition.alias", number=member_id), points=20) \
        in shown["text"]
    assert "Lan" not in shown["text"]  # not opted in to show their name
    await harness.send(officer, "/recognition 13/2026", chat=group)
    assert (await harness.next(group.id))["text"] == t("vi", "recognition.bad_month")
    await harness.send(officer, "/recognition 01/2020", chat=group)
    assert (await harness.next(group.id))["text"].endswith(t("vi", "recognition.empty"))
    stranger = harness.user("Khách")
    harness.emulator.chats[group.id].members[stranger.id] = "member"
    await harness.send(stranger, "/recognition", chat=group)
    assert (await harness.next(group.id))["text"] == t("vi", "card.not_allowed")
    elsewhere = harness.emulator.create_group("Nhóm khác", members=[officer])
    await harness.send(officer, "/recognition", chat=elsewhere)
    assert (await harness.next(elsewhere.id))["text"] == t("vi", "recognition.not_inbox")
