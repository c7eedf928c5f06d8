"""/learn: topics → articles (paged) → parts, related articles, the quiz button; typed words search the
library and the FAQ (with and without diacritics, with typos); a FAQ answer asks whether it helped.

The content is the small library in tests/fixtures/content, so the transcripts do not move with content/.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import REPO_ROOT
from bot.services import library
from db.models import ContentFeedback, Member
from tests.support.harness import buttons_of, data_of, t

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "content"


@pytest.fixture(autouse=True)
def fixture_content():
    library.install(library.load_content(FIXTURES))
    yield
    library.install(None)


def labels(message: dict) -> list[str]:
    return [text for text, _ in buttons_of(message)]


async def feedback_rows(harness) -> list[ContentFeedback]:
    async with harness.session_factory() as session:
        return list((await session.scalars(select(ContentFeedback).order_by(ContentFeedback.id))).all())


async def test_browse_topics_then_a_paged_topic_then_an_article(harness):
    user = harness.user()
    topics = await harness.reply_to(user, "/learn")
    assert topics["text"] == t("vi", "learn.topics_title")
    assert len(buttons_of(topics)) == 12
    assert labels(topics)[2] == "Bộ luật Lao động (10)" and labels(topics)[3] == "Tiền lương và lương tối thiểu (1)"
    await harness.press(user, topics, "learn:t:labour_code:0")
    first_page = await harness.next(user)
    assert first_page["message_id"] == topics["message_id"]  # edited in place
    assert first_page["text"].startswith("Bộ luật Lao động\nHợp đồng, thời giờ làm việc")
    assert len([label for label in labels(first_page) if label.startswith("📄")]) == 8
    assert "1/2" in labels(first_page) and t("vi", "learn.back_topics") in labels(first_page)
    await harness.press(user, first_page, "learn:t:labour_code:1")
    second_page = await harness.next(user)
    assert [label for label in labels(second_page) if label.startswith("📄")] == [
        "📄 Thời giờ làm việc bình thường", "📄 Thử việc"]  # Vietnamese order: Thời < Thử
    await harness.press(user, second_page, data_of(second_page, "Thời giờ làm việc"))
    article = await harness.next(user)
    assert article["message_id"] != second_page["message_id"]  # an article is a new message to keep
    assert article["text"].startswith("📄 Thời giờ làm việc bình thường\n\nThời giờ làm việc bình thường không quá 8 giờ")
    assert article["text"].endswith("Nguồn: Bộ luật Lao động số 45/2019/QH14, Điều 105\nCập nhật: 20/11/2026")
    assert buttons_of(article) == [("🔗 Giới hạn làm thêm giờ", "learn:a:overtime-limits:0"),
                                   ("« Bộ luật Lao động", "learn:t:labour_code:0")]
    await harness.press(user, article, "learn:t:labour_code:0")  # back to the topic, as a new message
    assert (await harness.next(user))["text"].startswith("Bộ luật Lao động")


async def test_the_menu_button_opens_the_topics(harness):
    user = harness.user()
    assert (await harness.reply_to(user, t("vi", "menu.learn")))["text"] == t("vi", "learn.topics_title")


async def test_an_article_renders_the_markdown_subset_and_offers_related_and_quiz(harness):
    user = harness.user()
    await harness.reply_to(user, "/learn")
    await harness.send(user, "tăng ca")
    results = await harness.next(user)
    await harness.press(user, results, "learn:a:overtime-limits:0")
    article = await harness.next(user)
    text = article["text"]
    assert "• Phải được người lao động đồng ý." in text and "\nĐiều kiện\n" in text
    assert "Cổng thông tin Chính phủ & hỏi Công đoàn cơ sở khi số giờ > 40 giờ/tháng." in text  # escaped, shown as typed
    kinds = {entity["type"] for entity in article.get("entities", [])}
    assert {"bold", "text_link", "italic"} <= kinds
    link = next(entity for entity in article["entities"] if entity["type"] == "text_link")
    assert link["url"] == "https://chinhphu.vn"
    assert buttons_of(article) == [("🔗 Thời giờ làm việc bình thường", "learn:a:working-hours:0"),
                                   ("🔗 Lương tối thiểu vùng", "learn:a:minimum-wage:0"),
                                   (t("vi", "learn.test_yourself"), "quiz:practice:labour-code-basics"),
                                   ("« Bộ luật Lao động", "learn:t:labour_code:0")]
    await harness.press(user, article, "learn:a:minimum-wage:0")  # a related article
    related = await harness.next(user)
    assert related["text"].startswith("📄 Lương tối thiểu vùng") and "vùng I 4.960.000 đồng" in related["text"]


async def test_a_long_article_comes_in_parts_with_a_next_button(harness):
    user = harness.user()
    await harness.reply_to(user, "/learn")
    topics = harness.emulator.messages(user)[-1]
    await harness.press(user, topics, "learn:t:labour_code:0")
    page = await harness.next(user)
    await harness.press(user, page, "learn:a:labour-contract-guide:0")
    first = await harness.next(user)
    assert first["text"].startswith("📄 Hợp đồng lao động từ A đến Z\n\nPhần 1\n\nĐoạn 1.")
    assert buttons_of(first) == [(t("vi", "learn.next_part", number=2, total=2), "learn:a:labour-contract-guide:1")]
    assert "Nguồn:" not in first["text"]
    await harness.press(user, first, "learn:a:labour-contract-guide:1")
    second = await harness.next(user)
    assert second["message_id"] != first["message_id"]
    assert second["text"].startswith("📄 Hợp đồng lao động từ A đến Z (phần 2/2)\n\n")
    assert second["text"].endswith("Cập nhật: 25/11/2026")
    assert "Đoạn 12." in second["text"] and "Đoạn 12." not in first["text"]
    assert all(len(message["text"]) <= 4096 for message in (first, second))
    assert labels(second)[:2] == ["🔗 Giới hạn làm thêm giờ", "🔗 Thời giờ làm việc bình thường"]


SEARCHES = [
    ("bao hiem that nghiep", {"learn:f:unemployment-benefit-conditions", "learn:a:unemployment-insurance:0"}),
    ("bảo hiểm thất nghiệp", {"learn:f:unemployment-benefit-conditions", "learn:a:unemployment-insurance:0"}),
    ("BHTN", {"learn:f:unemployment-benefit-conditions", "learn:a:unemployment-insurance:0"}),
    ("luong toi thieu", {"learn:a:minimum-wage:0", "learn:f:minimum-wage-levels"}),
    ("luong toi thieuu", {"learn:a:minimum-wage:0", "learn:f:minimum-wage-levels"}),  # a typo
    ("tăng ca", {"learn:a:overtime-limits:0", "learn:f:overtime-max-hours"}),
    ("tang ca", {"learn:a:overtime-limits:0", "learn:f:overtime-max-hours"}),
    ("bảo hiểm xã hôi", {"learn:a:social-insurance-basics:0", "learn:f:pension-years"}),  # a wrong tone mark
    ("bao hiem xa hoii", {"learn:a:social-insurance-basics:0", "learn:f:pension-years"}),  # a typo
]


async def test_search_with_and_without_diacritics_and_with_typos(harness):
    user = harness.user()
    for query, expected in SEARCHES:
        results = await harness.reply_to(user, query)
        assert results["text"] == t("vi", "learn.search_results", query=query)
        found = [data for _, data in buttons_of(results)]
        assert set(found[:2]) == expected, (query, found)  # the best two first
        assert found[-1] == "learn:topics"


async def test_search_results_name_articles_and_answers(harness):
    user = harness.user()
    results = await harness.reply_to(user, "tang ca")
    assert sorted(labels(results)[:2]) == ["❓ Một năm được làm thêm tối đa bao nhiêu giờ?", "📄 Giới hạn làm thêm giờ"]


async def test_text_that_finds_nothing_is_not_understood(harness):
    user = harness.user()
    for text in ("xin chào", "qwxz zzkq", "?"):
        answer = await harness.reply_to(user, text)
        assert answer["text"] == t("vi", "input.not_understood")


async def test_a_faq_answer_shows_its_source_and_records_whether_it_helped(harness):
    user = harness.user()
    results = await harness.reply_to(user, "lam them toi da bao nhieu gio")
    await harness.press(user, results, "learn:f:overtime-max-hours")
    answer = await harness.next(user)
    assert answer["text"].startswith("❓ Một năm được làm thêm tối đa bao nhiêu giờ?\n\nKhông quá 200 giờ một năm")
    assert "Nguồn: Bộ luật Lao động 2019, Điều 107" in answer["text"]
    assert answer["text"].endswith(t("vi", "learn.faq_did_it_help"))
    [shown] = await feedback_rows(harness)
    assert (shown.item_kind, shown.item_slug, shown.context, shown.helped) == ("faq", "overtime-max-hours", "search", None)
    assert labels(answer) == ["👍 Có", "👎 Không", "📄 Đọc thêm: Giới hạn làm thêm giờ"]
    await harness.press(user, answer, f"learn:fb:{shown.id}:1")
    thanked = await harness.next(user)
    assert thanked["message_id"] == answer["message_id"]
    assert thanked["text"].endswith(t("vi", "learn.faq_thanks_yes"))
    assert buttons_of(thanked) == [("📄 Đọc thêm: Giới hạn làm thêm giờ", "learn:a:overtime-limits:0")]
    [recorded] = await feedback_rows(harness)
    assert recorded.helped is True
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == user.id))
    assert recorded.member_id == member.id


async def test_no_is_recorded_and_points_to_the_report_button(harness):
    user = harness.user()
    results = await harness.reply_to(user, "cham luong")
    await harness.press(user, results, "learn:f:late-wages")
    answer = await harness.next(user)
    [shown] = await feedback_rows(harness)
    await harness.press(user, answer, f"learn:fb:{shown.id}:0")
    thanked = await harness.next(user)
    assert thanked["text"].endswith(t("vi", "learn.faq_thanks_no", report=t("vi", "menu.report")))
    assert (await feedback_rows(harness))[0].helped is False


async def test_someone_elses_feedback_button_is_refused(harness):
    owner, other = harness.user("Lan"), harness.user("Hoa")
    results = await harness.reply_to(owner, "tang ca")
    await harness.press(owner, results, "learn:f:overtime-max-hours")
    await harness.next(owner)
    [shown] = await feedback_rows(harness)
    await harness.reply_to(other, "/learn")
    forged = await harness.press(other, harness.emulator.messages(other)[-1], f"learn:fb:{shown.id}:0", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "input.stale_button")
    assert (await feedback_rows(harness))[0].helped is None


async def test_forged_and_stale_learn_buttons(harness):
    user = harness.user()
    topics = await harness.reply_to(user, "/learn")
    for data in ("learn:t:lottery:0", "learn:t:labour_code:x", "learn:a:nope:0", "learn:a:overtime-limits:9",
                 "learn:f:nope", "learn:fb:abc:1", "learn:fb:999:1", "learn:zzz", "learn"):
        query = await harness.press(user, topics, data, force=True)
        answer = await harness.emulator.wait_answer(query)
        assert answer["text"] == t("vi", "input.stale_button") and answer["show_alert"], data
    assert (await harness.reply_to(user, "tang ca"))["text"] == t("vi", "learn.search_results", query="tang ca")


async def test_an_english_reader_gets_english_versions_and_may_search_in_vietnamese(harness):
    user = harness.user("Anna", language_code="en")
    topics = await harness.reply_to(user, "/learn")
    assert topics["text"] == t("en", "learn.topics_title") and "The Labour Code (10)" in labels(topics)
    results = await harness.reply_to(user, "overtime")
    assert results["text"] == t("en", "learn.search_results", query="overtime")
    assert labels(results)[0] == "📄 Overtime limits"
    vietnamese = await harness.reply_to(user, "tang ca")  # the Vietnamese tags find the English version
    assert "📄 Overtime limits" in labels(vietnamese)
    await harness.press(user, results, "learn:a:overtime-limits:0")
    article = await harness.next(user)
    assert article["text"].startswith("📄 Overtime limits\n\nOvertime is work outside normal working hours.")
    assert article["text"].endswith("Source: Labour Code No. 45/2019/QH14 (20/11/2019), Article 107; "
                                    "Decree 145/2020/ND-CP\nReviewed: 25/11/2026")
    assert labels(article) == ["🔗 Thời giờ làm việc bình thường", "« The Labour Code"]  # no English version yet
    wage = await harness.reply_to(user, "minimum wage")
    await harness.press(user, wage, "learn:a:minimum-wage:0")  # no English version: the Vietnamese one
    assert (await harness.next(user))["text"].startswith("📄 Lương tối thiểu vùng")
