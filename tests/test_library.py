"""The content library: parsing, the Markdown subset, splitting into parts, and validation (each problem with
its file and line)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot import CONTENT_DIR, REPO_ROOT
from bot.runner import load_content_or_exit
from bot.services import library
from bot.services.content_check import check_library
from bot.services.library import PART_LIMIT, Article, ContentError, load_content, split_parts

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "content"

ARTICLE = """---
slug: sample
topic: wages
title: Mẫu
language: vi
summary: Một bài mẫu.
tags: [mẫu]
source: "Bộ luật Lao động 2019"
reviewed: 2026-11-25
---
{body}
"""


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A writable copy of the fixture library."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURES, target)
    return target


def write_article(content: Path, name: str, text: str) -> Path:
    path = content / "articles" / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(content: Path) -> list[str]:
    return check_library(content)


# ----- loading -----

def test_the_fixture_library_loads():
    loaded = load_content(FIXTURES)
    assert [topic.code for topic in loaded.library.topics][:3] == ["resolution25", "mass_mobilisation", "labour_code"]
    article = loaded.library.get_article("overtime-limits", "vi")
    assert article.title == "Giới hạn làm thêm giờ" and article.reviewed == date(2026, 11, 25)
    assert article.tags == ("tăng ca", "làm thêm giờ", "overtime")
    assert article.related == ("working-hours", "minimum-wage") and article.quiz == "labour-code-basics"
    assert loaded.library.get_article("overtime-limits", "en").title == "Overtime limits"
    assert loaded.library.get_article("minimum-wage", "en").language == "vi"  # falls back to Vietnamese
    assert loaded.library.get_article("nope", "vi") is None
    assert len(loaded.library.articles_in("labour_code", "vi")) == 10
    assert [entry.id for entry in loaded.faq][:2] == ["overtime-max-hours", "late-wages"]
    assert loaded.faq[1].question("en") == "Công ty trả lương chậm thì người lao động được gì?"  # no English


def test_the_topics_file_has_the_twelve_topics_in_both_languages():
    topic_list, found = library.read_topics(CONTENT_DIR / "topics.yaml")
    assert found == []
    assert [topic.code for topic in topic_list] == [
        "resolution25", "mass_mobilisation", "labour_code", "wages", "social_insurance", "health_insurance", "osh",
        "employment", "trade_union_law", "emulation", "grievances", "good_examples"]
    assert all(topic.name(language) and topic.description(language) for topic in topic_list for language in ("vi", "en"))


def test_the_real_content_is_valid():
    """content/ as shipped: `congdoan content check` must find nothing, or the bot would refuse to start."""
    assert check_library() == []


# ----- rendering and splitting -----

def test_markdown_subset_renders_to_safe_telegram_html():
    blocks = library.parse_blocks("## Quyền\nDòng một\ndòng hai\n\n- **một** <b>\n- hai [xem](https://a.vn/?x=1&y=\"2\")\n  tiếp")
    rendered = [library.render_block(block) for block in blocks]
    assert rendered == [
        "<b>Quyền</b>",
        "Dòng một dòng hai",
        '• <b>một</b> &lt;b&gt;\n• hai <a href="https://a.vn/?x=1&amp;y=&quot;2&quot;">xem</a> tiếp',
    ]
    assert [block.line for block in blocks] == [0, 1, 4]


def test_the_source_and_review_date_close_the_article():
    article = load_content(FIXTURES).library.get_article("working-hours", "vi")
    assert article.parts[-1].endswith("<i>Nguồn: Bộ luật Lao động số 45/2019/QH14, Điều 105\nCập nhật: 20/11/2026</i>")
    english = load_content(FIXTURES).library.get_article("overtime-limits", "en")
    assert "<i>Source: Labour Code No. 45/2019/QH14" in english.parts[-1] and "Reviewed: 25/11/2026" in english.parts[-1]


def _article(body: str) -> Article:
    return Article("long", "vi", "wages", "Bài dài", "Tóm tắt", (), "Nguồn", date(2026, 1, 2), body)


def test_long_articles_split_between_paragraphs_within_the_limit():
    paragraphs = [f"Đoạn {number}. " + "chữ " * 300 for number in range(12)]
    parts, too_long = split_parts(_article("\n\n".join(paragraphs)))
    assert too_long == [] and len(parts) == 4
    assert all(library.utf16_length(part) <= PART_LIMIT for part in parts)
    joined = "\n\n".join(parts)
    assert all(f"Đoạn {number}. " in joined for number in range(12))
    assert all(part.count("Đoạn") == 3 for part in parts)  # whole paragraphs only
    assert parts[0].startswith("📄 <b>Bài dài</b>") and parts[-1].endswith("Cập nhật: 02/01/2026</i>")


def test_later_parts_start_with_the_title_and_their_number():
    article = load_content(FIXTURES).library.get_article("labour-contract-guide", "vi")
    assert len(article.parts) == 2
    assert library.part_text(article, 0) == article.parts[0]
    assert library.part_text(article, 1).startswith("📄 <b>Hợp đồng lao động từ A đến Z</b> (phần 2/2)\n\n")
    assert all(library.utf16_length(library.part_text(article, index)) <= 4096 for index in range(2))


def test_a_paragraph_too_long_for_any_message_is_reported():
    parts, too_long = split_parts(_article("Ngắn.\n\n" + "x" * (PART_LIMIT + 1)))
    assert parts == () and too_long == [2]


# ----- validation: each problem with its file and line -----

def test_missing_fields_and_unknown_fields(content):
    path = write_article(content, "sample.vi.md", ARTICLE.format(body="Nội dung.").replace("summary: Một bài mẫu.\n", "")
                         .replace("tags: [mẫu]\n", "tags: [mẫu]\ncolour: red\n"))
    assert problems(content) == [f"{path}:1: missing field 'summary'", f"{path}:7: unknown field 'colour'"]


def test_unknown_topic_bad_slug_language_and_file_name(content):
    path = write_article(content, "sample.vi.md", ARTICLE.format(body="Nội dung.").replace("topic: wages", "topic: lottery"))
    assert problems(content) == [f"{path}:3: unknown topic 'lottery'"]
    path.unlink()
    path = write_article(content, "Bad_Slug.vi.md", ARTICLE.format(body="x").replace("slug: sample", "slug: Bad_Slug"))
    assert problems(content) == [f"{path}:2: bad slug 'Bad_Slug' (a-z, 0-9 and -, at most 48 characters)"]
    path.unlink()
    path = write_article(content, "sample.fr.md", ARTICLE.format(body="x").replace("language: vi", "language: fr"))
    assert problems(content) == [f"{path}:5: unknown language 'fr' (use vi or en)"]
    path.unlink()
    path = write_article(content, "other.vi.md", ARTICLE.format(body="x"))
    assert problems(content) == [f"{path}:2: the file should be named sample.vi.md"]


def test_duplicate_article_is_reported(content):
    """(slug, language) is unique: the file name carries it, so a second file for it cannot be named right."""
    path = write_article(content, "working-hours-copy.vi.md",
                         (content / "articles" / "working-hours.vi.md").read_text(encoding="utf-8"))
    assert problems(content) == [f"{path}:2: the file should be named working-hours.vi.md"]


def test_broken_related_and_quiz_links(content):
    text = ARTICLE.format(body="x").replace("reviewed: 2026-11-25\n",
                                            "reviewed: 2026-11-25\nrelated: [working-hours, ghost]\nquiz: no-such-quiz\n")
    path = write_article(content, "sample.vi.md", text)
    assert problems(content) == [
        f"{path}:10: related article 'ghost' does not exist",
        f"{path}:11: quiz 'no-such-quiz' does not exist (no {content / 'quizzes' / 'no-such-quiz'}.yaml)",
    ]


def test_bad_values(content):
    text = (ARTICLE.format(body="x").replace("reviewed: 2026-11-25", "reviewed: last week")
            .replace("summary: Một bài mẫu.", "summary: " + "dài " * 60).replace("tags: [mẫu]", "tags: mẫu"))
    path = write_article(content, "sample.vi.md", text)
    assert problems(content) == [
        f"{path}:6: the summary is longer than 200 characters",
        f"{path}:7: tags must be a list, e.g. [overtime, wages]",
        f"{path}:9: reviewed must be a date like 2026-11-25, not 'last week'",
    ]


def test_front_matter_problems(content):
    path = write_article(content, "sample.vi.md", "Không có front matter.\n")
    assert problems(content) == [f"{path}:1: must start with a '---' line opening the front matter"]
    write_article(content, "sample.vi.md", ARTICLE.format(body="x").replace("summary: Một bài mẫu.",
                                                                           "summary: Quyền: nghỉ phép"))
    assert problems(content) == [f"{path}:6: not valid YAML: mapping values are not allowed here"]
    write_article(content, "sample.vi.md", "---\nslug: sample\n")
    assert problems(content) == [f"{path}:1: the front matter is not closed by a '---' line"]


def test_markdown_outside_the_subset_is_reported_on_its_line(content):
    body = "\n".join(["Đoạn đầu.", "", "# Tiêu đề lớn", "| a | b |", "![ảnh](https://a.vn/x.png)",
                      "Chữ <i>nghiêng</i>.", "[trang](http://a.vn)", "**đậm không đóng"])
    path = write_article(content, "sample.vi.md", ARTICLE.format(body=body))
    assert problems(content) == [
        f"{path}:13: only '## ' headings are supported",
        f"{path}:14: tables are not supported",
        f"{path}:15: images are not supported",
        f"{path}:16: HTML is not supported; use **bold** and [links](https://…)",
        f"{path}:17: links must start with https:// (http://a.vn)",
        f"{path}:18: unbalanced ** (bold must open and close on the same line)",
    ]


def test_text_that_cannot_fit_telegram_is_reported(content):
    path = write_article(content, "sample.vi.md", ARTICLE.format(body="Ngắn.\n\n" + "chữ " * 1200))
    assert problems(content) == [f"{path}:13: this paragraph is too long for one Telegram message even after "
                                 "splitting; shorten it"]


def test_faq_problems(content):
    faq_path = content / "faq.yaml"
    faq_path.write_text("""faq:
  - id: ok-entry
    topic: wages
    question: {vi: "Hỏi?"}
    answer: {vi: "Đáp."}
    source: "Luật"
  - id: ok-entry
    topic: wages
    question: {vi: "Hỏi lại?"}
    answer: {vi: "Đáp."}
    source: "Luật"
  - id: Bad Id
    topic: lottery
    question: {vi: "Hỏi?", en: "Asked?"}
    answer: {vi: "%s"}
    article: ghost
    colour: red
  - id: no-source
    topic: wages
    question: {vi: ""}
    answer: {vi: "Đáp."}
