"""The worker's side of a case: /mycases with the timeline, answering the union (button or Telegram reply)
into the case thread, and the verdict with a rating ("no" reopens the case one level up)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import cases
from bot.services.grievances import CaseDraft, submit_case
from db.models import CaseStatus, Grievance, Member, Workplace
from handlers import notify
from handlers.cards import show_card
from tests.support.harness import buttons_of, data_of, t
from tests.transcripts.test_cards import inbox_with_officer

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=VN)
GRASSROOTS = "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"
SECRETS = ("Bí Mật", "bimat_99", "+84912345678")


async def worker_and_case(harness, identity="named", first_name="Lan", username="lan_may", when=NOW):
    worker = harness.user(first_name, username=username)
    grievance = await file_case(harness, worker, identity, when)
    return worker, grievance


async def file_case(harness, worker, identity="named", when=NOW, text="Công ty trả lương chậm ba tuần liên tục"):
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == worker.id))
        if member is None:
            member = Member(telegram_id=worker.id, first_name=worker.first_name, username=worker.username,
                            phone="+84912345678", language="vi", consent_version="2026.1")
            session.add(member)
            await session.commit()
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
        submitted = await submit_case(session, member, CaseDraft("wages", text, identity=identity,
                                                                 workplace_id=workplace), when, VN)
        await show_card(harness.application.bot, session, submitted.grievance, VN)
        return submitted.grievance


async def officer_says(harness, officer, grievance, text, asks=True):
    """An officer's question reaches the worker (as the officers' tools do it), with the Answer button."""
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == officer.id))
        case = await session.get(Grievance, grievance.id)
        await cases.reply(session, case, member, text, NOW + timedelta(hours=1), asks_for_information=asks)
        await notify.relay_to_worker(harness.application.bot, session, case, text, asks_for_information=asks)


async def officer_resolves(harness, officer, grievance, text="Công ty đã trả đủ lương tháng 10"):
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == officer.id))
        case = await session.get(Grievance, grievance.id)
        await cases.resolve(session, case, member, text, NOW + timedelta(days=1))
        await notify.resolved(harness.application.bot, session, case, text)


async def stored(harness, grievance):
    async with harness.session_factory() as session:
        return await session.get(Grievance, grievance.id)


async def next_sent(harness, chat):
    """The next new message in the chat (edits in between skipped)."""
    while True:
        event = await harness.emulator.next_event(chat)
        if event["kind"] == "sent":
            return event["message"]


async def test_mycases_lists_cases_and_shows_a_timeline_without_notes_or_officer_names(harness):
    officer, group = await inbox_with_officer(harness)
    worker, grievance = await worker_and_case(harness)
    await harness.next(group.id)  # the card
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == officer.id))
        case = await session.get(Grievance, grievance.id)
        await cases.claim(session, case, member, NOW + timedelta(minutes=30))
        await cases.add_note(session, case, member, "Ghi chú nội bộ: giám đốc là người quen", NOW)
    await officer_says(harness, officer, grievance, "Bạn gửi giúp ảnh phiếu lương tháng 10 nhé")
    await harness.next(worker)  # the question

    listing = await harness.reply_to(worker, "/mycases")
    assert grievance.code in listing["text"] and "Tiền lương, thưởng" in listing["text"]
    assert t("vi", "worker.status_waiting_worker") in listing["text"] and GRASSROOTS in listing["text"]
    assert t("vi", "worker.deadline_resolve", due="08/12/2026 09:30") in listing["text"]
    await harness.press(worker, listing, f"wcase:{grievance.id}")
    timeline = await harness.next(worker)
    assert timeline["message_id"] == listing["message_id"]  # shown in place
    text = timeline["text"]
    assert t("vi", "worker.timeline_acknowledged", at="24/11/2026 10:00", unit=GRASSROOTS) in text
    assert "Bạn gửi giúp ảnh phiếu lương tháng 10 nhé" in text
    assert "Công ty trả lương chậm ba tuần liên tục" in text  # the worker's own words
    for hidden in ("Ghi chú", "giám đốc", "Hùng", "Trần"):
        assert hidden not in text
    assert f"wans:{grievance.id}" in [data for _, data in buttons_of(timeline)]
    await harness.press(worker, timeline, "wcp:0")
    assert grievance.code in (await harness.next(worker))["text"]

    menu = await harness.reply_to(worker, t("vi", "menu.mycases"))
    assert grievance.code in menu["text"]


async def test_mycases_pages_and_refuses_someone_elses_case(harness):
    await inbox_with_officer(harness)
    worker, first = await worker_and_case(harness)
    for day in range(1, 7):
        await file_case(harness, worker, when=NOW + timedelta(days=day))
    listing = await harness.reply_to(worker, "/mycases")
    assert t("vi", "worker.list_title", total=7).split("(")[0] in listing["text"]
    assert first.code not in listing["text"]  # newest first: the first case is on page 2
    seen = len(harness.emulator.messages(worker))
    number = await harness.press(worker, listing, "wnoop")  # the "1/2" between the arrows
    assert (await harness.emulator.wait_answer(number))["text"] is None
    assert len(harness.emulator.messages(worker)) == seen
    await harness.press(worker, listing, data_of(listing, t("vi", "nav.next")))
    assert first.code in (await harness.next(worker))["text"]

    other = harness.user("Mai")
    query = await harness.press(other, listing, f"wcase:{first.id}", force=True)
    answer = await harness.emulator.wait_answer(query)
    assert answer["text"] == t("vi", "input.stale_button") and answer["show_alert"]
    empty = await harness.reply_to(other, "/mycases")
    assert empty["text"] == t("vi", "worker.list_empty")


async def test_answering_with_the_button_posts_into_the_case_thread(harness):
    officer, group = await inbox_with_officer(harness)
    worker, grievance = await worker_and_case(harness)
    card = await harness.next(group.id)
    await officer_says(harness, officer, grievance, "Bạn gửi giúp ảnh phiếu lương nhé")
    question = await harness.next(worker)
    await harness.press(worker, question, f"wans:{grievance.id}")
    assert (await harness.next(worker))["text"] == t("vi", "worker.answer_prompt", code=grievance.code)
    await harness.emulator.send_sticker(worker)
    assert (await harness.next(worker))["text"] == t("vi", "worker.answer_wrong_media", code=grievance.code)
    confirmation = await harness.reply_to(worker, "Lương tháng 10 chưa trả <đồng nào>")
    assert confirmation["text"] == t("vi", "worker.answer_sent", code=grievance.code, unit=GRASSROOTS)
    posted = await next_sent(harness, group.id)
    assert posted["reply_to_message"]["message_id"] == card["message_id"]
    assert "Lương tháng 10 chưa trả <đồng nào>" in posted["text"] and "Lan · @lan_may" in posted["text"]
    assert (await stored(harness, grievance)).status == CaseStatus.ACKNOWLEDGED  # no longer waiting for the worker
    # The answer was taken once: the next message is ordinary chat again.
    assert (await harness.reply_to(worker, "xin chào"))["text"] == t("vi", "input.not_understood")


async def test_an_anonymous_telegram_reply_and_photo_reach_officers_without_identity(harness):
    officer, group = await inbox_with_officer(harness)
    worker, grievance = await worker_and_case(harness, identity="anonymous", first_name="Nguyễn Thị Bí Mật",
                                              username="bimat_99")
    card = await harness.next(group.id)
    await officer_says(harness, officer, grievance, "Bạn làm ở tổ nào?")
    question = await harness.next(worker)
    await harness.send(worker, "Tổ may số 3", reply_to=question)
    assert (await harness.next(worker))["text"] == t("vi", "worker.answer_sent", code=grievance.code,
                                                      unit=GRASSROOTS)
    posted = await next_sent(harness, group.id)
    assert "Tổ may số 3" in posted["text"] and t("vi", "worker.thread_who_anonymous") in posted["text"]
    for secret in (*SECRETS, str(worker.id)):
        assert secret not in posted["text"]

    await harness.emulator.send_photo(worker, caption="Phiếu lương", reply_to=question)
    await harness.next(worker)
    photo = await next_sent(harness, group.id)
    assert photo["photo"] and photo["reply_to_message"]["message_id"] == card["message_id"]
    assert "Phiếu lương" in photo["caption"] and t("vi", "worker.thread_who_anonymous") in photo["caption"]
    for secret in (*SECRETS, str(worker.id)):
        assert secret not in photo["caption"]
    assert "forward_origin" not in photo


async def test_yes_with_a_rating_closes_the_case(harness):
    officer, group = await inbox_with_officer(harness)
    worker, grievance = await worker_and_case(harness)
    await harness.next(group.id)
    await officer_resolves(harness, officer, grievance)
    resolved = await harness.next(worker)
    await harness.send(worker, "Chưa trả đủ đâu", reply_to=resolved)  # typed instead of pressing a button
    nudge = await harness.next(worker)
    assert nudge["text"] == t("vi", "worker.use_outcome_buttons", code=grievance.code)
    assert f"wout:{grievance.id}:yes" in [data for _, data in buttons_of(nudge)]
    await harness.press(worker, resolved, f"wout:{grievance.id}:yes")
    rating = await next_sent(harness, worker)
    assert rating["text"] == t("vi", "worker.rating_question", code=grievance.code, choice=t("vi", "case.outcome_yes"))
    assert buttons_of(harness.emulator.get_message(worker, resolved["message_id"])) == []  # one verdict per question
    await harness.press(worker, rating, f"wrate:{grievance.id}:yes:5")
    assert (await harness.next(worker))["text"] == t("vi", "worker.outcome_thanks", code=grievance.code)
    case = await stored(harness, grievance)
    assert case.status == CaseStatus.CLOSED and case.outcome == "yes" and case.rating == 5
    verdict = await next_sent(harness, group.id)
    assert verdict["text"] == t("vi", "worker.thread_verdict", code=grievance.code,
                                verdict=t("vi", "worker.verdict_yes"), rating=t("vi", "worker.rating_value", rating=5))
    stale = await harness.press(worker, rating, f"wrate:{grievance.id}:no:1", force=True)
    assert (await harness.emulator.wait_answer(stale))["text"] == t("vi", "worker.outcome_stale")
    assert (await stored(harness, grievance)).status == CaseStatus.CLOSED


async def test_no_reopens_the_case_at_the_parent_unit(harness):
    officer, group = await inbox_with_officer(harness)
    _, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN")
    worker, grievance = await worker_and_case(harness)
    await harness.next(group.id)
    await officer_resolves(harness, officer, grievance)
    resolved = await harness.next(worker)
    await harness.press(worker, resolved, f"wout:{grievance.id}:no")
    rating = await next_sent(harness, worker)
    await harness.press(worker, rating, f"wrate:{grievance.id}:no:0")
    assert (await harness.next(worker))["text"] == t("vi", "worker.outcome_reopened", code=grievance.code)
    told = await harness.next(worker)
    case = await stored(harness, grievance)
    assert told["text"] == t("vi", "worker.reopened_escalated", code=grievance.code, category="Tiền lương, thưởng",
                             unit="Công đoàn phường Long Biên", due=notify.when(case.resolve_due_at, VN))
    new_card = await next_sent(harness, ward_group.id)
    assert new_card["text"].startswith(f"📋 {grievance.code}")
    verdict = await next_sent(harness, group.id)
    assert verdict["text"] == t("vi", "worker.thread_verdict", code=grievance.code,
                                verdict=t("vi", "worker.verdict_no"), rating=t("vi", "worker.rating_none"))
    assert case.status == CaseStatus.OPEN and case.outcome == "no" and case.rating is None
    assert case.escalations == 1


async def test_answer_button_of_a_closed_case_and_forged_presses(harness):
    officer, group = await inbox_with_officer(harness)
    worker, grievance = await worker_and_case(harness)
    await harness.next(group.id)
    await officer_says(harness, officer, grievance, "Bạn cho biết thêm nhé")
    question = await harness.next(worker)
    await officer_resolves(harness, officer, grievance)
    resolved = await harness.next(worker)
    await harness.press(worker, resolved, f"wout:{grievance.id}:partly")
    rating = await next_sent(harness, worker)
    await harness.press(worker, rating, f"wrate:{grievance.id}:partly:3")
    await harness.next(worker)
    closed = await harness.press(worker, question, f"wans:{grievance.id}")
    assert (await harness.emulator.wait_answer(closed))["text"] == t("vi", "worker.alert_closed")
    await harness.send(worker, "Còn nữa", reply_to=question)
    assert (await harness.next(worker))["text"] == t("vi", "worker.case_closed", code=grievance.code)
    stranger = harness.user("Khách")
    for data in (f"wans:{grievance.id}", f"wout:{grievance.id}:yes", f"wrate:{grievance.id}:yes:9", "wcase:x"):
        query = await harness.press(stranger, question, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
