"""Surveys through the real application: /survey lists open surveys; one question at a time with skip logic,
ticks and Done, a typed answer; one response per member; a restart in the middle; stale and forged buttons;
the window in time (a chosen now); results as a chart (a real PNG) and an XLSX (read back with openpyxl) for
admins and, for their subtree, officers; the summary sent to participants after closing; /admin."""

from __future__ import annotations

import io
import struct
from datetime import datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot import i18n
from bot.services import officers, surveys
from bot.services.limits import BurstLimiter
from bot.text import escape
from db.models import (
    Member,
    Point,
    Survey,
    SurveyParticipation,
    SurveyProgress,
    SurveyResponse,
    UnionStatus,
    Workplace,
)
from db.types import utcnow
from handlers import limits, survey_jobs
from handlers.survey import TEXT
from tests.support.harness import buttons_of, t
from tests.transcripts.test_join import inbox_with_officer

TITLE = "Khảo sát thử <đời sống> 2026"
HTML_TITLE = escape(TITLE)


def spec_text(anonymous: bool = True, opens: datetime | None = None, closes: datetime | None = None,
              slug: str = "khao-sat-thu") -> str:
    now = utcnow()
    opens = (opens or now - timedelta(hours=1)).astimezone(surveys.SURVEY_TZ)
    closes = (closes or now + timedelta(days=1)).astimezone(surveys.SURVEY_TZ)
    return f"""\
slug: {slug}
title: {{vi: "{TITLE}", en: "Test survey 2026"}}
intro: {{vi: "Ý kiến của bạn giúp công đoàn.", en: "Your views help the union."}}
anonymous: {"true" if anonymous else "false"}
opens: {opens:%Y-%m-%d %H:%M:%S}
closes: {closes:%Y-%m-%d %H:%M:%S}
questions:
  - id: wages
    type: single
    text: {{vi: "Lương có được trả đúng hạn không?", en: "Are wages paid on time?"}}
    options:
      - {{id: on_time, vi: "Đúng hạn", en: "On time"}}
      - {{id: late, vi: "Chậm", en: "Late"}}
    next: {{on_time: needs}}
  - id: late_days
    type: single
    text: {{vi: "Chậm bao lâu?", en: "How late?"}}
    options:
      - {{id: few, vi: "Vài ngày", en: "A few days"}}
      - {{id: many, vi: "Trên một tháng", en: "Over a month"}}
  - id: needs
    type: multiple
    text: {{vi: "Bạn cần hỗ trợ gì?", en: "What help do you need?"}}
    options:
      - {{id: housing, vi: "Nhà ở", en: "Housing"}}
      - {{id: childcare, vi: "Nhà trẻ", en: "Childcare"}}
      - {{id: wages, vi: "Tăng lương", en: "Higher wages"}}
  - id: satisfaction
    type: scale
    text: {{vi: "Bạn hài lòng với công đoàn ở mức nào?", en: "How satisfied are you with the union?"}}
    low: {{vi: "Rất không hài lòng", en: "Very dissatisfied"}}
    high: {{vi: "Rất hài lòng", en: "Very satisfied"}}
  - id: comment
    type: text
    optional: true
    max_length: 60
    text: {{vi: "Bạn muốn nhắn gì tới công đoàn?", en: "Anything for the union?"}}
"""


def relax_burst_limit(harness) -> None:
    """These transcripts press many buttons within a few seconds, faster than a person; the burst gate
    (handlers/limits.py) is not what they test."""
    harness.application.bot_data[limits.BURST_KEY] = BurstLimiter(limit=10_000)


async def restart(harness) -> None:
    await harness.restart_bot()
    relax_burst_limit(harness)


async def load_survey(harness, tmp_path: Path, **kwargs) -> Survey:
    relax_burst_limit(harness)
    path = tmp_path / f"{kwargs.get('slug', 'khao-sat-thu')}.yaml"
    path.write_text(spec_text(**kwargs), encoding="utf-8")
    spec, problems = surveys.load_file(path)
    assert spec is not None, problems
    async with harness.session_factory() as session:
        survey, _ = await surveys.save_survey(session, spec, "test")
    survey_jobs.schedule_survey(harness.application, survey, utcnow())
    return survey


