"""Reports on a seeded dataset whose every figure is known: each table, the XLSX and CSV files, the chart, and
`congdoan report` as an operator runs it."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import select

from bot.services import reports
from bot.services.units import import_units
from db.models import (
    Base,
    CaseStatus,
    Contest,
    ContestAttempt,
    ContestRound,
    ExampleNomination,
    Grievance,
    GrievanceCosigner,
    GrievanceEvent,
    Idea,
    IdeaStatus,
    Member,
    MemberStatus,
    NominationStatus,
    Point,
    Unit,
    Workplace,
)
from sandbox.demo import DEMO_UNITS
from tests.test_cli import congdoan

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OCTOBER = reports.Period(date(2026, 10, 1), date(2026, 10, 31))
HAS_SURVEYS = "survey_participations" in Base.metadata.tables


def local(day: str, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=TZ).astimezone(UTC)


async def seed(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Units from the demo file, six October cases in LDLD-HN's subtree (and two that must not count),
    members, quizzes, a contest, ideas and a nomination. The expected figures are in the tests below."""
    await import_units(session, DEMO_UNITS.read_text(encoding="utf-8"))
    units = {u.code: u.id for u in await session.scalars(select(Unit))}
    places = {w.code: w.id for w in await session.scalars(select(Workplace))}

    def member(telegram_id: int, workplace: str, onboarded: str, seen: str, **extra: object) -> Member:
        row = Member(telegram_id=telegram_id, first_name="M", workplace_id=places[workplace],
                     onboarded_at=local(onboarded), last_seen_at=local(seen), created_at=local(onboarded), **extra)
        session.add(row)
        return row

    m1 = member(1, "WP-MAYSH", "2026-05-01", "2026-10-15")
    m2 = member(2, "WP-MAYSH", "2026-10-03", "2026-10-03")
    m3 = member(3, "WP-DIENTUTL", "2026-01-01", "2026-08-01")
    member(4, "WP-MAYSH", "2026-11-05", "2026-11-05")  # registered after the period
    m5 = member(5, "WP-GIAYBT", "2026-10-10", "2026-10-10")  # Ho Chi Minh City: another subtree
    member(6, "WP-MAYSH", "2026-05-01", "2026-10-10", status=MemberStatus.ERASED)
    await session.flush()

    def case(code: str, category: str, unit: str, created: datetime, status: CaseStatus, *, ack_h: float | None,
             ack_due_h: float, resolve_due: datetime, resolved_h: float | None = None, urgent: bool = False,
             **extra: object) -> Grievance:
        row = Grievance(code=code, member_id=m1.id, category=category, unit_id=units[unit], created_at=created,
                        status=status, urgent=urgent, acknowledge_due_at=created + timedelta(hours=ack_due_h),
                        resolve_due_at=resolve_due,
                        acknowledged_at=created + timedelta(hours=ack_h) if ack_h is not None else None,
                        resolved_at=created + timedelta(hours=resolved_h) if resolved_h is not None else None,
                        **extra)
        session.add(row)
        return row

    g1 = case("PA-2610-0001", "wages", "CDCS-MAYSH", local("2026-10-02"), CaseStatus.CLOSED, ack_h=2, ack_due_h=24,
              resolve_due=local("2026-10-07"), resolved_h=50, outcome="yes", rating=5)
    g2 = case("PA-2610-0002", "wages", "CDCS-MAYSH", local("2026-10-05", 10), CaseStatus.ACKNOWLEDGED, ack_h=10,
              ack_due_h=4, resolve_due=local("2026-10-10"), urgent=True, outcome="no", rating=1)
    g3 = case("PA-2610-0003", "safety_health", "CDP-LONGBIEN", local("2026-10-10"), CaseStatus.CLOSED, ack_h=6,
              ack_due_h=8, resolve_due=local("2026-10-20"), resolved_h=30, urgent=True, collective=True,
              scope="group", outcome="partly", rating=3)
    g4 = case("PA-2610-0004", "social_insurance", "KCN-HN", local("2026-10-20"), CaseStatus.OPEN, ack_h=None,
              ack_due_h=24, resolve_due=local("2026-11-30"))
    # 23:30 on 31 October in Hà Nội is 16:30 UTC: still October. 30 September 23:30 is not.
    g6 = case("PA-2610-0006", "wages", "CDCS-MAYSH", local("2026-10-31", 23, 30), CaseStatus.OPEN, ack_h=None,
              ack_due_h=24, resolve_due=local("2026-12-05"))
    g8 = case("PA-2610-0008", "discrimination", "VGCL", local("2026-10-12"), CaseStatus.ACKNOWLEDGED, ack_h=3,
              ack_due_h=24, resolve_due=local("2026-12-01"))
    case("PA-2609-0005", "housing", "CDCS-MAYSH", local("2026-09-30", 23, 30), CaseStatus.OPEN, ack_h=None,
         ack_due_h=24, resolve_due=local("2026-10-30"))
    g7 = case("PA-2610-0007", "wages", "CDCS-GIAYBT", local("2026-10-03"), CaseStatus.ACKNOWLEDGED, ack_h=1,
              ack_due_h=24, resolve_due=local("2026-12-01"))
    await session.flush()

    def event(grievance: Grievance, hours: float, action: str, to_unit: str | None = None,
              from_unit: str | None = None) -> None:
        session.add(GrievanceEvent(grievance_id=grievance.id, at=grievance.created_at + timedelta(hours=hours),
                                   actor="test", action=action, to_unit_id=units[to_unit] if to_unit else None,
                                   from_unit_id=units[from_unit] if from_unit else None))

    event(g1, 0, "created", "CDCS-MAYSH")
    event(g1, 2, "claimed")
    event(g1, 3, "replied")
    event(g1, 50, "resolved")
    event(g2, 0, "created", "CDCS-MAYSH")
    event(g2, 10, "replied")
    event(g2, 40, "reopened")
    event(g3, 0, "created", "CDCS-MAYSH")
    event(g3, 1, "escalated", "CDP-LONGBIEN", "CDCS-MAYSH")
    event(g3, 2, "collective", "CDP-LONGBIEN", "CDP-LONGBIEN")
    event(g3, 6, "claimed")
    event(g3, 30, "resolved")
    event(g4, 0, "created", "KCN-HN")
    event(g6, 0, "created", "CDCS-MAYSH")
    event(g8, 0, "created", "CDCS-DIENTUTL")
    event(g8, 1, "escalated", "VGCL", "CDCS-DIENTUTL")
    event(g8, 3, "claimed")
    event(g7, 0, "created", "CDCS-GIAYBT")
    event(g7, 1, "claimed")
    session.add_all([GrievanceCosigner(grievance_id=g3.id, member_id=m2.id, at=g3.created_at),
                     GrievanceCosigner(grievance_id=g3.id, member_id=m3.id, at=g3.created_at)])

    for who, ref, day in ((m1, "quiz:a", "2026-10-04"), (m1, "quiz:b", "2026-10-06"), (m2, "quiz:a", "2026-10-07"),
                          (m1, "quiz:c", "2026-09-20"), (m5, "quiz:a", "2026-10-07")):
        session.add(Point(member_id=who.id, reason="practice_quiz", amount=10, ref=ref, at=local(day)))
    contest = Contest(slug="c", title={"vi": "C"}, tiebreak={}, pool=[], questions_per_attempt=5)
    session.add(contest)
    await session.flush()
    round_ = ContestRound(contest_id=contest.id, number=1, starts_at=local("2026-10-01"), ends_at=local("2026-10-30"))
    session.add(round_)
    await session.flush()
    for number, (who, submitted) in enumerate(((m1, True), (m3, False), (m5, True)), start=1):
        start = local("2026-10-08")
        session.add(ContestAttempt(round_id=round_.id, member_id=who.id, number=number, seed=1, questions=[],
                                   started_at=start, deadline_at=start + timedelta(minutes=20),
                                   submitted_at=start + timedelta(minutes=5) if submitted else None))
    for unit, status in (("CDCS-MAYSH", IdeaStatus.ACCEPTED), ("CDCS-MAYSH", IdeaStatus.OPEN),
                         ("CDCS-GIAYBT", IdeaStatus.ACCEPTED)):
        session.add(Idea(member_id=m1.id, unit_id=units[unit], title="t", text="x", status=status,
                         created_at=local("2026-10-09")))
    session.add(ExampleNomination(member_id=m1.id, unit_id=units["CDP-LONGBIEN"], nominee_kind="person", nominee="A",
                                  story="s", consent_confirmed_at=local("2026-10-09"), created_at=local("2026-10-09"),
                                  status=NominationStatus.APPROVED))
    if HAS_SURVEYS:
        await _seed_survey(session, m1.id)
    await session.commit()
    return units


