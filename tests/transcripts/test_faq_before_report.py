"""Before a report is sent, up to 3 legal answers that fit its description are offered, with "continue with
my report" one tap away; whether an answer helped is recorded, and a worker it helped may stop there.

The content is the small library in tests/fixtures/content.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import REPO_ROOT
from bot.services import library
from db.models import ContentFeedback
from tests.support.harness import buttons_of, t
from tests.transcripts.test_intake import LONG_ENOUGH, case_of, ready_worker, to_review

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "content"
UNRELATED = "Nhà vệ sinh ở xưởng hai bị hỏng nhiều tuần mà không ai sửa."


@pytest.fixture(autouse=True)
def fixture_content():
    library.install(library.load_content(FIXTURES))
    yield
    library.install(None)


async def feedback_rows(harness) -> list[ContentFeedback]:
    async with harness.session_factory() as session:
        return list((await session.scalars(select(ContentFeedback).order_by(ContentFeedback.id))).all())


async def offered(harness, user) -> tuple[dict, list[ContentFeedback]]:
    """Walk to the review screen with a late-wages description and press Submit: the answers offered."""
    review = await to_review(harness, user, text=LONG_ENOUGH)
    await harness.press(user, review, "rep:submit")
    offer = await harness.next(user)
    assert offer["message_id"] == review["message_id"]
    return offer, await feedback_rows(harness)


async def test_matching_answers_come_before_sending_and_continue_sends(harness):
    user = await ready_worker(harness)
    offer, rows = await offered(harness, user)
    assert offer["text"].startswith("💡 Có thể câu trả lời dưới đây đã giải đáp được thắc mắc của bạn.")
    assert "1. ❓ Công ty trả lương chậm thì người lao động được gì?" in offer["text"]
    assert "Nguồn: Bộ luật Lao động 2019, Điều 97" in offer["text"]
    assert [(row.item_slug, row.context, row.helped) for row in rows] == [("late-wages", "intake", None)]
    assert buttons_of(offer) == [(t("vi", "learn.intake_helped", number=1), f"rep:faq:{rows[0].id}"),
                                 (t("vi", "learn.intake_continue"), "rep:submit")]
    assert await case_of(harness, user) is None  # nothing sent yet
    await harness.press(user, offer, "rep:submit")
    sent = await harness.next(user)
    assert sent["message_id"] == offer["message_id"] and not buttons_of(sent)
    ack = await harness.next(user)
    grievance = await case_of(harness, user)
    assert grievance is not None and grievance.code in ack["text"] and grievance.text == LONG_ENOUGH
    assert (await feedback_rows(harness))[0].helped is None  # shown, not marked as helping


async def test_an_answer_that_helped_is_recorded_and_the_worker_may_stop(harness):
    user = await ready_worker(harness)
    offer, [row] = await offered(harness, user)
    await harness.press(user, offer, f"rep:faq:{row.id}")
    glad = await harness.next(user)
    assert glad["message_id"] == offer["message_id"]
    assert "Công ty trả lương chậm thì người lao động được gì?" in glad["text"]  # the answer stays readable
    assert glad["text"].endswith(t("vi", "learn.intake_glad"))
    assert buttons_of(glad) == [(t("vi", "learn.intake_stop"), "rep:cancel"),
                                (t("vi", "learn.intake_continue"), "rep:submit")]
    assert (await feedback_rows(harness))[0].helped is True
    await harness.press(user, glad, "rep:cancel")
    stopped = await harness.next(user)
    assert stopped["text"].startswith(t("vi", "intake.cancelled"))
    assert await case_of(harness, user) is None
    assert "intake" not in harness.application.user_data.get(user.id, {})


async def test_an_answer_that_helped_may_still_be_followed_by_the_report(harness):
    user = await ready_worker(harness)
    offer, [row] = await offered(harness, user)
    await harness.press(user, offer, f"rep:faq:{row.id}")
    glad = await harness.next(user)
    await harness.press(user, glad, "rep:submit")
    await harness.next(user)  # the summary, sent
    ack = await harness.next(user)
    grievance = await case_of(harness, user)
    assert grievance is not None and grievance.code in ack["text"]
    assert (await feedback_rows(harness))[0].helped is True


async def test_a_description_no_answer_fits_is_sent_straight_away(harness):
    user = await ready_worker(harness)
    review = await to_review(harness, user, category="other", text=UNRELATED)
    await harness.press(user, review, "rep:submit")
    sent = await harness.next(user)
    assert sent["message_id"] == review["message_id"] and not buttons_of(sent)
    await harness.next(user)
    assert (await case_of(harness, user)) is not None
    assert await feedback_rows(harness) == []


async def test_answers_are_offered_once_per_report_and_survive_a_restart(harness):
    user = await ready_worker(harness)
    offer, [row] = await offered(harness, user)
    await harness.restart_bot()
    await harness.press(user, offer, f"rep:faq:{row.id}")  # the step and the offer were kept
    glad = await harness.next(user)
    assert glad["text"].endswith(t("vi", "learn.intake_glad"))
    await harness.press(user, glad, "rep:submit")
    await harness.next(user)
    await harness.next(user)
    assert (await case_of(harness, user)) is not None
    assert len(await feedback_rows(harness)) == 1  # not offered a second time


async def test_a_forged_answer_button_is_refused(harness):
    other = await ready_worker(harness, "Hoa", "hoa_may")
    await offered(harness, other)
    [others_row] = await feedback_rows(harness)
    user = await ready_worker(harness)
    offer, rows = await offered(harness, user)
    for data in (f"rep:faq:{others_row.id}", "rep:faq:99999"):
        query = await harness.press(user, offer, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    assert [row.helped for row in await feedback_rows(harness)] == [None, None]
    await harness.press(user, offer, "rep:submit")  # the report is still one tap away
    await harness.next(user)
    await harness.next(user)
    assert (await case_of(harness, user)) is not None


async def test_an_english_worker_gets_the_answers_in_english_where_they_exist(harness):
    user = await ready_worker(harness, "Anna", "anna_w", language="en")
    review = await to_review_en(harness, user)
    await harness.press(user, review, "rep:submit")
    offer = await harness.next(user)
    assert offer["text"].startswith("💡 The answers below may already answer your question.")
    assert "Who can get unemployment benefit?" in offer["text"]
    assert buttons_of(offer)[-1] == (t("en", "learn.intake_continue"), "rep:submit")


async def to_review_en(harness, user) -> dict:
    ask = await harness.reply_to(user, "/report")
    await harness.press(user, ask, "rep:cat:other")
    scope = await harness.next(user)
    await harness.press(user, scope, "rep:scope:individual")
    await harness.next(user)
    attachments = await harness.reply_to(user, "I lost my job; how do I claim unemployment benefit?")
    await harness.press(user, attachments, "rep:att:done")
    await harness.press(user, await harness.next(user), "rep:wp:own")
    await harness.press(user, await harness.next(user), "rep:id:named")
    return await harness.next(user)
