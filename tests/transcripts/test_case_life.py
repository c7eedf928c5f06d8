"""The life of a case, driven as people drive it: the worker through /report and the buttons and replies in
their private chat, officers through the card's buttons and replies in their unit's group, admins in their
private chat, the deadline check with a chosen `now`. Nothing is set up behind the bot's back except
profiles, officer invites and admin rights (as the CLI does)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.services import officers, units
from db.models import CaseStatus, Grievance, GrievanceEvent
from db.types import utcnow
from handlers import cards, notify, sla_jobs
from tests.support.harness import buttons_of, data_of, t
from tests.transcripts.test_intake import LONG_ENOUGH, case_of, pick_category, ready_worker, to_metoo
from tests.transcripts.test_officer_actions import inbox_with_officer, press_and_prompt

GRASSROOTS = "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"
WARD = "Công đoàn phường Long Biên"
INDUSTRIAL_PARK = "Công đoàn các Khu công nghiệp và chế xuất Hà Nội"
WAGES = "Tiền lương, thưởng"
PHONE = "+84912345678"  # every ready_worker's phone


# ----- helpers -----

async def until(harness, chat, wanted: Callable[[dict], bool], what: str) -> dict:
    """The next message sent or edited in the chat that is what we wait for (others in between skipped)."""
    skipped = []
    while True:
        try:
            message = await harness.next(chat)
        except AssertionError as error:
            raise AssertionError(f"no {what}; skipped {[m.get('text') for m in skipped]}") from error
        if wanted(message):
            return message
        skipped.append(message)


async def new_card(harness, chat, grievance, what: str = "the card") -> dict:
    """The case's card as it shows in the chat, once it is on record. The bot posts a card, then stores
    where it is (it needs the message id): an officer acting within those milliseconds finds no card."""
    card = await until(harness, chat, lambda m: (m.get("text") or "").startswith(f"📋 {grievance.code}"), what)
    return await recorded(harness, card)


async def recorded(harness, card: dict) -> dict:
    for _ in range(500):
        async with harness.session_factory() as session:
            if await cards.card_at(session, card["chat"]["id"], card["message_id"]) is not None:
                return card
        await asyncio.sleep(0.01)
    raise AssertionError(f"card {card['message_id']} was shown but never stored")


def text_has(*parts: str) -> Callable[[dict], bool]:
    return lambda message: all(part in (message.get("text") or message.get("caption") or "") for part in parts)


def datas(message: dict) -> list[str]:
    return [data for _, data in buttons_of(message)]


async def report(harness, worker, identity="named", size=None, files=(), text=LONG_ENOUGH):
    """/report through to the acknowledgement, with buttons and typed text; returns (case, acknowledgement).
    size: a group-size button label ("200+"), else an individual concern. files: "photo" / "document"."""
    scope = await pick_category(harness, worker)
    if size is None:
        await harness.press(worker, scope, "rep:scope:individual")
        await harness.next(worker)
    else:
        await harness.press(worker, scope, "rep:scope:group")
        await harness.press(worker, await harness.next(worker), f"rep:size:{size}")
        await harness.next(worker)
    question = await harness.reply_to(worker, text)
    for kind in files:
        if kind == "photo":
            await harness.emulator.send_photo(worker, b"payslip-photo")
        else:
            await harness.emulator.send_document(worker, b"%PDF contract", "hop-dong.pdf")
        question = await harness.next(worker)
    await harness.press(worker, question, "rep:att:done")
    await harness.press(worker, await harness.next(worker), "rep:wp:own")
    question = await harness.next(worker)
    if "rep:metoo:own" in datas(question):  # someone at the workplace raised the same: a case of one's own
        await harness.press(worker, question, "rep:metoo:own")
        question = await harness.next(worker)
    await harness.press(worker, question, f"rep:id:{identity}")
    return await submit(harness, worker, await harness.next(worker))


async def submit(harness, worker, review):
    """Send from the review screen; returns (case, acknowledgement)."""
    await harness.press(worker, review, "rep:submit")
    shown = await harness.next(worker)
    if "rep:submit" in datas(shown):  # answers that might already help were offered first: send it anyway
        await harness.press(worker, shown, "rep:submit")
        shown = await harness.next(worker)
    assert not buttons_of(shown)  # the review, kept as sent
    ack = await harness.next(worker)
    grievance = await case_of(harness, worker)
    assert grievance is not None and grievance.code in ack["text"]
    return grievance, ack


async def stored(harness, grievance) -> Grievance:
    async with harness.session_factory() as session:
        return await session.get(Grievance, grievance.id)


async def actions(harness, grievance) -> list[str]:
    async with harness.session_factory() as session:
        return list(await session.scalars(select(GrievanceEvent.action).where(
            GrievanceEvent.grievance_id == grievance.id, GrievanceEvent.action != "viewed").order_by(GrievanceEvent.id)))


async def unit_id(harness, code: str) -> int:
    async with harness.session_factory() as session:
        return (await units.get_unit_by_code(session, code)).id


async def make_admin(harness, first_name="Quản", last_name="Trị"):
    admin = harness.user(first_name, last_name=last_name)
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    return admin


async def cards_in(harness, grievance, chat_id: int) -> list[dict]:
    return [m for m in harness.emulator.messages(chat_id) if (m.get("text") or "").startswith(f"📋 {grievance.code}")]


async def answer_of(harness, query: str) -> str | None:
    return (await harness.emulator.wait_answer(query))["text"]


# ----- (a) the whole life -----

async def test_file_claim_reply_answer_resolve_no_and_reopened_at_the_parent(harness):
    officer, group = await inbox_with_officer(harness)
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    worker = await ready_worker(harness)
    grievance, ack = await report(harness, worker, size="200+")
    assert GRASSROOTS in ack["text"]

    card = await new_card(harness, group.id, grievance)
    assert card["text"].startswith(f"📋 {grievance.code} · {WAGES}")
    assert t("vi", "card.scope_group", size="200+") in card["text"] and "201" not in card["text"]
    assert "Lan · @lan_may" in card["text"] and LONG_ENOUGH in card["text"]
    assert await cards_in(harness, grievance, ward_group.id) == []

    # Claim: the card shows who holds it; the worker hears it from the unit.
    await harness.press(officer, card, f"case:claim:{grievance.id}")
    claimed = await harness.edited(group.id, card["message_id"])
    assert "Hùng Trần" in claimed["text"] and f"case:claim:{grievance.id}" not in datas(claimed)
    told = await harness.next(worker)
    assert told["text"] == t("vi", "case.worker_acknowledged", unit=GRASSROOTS, code=grievance.code, category=WAGES)

    # Reply through the prompt: the worker reads it in the unit's name, never the officer's.
    prompt = await press_and_prompt(harness, officer, group, card, "reply", grievance)
    await harness.send(officer, "Công đoàn đã làm việc với phòng nhân sự, chờ kết quả.", chat=group, reply_to=prompt)
    relayed = await harness.next(worker)
    assert relayed["text"] == t("vi", "case.union_reply", unit=GRASSROOTS, code=grievance.code,
                                text="Công đoàn đã làm việc với phòng nhân sự, chờ kết quả.")
    await until(harness, group.id, text_has(t("vi", "card.reply_sent")), "confirmation of the reply")

    # The worker answers with the button: posted under the card, with the name the unit may see.
    await harness.press(worker, relayed, f"wans:{grievance.id}")
    assert (await harness.next(worker))["text"] == t("vi", "worker.answer_prompt", code=grievance.code)
    sent = await harness.reply_to(worker, "Cảm ơn, em chờ tin ạ. Lương tháng 10 vẫn chưa có.")
    assert sent["text"] == t("vi", "worker.answer_sent", code=grievance.code, unit=GRASSROOTS)
    posted = await until(harness, group.id, text_has("Lương tháng 10 vẫn chưa có"), "the worker's answer")
    assert posted["reply_to_message"]["message_id"] == card["message_id"] and "Lan" in posted["text"]

    # Resolve with a note; the worker is asked whether it really was.
    prompt = await press_and_prompt(harness, officer, group, card, "resolve", grievance)
    await harness.send(officer, "Công ty hứa trả lương vào thứ Sáu.", chat=group, reply_to=prompt)
    question = await harness.next(worker)
    assert "thứ Sáu" in question["text"] and "Hùng" not in question["text"]
    resolved = await until(harness, group.id, lambda m: m["message_id"] == card["message_id"]
                           and t("vi", "card.status_resolved") in m["text"], "the resolved card")
    assert buttons_of(resolved) == []

    # "No" (with a rating): reopened one level up, a new card there, the old card marked.
    await harness.press(worker, question, f"wout:{grievance.id}:no")
    rating = await until(harness, worker, text_has(t("vi", "worker.rating_question", code=grievance.code,
                                                     choice=t("vi", "case.outcome_no"))), "the rating question")
    await harness.press(worker, rating, f"wrate:{grievance.id}:no:2")
    await until(harness, worker, text_has(t("vi", "worker.outcome_reopened", code=grievance.code)), "thanks")
    case = await stored(harness, grievance)
    told = await until(harness, worker, text_has("⬆️"), "the reopening")
    assert told["text"] == t("vi", "worker.reopened_escalated", code=grievance.code, category=WAGES, unit=WARD,
                             due=notify.when(case.resolve_due_at, harness.settings.tz))
    upper_card = await new_card(harness, ward_group.id, grievance, "the ward's card")
    assert f"case:claim:{grievance.id}" in datas(upper_card) and "Lan · @lan_may" in upper_card["text"]
    marked = await until(harness, group.id, lambda m: m["message_id"] == card["message_id"]
                         and t("vi", "card.moved_to", unit=WARD) in m["text"], "the old card marked")
    assert buttons_of(marked) == []
    verdict = t("vi", "worker.thread_verdict", code=grievance.code, verdict=t("vi", "worker.verdict_no"),
                rating=t("vi", "worker.rating_value", rating=2))
    assert any(m.get("text") == verdict for m in harness.emulator.messages(group.id))
    await until(harness, ward_group.id, lambda m: m.get("text") == verdict, "the verdict in the ward's thread")
    assert case.status == CaseStatus.OPEN and case.unit_id == await unit_id(harness, "CDP-LONGBIEN")
    assert case.holder_member_id is None and case.escalations == 1

    # The grassroots card is dead; the ward takes it from its own card.
    stale = await harness.press(officer, card, f"case:claim:{grievance.id}", force=True)
    assert await answer_of(harness, stale) == t("vi", "card.moved_away")
    await harness.press(ward_officer, upper_card, f"case:claim:{grievance.id}")
    assert "Mai Phạm" in (await harness.edited(ward_group.id, upper_card["message_id"]))["text"]
    assert await actions(harness, grievance) == ["created", "claimed", "replied", "worker_answered", "resolved",
                                                 "reopened", "escalated", "claimed"]


# ----- (b) the deadline check -----

async def test_an_overdue_case_climbs_to_the_parent_and_then_to_the_admins_without_an_escalate_button(harness):
    _, group = await inbox_with_officer(harness)
    _, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    admin = await make_admin(harness)
    worker = await ready_worker(harness)
    grievance, _ = await report(harness, worker)
    card = await new_card(harness, group.id, grievance)
    assert f"case:esc:{grievance.id}" in datas(card)

    later = utcnow() + timedelta(days=20)  # past both deadlines
    result = await sla_jobs.check_deadlines(harness.application, later)
    assert result.escalated == 1 and result.failed == 0
    upper_card = await new_card(harness, ward_group.id, grievance, "the ward's card")
    await until(harness, group.id, lambda m: m["message_id"] == card["message_id"]
                and t("vi", "card.moved_to", unit=WARD) in m["text"], "the old card marked")
    case = await stored(harness, grievance)
    told = await harness.next(worker)
    assert told["text"] == t("vi", "case.worker_escalated", code=grievance.code, category=WAGES, unit=WARD,
                             due=notify.when(case.resolve_due_at, harness.settings.tz))
    assert (await sla_jobs.check_deadlines(harness.application, later)).escalated == 0  # the clock restarted

    # Nobody above the ward has an inbox: the next time it is late, the admins hold it.
    much_later = later + timedelta(days=20)
    assert (await sla_jobs.check_deadlines(harness.application, much_later)).escalated == 1
    admin_card = await new_card(harness, admin, grievance, "the admins' card")
    assert f"case:esc:{grievance.id}" not in datas(admin_card)  # nowhere higher to go
    assert f"case:xfer:{grievance.id}" in datas(admin_card)
    await until(harness, ward_group.id, lambda m: m["message_id"] == upper_card["message_id"]
                and t("vi", "card.moved_to", unit=t("vi", "case.union_admins")) in m["text"], "the ward card marked")
    forged = await harness.press(admin, admin_card, f"case:esc:{grievance.id}", force=True)
    assert await answer_of(harness, forged) == t("vi", "card.refused_nowhere_higher")
    assert (await sla_jobs.check_deadlines(harness.application, much_later + timedelta(days=60))).escalated == 0
    assert (await actions(harness, grievance)).count("escalated") == 2


async def test_an_admin_who_cannot_be_reached_does_not_keep_the_card_from_the_others(harness):
    async with harness.session_factory() as session:
        await officers.add_admin(session, 5, "test")  # never started the bot: sending there fails
    admin = await make_admin(harness)
    worker = await ready_worker(harness)
    grievance, _ = await report(harness, worker)  # no inbox on the worker's path: the admins hold it
    assert (await stored(harness, grievance)).unit_id is None
    card = await new_card(harness, admin, grievance, "the admins' card")
    assert f"case:esc:{grievance.id}" not in datas(card)


# ----- (c) transfer -----

async def test_transfer_by_an_officer_and_by_an_admin_who_is_no_officer(harness):
    officer, group = await inbox_with_officer(harness)
    _, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    _, park_group = await inbox_with_officer(harness, "KCN-HN", "Bình", "Võ")
    admin = await make_admin(harness)
    worker = await ready_worker(harness)
    grievance, _ = await report(harness, worker)
    card = await new_card(harness, group.id, grievance)

    # The grassroots officer hands it up to their parent with the unit buttons.
    await harness.press(officer, card, f"case:xfer:{grievance.id}")
    picker = await harness.edited(group.id, card["message_id"])
    ward, park = await unit_id(harness, "CDP-LONGBIEN"), await unit_id(harness, "KCN-HN")
    assert f"case:xt:{grievance.id}:{ward}" in datas(picker)
    assert f"case:xt:{grievance.id}:{park}" not in datas(picker)  # another branch: not theirs to pick
    forged = await harness.press(officer, picker, f"case:xt:{grievance.id}:{park}", force=True)
    assert await answer_of(harness, forged) == t("vi", "card.refused_outside_subtree")
    here = await harness.press(officer, picker, f"case:xt:{grievance.id}:{await unit_id(harness, 'CDCS-MAYSH')}",
                               force=True)  # "moving" it where it is would only restart its clock
    assert await answer_of(harness, here) == t("vi", "card.refused_unknown_action")
    await harness.press(officer, picker, f"case:xt:{grievance.id}:{ward}")
    ward_card = await new_card(harness, ward_group.id, grievance, "the ward's card")
    told = await until(harness, worker, text_has("↔️"), "the worker told")
    assert WARD in told["text"]
    await until(harness, group.id, lambda m: m["message_id"] == card["message_id"] and not buttons_of(m)
                and t("vi", "card.moved_to", unit=WARD) in m["text"], "the old card marked")

    # An admin who is no officer anywhere moves it to the industrial-park union from /case.
    opened = await harness.reply_to(admin, f"/case {grievance.code}")
    assert f"case:xfer:{grievance.id}" in datas(opened)
    await harness.press(admin, opened, f"case:xfer:{grievance.id}")
    picker = await until(harness, admin, lambda m: m["message_id"] == opened["message_id"], "the unit buttons")
    assert f"case:xt:{grievance.id}:{park}" in datas(picker)
    assert f"case:xt:{grievance.id}:{ward}" not in datas(picker)  # where it is now
    await harness.press(admin, picker, f"case:xt:{grievance.id}:{park}")
    park_card = await new_card(harness, park_group.id, grievance, "the park union's card")
    assert "Lan · @lan_may" in park_card["text"]
    await until(harness, ward_group.id, lambda m: m["message_id"] == ward_card["message_id"]
                and t("vi", "card.moved_to", unit=INDUSTRIAL_PARK) in m["text"], "the ward card marked")
    assert INDUSTRIAL_PARK in (await until(harness, worker, text_has("↔️"), "the worker told"))["text"]
    assert (await stored(harness, grievance)).unit_id == park
    assert (await actions(harness, grievance)).count("transferred") == 2


async def test_an_admin_hands_a_case_nobody_could_take_to_a_unit_but_never_a_confidential_one_to_grassroots(
        harness):
    admin = await make_admin(harness)
    worker = await ready_worker(harness)
    grievance, ack = await report(harness, worker, identity="confidential")
    assert t("vi", "case.union_admins") in ack["text"]
    card = await new_card(harness, admin, grievance, "the admins' card")
    assert "Lan" in card["text"]  # the admins may see a confidential reporter
    _, grassroots_group = await inbox_with_officer(harness)
    _, park_group = await inbox_with_officer(harness, "KCN-HN", "Bình", "Võ")
    await harness.press(admin, card, f"case:xfer:{grievance.id}")
    picker = await until(harness, admin, lambda m: m["message_id"] == card["message_id"], "the unit buttons")
    grassroots, park = await unit_id(harness, "CDCS-MAYSH"), await unit_id(harness, "KCN-HN")
    assert f"case:xt:{grievance.id}:{park}" in datas(picker)
    assert f"case:xt:{grievance.id}:{grassroots}" not in datas(picker)
    forged = await harness.press(admin, picker, f"case:xt:{grievance.id}:{grassroots}", force=True)
    assert await answer_of(harness, forged) == t("vi", "card.refused_confidential_to_grassroots")
    await harness.press(admin, picker, f"case:xt:{grievance.id}:{park}")
    park_card = await new_card(harness, park_group.id, grievance, "the park union's card")
    assert "Lan" in park_card["text"] and f"case:esc:{grievance.id}" in datas(park_card)
    assert await cards_in(harness, grievance, grassroots_group.id) == []


# ----- (d) anonymous and confidential relays, both ways -----

async def test_anonymous_relays_both_ways_carry_no_identity(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await ready_worker(harness, first_name="Bí Mật", username="bimat_99")
    secrets = ("Bí Mật", "bimat_99", PHONE, str(worker.id))
    grievance, _ = await report(harness, worker, identity="anonymous")
    card = await new_card(harness, group.id, grievance)
    assert t("vi", "card.identity_anonymous") in card["text"]

    # A reply to the card is a reply to the worker.
    await harness.send(officer, "Bạn làm ở tổ may số mấy?", chat=group, reply_to=card)
    relayed = await harness.next(worker)
    assert "Bạn làm ở tổ may số mấy?" in relayed["text"] and GRASSROOTS in relayed["text"]
    assert "Hùng" not in relayed["text"] and "Trần" not in relayed["text"]
    # The worker answers with a Telegram reply, then a photo with a caption.
    await harness.send(worker, "Tổ may số 3 ạ.", reply_to=relayed)
    await harness.next(worker)
    answer = await until(harness, group.id, text_has("Tổ may số 3"), "the answer in the thread")
    assert t("vi", "worker.thread_who_anonymous") in answer["text"]
    await harness.emulator.send_photo(worker, b"board", caption="Bảng chấm công", reply_to=relayed)
    await harness.next(worker)
    photo = await until(harness, group.id, lambda m: "photo" in m, "the photo in the thread")
    assert "Bảng chấm công" in photo["caption"] and "forward_origin" not in photo and photo["from"]["is_bot"]
    for message in harness.emulator.messages(group.id):
        shown = " ".join(str(message.get(key, "")) for key in ("text", "caption", "entities", "caption_entities"))
        assert not [secret for secret in secrets if secret in shown], message


async def test_confidential_relays_show_the_name_to_the_ward_and_nothing_to_the_grassroots(harness):
    _, grassroots_group = await inbox_with_officer(harness)
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    worker = await ready_worker(harness)
    grievance, ack = await report(harness, worker, identity="confidential")
    assert WARD in ack["text"]
    card = await new_card(harness, ward_group.id, grievance)
    assert "Lan · @lan_may" in card["text"]
    # The ward officer asks from /case in their private chat.
    opened = await harness.reply_to(ward_officer, f"/case {grievance.code}")
    await harness.press(ward_officer, opened, f"case:ask:{grievance.id}")
    await harness.next(ward_officer)  # "type your question"
    await harness.send(ward_officer, "Bạn có giữ phiếu lương tháng 9 không?")
    asked = await harness.next(worker)
    assert "phiếu lương tháng 9" in asked["text"] and WARD in asked["text"] and "Mai" not in asked["text"]
    await harness.press(worker, asked, f"wans:{grievance.id}")
    await harness.next(worker)
    await harness.reply_to(worker, "Có ạ, em gửi sau.")
    answer = await until(harness, ward_group.id, text_has("Có ạ, em gửi sau."), "the answer in the ward's thread")
    assert "Lan" in answer["text"]
    assert [m for m in harness.emulator.messages(grassroots_group.id) if grievance.code in str(m)] == []


# ----- (e) attachments from intake -----

async def test_files_from_intake_reach_officers_as_copies_without_identity(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await ready_worker(harness, first_name="Bí Mật", username="bimat_99")
    grievance, _ = await report(harness, worker, identity="anonymous", files=("photo", "document"))
    sent_ids = [m["photo"][-1]["file_id"] if "photo" in m else m["document"]["file_id"]
                for m in harness.emulator.messages(worker) if "photo" in m or "document" in m]
    card = await new_card(harness, group.id, grievance)
    assert t("vi", "card.attachments", count=2) in card["text"]
    await harness.press(officer, card, data_of(card, "📎"))
    photo, document = await harness.next(group.id), await harness.next(group.id)
    assert [photo["photo"][-1]["file_id"], document["document"]["file_id"]] == sent_ids
    for number, message in enumerate((photo, document), 1):
        assert message["caption"] == t("vi", "officers.attachment_caption", code=grievance.code, number=number,
                                       total=2)
        assert "forward_origin" not in message and message["from"]["is_bot"]
        for secret in ("Bí Mật", "bimat_99", PHONE, str(worker.id)):
            assert secret not in message["caption"]


# ----- (f) co-signing -----

async def test_five_voices_through_me_too_make_it_collective_and_move_it_up(harness):
    _, group = await inbox_with_officer(harness)
    _, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    author = await ready_worker(harness)
    grievance, _ = await report(harness, author)
    card = await new_card(harness, group.id, grievance)
    for number in range(1, 5):
        joiner = await ready_worker(harness, first_name=f"Hoa{number}", username=f"hoa_{number}")
        offer = await to_metoo(harness, joiner)
        assert t("vi", "intake.ask_metoo", category=WAGES, voices=number) in offer["text"]
        assert author.first_name not in offer["text"] and LONG_ENOUGH not in offer["text"]
        await harness.press(joiner, offer, f"rep:metoo:{grievance.id}")
        await harness.next(joiner)
        joined = await harness.next(joiner)
        assert joined["text"] == t("vi", "intake.metoo_joined", category=WAGES, voices=number + 1)
        if number < 4:
            edited = await until(harness, group.id, lambda m: m["message_id"] == card["message_id"], "the card")
            assert t("vi", "card.scope", scope="cá nhân", voices=number + 1) in edited["text"]
    upper_card = await new_card(harness, ward_group.id, grievance, "the ward's card")
    assert t("vi", "card.scope", scope="cá nhân", voices=5) in upper_card["text"]
    await until(harness, group.id, lambda m: m["message_id"] == card["message_id"]
                and t("vi", "card.moved_to", unit=WARD) in m["text"], "the old card marked")
    assert WARD in (await until(harness, author, text_has("⬆️"), "the author told"))["text"]
    case = await stored(harness, grievance)
    assert case.collective and case.unit_id == await unit_id(harness, "CDP-LONGBIEN")
    for number in range(1, 5):
        assert f"Hoa{number}" not in upper_card["text"]


# ----- (g) presses by people who may not -----

async def test_presses_and_replies_by_people_who_may_not_change_nothing(harness):
    officer, group = await inbox_with_officer(harness)
    hcm_officer, _ = await inbox_with_officer(harness, "LDLD-HCM", "Tâm", "Lê")
    bystander = harness.user("Khách")
    for person in (hcm_officer, bystander):
        harness.emulator.chats[group.id].members[person.id] = "member"
    worker = await ready_worker(harness)
    grievance, ack = await report(harness, worker)
    card = await new_card(harness, group.id, grievance)
    for person in (hcm_officer, bystander):
        for action in ("claim", "resolve", "esc", "xfer", "files"):
            query = await harness.press(person, card, f"case:{action}:{grievance.id}", force=True)
            assert await answer_of(harness, query) == t("vi", "card.not_allowed")
        await harness.send(person, "Để tôi trả lời", chat=group, reply_to=card)
        assert (await harness.next(group.id))["text"] == t("vi", "card.not_allowed")
    # The worker forging an officer's press in their own chat.
    forged = await harness.press(worker, ack, f"case:claim:{grievance.id}", force=True)
    assert await answer_of(harness, forged) == t("vi", "card.not_allowed")
    # The officer's own prompt cannot be answered by someone else.
    prompt = await press_and_prompt(harness, officer, group, card, "reply", grievance)
    await harness.send(bystander, "Tôi chen vào", chat=group, reply_to=prompt)
    await harness.send(officer, "Đã nhận, đang xác minh.", chat=group, reply_to=prompt)
    relayed = await until(harness, worker, text_has("💬"), "the officer's reply")
    assert "Đã nhận, đang xác minh." in relayed["text"] and "chen vào" not in relayed["text"]
    assert await actions(harness, grievance) == ["created", "replied"]
    assert (await stored(harness, grievance)).holder_member_id is None


# ----- (h) restarts -----

async def test_restarts_mid_intake_and_mid_officer_prompt_lose_nothing(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await ready_worker(harness)
    scope = await pick_category(harness, worker)
    await harness.restart_bot()
    await harness.press(worker, scope, "rep:scope:group")
    size = await harness.next(worker)
    await harness.restart_bot()
    await harness.press(worker, size, "rep:size:2–10")
    await harness.next(worker)
    attachments = await harness.reply_to(worker, LONG_ENOUGH)
    await harness.press(worker, attachments, "rep:att:done")
    await harness.press(worker, await harness.next(worker), "rep:wp:own")
    await harness.press(worker, await harness.next(worker), "rep:id:named")
    review = await harness.next(worker)
    await harness.restart_bot()
    grievance, _ = await submit(harness, worker, review)
    card = await new_card(harness, group.id, grievance)
    assert grievance.group_size == 10 and t("vi", "card.scope_group", size="2–10") in card["text"]

    # In the group: the prompt is answered after a restart.
    prompt = await press_and_prompt(harness, officer, group, card, "reply", grievance)
    await harness.restart_bot()
    await harness.send(officer, "Chúng tôi đã nhận và sẽ gặp công ty tuần này.", chat=group, reply_to=prompt)
    assert "gặp công ty tuần này" in (await harness.next(worker))["text"]
    # In private: the next message after pressing Note is the note, also after a restart.
    opened = await harness.reply_to(officer, f"/case {grievance.code}")
    await harness.press(officer, opened, f"case:note:{grievance.id}")
    await harness.next(officer)
    await harness.restart_bot()
    saved = await harness.reply_to(officer, "Ghi chú: chị Lan làm ca đêm.")
    assert saved["text"] == t("vi", "officers.note_saved")
    assert await actions(harness, grievance) == ["created", "replied", "note"]


# ----- the card's group size -----

async def test_every_group_size_button_reads_as_its_range_on_the_card(harness):
    _, group = await inbox_with_officer(harness)
    for number, label in enumerate(("2–10", "11–50", "51–200", "200+")):
        worker = await ready_worker(harness, first_name=f"Thu{number}", username=f"thu_{number}")
        grievance, _ = await report(harness, worker, size=label)
        card = await new_card(harness, group.id, grievance, "the card")
        assert t("vi", "card.scope_group", size=label) in card["text"]


async def test_a_case_that_comes_back_to_a_unit_gets_a_new_card_there(harness):
    """Officers are notified of new messages, not of edits: a case back in a group it left is a new card
    there (the old one stays marked, and is no card any more)."""
    officer, group = await inbox_with_officer(harness)
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Mai", "Phạm")
    worker = await ready_worker(harness)
    grievance, _ = await report(harness, worker)
    first = await new_card(harness, group.id, grievance)
    await harness.press(officer, first, f"case:esc:{grievance.id}")
    await harness.press(officer, await harness.edited(group.id, first["message_id"]), f"case:escok:{grievance.id}")
    ward_card = await new_card(harness, ward_group.id, grievance, "the ward's card")
    await harness.press(ward_officer, ward_card, f"case:xfer:{grievance.id}")
    picker = await harness.edited(ward_group.id, ward_card["message_id"])
    await harness.press(ward_officer, picker, f"case:xt:{grievance.id}:{await unit_id(harness, 'CDCS-MAYSH')}")
    second = await recorded(harness, await until(harness, group.id, lambda m: m["message_id"] != first["message_id"]
                                                 and (m.get("text") or "").startswith(f"📋 {grievance.code}"),
                                                 "a new card"))
    assert f"case:claim:{grievance.id}" in datas(second)
    old = harness.emulator.get_message(group.id, first["message_id"])
    assert t("vi", "card.moved_to", unit=WARD) in old["text"] and not buttons_of(old)
    stale = await harness.press(officer, first, f"case:claim:{grievance.id}", force=True)
    assert await answer_of(harness, stale) == t("vi", "input.stale_button")
    await harness.press(officer, second, f"case:claim:{grievance.id}")
    claimed = await harness.edited(group.id, second["message_id"])
    assert "Hùng Trần" in claimed["text"]
    assert t("vi", "card.moved_to", unit=WARD) in harness.emulator.get_message(group.id, first["message_id"])["text"]


async def test_a_unit_that_moves_its_inbox_gets_its_cases_cards_in_the_new_group(harness):
    officer, old_group = await inbox_with_officer(harness)
    worker = await ready_worker(harness)
    grievance, _ = await report(harness, worker)
    card = await new_card(harness, old_group.id, grievance)
    new_group = harness.emulator.create_group("Hộp thư mới", members=[officer])
    await harness.send(officer, "/inbox", chat=new_group)
    await harness.next(new_group.id)
    await harness.press(officer, card, f"case:claim:{grievance.id}")
    moved = await new_card(harness, new_group.id, grievance)
    assert "Hùng Trần" in moved["text"] and f"case:reply:{grievance.id}" in datas(moved)
    await harness.send(officer, "Chúng tôi đang xử lý.", chat=new_group, reply_to=moved)
    assert "Chúng tôi đang xử lý." in (await until(harness, worker, text_has("💬"), "the reply"))["text"]