async def worker(harness, name: str, workplace_code: str = "WP-MAYSH", sector: str = "garment", language="vi"):
    """A worker who finished onboarding (straight into the database)."""
    user = harness.user(name, last_name="Nguyễn", username=f"{name.lower()}_cn", language_code=language)
    async with harness.session_factory() as session:
        workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
        session.add(Member(telegram_id=user.id, first_name=name, last_name="Nguyễn", username=f"{name.lower()}_cn",
                           language=language, consent_version="2026.1", consented_at=utcnow(),
                           province_code=workplace.province_code, sector=sector, workplace_id=workplace.id,
                           union_status=UnionStatus.MEMBER, onboarded_at=utcnow()))
        await session.commit()
    return user


async def admin_user(harness):
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    return admin


async def alert_of(harness, query_id: str) -> str:
    return (await harness.emulator.wait_answer(query_id))["text"]


async def start_survey(harness, user, survey: Survey) -> dict:
    lang = user.language_code
    title = TITLE if lang == "vi" else "Test survey 2026"
    listing = await harness.reply_to(user, "/survey")
    assert (f"📝 {title}", f"survey:open:{survey.id}") in buttons_of(listing)
    await harness.press(user, listing, f"survey:open:{survey.id}")
    intro = await harness.next(user)
    assert intro["text"].startswith(f"📋 {title}") and t(lang, "survey.anonymous_note" if survey.anonymous
                                                          else "survey.named_note") in intro["text"]
    return await harness.next(user)


async def answer_all(harness, user, survey: Survey, wages="on_time", needs=("housing",), scale="4",
                     comment: str | None = None) -> dict:
    question = await start_survey(harness, user, survey)
    await harness.press(user, question, f"sv:a:{survey.id}:wages:{wages}")
    question = await harness.next(user)
    if wages == "late":
        await harness.press(user, question, f"sv:a:{survey.id}:late_days:few")
        question = await harness.next(user)
    for option in needs:
        await harness.press(user, question, f"sv:t:{survey.id}:needs:{option}")
        question = await harness.next(user)
    await harness.press(user, question, f"sv:d:{survey.id}:needs")
    question = await harness.next(user)
    await harness.press(user, question, f"sv:a:{survey.id}:satisfaction:{scale}")
    question = await harness.next(user)
    if comment is None:
        await harness.press(user, question, f"sv:s:{survey.id}:comment")
        return await harness.next(user)
    return await harness.reply_to(user, comment)


