"""Surveys below Telegram: the file format and its problems with file and line, skip logic, one response per
member even when two submissions race, anonymous responses without a member link, results per province, sector
and unit with response rates, the chart (a PNG) and the workbook (read back with openpyxl)."""

from __future__ import annotations

import asyncio
import io
import struct
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot import CONTENT_DIR
from bot.services import survey_results, surveys
from bot.services.content_check import check_surveys
from db.models import Member, Point, Survey, SurveyParticipation, SurveyResponse, Unit, Workplace
from db.session import create_session_factory
from db.types import utcnow

REAL = CONTENT_DIR / "surveys" / "doi-song-viec-lam-cuoi-2026.yaml"
TZ = surveys.SURVEY_TZ

SMALL = """\
slug: nho
title: {vi: "Khảo sát nhỏ", en: "Small survey"}
intro: {vi: "Giới thiệu", en: "Intro"}
anonymous: %s
opens: 2026-12-01 08:00
closes: 2026-12-20 20:00
questions:
  - id: wages
    type: single
    text: {vi: "Lương đúng hạn?", en: "Wages on time?"}
    options:
      - {id: on_time, vi: "Đúng hạn", en: "On time"}
      - {id: late, vi: "Chậm", en: "Late"}
    next: {on_time: satisfaction}
  - id: late_days
    type: single
    text: {vi: "Chậm bao lâu?", en: "How late?"}
    options:
      - {id: few, vi: "Vài ngày", en: "A few days"}
      - {id: many, vi: "=SUM(A1)", en: "Over a month"}
    next: {many: end}
  - id: satisfaction
    type: scale
    text: {vi: "Hài lòng?", en: "Satisfied?"}
  - id: comment
    type: text
    optional: true
    text: {vi: "Ý kiến?", en: "Comments?"}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_real_survey_is_valid_and_content_check_covers_it():
    spec, problems = surveys.load_file(REAL)
    assert problems == [] and spec is not None
    assert spec.anonymous and len(spec.questions) == 10
    assert spec.opens_at.isoformat() == "2026-12-01T08:00:00+07:00"
    assert {q.kind for q in spec.questions} == {"single", "multiple", "scale", "text"}
    assert check_surveys() == []


def test_problems_name_the_file_and_line(tmp_path):
    bad = write(tmp_path, """\
slug: Sai Slug
title: {vi: "Tiêu đề"}
intro: {vi: "x", en: "x"}
anonymous: maybe
opens: 2026-13-01 08:00
closes: 2026-12-01 08:00
colour: red
questions:
  - id: a
    type: single
    text: {vi: "Câu a", en: "A"}
    options:
      - {id: x, vi: "X", en: "X"}
      - {id: x, vi: "Y", en: "Y"}
    next: {z: b}
  - id: b
    type: poll
    text: {vi: "b", en: "b"}
  - id: c
    type: multiple
    text: {vi: "c", en: "c"}
    options:
      - {id: p, vi: "P", en: "P"}
      - {id: q, vi: "Q", en: "Q"}
    next: {p: end}
  - id: d
    type: text
    max_length: 5000
    text: {vi: "d", en: "d"}