""" % ("x" * 1001), encoding="utf-8")
    assert problems(content) == [
        f"{faq_path}:7: duplicate FAQ id 'ok-entry' (first on line 2)",
        f"{faq_path}:12: bad FAQ id 'Bad Id' (a-z, 0-9 and -, at most 48)",
        f"{faq_path}:12: FAQ 'Bad Id': missing field 'source'",
        f"{faq_path}:17: FAQ 'Bad Id': unknown field 'colour'",
        f"{faq_path}:13: FAQ 'Bad Id': unknown topic 'lottery'",
        f"{faq_path}:15: FAQ 'Bad Id': answer.vi is longer than 1000 characters",
        f"{faq_path}:12: FAQ 'Bad Id': question and answer must both have en",
        f"{faq_path}:16: FAQ 'Bad Id': article 'ghost' does not exist",
        f"{faq_path}:18: FAQ 'no-source': missing field 'source'",
        f"{faq_path}:20: FAQ 'no-source': question.vi is missing",
    ]


def test_topic_problems(content):
    topics = content / "topics.yaml"
    topics.write_text("""topics:
  - code: wages
    vi: {name: "Tiền lương", description: "Lương."}
    en: {name: "Wages", description: "Pay."}
  - code: wages
    vi: {name: "Lại", description: "Lại."}
    en: {name: "Again", description: "Again."}
  - code: Bad-Code
    vi: {name: "X", description: "Y"}
  - code: osh
    vi: {name: "An toàn"}
    en: {name: "Safety", description: "Safe work."}