async def test_anonymous_survey_skip_logic_ticks_text_and_one_response(harness, tmp_path):
    survey = await load_survey(harness, tmp_path)
    lan = await worker(harness, "Lan")
    first = await start_survey(harness, lan, survey)
    assert first["text"] == t("vi", "survey.question", number=1, total=5, question="Lương có được trả đúng hạn không?")
    assert buttons_of(first) == [("Đúng hạn", f"sv:a:{survey.id}:wages:on_time"),
                                 ("Chậm", f"sv:a:{survey.id}:wages:late")]

    # Forged and stale: another question, an unknown option, an unknown survey, a malformed press.
    for forged in (f"sv:a:{survey.id}:late_days:few", f"sv:a:{survey.id}:wages:sometimes", "sv:a:99999:wages:on_time",
                   f"sv:t:{survey.id}:wages:on_time", f"sv:a:{survey.id}:wages", "sv:a:x:y:z", "survey:open:abc"):
        query = await harness.press(lan, first, forged, force=True)
        assert await alert_of(harness, query) == t("vi", "input.stale_button"), forged

    await harness.press(lan, first, f"sv:a:{survey.id}:wages:on_time")  # skip logic: straight to question 3
    needs = await harness.next(lan)
    assert needs["message_id"] == first["message_id"]
    assert needs["text"].startswith("Câu 3/5") and t("vi", "survey.multiple_hint") in needs["text"]
    again = await harness.press(lan, first, f"sv:a:{survey.id}:wages:late", force=True)  # the answered question
    assert await alert_of(harness, again) == t("vi", "input.stale_button")

    empty = await harness.press(lan, needs, f"sv:d:{survey.id}:needs")
    assert await alert_of(harness, empty) == t("vi", "survey.pick_one")
    for option in ("housing", "childcare", "housing"):  # housing ticked, then unticked
        await harness.press(lan, needs, f"sv:t:{survey.id}:needs:{option}")
        needs = await harness.next(lan)
    assert ("☑️ Nhà trẻ", f"sv:t:{survey.id}:needs:childcare") in buttons_of(needs)
    assert ("⬜ Nhà ở", f"sv:t:{survey.id}:needs:housing") in buttons_of(needs)
    await harness.press(lan, needs, f"sv:d:{survey.id}:needs")
    scale = await harness.next(lan)
    assert scale["text"].startswith("Câu 4/5") and "1 = Rất không hài lòng · 5 = Rất hài lòng" in scale["text"]
    assert [text for text, _ in buttons_of(scale)] == ["1", "2", "3", "4", "5"]
    await harness.press(lan, scale, f"sv:a:{survey.id}:satisfaction:5")
    typed = await harness.next(lan)
    assert t("vi", "survey.text_hint", limit=60) in typed["text"]

    await harness.emulator.send_sticker(lan)
    assert (await harness.next(lan))["text"] == t("vi", "survey.text_expected")
    long_text = "Cần nhà trẻ " * 6
    assert (await harness.reply_to(lan, long_text))["text"] == t("vi", "survey.too_long", limit=60,
                                                                   length=len(long_text.strip()))
    done = await harness.reply_to(lan, "<b>Cần nhà trẻ</b> gần khu công nghiệp")
    assert done["text"] == t("vi", "survey.thanks", title=HTML_TITLE, points=surveys.SURVEY_POINTS)

    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == lan.id))
        response = await session.scalar(select(SurveyResponse))
        participation = await session.scalar(select(SurveyParticipation))
        points = list(await session.scalars(select(Point).where(Point.reason == "survey")))
        progress = await session.scalar(select(func.count(SurveyProgress.id)))
    assert response.answers == {"wages": "on_time", "needs": ["childcare"], "satisfaction": "5",
                                "comment": "<b>Cần nhà trẻ</b> gần khu công nghiệp"}
    # No link from the response to the member: no member, no time, a random id; the unit is kept for results.
    assert response.member_id is None and response.submitted_at is None and len(response.id) == 32
    assert str(member.id) != response.id and response.unit_id is not None and response.sector == "garment"
    assert participation.member_id == member.id and participation.at.time() == datetime.min.time()
    assert [(p.amount, p.ref) for p in points] == [(surveys.SURVEY_POINTS, f"survey:{survey.id}")]
    assert progress == 0

    # One response per member: the list is empty, the old button and the survey's button say so.
    listing = await harness.reply_to(lan, "/survey")
    assert listing["text"] == t("vi", "survey.none_open")
    pressed = await harness.press(lan, listing, f"survey:open:{survey.id}", force=True)
    assert await alert_of(harness, pressed) == t("vi", "survey.already")
    late = await harness.press(lan, scale, f"sv:a:{survey.id}:satisfaction:1", force=True)
    assert await alert_of(harness, late) == t("vi", "survey.already")
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count(SurveyResponse.id))) == 1