""")
    spec, problems = surveys.load_file(bad)
    assert spec is None
    expected = [
        f"{bad}:7: unknown field 'colour'",
        f"{bad}:1: slug must be 1–48 of a-z 0-9 -",
        f"{bad}:2: title.en is missing",
        f"{bad}:4: anonymous must be true or false",
        f"{bad}:5: opens must be a local time like 2026-12-01 08:00",
        f"{bad}:14: a: option id 'x' is used twice",
        f"{bad}:17: b: type must be one of single, multiple, scale, text",
        f"{bad}:25: c: next is a mapping option → question, for single and scale questions",
        f"{bad}:28: d: max_length must be a whole number from 1 to 1000",
        f"{bad}:15: a: next names an unknown option 'z'",
    ]
    assert problems == expected
    # A backwards jump (a loop) is refused too.
    looped = write(tmp_path, SMALL.replace("anonymous: %s", "anonymous: true").replace(
        "next: {many: end}", "next: {many: wages}"), "loop.yaml")
    _, problems = surveys.load_file(looped)
    assert problems == [f"{looped}:21: late_days: next goes to 'wages', which is not a later question (or end)"]
    broken = write(tmp_path, "slug: [unclosed\n", "broken.yaml")
    assert surveys.load_file(broken)[1][0].startswith(f"{broken}:2: not valid YAML")


def test_skip_logic_follows_next_then_order():
    questions = [surveys.Question.from_json(q.to_json()) for q in _spec(SMALL % "true").questions]
    wages, late_days, satisfaction, comment = questions
    assert surveys.next_question(questions, wages, wages.next.get("on_time")) == "satisfaction"
    assert surveys.next_question(questions, wages, wages.next.get("late")) == "late_days"
    assert surveys.next_question(questions, late_days, late_days.next.get("many")) is None
    assert surveys.next_question(questions, late_days, late_days.next.get("few")) == "satisfaction"
    assert surveys.next_question(questions, comment, None) is None


def _spec(text: str) -> surveys.SurveySpec:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        spec, problems = surveys.load_file(write(Path(folder), text))
    assert spec is not None, problems
    return spec


async def _member(session, name: str, workplace_code: str, sector: str) -> Member:
    workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
    member = Member(telegram_id=abs(hash(name)) % 10**9, first_name=name, language="vi", consent_version="2026.1",
                    consented_at=utcnow(), province_code=workplace.province_code, sector=sector,
                    workplace_id=workplace.id, onboarded_at=utcnow())
    session.add(member)
    await session.commit()
    return member


async def _demo(session) -> None:
    from bot.services.units import import_units

    await import_units(session, (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8-sig"))


async def _survey(session, anonymous: bool) -> Survey:
    spec = _spec(SMALL % ("true" if anonymous else "false"))
    survey, created = await surveys.save_survey(session, spec, "test")
    assert created
    return survey


async def _answer(session, survey: Survey, member: Member, wages: str, scale: str, comment: str | None = None):
    now = spec_now(survey)
    assert (await surveys.start(session, survey.id, member, now)).outcome == "question"
    await surveys.choose(session, survey.id, member, "wages", wages, now)
    if wages == "late":
        await surveys.choose(session, survey.id, member, "late_days", "few", now)
    await surveys.choose(session, survey.id, member, "satisfaction", scale, now)
    if comment is None:
        return await surveys.skip(session, survey.id, member, "comment", now)
    return await surveys.write(session, survey.id, member, "comment", comment, now)


def spec_now(survey: Survey):
    return survey.opens_at + timedelta(hours=1)


async def test_one_response_per_member_even_when_submissions_race(session, engine):
    await _demo(session)
    survey = await _survey(session, anonymous=True)
    member = await _member(session, "Lan", "WP-MAYSH", "garment")
    now = spec_now(survey)
    await surveys.start(session, survey.id, member, now)
    await surveys.choose(session, survey.id, member, "wages", "late", now)
    step = await surveys.choose(session, survey.id, member, "late_days", "many", now)  # many → end
    assert step.outcome == "done"
    again = await surveys.start(session, survey.id, member, now)
    assert again.outcome == "already"

    # Two sessions finish the same progress at once: the participation key lets exactly one through.
    other = await _member(session, "Minh", "WP-MAYSH", "garment")
    await surveys.start(session, survey.id, other, now)
    await surveys.choose(session, survey.id, other, "wages", "on_time", now)
    await surveys.choose(session, survey.id, other, "satisfaction", "3", now)

    async def finish() -> str:
        async with create_session_factory(engine)() as own:
            return (await surveys.skip(own, survey.id, await own.get(Member, other.id), "comment", now)).outcome

    outcomes = sorted(await asyncio.gather(finish(), finish()))
    assert outcomes in (["already", "done"], ["done", "stale"]), outcomes
    assert await session.scalar(select(func.count(SurveyParticipation.id)).where(
        SurveyParticipation.member_id == other.id)) == 1
    assert await session.scalar(select(func.count(SurveyResponse.id))) == 2
    points = list(await session.scalars(select(Point).where(Point.reason == "survey")))
    assert sorted(p.member_id for p in points) == sorted([member.id, other.id])


async def test_anonymous_results_have_no_member_link_and_small_groups_are_hidden(session):
    await _demo(session)
    survey = await _survey(session, anonymous=True)
    lan = await _member(session, "Lan", "WP-MAYSH", "garment")
    minh = await _member(session, "Minh", "WP-MAYSH", "garment")
    hoa = await _member(session, "Hoa", "WP-MAYSH", "garment")
    tam = await _member(session, "Tâm", "WP-DIENTUTL", "electronics")
    await _member(session, "Nam", "WP-DIENTUTL", "electronics")  # registered, does not answer
    for member, wages, scale in ((lan, "on_time", "5"), (minh, "late", "3"), (hoa, "on_time", "4"),
                                 (tam, "late", "1")):
        assert (await _answer(session, survey, member, wages, scale, comment=f"=ý kiến của {member.first_name}"
                              if member is lan else None)).outcome == "done"
    responses = list(await session.scalars(select(SurveyResponse)))
    assert all(r.member_id is None and r.submitted_at is None for r in responses)
    ids = {m.id for m in (lan, minh, hoa, tam)} | {m.telegram_id for m in (lan, minh, hoa, tam)}
    assert not any(str(value) in r.id for r in responses for value in ids if len(str(value)) > 3)
    participations = list(await session.scalars(select(SurveyParticipation)))
    assert {p.at.time().isoformat() for p in participations} == {"00:00:00"}  # the day only

    results = await survey_results.compute(session, survey, "vi")
    assert results.respondents == 4 and results.named == []
    wages = results.questions[0]
    assert wages.counts == {"on_time": 2, "late": 2} and wages.answered == 4
    assert round(results.questions[2].average, 2) == 3.25
    assert results.questions[3].texts == ["=ý kiến của Lan"]
    maysh = await session.scalar(select(Unit).where(Unit.code == "CDCS-MAYSH"))
    by_unit = {g.key: g for g in results.groups_of("unit")}
    assert (by_unit[maysh.id].respondents, by_unit[maysh.id].members, by_unit[maysh.id].hidden) == (3, 3, False)
    assert by_unit[maysh.id].counts["wages"] == {"on_time": 2, "late": 1}
    electronics = {g.key: g for g in results.groups_of("sector")}["electronics"]
    assert (electronics.respondents, electronics.members, electronics.rate, electronics.hidden) == (1, 2, 0.5, True)
    assert electronics.counts == {}

    book = load_workbook(io.BytesIO(survey_results.build_xlsx(results, TZ)))
    assert book.sheetnames == ["Tổng quan", "Tỷ lệ trả lời", "Kết quả", "Theo nhóm", "Ý kiến"]
    assert [c.value for c in book["Tổng quan"]["A"]] == ["Khảo sát", "Ẩn danh", "Mở lúc", "Đóng lúc",
                                                         "Số người trả lời"]
    assert book["Tổng quan"]["B5"].value == 4 and book["Tổng quan"]["B3"].value == "01/12/2026 08:00"
    typed = book["Ý kiến"]["B2"]
    assert typed.value == "=ý kiến của Lan" and typed.data_type == "s"  # text, never a formula
    hidden = [row for row in book["Theo nhóm"].iter_rows(min_row=2, values_only=True) if row[1] == "Điện tử, linh kiện"]
    assert hidden == [("Ngành", "Điện tử, linh kiện", "(ẩn: dưới 3 người trả lời)", None, None)]

    # An officer of the electronics company's union: only its subtree.
    dientu = await session.scalar(select(Unit).where(Unit.code == "CDCS-DIENTUTL"))
    scoped = await survey_results.compute(session, survey, "vi", {dientu.id})
    assert scoped.respondents == 1 and [g.members for g in scoped.groups_of("unit")] == [2]
    assert scoped.suppressed and all(not r.counts and not r.texts for r in scoped.questions)
    garment = await survey_results.compute(session, survey, "vi", {maysh.id})  # three respondents: shown
    assert not garment.suppressed and garment.questions[3].texts == ["=ý kiến của Lan"]


async def test_named_results_chart_and_summary(session):
    await _demo(session)
    survey = await _survey(session, anonymous=False)
    lan = await _member(session, "Lan", "WP-MAYSH", "garment")
    minh = await _member(session, "Minh", "WP-GIAYBT", "garment")
    await _answer(session, survey, lan, "on_time", "5")
    await _answer(session, survey, minh, "late", "2", comment="Nợ lương hai tháng")
    responses = list(await session.scalars(select(SurveyResponse).order_by(SurveyResponse.submitted_at)))
    assert [r.member_id for r in responses] == [lan.id, minh.id] and all(r.submitted_at for r in responses)

    results = await survey_results.compute(session, survey, "vi")
    assert sorted((n.name, n.answers["wages"]) for n in results.named) == [("Lan", "on_time"), ("Minh", "late")]
    provinces = {g.name: (g.respondents, g.members) for g in results.groups_of("province")}
    assert provinces == {"Thành phố Hà Nội": (1, 1), "Thành phố Hồ Chí Minh": (1, 1)}
    book = load_workbook(io.BytesIO(survey_results.build_xlsx(results, TZ)))
    detail = list(book["Chi tiết"].iter_rows(values_only=True))
    assert detail[0] == ("Mã thành viên", "Họ tên", "Tỉnh, thành phố", "Ngành", "Công đoàn cơ sở", "wages",
                         "late_days", "satisfaction", "comment")
    assert ("Minh", "Chậm", "Vài ngày", "2", "Nợ lương hai tháng") in [(r[1], *r[5:]) for r in detail[1:]]

    png = survey_results.render_chart(results)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 900 and 400 <= height <= 2000

    summary = survey_results.summary_text(results, "vi")
    assert "Có 2 người đã trả lời" in summary and "• Đúng hạn: 50%" in summary and "2/5" not in summary
    assert "⭐ Điểm trung bình: 3.5/5" in summary and "Nợ lương" not in summary


async def test_questions_cannot_change_once_answered_and_windows_move_with_open_and_close(session):
    await _demo(session)
    survey = await _survey(session, anonymous=True)
    member = await _member(session, "Lan", "WP-MAYSH", "garment")
    await _answer(session, survey, member, "on_time", "4")
    changed = _spec((SMALL % "true").replace("Hài lòng?", "Bạn hài lòng không?"))
    try:
        await surveys.save_survey(session, changed, "test")
        raise AssertionError("the questions changed after answers")
    except surveys.SurveyError:
        await session.rollback()
        await session.refresh(survey)
    now = survey.opens_at - timedelta(days=1)
    assert surveys.state_of(survey, now) == "scheduled"
    assert (await surveys.open_now(session, survey.id, now)) is not None
    assert surveys.is_open(survey, now + timedelta(seconds=1))
    closed = await surveys.close(session, survey.id, now + timedelta(hours=1))
    assert closed.closed_at is not None and not surveys.is_open(closed, now + timedelta(hours=1))
    assert await surveys.close(session, survey.id, now + timedelta(hours=2)) is None  # once
    assert await surveys.summaries_unsent(session) == [survey.id]


async def test_congdoan_survey_load_and_content_check_report_lines(db_url, tmp_path):
    from tests.test_cli import congdoan

    loaded = await asyncio.to_thread(congdoan, "survey", "load", str(REAL), db_url=db_url)
    assert loaded.returncode == 0, loaded.stderr
    assert "doi-song-viec-lam-cuoi-2026 created: 10 questions, open 01/12/2026 08:00–20/12/2026 20:00" in loaded.stdout
    again = await asyncio.to_thread(congdoan, "survey", "load", str(REAL), db_url=db_url)
    assert "updated" in again.stdout
    bad = write(tmp_path, (SMALL % "true").replace("type: scale", "type: stars"))
    refused = await asyncio.to_thread(congdoan, "survey", "load", str(bad), db_url=db_url)
    assert refused.returncode == 1 and "Nothing loaded: 1 problem(s)." in refused.stderr
    assert f"{bad}:23: satisfaction: type must be one of single, multiple, scale, text" in refused.stderr
