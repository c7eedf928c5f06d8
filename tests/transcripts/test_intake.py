"""The worker raises a concern (/report): through the real Application and the Bot API emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.services import grievances, library, units
from bot.services.categories import is_emergency
from bot.services.grievances import CaseDraft, submit_case
from bot.services.search import SearchIndex
from db.models import Grievance, GrievanceCosigner, GrievanceMessage, Member, Workplace
from handlers.cards import show_card
from tests.support.harness import buttons_of, data_of, reply_keyboard_of, t
from tests.transcripts.test_cards import VN, inbox_with_officer

LONG_ENOUGH = "Công ty trả lương chậm ba tuần liên tục, không báo lý do."
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def no_answers_before_sending():
    """The library without its FAQ, so no answers are offered before Submit sends: that step has its own
    transcripts (test_faq_before_report.py); here Submit sends."""
    served = library.current()
    library.install(library.Content(served.library, (), SearchIndex(served.library.versions(), [])))
    yield
    library.install(None)


async def ready_worker(harness, first_name="Lan", username="lan_may", workplace_code="WP-MAYSH", language="vi"):
    """A worker who has finished onboarding with consent, at the given workplace."""
    user = harness.user(first_name, username=username, language_code=language)
    async with harness.session_factory() as session:
        workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
        session.add(Member(telegram_id=user.id, first_name=first_name, username=username, phone="+84912345678",
                           language=language, consent_version="2026.1", consented_at=datetime.now(UTC),
                           province_code=1, sector="garment", workplace_id=workplace.id,
                           onboarded_at=datetime.now(UTC)))
        await session.commit()
    return user


async def case_of(harness, user) -> Grievance | None:
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == user.id))
        return await session.scalar(select(Grievance).where(Grievance.member_id == member.id))


async def pick_category(harness, user, category="wages") -> dict:
    """/report, choose a category; returns the scope question (the category message, edited)."""
    ask = await harness.reply_to(user, "/report")
    assert ask["text"] == t("vi", "intake.ask_category")
    assert len(buttons_of(ask)) == 13
    await harness.press(user, ask, f"rep:cat:{category}")
    scope = await harness.next(user)
    assert scope["message_id"] == ask["message_id"]
    return scope


async def to_description(harness, user, category="wages") -> dict:
    scope = await pick_category(harness, user, category)
    await harness.press(user, scope, "rep:scope:individual")
    ask = await harness.next(user)
    assert t("vi", "intake.ask_description", min=20, max=3000) in ask["text"]
    return ask


async def to_review(harness, user, category="wages", text=LONG_ENOUGH, identity="named", urgent=None) -> dict:
    """Walk the whole intake with buttons and typed text; returns the review screen."""
    h = harness
    await to_description(h, user, category)
    attachments = await h.reply_to(user, text)
    if is_emergency(text):  # the numbers come first, then the question
        attachments = await h.next(user)
    await h.press(user, attachments, "rep:att:done")
    workplace = await h.next(user)
    await h.press(user, workplace, "rep:wp:own")
    identity_question = await h.next(user)
    await h.press(user, identity_question, f"rep:id:{identity}")
    following = await h.next(user)
    if urgent is not None:
        assert t("vi", "intake.ask_urgent") in following["text"]
        await h.press(user, following, f"rep:urg:{'yes' if urgent else 'no'}")
        following = await h.next(user)
    assert t("vi", "intake.submit") in [text for text, _ in buttons_of(following)]
    return following


async def submit(harness, user, review) -> dict:
    await harness.press(user, review, "rep:submit")
    sent = await harness.next(user)
    if "rep:submit" in [data for _, data in buttons_of(sent)]:  # answers offered first (test_faq_before_report)
        await harness.press(user, sent, "rep:submit")
        sent = await harness.next(user)
    assert sent["message_id"] == review["message_id"] and not buttons_of(sent)
    return await harness.next(user)  # the acknowledgement: a new message, with the main menu


async def test_full_named_intake_reaches_the_grassroots_inbox(harness):
    _, group = await inbox_with_officer(harness)
    user = await ready_worker(harness)
    scope = await pick_category(harness, user)
    assert "Tiền lương, thưởng ✓" in scope["text"] and "Phiếu lương" in scope["text"]  # hint and what helps
    assert scope["text"].endswith(t("vi", "intake.ask_scope"))
    await harness.press(user, scope, "rep:scope:group")
    size = await harness.next(user)
    assert [text for text, _ in buttons_of(size)] == ["2–10", "11–50", "51–200", "200+"]
    description = await harness.reply_to(user, "khoảng 30 người")  # a typed number
    assert "nhóm khoảng 30 người ✓" in description["text"]
    attachments = await harness.reply_to(user, LONG_ENOUGH)
    assert "Phiếu lương" in attachments["text"]
    await harness.emulator.send_photo(user, b"payslip")
    received = await harness.next(user)
    assert received["text"] == t("vi", "intake.attachment_received", count=1, limit=5)
    await harness.press(user, received, "rep:att:done")
    workplace = await harness.next(user)
    assert t("vi", "intake.workplace_own", workplace="Công ty TNHH May Sông Hồng Hà Nội") in \
        [text for text, _ in buttons_of(workplace)]
    await harness.press(user, workplace, "rep:wp:own")
    identity = await harness.next(user)
    assert t("vi", "intake.ask_identity") in identity["text"]
    await harness.press(user, identity, "rep:id:named")
    review = await harness.next(user)
    for line in ("Tiền lương, thưởng", "nhóm khoảng 30 người", LONG_ENOUGH, "Tệp đính kèm: 1",
                 "Công ty TNHH May Sông Hồng Hà Nội", "Công khai", "bình thường"):
        assert line in review["text"]
    ack = await submit(harness, user, review)
    grievance = await case_of(harness, user)  # stored before the worker heard back
    assert grievance is not None and grievance.code in ack["text"]
    assert grievance.scope == "group" and grievance.group_size == 30 and grievance.identity == "named"
    assert "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội" in ack["text"]
    due = grievance.acknowledge_due_at.replace(tzinfo=grievance.acknowledge_due_at.tzinfo or UTC)
    assert due.astimezone(VN).strftime("%d/%m/%Y %H:%M") in ack["text"]
    assert t("vi", "menu.mycases") in reply_keyboard_of(ack)
    card = await harness.next(group.id)
    assert card["text"].startswith(f"📋 {grievance.code} · Tiền lương, thưởng")
    assert "Lan · @lan_may" in card["text"] and "nhóm khoảng 30 người" in card["text"]
    async with harness.session_factory() as session:
        files = await session.scalar(select(func.count()).select_from(GrievanceMessage).where(
            GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.file_id.is_not(None)))
    assert files == 1


async def test_case_is_committed_before_the_acknowledgement(harness):
    user = await ready_worker(harness)
    ack = await submit(harness, user, await to_review(harness, user))
    grievance = await case_of(harness, user)  # looked up as soon as the acknowledgement arrived
    assert grievance is not None and grievance.code in ack["text"]


async def test_an_undeliverable_acknowledgement_does_not_undo_the_case(harness):
    """Telling comes after committing: a worker who blocks the bot at that moment still has their case,
    and the officers still get its card."""
    _, group = await inbox_with_officer(harness)
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    harness.emulator.block_chat(user.id)
    query = await harness.press(user, review, "rep:submit")
    await harness.emulator.wait_answer(query)  # answered by the same update, right after the commit
    grievance = await case_of(harness, user)
    assert grievance is not None and grievance.text == LONG_ENOUGH
    assert (await harness.next(group.id))["text"].startswith(f"📋 {grievance.code}")


async def test_anonymous_case_shows_no_identity_on_the_card(harness):
    _, group = await inbox_with_officer(harness)
    user = await ready_worker(harness, first_name="Bí Mật", username="bimat_99")
    ack = await submit(harness, user, await to_review(harness, user, identity="anonymous"))
    grievance = await case_of(harness, user)
    assert grievance.identity == "anonymous" and grievance.code in ack["text"]
    card = await harness.next(group.id)
    for secret in ("Bí Mật", "bimat_99", "+84912345678", str(user.id)):
        assert secret not in card["text"]
    assert t("vi", "card.identity_anonymous") in card["text"]


async def test_confidential_case_skips_the_grassroots_union(harness):
    _, grassroots = await inbox_with_officer(harness)
    _, upper = await inbox_with_officer(harness, "CDP-LONGBIEN")
    user = await ready_worker(harness)
    ack = await submit(harness, user, await to_review(harness, user, identity="confidential"))
    assert "Công đoàn phường Long Biên" in ack["text"]
    card = await harness.next(upper.id)
    assert (await case_of(harness, user)).code in card["text"] and "Lan" in card["text"]
    assert [m for m in harness.emulator.messages(grassroots.id) if "📋" in m.get("text", "")] == []


async def test_emergency_numbers_come_first_and_urgency_is_confirmed(harness):
    user = await ready_worker(harness)
    await to_description(harness, user, "safety_health")
    await harness.send(user, "Co tai nan o xuong cat, mot nguoi bi thuong nang")  # typed without diacritics
    emergency = await harness.next(user)
    assert emergency["text"] == t("vi", "intake.emergency")
    assert all(number in emergency["text"] for number in ("113", "114", "115"))
    attachments = await harness.next(user)
    assert t("vi", "intake.ask_attachments", limit=5, size_mb=20) in attachments["text"]
    await harness.press(user, attachments, "rep:att:done")
    await harness.press(user, await harness.next(user), "rep:wp:own")
    await harness.press(user, await harness.next(user), "rep:id:named")
    urgent = await harness.next(user)
    assert t("vi", "intake.ask_urgent") in urgent["text"]
    await harness.press(user, urgent, "rep:urg:yes")
    review = await harness.next(user)
    assert "⚠️ khẩn cấp" in review["text"]
    await submit(harness, user, review)
    grievance = await case_of(harness, user)
    assert grievance.urgent and grievance.category == "safety_health"


async def test_urgent_words_propose_urgency_and_no_keeps_it_normal(harness):
    user = await ready_worker(harness)
    review = await to_review(harness, user, text="Công ty nợ lương ba tháng nay rồi, chưa trả đồng nào.",
                             urgent=False)
    assert "bình thường" in review["text"]
    await submit(harness, user, review)
    assert not (await case_of(harness, user)).urgent


async def test_voice_description(harness):
    user = await ready_worker(harness)
    await to_description(harness, user)
    await harness.emulator.send_voice(user, b"OggS-voice", duration=12)
    attachments = await harness.next(user)
    assert attachments["text"].startswith(t("vi", "intake.voice_chosen"))
    assert t("vi", "intake.attachments_so_far", count=1, limit=5) in attachments["text"]
    await harness.press(user, attachments, "rep:att:done")
    await harness.press(user, await harness.next(user), "rep:wp:own")
    await harness.press(user, await harness.next(user), "rep:id:named")
    review = await harness.next(user)
    assert t("vi", "intake.voice_only") in review["text"]
    await submit(harness, user, review)
    grievance = await case_of(harness, user)
    assert grievance.text is None
    async with harness.session_factory() as session:
        kinds = (await session.scalars(select(GrievanceMessage.file_kind).where(
            GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.file_id.is_not(None)))).all()
    assert kinds == ["voice"]


async def test_attachments_refuse_big_files_and_a_sixth(harness):
    user = await ready_worker(harness)
    ask = await to_description(harness, user)
    await harness.reply_to(user, LONG_ENOUGH)
    await harness.emulator.send_document(user, b"x", "video.mp4", "video/mp4", file_size=20 * MB + 1)
    refused = await harness.next(user)
    assert refused["text"] == t("vi", "intake.attachment_too_big", size_mb=20)
    await harness.emulator.send_document(user, b"%PDF", "hopdong.pdf", "application/pdf", file_size=20 * MB)
    assert (await harness.next(user))["text"] == t("vi", "intake.attachment_received", count=1, limit=5)
    await harness.emulator.send_photo(user, b"p1")
    await harness.next(user)
    await harness.emulator.send_voice(user, b"v")
    await harness.next(user)
    await harness.emulator.send_photo(user, b"p2")
    await harness.next(user)
    await harness.emulator.send_photo(user, b"p3")
    fifth = await harness.next(user)
    assert fifth["text"] == t("vi", "intake.attachment_received", count=5, limit=5)
    await harness.emulator.send_photo(user, b"p4")
    sixth = await harness.next(user)
    assert sixth["text"] == t("vi", "intake.attachment_limit", limit=5)
    await harness.emulator.send_sticker(user)
    hint = await harness.next(user)
    assert hint["text"].startswith(t("vi", "intake.attachments_expected"))
    await harness.press(user, sixth, "rep:att:done")
    workplace = await harness.next(user)
    assert workplace["text"].startswith(t("vi", "intake.attachments_chosen", count=5))
    assert ask["message_id"] != workplace["message_id"]


async def test_edit_from_the_review_screen_returns_to_it(harness):
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    await harness.press(user, review, "rep:edit:description")
    ask = await harness.next(user)
    assert t("vi", "intake.ask_description", min=20, max=3000) in ask["text"]
    urgent = await harness.reply_to(user, "Tổ trưởng bắt làm thêm giờ mà không trả lương làm thêm.")
    assert t("vi", "intake.ask_urgent") in urgent["text"]  # the new text has urgent words: asked again
    await harness.press(user, urgent, "rep:urg:no")
    review = await harness.next(user)
    assert "Tổ trưởng bắt làm thêm giờ" in review["text"] and LONG_ENOUGH not in review["text"]
    await harness.press(user, review, "rep:edit:identity")
    await harness.press(user, await harness.next(user), "rep:id:anonymous")
    review = await harness.next(user)
    assert "Ẩn danh" in review["text"]
    await harness.press(user, review, "rep:edit:workplace")
    await harness.press(user, await harness.next(user), "rep:wp:other")
    search = await harness.next(user)
    results = await harness.reply_to(user, "dien tu thang long")
    assert search["text"] == t("vi", "intake.ask_workplace_search")
    await harness.press(user, results, data_of(results, "Điện tử Thăng Long"))
    review = await harness.next(user)
    assert "Công ty TNHH Điện tử Thăng Long" in review["text"]
    await harness.press(user, review, "rep:edit:workplace")
    await harness.press(user, await harness.next(user), "rep:wp:other")
    await harness.next(user)
    results = await harness.reply_to(user, "xưởng gạch không tên")
    await harness.press(user, results, "rep:wp:unlisted")
    await harness.next(user)
    provinces = await harness.reply_to(user, "Xưởng gạch Đông Anh")
    assert buttons_of(provinces)[0][1] == "rep:prov:1"  # the worker's own province first
    review = await harness.reply_to(user, "ha noi")
    assert "Xưởng gạch Đông Anh" in review["text"]
    await submit(harness, user, review)
    grievance = await case_of(harness, user)
    assert grievance.identity == "anonymous" and grievance.workplace_id is None
    assert grievance.workplace_other_name == "Xưởng gạch Đông Anh" and grievance.province_code == 1
    assert grievance.text.startswith("Tổ trưởng")


async def test_restart_mid_intake_loses_nothing(harness):
    user = await ready_worker(harness)
    ask = await to_description(harness, user)
    await harness.restart_bot()
    attachments = await harness.reply_to(user, LONG_ENOUGH)
    await harness.restart_bot()
    await harness.press(user, attachments, "rep:att:done")
    await harness.press(user, await harness.next(user), "rep:wp:own")
    await harness.press(user, await harness.next(user), "rep:id:named")
    review = await harness.next(user)
    assert LONG_ENOUGH in review["text"] and ask["message_id"] != review["message_id"]
    await submit(harness, user, review)
    assert (await case_of(harness, user)).text == LONG_ENOUGH


async def test_a_second_report_and_other_commands_mid_way(harness):
    user = await ready_worker(harness)
    await to_description(harness, user)
    again = await harness.reply_to(user, "/report")
    assert again["text"] == t("vi", "intake.in_progress")
    await harness.press(user, again, "rep:go:continue")
    assert t("vi", "intake.ask_description", min=20, max=3000) in (await harness.next(user))["text"]
    busy = await harness.reply_to(user, "/start")
    assert busy["text"] == t("vi", "intake.busy")
    settings_label = await harness.reply_to(user, t("vi", "menu.settings"))  # a menu label typed mid-way
    assert settings_label["text"] == t("vi", "intake.busy")
    menu_again = await harness.reply_to(user, t("vi", "menu.report"))
    assert menu_again["text"] == t("vi", "intake.in_progress")
    await harness.press(user, busy, "rep:go:continue")
    await harness.next(user)
    attachments = await harness.reply_to(user, LONG_ENOUGH)  # nothing was lost: the description step goes on
    assert attachments["text"].startswith(t("vi", "intake.description_chosen"))
    # /menu leaves the draft; /report offers it back; "start over" begins again.
    await harness.reply_to(user, "/menu")
    offer = await harness.reply_to(user, "/report")
    assert offer["text"] == t("vi", "intake.in_progress")
    await harness.press(user, offer, "rep:go:restart")
    assert (await harness.next(user))["text"] == t("vi", "intake.ask_category")
    busy = await harness.reply_to(user, "/settings")
    await harness.press(user, busy, "rep:go:discard")
    discarded = await harness.next(user)
    assert discarded["text"] == t("vi", "intake.discarded")
    assert (await harness.next(user))["text"] == t("vi", "menu.title")
    settings = await harness.reply_to(user, "/settings")  # the command works again once discarded
    assert "set:close" in [data for _, data in buttons_of(settings)]
    assert await case_of(harness, user) is None


async def test_bad_input_gets_a_clear_answer_and_the_same_step(harness):
    user = await ready_worker(harness)
    await to_description(harness, user)
    short = await harness.reply_to(user, "lương chậm")
    assert short["text"] == t("vi", "intake.description_too_short", length=10, min=20)
    long = await harness.reply_to(user, "a" * 3001)
    assert long["text"] == t("vi", "intake.description_too_long", length=3001, max=3000)
    await harness.emulator.send_sticker(user)
    sticker = await harness.next(user)
    assert sticker["text"].startswith(t("vi", "intake.description_expected"))
    await harness.emulator.send_photo(user)
    assert (await harness.next(user))["text"].startswith(t("vi", "intake.description_expected"))
    attachments = await harness.reply_to(user, "   " + LONG_ENOUGH + "   ")
    assert attachments["text"].startswith(t("vi", "intake.description_chosen"))


async def test_forged_and_stale_buttons(harness):
    user = await ready_worker(harness)
    ask = await harness.reply_to(user, "/report")
    forged = await harness.press(user, ask, "rep:cat:lottery", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "input.stale_button")
    again = await harness.next(user)
    assert again["text"] == t("vi", "intake.ask_category") and again["message_id"] != ask["message_id"]
    await harness.press(user, again, "rep:cat:wages")
    scope = await harness.next(user)
    stale = await harness.press(user, scope, "rep:cat:other", force=True)  # a button of the step before
    assert (await harness.emulator.wait_answer(stale))["show_alert"]
    assert (await harness.next(user))["text"] == t("vi", "intake.ask_scope")
    for data in ("rep:submit", "rep:edit:salary", "rep:metoo:1", "rep:size:999"):
        query = await harness.press(user, scope, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
        await harness.next(user)
    assert await case_of(harness, user) is None


async def test_without_a_profile_no_case_data_is_stored(harness):
    user = harness.user("Mới")
    answer = await harness.reply_to(user, "/report")
    assert answer["text"] == t("vi", "intake.needs_profile")
    await harness.send(user, "Công ty nợ lương của tôi ba tháng rồi")
    assert not (await harness.next(user))["text"].startswith(t("vi", "intake.description_chosen"))
    assert "intake" not in harness.application.user_data.get(user.id, {})
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Grievance)) == 0


async def file_other_case(harness, first_name="Người Khác", text="Bí mật: tổ trưởng A giữ lương của tôi"):
    async with harness.session_factory() as session:
        other = Member(telegram_id=777001, first_name=first_name, language="vi", consent_version="2026.1")
        session.add(other)
        await session.commit()
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
        submitted = await submit_case(session, other, CaseDraft("wages", text, workplace_id=workplace),
                                      datetime.now(UTC), VN)
        await show_card(harness.application.bot, session, submitted.grievance, VN)
        return submitted.grievance


async def to_metoo(harness, user) -> dict:
    await to_description(harness, user)
    attachments = await harness.reply_to(user, LONG_ENOUGH)
    await harness.press(user, attachments, "rep:att:done")
    workplace = await harness.next(user)
    await harness.press(user, workplace, "rep:wp:own")
    return await harness.next(user)


async def test_me_too_shows_only_category_and_count_and_joining_works(harness):
    _, group = await inbox_with_officer(harness)
    original = await file_other_case(harness)
    posted = await harness.next(group.id)
    user = await ready_worker(harness)
    offer = await to_metoo(harness, user)
    assert t("vi", "intake.ask_metoo", category="Tiền lương, thưởng", voices=1) in offer["text"]
    assert "Bí mật" not in offer["text"] and "Người Khác" not in offer["text"] and original.code not in offer["text"]
    forged = await harness.press(user, offer, "rep:metoo:99999", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "input.stale_button")
    offer = await harness.next(user)
    await harness.press(user, offer, f"rep:metoo:{original.id}")
    await harness.next(user)  # the offer, marked joined
    joined = await harness.next(user)
    assert joined["text"] == t("vi", "intake.metoo_joined", category="Tiền lương, thưởng", voices=2)
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == user.id))
        cosigners = (await session.scalars(select(GrievanceCosigner.member_id).where(
            GrievanceCosigner.grievance_id == original.id))).all()
    assert cosigners == [member.id] and await case_of(harness, user) is None
    card = await harness.next(group.id)
    assert card["message_id"] == posted["message_id"]  # the card is edited in place
    assert original.code in card["text"] and t("vi", "card.scope", scope="cá nhân", voices=2) in card["text"]


async def test_me_too_can_be_declined(harness):
    await file_other_case(harness)
    user = await ready_worker(harness)
    offer = await to_metoo(harness, user)
    await harness.press(user, offer, "rep:metoo:own")
    identity = await harness.next(user)
    await harness.press(user, identity, "rep:id:named")
    await submit(harness, user, await harness.next(user))
    assert (await case_of(harness, user)) is not None


async def test_the_fifth_voice_makes_it_collective_and_moves_it_up(harness):
    _, grassroots = await inbox_with_officer(harness)
    _, upper = await inbox_with_officer(harness, "CDP-LONGBIEN")
    original = await file_other_case(harness)
    posted = await harness.next(grassroots.id)
    async with harness.session_factory() as session:
        for number in range(3):
            joiner = Member(telegram_id=778000 + number, language="vi", consent_version="2026.1")
            session.add(joiner)
            await session.commit()
            await grievances.add_voice(session, original.id, joiner, datetime.now(UTC), VN)
    user = await ready_worker(harness)
    offer = await to_metoo(harness, user)
    assert t("vi", "intake.ask_metoo", category="Tiền lương, thưởng", voices=4) in offer["text"]
    await harness.press(user, offer, f"rep:metoo:{original.id}")
    await harness.next(user)
    assert (await harness.next(user))["text"] == t("vi", "intake.metoo_joined", category="Tiền lương, thưởng",
                                                   voices=5)
    card = await harness.next(upper.id)
    assert original.code in card["text"]
    marked = await harness.next(grassroots.id)
    assert marked["message_id"] == posted["message_id"] and "Công đoàn phường Long Biên" in marked["text"]
    async with harness.session_factory() as session:
        moved = await session.get(Grievance, original.id)
        upper_unit = await units.get_unit_by_code(session, "CDP-LONGBIEN")
    assert moved.collective and moved.unit_id == upper_unit.id


async def test_cancel_clears_the_draft(harness):
    user = await ready_worker(harness)
    await to_description(harness, user)
    await harness.reply_to(user, "/cancel")
    fresh = await harness.reply_to(user, t("vi", "menu.report"))  # the menu button starts a new report
    assert fresh["text"] == t("vi", "intake.ask_category")


async def test_cancel_on_the_review_screen(harness):
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    await harness.press(user, review, "rep:cancel")
    assert (await harness.next(user))["text"] == t("vi", "intake.cancelled")
    assert await case_of(harness, user) is None


async def test_intake_in_english(harness):
    user = await ready_worker(harness, first_name="John", language="en")
    ask = await harness.reply_to(user, "/report")
    assert ask["text"] == t("en", "intake.ask_category")
    await harness.press(user, ask, "rep:cat:housing")
    scope = await harness.next(user)
    assert "Housing ✓" in scope["text"] and "Photos of the housing" in scope["text"]
    await harness.press(user, scope, "rep:scope:individual")
    await harness.next(user)
    attachments = await harness.reply_to(user, "The dormitory has had no running water for a week.")
    await harness.press(user, attachments, "rep:att:done")
    await harness.press(user, await harness.next(user), "rep:wp:own")
    await harness.press(user, await harness.next(user), "rep:id:named")
    review = await harness.next(user)
    assert t("en", "intake.review_workplace", value="Công ty TNHH May Sông Hồng Hà Nội") in review["text"]
    await harness.press(user, review, "rep:submit")
    await harness.next(user)
    ack = await harness.next(user)
    grievance = await case_of(harness, user)
    assert ack["text"].startswith(t("en", "intake.submitted", code=grievance.code, unit="", due="", mycases="")[:40])
    assert grievance.language == "en" and grievance.category == "housing"