async def test_a_restart_in_the_middle_loses_nothing(harness, tmp_path):
    survey = await load_survey(harness, tmp_path)
    minh = await worker(harness, "Minh")
    question = await start_survey(harness, minh, survey)
    await harness.press(minh, question, f"sv:a:{survey.id}:wages:late")
    question = await harness.next(minh)
    assert question["text"].startswith("Câu 2/5")
    await harness.press(minh, question, f"sv:a:{survey.id}:late_days:many")
    question = await harness.next(minh)
    await harness.press(minh, question, f"sv:t:{survey.id}:needs:wages")
    ticked = await harness.next(minh)

    await restart(harness)
    await harness.press(minh, ticked, f"sv:d:{survey.id}:needs")  # the tick survived the restart
    scale = await harness.next(minh)
    assert scale["text"].startswith("Câu 4/5")

    await restart(harness)
    listing = await harness.reply_to(minh, "/survey")  # the list offers to continue where Minh stopped
    assert (i18n.t("vi", "survey.continue_button", title=TITLE), f"survey:open:{survey.id}") in buttons_of(listing)
    await harness.press(minh, listing, f"survey:open:{survey.id}")
    resumed = await harness.next(minh)
    assert resumed["text"].startswith("Câu 4/5")
    await harness.press(minh, resumed, f"sv:a:{survey.id}:satisfaction:2")
    await harness.next(minh)  # the typed question

    await restart(harness)  # the awaited typed answer survives too
    assert harness.application.user_data[minh.id][TEXT] == [survey.id, "comment"]
    done = await harness.reply_to(minh, "Mong được trả lương đúng hạn")
    assert done["text"] == t("vi", "survey.thanks", title=HTML_TITLE, points=surveys.SURVEY_POINTS)
    async with harness.session_factory() as session:
        response = await session.scalar(select(SurveyResponse))
    assert response.answers == {"wages": "late", "late_days": "many", "needs": ["wages"], "satisfaction": "2",
                                "comment": "Mong được trả lương đúng hạn"}
    # Afterwards typed words are searches again, not survey answers.
    assert TEXT not in harness.application.user_data[minh.id]


async def test_the_window_opens_and_closes_on_time(harness, tmp_path):
    now = utcnow()
    survey = await load_survey(harness, tmp_path, opens=now + timedelta(days=2), closes=now + timedelta(days=3))
    hoa = await worker(harness, "Hoa")
    listing = await harness.reply_to(hoa, "/survey")
    assert listing["text"] == t("vi", "survey.none_open")
    early = await harness.press(hoa, listing, f"survey:open:{survey.id}", force=True)  # e.g. a broadcast's button
    assert await alert_of(harness, early) == t("vi", "survey.not_open")
    assert harness.application.job_queue.get_jobs_by_name(f"survey-close-{survey.id}")

    async with harness.session_factory() as session:  # time travel: the service at a chosen now
        member = await session.scalar(select(Member).where(Member.telegram_id == hoa.id))
        assert (await surveys.start(session, survey.id, member, now + timedelta(days=1))).outcome == "not_open"
        step = await surveys.start(session, survey.id, member, now + timedelta(days=2, minutes=1))
        assert step.outcome == "question" and step.question.id == "wages"
        assert (await surveys.choose(session, survey.id, member, "wages", "late",
                                     now + timedelta(days=3, seconds=1))).outcome == "not_open"

    await survey_jobs.tick(harness.application, now + timedelta(days=2, hours=23))  # not yet
    async with harness.session_factory() as session:
        assert (await session.get(Survey, survey.id)).closed_at is None
    await survey_jobs.tick(harness.application, now + timedelta(days=3, minutes=1))
    async with harness.session_factory() as session:
        closed = await session.get(Survey, survey.id)
        assert closed.closed_at is not None and await session.scalar(select(func.count(SurveyProgress.id))) == 0

    await restart(harness)  # a closed survey gets no job again
    assert not harness.application.job_queue.get_jobs_by_name(f"survey-close-{survey.id}")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