""", encoding="utf-8")
    found = problems(content)
    assert found[:3] == [
        f"{topics}:5: duplicate topic code 'wages'",
        f"{topics}:8: bad topic code 'Bad-Code' (use a-z, 0-9 and _, at most 32 characters)",
        f"{topics}:11: topic 'osh': vi.description is missing",
    ]
    assert f"{content / 'articles' / 'working-hours.vi.md'}:3: unknown topic 'labour_code'" in found
    assert f"{content / 'faq.yaml'}:3: FAQ 'overtime-max-hours': unknown topic 'labour_code'" in found


def test_the_bot_refuses_to_start_with_invalid_content_and_says_why_in_one_line(content):
    write_article(content, "sample.vi.md", ARTICLE.format(body="x").replace("topic: wages", "topic: lottery"))
    library.install(None)
    try:
        with pytest.raises(SystemExit) as stopped:
            load_content_or_exit(content)
        message = str(stopped.value)
        assert message == f"Cannot start: invalid content: {content / 'articles' / 'sample.vi.md'}:3: unknown topic 'lottery'"
        assert "\n" not in message
        with pytest.raises(ContentError):
            library.ensure_loaded(content)
    finally:
        library.install(None)


def test_served_content_is_empty_when_invalid_outside_run(content):
    """A bot not started by `congdoan run` (which refuses to start) serves an empty library rather than failing."""
    write_article(content, "sample.vi.md", ARTICLE.format(body="x").replace("topic: wages", "topic: lottery"))
    served = library.load_or_empty(content)
    assert served.library.topics == () and served.faq == ()
    assert library.load_or_empty(FIXTURES).library.topics != ()
