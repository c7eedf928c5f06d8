"""Good examples (nêu gương): a nomination with a photo and the nominee's consent confirmed, approved in the
grassroots inbox and then listed for the library; a rejection with a note; refused presses."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import examples
from db.models import ExampleNomination, NominationStatus, Point
from tests.support.harness import buttons_of, data_of, t
from tests.transcripts.test_ideas import answer_prompt
from tests.transcripts.test_join import audit_actions, inbox_with_officer, onboarded_worker

UNIT = "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"
NOMINEE = "Chị Phạm Thị Hồng, tổ cắt ca 2"
STORY = ("Chị Hồng đã kèm cặp 12 công nhân mới trong năm, tự nguyện trực thay khi đồng nghiệp ốm "
         "và đề xuất cách xếp vải giúp giảm 5% vải thừa <mỗi tháng>.")


async def nominate(harness, worker, photo=True) -> dict:
    """/nominate through the review screen (consent not ticked yet); returns the review."""
    intro = await harness.reply_to(worker, "/nominate")
    await harness.press(worker, intro, "ex:kind:person")
    asked = await harness.next(worker)
    assert asked["text"] == t("vi", "example.ask_nominee_person", high=120)
    assert (await harness.reply_to(worker, NOMINEE))["text"] == t("vi", "example.ask_story", low=50, high=3000)
    ask_photo = await harness.reply_to(worker, STORY)
    if photo:
        await harness.emulator.send_photo(worker)
    else:
        await harness.press(worker, ask_photo, "ex:skip")
    review = await harness.next(worker)
    assert NOMINEE in review["text"] and "<mỗi tháng>" in review["text"] and UNIT in review["text"]
    return review


async def consent_and_send(harness, worker, review) -> dict:
    await harness.press(worker, review, "ex:consent")
    ticked = await harness.next(worker)
    assert (t("vi", "example.consent_checked"), "ex:consent") in buttons_of(ticked)
    await harness.press(worker, ticked, "ex:send")
    return await harness.next(worker)


async def test_a_nomination_is_approved_and_published_for_the_library(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness)
    review = await nominate(harness, worker)
    assert (t("vi", "example.consent_unchecked"), "ex:consent") in buttons_of(review)
    refused = await harness.press(worker, review, "ex:send")  # the nominee's consent is not confirmed yet
    answer = await harness.emulator.wait_answer(refused)
    assert answer["text"] == t("vi", "example.refused_consent_required") and answer["show_alert"]
    sent = await consent_and_send(harness, worker, review)
    assert sent["text"] == t("vi", "example.sent", nominee=NOMINEE, unit=UNIT)

    card = await harness.next(group.id)
    assert NOMINEE in card["text"] and "<mỗi tháng>" in card["text"] and "Lan Nguyễn · @lan_may" in card["text"]
    assert t("vi", "example.card_has_photo") in card["text"] and t("vi", "example.status_pending") in card["text"]
    await harness.press(officer, card, data_of(card, t("vi", "example.card_photo")))
    photo = await harness.next(group.id)
    assert photo.get("photo") and "forward_origin" not in photo
    await harness.press(officer, card, data_of(card, t("vi", "example.card_approve")))
    approved = await harness.edited(group.id, card["message_id"])
    assert t("vi", "example.status_approved") in approved["text"]
    assert [text for text, _ in buttons_of(approved)] == [t("vi", "example.card_photo")]
    assert (await harness.next(worker))["text"] == t("vi", "example.worker_approved", unit=UNIT, nominee=NOMINEE)

    async with harness.session_factory() as session:
        stories = await examples.approved_stories(session, "en")
        nomination = await session.scalar(select(ExampleNomination))
        points = (await session.scalars(select(Point))).all()
        assert await examples.approved_story(session, nomination.id) == stories[0]
    assert [(s.nominee, s.story, s.unit_name) for s in stories] == [(NOMINEE, STORY, UNIT)]
    assert stories[0].photo_file_id is not None and nomination.consent_confirmed_at is not None
    assert [(p.reason, p.amount, p.member_id) for p in points] == [("nomination_approved", 15, nomination.member_id)]
    assert await audit_actions(harness, "example:") == ["example.nominated", "example.approved"]

    reader = harness.user("Minh")  # anyone browsing the library's good examples finds the story
    topics = await harness.reply_to(reader, "/learn")
    await harness.press(reader, topics, "learn:t:good_examples:0")
    listing = await harness.next(reader)
    await harness.press(reader, listing, f"learn:s:{nomination.id}")
    assert (await harness.next(reader)).get("photo")
    shown = await harness.next(reader)
    assert NOMINEE in shown["text"] and STORY in shown["text"] and "Lan" not in shown["text"]


async def test_a_rejection_carries_a_note_and_publishes_nothing(harness):
    officer, group = await inbox_with_officer(harness)
    worker = await onboarded_worker(harness)
    await consent_and_send(harness, worker, await nominate(harness, worker, photo=False))
    card = await harness.next(group.id)
    assert t("vi", "example.card_photo") not in [text for text, _ in buttons_of(card)]
    confirmation = await answer_prompt(harness, officer, group, card, t("vi", "example.card_reject"),
                                       "Cần thêm xác nhận của tổ trưởng.")
    assert confirmation["text"] == t("vi", "idea.decision_saved")
    told = await harness.next(worker)
    assert told["text"] == t("vi", "example.worker_rejected", unit=UNIT, nominee=NOMINEE,
                             note="Cần thêm xác nhận của tổ trưởng.")
    rejected = await harness.edited(group.id, card["message_id"])
    assert t("vi", "example.status_rejected") in rejected["text"] and not buttons_of(rejected)
    async with harness.session_factory() as session:
        assert await examples.approved_stories(session, "vi") == []
        nomination = await session.scalar(select(ExampleNomination))
        assert nomination.status == NominationStatus.REJECTED
        assert await examples.approved_story(session, nomination.id) is None
        assert (await session.scalars(select(Point))).all() == []


async def test_outsiders_and_forged_presses_are_refused(harness):
    officer, group = await inbox_with_officer(harness)
    other_officer, _ = await inbox_with_officer(harness, "CDCS-GIAYBT", "Bình", "Lê")
    worker = await onboarded_worker(harness)
    await consent_and_send(harness, worker, await nominate(harness, worker, photo=False))
    card = await harness.next(group.id)
    harness.emulator.chats[group.id].members[other_officer.id] = "member"
    query = await harness.press(other_officer, card, data_of(card, t("vi", "example.card_approve")))
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "card.not_allowed")
    nomination_id = int(data_of(card, t("vi", "example.card_approve")).rsplit(":", 1)[1])
    for forged in (f"ec:ok:{nomination_id + 1}", "ec:ok:", f"ec:publish:{nomination_id}",
                   f"ec:photo:{nomination_id}"):
        query = await harness.press(officer, card, forged, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    # The same card data pressed on another message (the worker's own chat) is refused.
    menu = await harness.reply_to(worker, "/menu")
    query = await harness.press(worker, menu, f"ec:ok:{nomination_id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    async with harness.session_factory() as session:
        assert (await session.scalar(select(ExampleNomination))).status == NominationStatus.PENDING


async def test_a_new_draft_replaces_an_unfinished_one(harness):
    worker = await onboarded_worker(harness)
    await harness.reply_to(worker, "/idea")
    intro = await harness.reply_to(worker, "/nominate")  # the idea draft is dropped, not fed this text
    await harness.press(worker, intro, "ex:kind:team")
    await harness.next(worker)
    assert (await harness.reply_to(worker, "Tổ bảo trì ca đêm"))["text"] == t("vi", "example.ask_story", low=50,
                                                                             high=3000)
    assert (await harness.reply_to(worker, "Ngắn quá"))["text"] == t("vi", "example.story_too_short", low=50,
                                                                      high=3000, length=8)