async def test_named_results_chart_xlsx_scope_and_summary_after_closing(harness, tmp_path):
    survey = await load_survey(harness, tmp_path, anonymous=False)
    lan, minh = await worker(harness, "Lan"), await worker(harness, "Minh")
    tam = await worker(harness, "Tâm", "WP-DIENTUTL", sector="electronics", language="en")
    await worker(harness, "Nam")  # registered at WP-MAYSH, does not answer: the response rate is 2/3 there
    await answer_all(harness, lan, survey, needs=("housing", "childcare"), scale="4", comment="Cần thêm nhà trẻ")
    await answer_all(harness, minh, survey, wages="late", needs=("housing",), scale="2")
    done = await answer_all(harness, tam, survey, needs=("wages",), scale="5")
    assert done["text"] == t("en", "survey.thanks", title="Test survey 2026", points=surveys.SURVEY_POINTS)
    async with harness.session_factory() as session:
        responses = list(await session.scalars(select(SurveyResponse)))
        members = {m.telegram_id: m.id for m in await session.scalars(select(Member))}
    assert sorted(r.member_id for r in responses) == sorted(members[u.id] for u in (lan, minh, tam))

    # A worker who is not an officer sees no results button, and a forged press is refused.
    listing = await harness.reply_to(lan, "/survey")
    assert ("📊 Kết quả khảo sát", "sv:r") not in buttons_of(listing)
    refused = await harness.press(lan, listing, f"sv:c:{survey.id}", force=True)
    assert await alert_of(harness, refused) == t("vi", "survey.results_not_allowed")

    admin = await admin_user(harness)
    listing = await harness.reply_to(admin, "/survey")
    await harness.press(admin, listing, "sv:r")
    results = await harness.next(admin)
    await harness.press(admin, results, f"sv:c:{survey.id}")
    chart = await harness.next(admin)
    assert chart["caption"] == t("vi", "survey.chart_caption", title=HTML_TITLE, count=3)
    width, height = png_size(harness.emulator.files[chart["photo"][-1]["file_id"]].data)
    assert width == 900 and 600 <= height <= 3000, (width, height)
    await harness.press(admin, chart, f"sv:x:{survey.id}")
    document = await harness.next(admin)
    assert document["document"]["file_name"] == "khao-sat-thu.xlsx"
    book = load_workbook(io.BytesIO(harness.emulator.files[document["document"]["file_id"]].data))
    assert book.sheetnames == ["Tổng quan", "Tỷ lệ trả lời", "Kết quả", "Theo nhóm", "Ý kiến", "Chi tiết"]
    rates = [[c.value for c in row] for row in book["Tỷ lệ trả lời"].iter_rows()]
    assert rates[0] == ["Nhóm", "Tên", "Số người trả lời", "Số thành viên đăng ký", "Tỷ lệ trả lời (%)"]
    assert ["Công đoàn cơ sở", "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội", 2, 3, 66.7] in rates
    assert ["Ngành", "Điện tử, linh kiện", 1, 1, 100.0] in rates
    answers = [[c.value for c in row] for row in book["Kết quả"].iter_rows()]
    assert answers[0] == ["Câu hỏi", "Lựa chọn", "Số lượt chọn", "Tỷ lệ (%)"]
    assert ["Lương có được trả đúng hạn không?", "Đúng hạn", 2, 67] in answers
    assert ["Bạn cần hỗ trợ gì?", "Nhà ở", 2, 67] in answers
    assert ["Bạn hài lòng với công đoàn ở mức nào?", "Điểm trung bình", 3.67, None] in answers
    detail = [[c.value for c in row] for row in book["Chi tiết"].iter_rows()]
    assert detail[0][:2] == ["Mã thành viên", "Họ tên"] and len(detail) == 4
    assert ["Cần thêm nhà trẻ"] == [row[1] for row in book["Ý kiến"].iter_rows(min_row=2, values_only=True)]

    # An officer of the garment company's union sees only their subtree: Lan and Minh.
    officer, _ = await inbox_with_officer(harness, "CDCS-MAYSH", "Hùng", "Trần")
    listing = await harness.reply_to(officer, "/survey")
    await harness.press(officer, listing, "sv:r")
    listing = await harness.next(officer)
    await harness.press(officer, listing, f"sv:c:{survey.id}")
    chart = await harness.next(officer)
    assert chart["caption"] == t("vi", "survey.chart_caption", title=HTML_TITLE, count=2)

    # Closing (time travel past the end) sends each participant the summary, once.
    async with harness.session_factory() as session:
        closes_at = (await session.get(Survey, survey.id)).closes_at
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=1))
    for user, lang in ((lan, "vi"), (minh, "vi"), (tam, "en")):
        summary = await harness.next(user)
        head = t(lang, "survey.summary_head", title=HTML_TITLE if lang == "vi" else "Test survey 2026", count=3)
        assert summary["text"].startswith(head), summary["text"]
        assert "Cần thêm nhà trẻ" not in summary["text"]  # typed answers never go out
    assert "• Đúng hạn: 67%" in summary["text"] or "• On time: 67%" in summary["text"]
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=2))
    async with harness.session_factory() as session:
        told = list(await session.scalars(select(SurveyParticipation.summary_sent_at)))
    assert len(told) == 3 and all(told)
    sent_to = [call.params["chat_id"] for call in harness.emulator.calls_of("sendMessage")
               if str(call.params.get("text", "")).startswith("📊")]
    assert sorted(sent_to) == sorted([lan.id, minh.id, tam.id])