async def _seed_survey(session, member_id: int) -> None:  # type: ignore[no-untyped-def]
    surveys = Base.metadata.tables["surveys"]
    taken = Base.metadata.tables["survey_participations"]
    survey_id = (await session.execute(surveys.insert().values(
        slug="s", title={}, intro={}, anonymous=True, questions=[], opens_at=local("2026-10-01"),
        closes_at=local("2026-10-30"), loaded_by="test", created_at=NOW, updated_at=NOW))).inserted_primary_key[0]
    await session.execute(taken.insert().values(survey_id=survey_id, member_id=member_id, at=local("2026-10-11")))


async def _report(session, code: str = "LDLD-HN", period: reports.Period = OCTOBER,  # type: ignore[no-untyped-def]
                  language: str = "vi") -> reports.Report:
    units = {u.code: u.id for u in await session.scalars(select(Unit))}
    return await reports.build_report(session, units[code], period, TZ, NOW, language)


def rows(report: reports.Report, key: str) -> list[list[object]]:
    return report.table(key).rows


async def test_grievance_tables_count_the_subtree_and_the_local_period(session):
    await seed(session)
    report = await _report(session)
    assert rows(report, "by_category") == [
        ["Tiền lương, thưởng", 3, 2, 1, 1],
        ["Bảo hiểm xã hội (BHXH)", 1, 1, 0, 0],
        ["An toàn, vệ sinh lao động", 1, 0, 1, 1],
        ["Phân biệt đối xử, quấy rối", 1, 1, 0, 0],
    ]
    assert rows(report, "by_status") == [["Chờ tiếp nhận", 2], ["Đang xử lý", 2], ["Chờ người lao động bổ sung", 0],
                                         ["Đã giải quyết, chờ xác nhận", 0], ["Đã đóng", 2]]
    assert rows(report, "by_urgency") == [["Khẩn cấp", 2], ["Thông thường", 4]]
    assert [row[1] for row in rows(report, "by_level")] == [3, 2, 0, 1, 0]  # levels 4, 3, 2, 1, admins


