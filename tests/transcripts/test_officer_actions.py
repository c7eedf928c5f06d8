"""Officers act on a case from its card in the unit's inbox group: claim, reply (ForceReply prompt), note,
request info (a ready answer), resolve, escalate, transfer, attachments; outsiders and forged presses."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.i18n import t as raw_t
from bot.services import officers, units
from bot.services.grievances import Attachment, CaseDraft, submit_case
from db.models import CaseStatus, Grievance, GrievanceEvent, GrievanceMessage, Member, Unit, Workplace
from handlers.cards import show_card
from tests.support.harness import buttons_of, data_of, t

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UNIT = "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"
WARD = "Công đoàn phường Long Biên"


async def inbox_with_officer(harness, code="CDCS-MAYSH", first_name="Hùng", last_name="Trần"):
    officer = harness.user(first_name, last_name=last_name)
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, code), "test")
    await harness.reply_to(officer, f"/start officer-{invite.token}")
    group = harness.emulator.create_group(f"Hộp thư {code}", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    await harness.next(group.id)
    return officer, group


async def file_case(harness, worker, identity="named", text="Công ty trả lương chậm ba tuần liên tục",
                    attachments=(), workplace_code="WP-MAYSH", category="wages") -> Grievance:
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == worker.id))
        if member is None:
            member = Member(telegram_id=worker.id, first_name=worker.first_name, username=worker.username,
                            phone="+84912345678", language="vi", consent_version="2026.1")
            session.add(member)
            await session.commit()
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == workplace_code))
        submitted = await submit_case(session, member, CaseDraft(
            category, text, identity=identity, workplace_id=workplace, attachments=list(attachments)),
            datetime(2026, 11, 24, 9, 30, tzinfo=VN), VN)
        await show_card(harness.application.bot, session, submitted.grievance, VN)
        return submitted.grievance


async def events(harness, grievance):
    async with harness.session_factory() as session:
        return list(await session.scalars(select(GrievanceEvent).where(GrievanceEvent.grievance_id == grievance.id)
                                          .order_by(GrievanceEvent.id)))


async def press_and_prompt(harness, officer, group, card, action, grievance):
    """Press a text action on the card: the bot posts a ForceReply prompt addressed to the officer."""
    await harness.press(officer, card, f"case:{action}:{grievance.id}")
    prompt = await harness.next(group.id)
    assert prompt["reply_keyboard"]["force_reply"] is True and prompt["reply_keyboard"]["selective"] is True
    assert prompt["reply_to_message"]["message_id"] == card["message_id"]
    mention = [e for e in prompt.get("entities", []) if e["type"] == "text_mention"]
    assert mention and mention[0]["user"]["id"] == officer.id
    return prompt


async def test_a_case_from_claim_to_resolution(harness):
    officer, group = await inbox_with_officer(harness)
    worker = harness.user("Lan", username="lan_may")
    grievance = await file_case(harness, worker)
    card = await harness.next(group.id)
    assert [data for _, data in buttons_of(card)][:7] == [
        f"case:{action}:{grievance.id}" for action in ("claim", "reply", "ask", "note", "resolve", "esc", "xfer")]

    await harness.press(officer, card, f"case:claim:{grievance.id}")
    claimed = await harness.edited(group.id, card["message_id"])
    assert t("vi", "card.status_acknowledged") in claimed["text"] and "Hùng Trần" in claimed["text"]
    assert f"case:claim:{grievance.id}" not in [data for _, data in buttons_of(claimed)]
    acknowledged = await harness.next(worker)
    assert grievance.code in acknowledged["text"] and UNIT in acknowledged["text"]
    assert "Hùng" not in acknowledged["text"]

    # Reply: the officer answers the ForceReply prompt; the worker gets it in the unit's name.
    prompt = await press_and_prompt(harness, officer, group, card, "reply", grievance)
    menu = await harness.next(group.id)
    assert menu["text"] == t("vi", "officers.canned_title")
    assert f"case:cn:{grievance.id}:wages_employer_contacted" in [data for _, data in buttons_of(menu)]
    await harness.send(officer, "Công đoàn đã gặp giám đốc nhân sự <ngày mai> sẽ trả lời.", chat=group,
                       reply_to=prompt)
    relayed = await harness.next(worker)
    assert "ngày mai" in relayed["text"] and UNIT in relayed["text"] and "Hùng" not in relayed["text"]
    assert data_of(relayed, "") == f"wans:{grievance.id}"
    assert (await harness.next(group.id))["text"] == t("vi", "card.reply_sent")

    # A note stays internal: the worker's next message is the information request, not the note.
    prompt = await press_and_prompt(harness, officer, group, card, "note", grievance)
    await harness.send(officer, "Đã gọi điện cho kế toán, hẹn thứ Sáu.", chat=group, reply_to=prompt)
    assert (await harness.next(group.id))["text"] == t("vi", "officers.note_saved")

    # Request info with a ready answer: the worker reads it in their language.
    await press_and_prompt(harness, officer, group, card, "ask", grievance)
    menu = await harness.next(group.id)
    await harness.press(officer, menu, f"case:cn:{grievance.id}:wages_ask_payslip")
    asked = await harness.next(worker)
    assert "phiếu lương" in asked["text"] and "kế toán" not in asked["text"]
    assert (await harness.next(group.id))["message_id"] == menu["message_id"]  # the menu loses its buttons
    assert (await harness.next(group.id))["text"] == t("vi", "officers.asked")
    waiting = await harness.edited(group.id, card["message_id"])
    assert t("vi", "card.status_waiting_worker") in waiting["text"]

    # Resolve: a resolution note, then the worker is asked whether it really was resolved.
    prompt = await press_and_prompt(harness, officer, group, card, "resolve", grievance)
    await harness.next(group.id)  # ready answers
    await harness.send(officer, "Công ty đã trả đủ lương tháng 10 vào ngày 28/11.", chat=group, reply_to=prompt)
    question = await harness.next(worker)
    assert "28/11" in question["text"]
    assert [data for _, data in buttons_of(question)] == [f"wout:{grievance.id}:{c}" for c in ("yes", "partly", "no")]
    assert (await harness.next(group.id))["text"] == t("vi", "officers.resolved")
    resolved = await harness.edited(group.id, card["message_id"])
    assert t("vi", "card.status_resolved") in resolved["text"] and buttons_of(resolved) == []

    actions = [event.action for event in await events(harness, grievance)]
    assert actions == ["created", "claimed", "replied", "note", "asked", "resolved"]
    async with harness.session_factory() as session:
        texts = list(await session.scalars(select(GrievanceMessage.text).where(
            GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.from_worker.is_(False))))
        assert not any("kế toán" in (text or "") for text in texts)
        assert (await session.get(Grievance, grievance.id)).status == CaseStatus.RESOLVED

    # The case is resolved: a stale press changes nothing.
    stale = await harness.press(officer, card, f"case:reply:{grievance.id}", force=True)
    assert (await harness.emulator.wait_answer(stale))["text"] == t("vi", "card.refused_closed")


async def test_text_too_long_and_stickers_keep_the_prompt_open(harness):
    officer, group = await inbox_with_officer(harness)
    worker = harness.user("Lan")
    grievance = await file_case(harness, worker)
    card = await harness.next(group.id)
    prompt = await press_and_prompt(harness, officer, group, card, "note", grievance)
    await harness.send(officer, "x" * 3001, chat=group, reply_to=prompt)
    assert (await harness.next(group.id))["text"] == t("vi", "input.too_long", limit=3000)
    await harness.emulator.send_sticker(officer, chat=group, reply_to=prompt)
    assert (await harness.next(group.id))["text"] == t("vi", "input.text_only")
    await harness.send(officer, "Ghi chú ngắn", chat=group, reply_to=prompt)
    assert (await harness.next(group.id))["text"] == t("vi", "officers.note_saved")
    assert [e.action for e in await events(harness, grievance)] == ["created", "note"]


async def test_escalate_moves_the_card_to_the_parent_units_group(harness):
    officer, group = await inbox_with_officer(harness)
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    worker = harness.user("Lan")
    grievance = await file_case(harness, worker)
    card = await harness.next(group.id)
    query = await harness.press(officer, card, f"case:esc:{grievance.id}")
    assert WARD in (await harness.emulator.wait_answer(query))["text"]
    confirm = await harness.edited(group.id, card["message_id"])
    await harness.press(officer, confirm, f"case:escok:{grievance.id}")
    old = await harness.edited(group.id, card["message_id"])
    assert raw_t("vi", "card.moved_to", unit=WARD).replace("<b>", "").replace("</b>", "") in old["text"]
    assert buttons_of(old) == []
    new_card = await harness.next(ward_group.id)
    assert grievance.code in new_card["text"] and f"case:claim:{grievance.id}" in dict(
        (d, x) for x, d in buttons_of(new_card))
    told = await harness.next(worker)
    assert WARD in told["text"]
    # The old card is dead: a press there (a stale client) changes nothing.
    stale = await harness.press(officer, old, f"case:claim:{grievance.id}", force=True)
    assert (await harness.emulator.wait_answer(stale))["text"] == t("vi", "card.moved_away")
    # The grassroots officer is not an officer of the ward: they cannot act on the new card.
    outsider = await harness.press(officer, new_card, f"case:claim:{grievance.id}")
    assert (await harness.emulator.wait_answer(outsider))["text"] == t("vi", "card.not_allowed")
    await harness.press(ward_officer, new_card, f"case:claim:{grievance.id}")
    assert "Mai Phạm" in (await harness.edited(ward_group.id, new_card["message_id"]))["text"]
    moves = [(e.action, e.actor) for e in await events(harness, grievance) if e.action == "escalated"]
    assert len(moves) == 1 and moves[0][1].startswith("member:")


async def test_transfer_to_a_unit_in_the_subtree_by_button_and_by_code(harness):
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    _, grassroots_group = await inbox_with_officer(harness, "CDCS-MAYSH", "Hùng", "Trần")
    worker = harness.user("Lan")
    grievance = await file_case(harness, worker)
    grassroots_card = await harness.next(grassroots_group.id)
    # The ward officer (an ancestor) sends it up to the ward from the grassroots card, by typing the code.
    await harness.press(ward_officer, grassroots_card, f"case:xfer:{grievance.id}")
    picker = await harness.edited(grassroots_group.id, grassroots_card["message_id"])
    async with harness.session_factory() as session:
        ward = await session.scalar(select(Unit).where(Unit.code == "CDP-LONGBIEN"))
    assert f"case:xt:{grievance.id}:{ward.id}" in [data for _, data in buttons_of(picker)]
    prompt = await harness.next(grassroots_group.id)
    assert prompt["reply_keyboard"]["force_reply"] is True
    await harness.send(ward_officer, "KHONG-CO", chat=grassroots_group, reply_to=prompt)
    assert (await harness.next(grassroots_group.id))["text"] == t("vi", "officers.transfer_unknown_unit",
                                                                  code="KHONG-CO")
    await harness.send(ward_officer, "cdp-longbien", chat=grassroots_group, reply_to=prompt)
    ward_card = await harness.next(ward_group.id)
    assert grievance.code in ward_card["text"]
    assert (await harness.next(worker))["text"].startswith("↔️")
    # And back down to the grassroots union with a button.
    await harness.press(ward_officer, ward_card, f"case:xfer:{grievance.id}")
    picker = await harness.edited(ward_group.id, ward_card["message_id"])
    async with harness.session_factory() as session:
        grassroots = await session.scalar(select(Unit).where(Unit.code == "CDCS-MAYSH"))
    await harness.press(ward_officer, picker, f"case:xt:{grievance.id}:{grassroots.id}")
    marked = await harness.edited(ward_group.id, ward_card["message_id"])
    assert buttons_of(marked) == []
    assert [e.action for e in await events(harness, grievance)].count("transferred") == 2
    async with harness.session_factory() as session:
        assert (await session.get(Grievance, grievance.id)).unit_id == grassroots.id


async def test_confidential_cases_never_go_to_grassroots(harness):
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    await inbox_with_officer(harness, "CDCS-MAYSH")
    worker = harness.user("Lan")
    grievance = await file_case(harness, worker, identity="confidential")
    card = await harness.next(ward_group.id)  # confidential: routed past the grassroots union
    async with harness.session_factory() as session:
        grassroots = await session.scalar(select(Unit).where(Unit.code == "CDCS-MAYSH"))
    query = await harness.press(ward_officer, card, f"case:xfer:{grievance.id}")
    # The ward's only unit below is grassroots and its parent has no inbox: nowhere to transfer it.
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "officers.no_transfer_targets")
    forged = await harness.press(ward_officer, card, f"case:xt:{grievance.id}:{grassroots.id}", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "card.refused_confidential_to_grassroots")
    assert [e.action for e in await events(harness, grievance)] == ["created"]


async def test_outsiders_and_forged_presses_change_nothing(harness):
    officer, group = await inbox_with_officer(harness)
    hcm_officer, hcm_group = await inbox_with_officer(harness, "LDLD-HCM", "Tâm", "Lê")
    worker = harness.user("Lan")
    grievance = await file_case(harness, worker)
    card = await harness.next(group.id)
    harness.emulator.chats[group.id].members[hcm_officer.id] = "member"
    for action in ("claim", "reply", "note", "esc", "xfer", "resolve", "full", "files"):
        query = await harness.press(hcm_officer, card, f"case:{action}:{grievance.id}", force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "card.not_allowed")
    for data in ("case:claim:abc", "case:reply:999999", "case:zap:1", f"case:xt:{grievance.id}:xyz",
                 f"case:cn:{grievance.id}:received"):
        query = await harness.press(officer, card, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] in (
            t("vi", "input.stale_button"), t("vi", "card.not_allowed"))
    # A card of one case cannot carry a press for another case.
    other = await file_case(harness, harness.user("Hoa"))
    await harness.next(group.id)
    query = await harness.press(officer, card, f"case:claim:{other.id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    # Outsiders replying to a card do nothing either.
    await harness.send(hcm_officer, "Tôi trả lời thay", chat=group, reply_to=card)
    assert (await harness.next(group.id))["text"] == t("vi", "card.not_allowed")
    assert [e.action for e in await events(harness, grievance)] == ["created"]


async def test_attachments_are_copied_without_identity_on_an_anonymous_case(harness):
    officer, group = await inbox_with_officer(harness)
    worker = harness.user("Bí Mật", username="bimat_99")
    photo = await harness.emulator.send_photo(worker)
    document = await harness.emulator.send_document(worker, filename="phieu-luong.pdf")
    voice = await harness.emulator.send_voice(worker)
    files = [Attachment(photo["photo"][-1]["file_id"], "photo"), Attachment(document["document"]["file_id"],
                                                                           "document"),
             Attachment(voice["voice"]["file_id"], "voice")]
    long_text = "Công ty trả lương chậm. " * 40
    grievance = await file_case(harness, worker, identity="anonymous", text=long_text, attachments=files)
    card = await harness.next(group.id)
    await harness.press(officer, card, data_of(card, "📎"))
    sent = [await harness.next(group.id) for _ in files]
    assert [next(k for k in ("photo", "document", "voice") if k in message) for message in sent] == \
        ["photo", "document", "voice"]
    for number, message in enumerate(sent, 1):
        assert message["caption"] == t("vi", "officers.attachment_caption", code=grievance.code, number=number,
                                       total=3)
        assert "forward_origin" not in message and "external_reply" not in message and message["from"]["is_bot"]
        shown = " ".join(str(message.get(key, "")) for key in ("caption", "caption_entities", "from", "reply_to_message"))
        for secret in ("Bí Mật", "bimat_99", f"'id': {worker.id}", "+84912345678"):
            assert secret not in shown
    await harness.press(officer, card, data_of(card, "📄"))
    full = await harness.next(group.id)
    assert long_text.strip() in full["text"] and "Bí Mật" not in full["text"]
    assert [e.action for e in await events(harness, grievance)] == ["created", "viewed", "viewed"]
    viewed = [e for e in await events(harness, grievance) if e.action == "viewed"]
    assert all(e.actor.startswith("member:") and e.note is None for e in viewed)


async def test_in_a_forum_inbox_prompts_and_answers_stay_in_the_cases_topic(harness):
    officer = harness.user("Hùng", last_name="Trần")
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, "CDCS-MAYSH"), "test")
    await harness.reply_to(officer, f"/start officer-{invite.token}")
    group = harness.emulator.create_group("Diễn đàn", members=[officer], is_forum=True)
    await harness.send(officer, "/inbox", chat=group)
    await harness.next(group.id)
    worker = harness.user("Lan")
    grievance = await file_case(harness, worker)
    assert "forum_topic_created" in await harness.next(group.id)  # each case gets its own topic
    card = await harness.next(group.id)
    topic = card["message_thread_id"]
    prompt = await press_and_prompt(harness, officer, group, card, "reply", grievance)
    assert prompt["message_thread_id"] == topic
    assert (await harness.next(group.id))["message_thread_id"] == topic  # the ready answers
    await harness.send(officer, "Đang xử lý.", chat=group, reply_to=prompt)
    assert "Đang xử lý." in (await harness.next(worker))["text"]
    sent = await harness.next(group.id)
    assert sent["text"] == t("vi", "card.reply_sent") and sent["message_thread_id"] == topic