async def test_anonymous_summary_reaches_participants_through_participation_rows(harness, tmp_path):
    survey = await load_survey(harness, tmp_path)
    lan, minh = await worker(harness, "Lan"), await worker(harness, "Minh")
    await answer_all(harness, lan, survey, scale="3")
    await answer_all(harness, minh, survey, scale="5", comment="Ý kiến riêng")
    async with harness.session_factory() as session:
        assert all(r.member_id is None for r in await session.scalars(select(SurveyResponse)))
    admin = await admin_user(harness)
    hub = await harness.reply_to(admin, "/admin")
    await harness.press(admin, hub, "adm:sv:list")
    overview = await harness.next(admin)
    assert TITLE in overview["text"] and (i18n.t("vi", "survey.admin_close", title=TITLE),
                                          f"adm:sv:close:{survey.id}") in buttons_of(overview)
    forged = await harness.press(lan, overview, f"adm:sv:close:{survey.id}", force=True)
    assert await alert_of(harness, forged) == t("vi", "admin.not_allowed")
    await harness.press(admin, overview, f"adm:sv:close:{survey.id}")
    for user in (lan, minh):
        summary = await harness.next(user)
        assert summary["text"].startswith(t("vi", "survey.summary_head", title=HTML_TITLE, count=2))
        assert "⭐" in summary["text"] and "Ý kiến riêng" not in summary["text"]
    # The XLSX of an anonymous survey has no per-person sheet, and groups under 3 respondents are hidden.
    await harness.press(admin, overview, f"sv:c:{survey.id}")
    chart = await harness.next(admin)
    while "photo" not in chart:  # the overview is edited first (the survey now shows as closed)
        chart = await harness.next(admin)
    assert chart["caption"] == t("vi", "survey.chart_caption", title=HTML_TITLE, count=2)
    await harness.press(admin, chart, f"sv:x:{survey.id}")
    document = await harness.next(admin)
    book = load_workbook(io.BytesIO(harness.emulator.files[document["document"]["file_id"]].data))
    assert "Chi tiết" not in book.sheetnames
    groups = [[c.value for c in row] for row in book["Theo nhóm"].iter_rows(min_row=2)]
    assert groups and all(row[2] == t("vi", "survey.xlsx_hidden", minimum=3) for row in groups)


async def test_an_admin_loads_a_survey_file_in_the_chat(harness, tmp_path):
    relax_burst_limit(harness)
    admin = await admin_user(harness)
    hub = await harness.reply_to(admin, "/admin")
    await harness.press(admin, hub, "adm:sv:list")
    overview = await harness.next(admin)
    assert t("vi", "survey.admin_none") in overview["text"]
    await harness.press(admin, overview, "adm:sv:upload")
    prompt = await harness.next(admin)
    assert prompt["text"] == t("vi", "survey.upload_prompt")

    broken = spec_text(slug="tai-len").replace("type: scale", "type: stars").encode()
    await harness.emulator.send_document(admin, broken, filename="tai-len.yaml", mime_type="application/yaml")
    problems = await harness.next(admin)
    line = spec_text(slug="tai-len").splitlines().index("    type: scale") + 1
    assert f"• tai-len.yaml:{line}: satisfaction: type must be one of single, multiple, scale, text" in problems["text"]
    await harness.emulator.send_document(admin, b"%PDF-1.4", filename="khao-sat.pdf")
    assert (await harness.next(admin))["text"] == t("vi", "survey.upload_not_yaml", limit=64)

    await harness.emulator.send_document(admin, spec_text(slug="tai-len").encode(), filename="tai-len.yaml",
                                         mime_type="application/yaml")
    created = await harness.next(admin)
    assert created["text"].startswith(t("vi", "survey.upload_created", title=HTML_TITLE, count=5, opens="x",
                                        closes="x").split(" (")[0])
    overview = await harness.next(admin)
    async with harness.session_factory() as session:
        survey = await session.scalar(select(Survey).where(Survey.slug == "tai-len"))
    assert survey.loaded_by == f"admin:{admin.id}" and (i18n.t("vi", "survey.admin_close", title=TITLE),
                                                        f"adm:sv:close:{survey.id}") in buttons_of(overview)

    # Without pressing the button first, a file is not a survey (and a worker cannot load one).
    lan = await worker(harness, "Lan")
    await harness.emulator.send_document(lan, spec_text(slug="khac").encode(), filename="khac.yaml")
    await harness.next(lan)
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count(Survey.id))) == 1