async def test_times_sla_moves_satisfaction_and_collective(session):
    await seed(session)
    report = await _report(session)
    # acknowledgement hours 2, 10, 6, 3: median 4.5, nearest-rank p90 10; resolution 50 and 30
    assert rows(report, "times") == [["Tiếp nhận", 4, 4.5, 10.0], ["Giải quyết", 2, 40.0, 50.0]]
    assert rows(report, "sla") == [["Tiếp nhận", 3, 3, 0, 50.0], ["Giải quyết", 2, 1, 3, 66.7]]
    assert rows(report, "moves") == [["Chuyển lên cấp trên", 2, 2], ["Chuyển đơn vị", 0, 0],
                                     ["Thành phản ánh tập thể", 1, 1], ["Mở lại (người lao động chưa hài lòng)", 1, 1]]
    assert rows(report, "satisfaction") == [["Đã được giải quyết", 1, 5.0], ["Giải quyết một phần", 1, 3.0],
                                            ["Chưa được giải quyết", 1, 1.0], ["Chưa trả lời", 0, None]]
    assert rows(report, "collective") == [["Phản ánh có người cùng ký tên", 1], ["Lượt cùng ký tên", 2],
                                          ["Phản ánh tập thể", 1], ["Phản ánh thay mặt nhóm", 1]]


async def test_policy_view_groups_by_law(session):
    await seed(session)
    report = await _report(session, language="en")
    assert rows(report, "policy") == [
        ["Labour Code", 4, 3, "Discrimination and harassment, Wages and bonuses"],
        ["Law on Occupational Safety and Health", 1, 0, "Occupational safety and health"],
        ["Law on Social Insurance", 1, 1, "Social insurance (BHXH)"],
    ]


async def test_engagement(session):
    await seed(session)
    table = (await _report(session, language="en")).table("engagement")
    expected = {"Registered members": 3, "New in the period": 1, "Active in the period": 2, "Quiz takers": 2,
                "Quizzes finished": 3, "Contest entrants": 2, "Contest attempts": 2, "Contest attempts submitted": 1,
                "Ideas received": 2, "Ideas accepted": 1, "Good-example nominations": 1, "Nominations approved": 1}
    if HAS_SURVEYS:
        expected |= {"Survey respondents": 1, "Survey response rate (%)": 33}
    assert dict((row[0], row[1]) for row in table.rows) == expected