def stop_the_tick(harness) -> None:
    """These tests drive the tick themselves: the minute job must not send in between."""
    for job in harness.application.job_queue.get_jobs_by_name(survey_jobs.TICK_NAME):
        job.schedule_removal()


def summaries_in(harness, user) -> list[str]:
    """The survey summaries that reached the user's chat."""
    return [m["text"] for m in harness.emulator.messages(user) if m.get("text", "").startswith("📊")]


async def told(harness) -> dict[int, bool]:
    async with harness.session_factory() as session:
        rows = await session.execute(select(Member.telegram_id, SurveyParticipation.summary_sent_at)
                                     .join(Member, Member.id == SurveyParticipation.member_id))
        return {telegram_id: sent_at is not None for telegram_id, sent_at in rows}


async def close_time(harness, survey: Survey) -> datetime:
    async with harness.session_factory() as session:
        return (await session.get(Survey, survey.id)).closes_at


async def test_a_summary_refused_with_429_waits_for_a_later_tick_and_arrives_once(harness, tmp_path):
    survey = await load_survey(harness, tmp_path)
    lan, minh = await worker(harness, "Lan"), await worker(harness, "Minh")
    await answer_all(harness, lan, survey)  # the first participant: her summary goes first
    await answer_all(harness, minh, survey)
    stop_the_tick(harness)
    closes_at = await close_time(harness, survey)
    # One more 429 than the rate limiter's 3 retries (bot/app.py): the send fails.
    harness.emulator.add_429(method="sendMessage", chat_id=lan, times=4, retry_after=1)
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=1))
    assert len([c for c in harness.emulator.calls_of("sendMessage")
                if c.params.get("chat_id") == lan.id and c.status == 429]) == 4
    # Lan is left for later, and the 429 paused the batch: Minh waits too.
    assert await told(harness) == {lan.id: False, minh.id: False}
    assert summaries_in(harness, lan) == [] and summaries_in(harness, minh) == []

    await restart(harness)  # the database says who is still owed a summary
    stop_the_tick(harness)
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=2))
    assert await told(harness) == {lan.id: True, minh.id: True}
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=3))  # nothing more to send
    for user in (lan, minh):
        summaries = summaries_in(harness, user)
        assert len(summaries) == 1
        assert summaries[0].startswith(t("vi", "survey.summary_head", title=HTML_TITLE, count=2))


async def test_a_blocked_participant_is_marked_and_the_others_get_the_summary(harness, tmp_path):
    survey = await load_survey(harness, tmp_path)
    lan, minh = await worker(harness, "Lan"), await worker(harness, "Minh")
    await answer_all(harness, lan, survey)  # the first participant: her summary goes first
    await answer_all(harness, minh, survey)
    stop_the_tick(harness)
    closes_at = await close_time(harness, survey)
    harness.emulator.block_chat(lan)
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=1))
    assert await told(harness) == {lan.id: True, minh.id: True}
    assert summaries_in(harness, lan) == [] and len(summaries_in(harness, minh)) == 1
    tries = len(harness.emulator.calls_of("sendMessage"))
    await survey_jobs.tick(harness.application, closes_at + timedelta(minutes=2))
    assert len(harness.emulator.calls_of("sendMessage")) == tries  # Lan is not tried again
    async with harness.session_factory() as session:
        assert (await session.scalar(select(Member.status).where(Member.telegram_id == lan.id))) == "blocked"