async def test_a_grassroots_report_counts_cases_that_passed_through_it(session):
    await seed(session)
    report = await _report(session, "CDCS-MAYSH")
    assert sum(row[1] for row in rows(report, "by_status")) == 4  # its three, and the one escalated from it
    other = await _report(session, "LDLD-HCM")
    assert sum(row[1] for row in rows(other, "by_status")) == 1


def test_named_periods():
    today = date(2026, 11, 25)
    assert reports.named_period("this_month", today) == reports.Period(date(2026, 11, 1), date(2026, 11, 30))
    assert reports.named_period("last_month", today) == OCTOBER
    assert reports.named_period("this_quarter", today) == reports.Period(date(2026, 10, 1), date(2026, 12, 31))
    assert reports.named_period("this_year", today) == reports.Period(date(2026, 1, 1), date(2026, 12, 31))
    assert reports.named_period("last_month", date(2026, 1, 15)) == reports.Period(date(2025, 12, 1),
                                                                                   date(2025, 12, 31))


def test_percentile_is_nearest_rank():
    assert reports.percentile([], 0.9) is None
    assert reports.percentile([5.0], 0.9) == 5.0
    assert reports.percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


async def test_xlsx_has_one_sheet_per_table_with_vietnamese_headers(session):
    await seed(session)
    report = await _report(session)
    buffer = io.BytesIO()
    reports.write_xlsx(report, buffer)
    workbook = load_workbook(io.BytesIO(buffer.getvalue()))
    assert workbook.sheetnames[0] == "Thông tin chung"
    assert len(workbook.sheetnames) == 1 + len(report.tables)
    sheet = workbook["Theo lĩnh vực"]
    assert [cell.value for cell in sheet[1]] == ["Lĩnh vực", "Số phản ánh", "Đang xử lý", "Đã giải quyết", "Khẩn cấp"]
    assert [cell.value for cell in sheet[2]] == ["Tiền lương, thưởng", 3, 2, 1, 1]
    sla = workbook["Đúng hạn"]
    assert [cell.value for cell in sla[3]] == ["Giải quyết", 2, 1, 3, 66.7]
    policy = workbook["Theo văn bản pháp luật"]
    assert policy["A2"].value == "Bộ luật Lao động" and policy["B2"].value == 4


async def test_csv_zip_has_one_file_per_table(session):
    await seed(session)
    report = await _report(session)
    buffer = io.BytesIO()
    names = reports.write_csv_zip(report, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        assert archive.namelist() == names and len(names) == len(report.tables)
        text = archive.read("01_by_category.csv").decode("utf-8-sig").splitlines()
    assert text[0] == "Lĩnh vực,Số phản ánh,Đang xử lý,Đã giải quyết,Khẩn cấp"
    assert text[1] == "Tiền lương, thưởng,3,2,1,1".replace("Tiền lương, thưởng", '"Tiền lương, thưởng"')


async def test_chart_is_a_png(session):
    await seed(session)
    png = reports.render_chart(await _report(session))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


async def test_report_session_reads_the_same_data(engine):
    async with reports.report_session(engine) as session:
        await seed(session)
    async with reports.report_session(engine) as session:
        report = await _report(session)
    assert sum(row[1] for row in rows(report, "by_status")) == 6


async def test_cli_writes_xlsx_and_csv(engine, db_url, tmp_path):
    from db.session import create_session_factory

    async with create_session_factory(engine)() as session:
        await seed(session)
    target = tmp_path / "october.xlsx"
    result = congdoan("report", "--unit", "ldld-hn", "--from", "2026-10-01", "--to", "2026-10-31",
                      "--format", "xlsx", "--output", str(target), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "11 tables" in result.stdout
    sheet = load_workbook(target)["Theo lĩnh vực"]
    assert [cell.value for cell in sheet[2]] == ["Tiền lương, thưởng", 3, 2, 1, 1]
    zipped = tmp_path / "october.zip"
    result = congdoan("report", "--unit", "LDLD-HN", "--from", "2026-10-01", "--to", "2026-10-31",
                      "--format", "csv", "--output", str(zipped), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert len(zipfile.ZipFile(zipped).namelist()) == 11
    unknown = congdoan("report", "--unit", "NOPE", "--from", "2026-10-01", "--to", "2026-10-31", db_url=db_url)
    assert unknown.returncode == 1 and "NOPE" in unknown.stderr
    backwards = congdoan("report", "--unit", "LDLD-HN", "--from", "2026-10-31", "--to", "2026-10-01", db_url=db_url)
    assert backwards.returncode == 2
