"""Periodic reports (sơ kết, tổng kết) for a unit's subtree: grievances, handling times, deadlines, satisfaction,
engagement and a policy view by law. No Telegram here: handlers/reports.py and `congdoan report` render them.

Which cases a report counts: those created in the period (local dates) that are held now by a unit of the
subtree, or that were sent to one of its units at some point (a `created`, `escalated`, `transferred`…
event with `to_unit_id` in the subtree). A root unit's report (level 1) also counts cases the admins hold.
Statuses, outcomes and deadlines are as they stand when the report is made.

Every figure comes from a set-based query (grouped counts, or one row per case for the durations, whose
median and 90th percentile are taken here by the nearest-rank rule): the same SQL runs on SQLite and
PostgreSQL.

SQLite and the event loop: the bot's engine runs SQLite reads inline on the loop (db/session.py), which is
right for its tiny per-update queries but not for a report that scans a year of cases. `report_session()`
therefore opens, for SQLite, a session on a plain aiosqlite engine of the same file, whose every call runs
in aiosqlite's worker thread: the loop only awaits results while other updates go on. That costs a thread
hand-off per call, a few dozen per report, which is nothing next to the scan. PostgreSQL (asyncpg) never
blocks the loop, so the bot's own engine is used.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import aliased
from sqlalchemy.pool import NullPool

from bot.i18n import t
from bot.services.categories import all_categories, get_category
from db.models import (
    Base,
    CaseStatus,
    ContestAttempt,
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

PERIODS = ("this_month", "last_month", "this_quarter", "this_year")
OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED, CaseStatus.WAITING_WORKER)
DONE_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
# The first of these events on a case is when the union acknowledged it (an officer claimed, answered,
# asked for information or resolved it).
ACK_ACTIONS = ("claimed", "replied", "asked", "resolved")
RECEIVED_ACTIONS = ("created", "escalated", "transferred", "collective", "reopened_at_admins")
MOVE_ACTIONS = ("escalated", "transferred", "collective", "reopened")
OUTCOMES = ("yes", "partly", "no")
ProgressFn = Callable[[str], None]


# ----- periods -----

@dataclass(frozen=True)
class Period:
    """Local dates, both included."""

    start: date
    end: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight of the first day, and of the day after the last."""
        return (datetime.combine(self.start, time(), tz), datetime.combine(self.end + timedelta(days=1), time(), tz))

    def label(self) -> str:
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"


def named_period(name: str, today: date) -> Period:
    """this_month, last_month, this_quarter or this_year around `today` (a local date); ValueError otherwise."""
    if name == "this_month":
        return Period(today.replace(day=1), _month_end(today))
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last)
    if name == "this_quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        start = today.replace(month=first_month, day=1)
        return Period(start, _month_end(start.replace(month=first_month + 2)))
    if name == "this_year":
        return Period(date(today.year, 1, 1), date(today.year, 12, 31))
    raise ValueError(name)


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


# ----- the report -----

@dataclass
class Table:
    key: str  # names its sheet/file and its catalog title: report.table_<key>
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def value(self, label: Any, column: int = 1) -> Any:
        """The cell in `column` of the row whose first cell is `label` (tests and charts read it)."""
        for row in self.rows:
            if row[0] == label:
                return row[column]
        raise KeyError(label)


@dataclass
class Report:
    unit_code: str
    unit_name: str
    period: Period
    language: str
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)

    def title(self) -> str:
        return t(self.language, "report.title", unit=self.unit_name, period=self.period.label())


class UnknownUnit(Exception):
    pass


@asynccontextmanager
async def report_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session for report queries that never runs SQL on the event loop (see the module's docstring)."""
    if engine.dialect.name != "sqlite":
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
        return
    threaded = create_async_engine(engine.url, poolclass=NullPool)  # plain aiosqlite: every call in its thread
    try:
        async with async_sessionmaker(threaded, expire_on_commit=False)() as session:
            yield session
    finally:
        await threaded.dispose()


async def build_report(session: AsyncSession, unit_id: int, period: Period, tz: ZoneInfo, now: datetime,
                       language: str = "vi", progress: ProgressFn | None = None) -> Report:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise UnknownUnit(unit_id)
    start, end = period.bounds(tz)
    scope = _Scope(unit, start, end, now, language)
    tables = []
    for step in (_by_category, _by_status, _by_urgency, _by_level, _times, _sla, _moves, _satisfaction,
                 _collective, _policy, _engagement):
        tables.append(await step(session, scope))
        if progress:
            progress(tables[-1].key)
    return Report(unit.code, unit.name, period, language, tables)


TABLE_COUNT = 11  # the steps of build_report, for progress bars


@dataclass
class _Scope:
    unit: Unit
    start: datetime
    end: datetime
    now: datetime
    language: str

    def __post_init__(self) -> None:
        # The unit and every unit below it, as one recursive CTE (both databases), shared by every query.
        tree = select(Unit.id).where(Unit.id == self.unit.id).cte("tree", recursive=True)
        child = aliased(Unit)
        self._tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id))

    def tree(self) -> Select[Any]:
        return select(self._tree.c.id)

    def case_ids(self) -> Select[Any]:
        received = select(GrievanceEvent.grievance_id).where(
            GrievanceEvent.action.in_(RECEIVED_ACTIONS), GrievanceEvent.to_unit_id.in_(self.tree()))
        held = Grievance.unit_id.in_(self.tree())
        if self.unit.parent_id is None:
            held = or_(held, Grievance.unit_id.is_(None))
        return select(Grievance.id).where(Grievance.created_at >= self.start, Grievance.created_at < self.end,
                                          or_(held, Grievance.id.in_(received)))

    def cases(self) -> Any:
        return Grievance.id.in_(self.case_ids())

    def h(self, key: str) -> str:
        return t(self.language, f"report.col_{key}")

    def label(self, key: str) -> str:
        return t(self.language, f"report.label_{key}")


def _is_open() -> Any:
    return Grievance.status.in_(OPEN_STATUSES)


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


async def _by_category(session: AsyncSession, scope: _Scope) -> Table:
    rows = await session.execute(
        select(Grievance.category, func.count(), _count_if(_is_open()), _count_if(Grievance.status.in_(DONE_STATUSES)),
               _count_if(Grievance.urgent.is_(True)))
        .where(scope.cases()).group_by(Grievance.category))
    found = {row[0]: row for row in rows}
    table = Table("by_category", [scope.h(k) for k in ("category", "cases", "open", "resolved", "urgent")])
    for category in all_categories():
        row = found.pop(category.code, None)
        if row is not None:
            table.rows.append([category.name(scope.language), row[1], int(row[2] or 0), int(row[3] or 0),
                               int(row[4] or 0)])
    for code, row in sorted(found.items()):  # categories no longer in content/categories.yaml
        table.rows.append([code, row[1], int(row[2] or 0), int(row[3] or 0), int(row[4] or 0)])
    return table


async def _by_status(session: AsyncSession, scope: _Scope) -> Table:
    counts = dict((await session.execute(
        select(Grievance.status, func.count()).where(scope.cases()).group_by(Grievance.status))).all())
    table = Table("by_status", [scope.h("status"), scope.h("cases")])
    for status in CaseStatus:
        table.rows.append([t(scope.language, f"report.status_{status.value}"), counts.get(status, 0)])
    return table


async def _by_urgency(session: AsyncSession, scope: _Scope) -> Table:
    counts = dict((await session.execute(
        select(Grievance.urgent, func.count()).where(scope.cases()).group_by(Grievance.urgent))).all())
    return Table("by_urgency", [scope.h("urgency"), scope.h("cases")],
                 [[scope.label("urgent"), counts.get(True, 0)], [scope.label("normal"), counts.get(False, 0)]])


async def _by_level(session: AsyncSession, scope: _Scope) -> Table:
    counts = dict((await session.execute(
        select(Unit.level, func.count()).select_from(Grievance).outerjoin(Unit, Unit.id == Grievance.unit_id)
        .where(scope.cases()).group_by(Unit.level))).all())
    table = Table("by_level", [scope.h("level"), scope.h("cases")])
    for level in (4, 3, 2, 1):
        table.rows.append([t(scope.language, f"report.level_{level}"), counts.get(level, 0)])
    table.rows.append([scope.label("admins"), counts.get(None, 0)])
    return table


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (the value below which `share` of the values lie); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _hours(values: list[float], share: float | None) -> float | None:
    if not values:
        return None
    result = statistics.median(values) if share is None else percentile(values, share)
    return round(result, 1)  # type: ignore[arg-type]


async def _times(session: AsyncSession, scope: _Scope) -> Table:
    first_ack = (select(GrievanceEvent.grievance_id, func.min(GrievanceEvent.at).label("at"))
                 .where(GrievanceEvent.action.in_(ACK_ACTIONS), GrievanceEvent.grievance_id.in_(scope.case_ids()))
                 .group_by(GrievanceEvent.grievance_id).subquery())
    acked = await session.execute(select(Grievance.created_at, first_ack.c.at)
                                  .join(first_ack, first_ack.c.grievance_id == Grievance.id))
    ack_hours = [_between(created, at) for created, at in acked]
    resolved = await session.execute(select(Grievance.created_at, Grievance.resolved_at).where(
        scope.cases(), Grievance.resolved_at.is_not(None), Grievance.status.in_(DONE_STATUSES)))
    resolve_hours = [_between(created, at) for created, at in resolved]
    table = Table("times", [scope.h(k) for k in ("measure", "measured", "median_hours", "p90_hours")])
    for key, values in (("acknowledgement", ack_hours), ("resolution", resolve_hours)):
        table.rows.append([scope.label(key), len(values), _hours(values, None), _hours(values, 0.9)])
    return table


def _between(earlier: Any, later: Any) -> float:
    return (_aware(later) - _aware(earlier)).total_seconds() / 3600


def _aware(value: Any) -> datetime:
    # Columns read through a subquery skip the UTC type decorator on SQLite and come back naive (UTC).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))


async def _sla(session: AsyncSession, scope: _Scope) -> Table:
    table = Table("sla", [scope.h(k) for k in ("deadline", "met", "missed", "pending", "compliance")])
    now = scope.now
    for key, done_at, due_at in (("acknowledgement", Grievance.acknowledged_at, Grievance.acknowledge_due_at),
                                 ("resolution", Grievance.resolved_at, Grievance.resolve_due_at)):
        met = and_(done_at.is_not(None), due_at.is_not(None), done_at <= due_at)
        missed = or_(and_(done_at.is_not(None), done_at > due_at),
                     and_(done_at.is_(None), _is_open(), due_at < now))
        row = (await session.execute(select(_count_if(met), _count_if(missed), func.count())
                                     .where(scope.cases(), due_at.is_not(None)))).one()
        met_n, missed_n, total = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
        decided = met_n + missed_n
        table.rows.append([scope.label(key), met_n, missed_n, total - decided,
                           round(100 * met_n / decided, 1) if decided else None])
    return table


async def _moves(session: AsyncSession, scope: _Scope) -> Table:
    rows = await session.execute(
        select(GrievanceEvent.action, func.count(), func.count(distinct(GrievanceEvent.grievance_id)))
        .where(GrievanceEvent.action.in_(MOVE_ACTIONS), GrievanceEvent.grievance_id.in_(scope.case_ids()))
        .group_by(GrievanceEvent.action))
    found = {action: (events, cases) for action, events, cases in rows}
    table = Table("moves", [scope.h(k) for k in ("event", "events", "cases")])
    for action in MOVE_ACTIONS:
        events, cases = found.get(action, (0, 0))
        table.rows.append([scope.label(f"event_{action}"), events, cases])
    return table


async def _satisfaction(session: AsyncSession, scope: _Scope) -> Table:
    rows = await session.execute(select(Grievance.outcome, func.count(), func.avg(Grievance.rating))
                                 .where(scope.cases(), or_(Grievance.outcome.is_not(None), Grievance.status.in_(DONE_STATUSES)))
                                 .group_by(Grievance.outcome))
    found = {outcome: (count, average) for outcome, count, average in rows}
    table = Table("satisfaction", [scope.h(k) for k in ("outcome", "cases", "average_rating")])
    for outcome in OUTCOMES:
        count, average = found.get(outcome, (0, None))
        table.rows.append([scope.label(f"outcome_{outcome}"), count,
                           round(float(average), 2) if average is not None else None])
    table.rows.append([scope.label("outcome_none"), found.get(None, (0, None))[0], None])
    return table


async def _collective(session: AsyncSession, scope: _Scope) -> Table:
    voices = (select(GrievanceCosigner.grievance_id, func.count().label("voices"))
              .where(GrievanceCosigner.grievance_id.in_(scope.case_ids()))
              .group_by(GrievanceCosigner.grievance_id).subquery())
    cosigned = (await session.execute(select(func.count(), func.coalesce(func.sum(voices.c.voices), 0)))).one()
    row = (await session.execute(select(_count_if(Grievance.collective.is_(True)),
                                        _count_if(Grievance.scope == "group")).where(scope.cases()))).one()
    return Table("collective", [scope.h("measure"), scope.h("value")], [
        [scope.label("cosigned_cases"), int(cosigned[0] or 0)],
        [scope.label("cosigners"), int(cosigned[1] or 0)],
        [scope.label("collective_cases"), int(row[0] or 0)],
        [scope.label("group_cases"), int(row[1] or 0)],
    ])


async def _policy(session: AsyncSession, scope: _Scope) -> Table:
    """Grievances grouped by the law their category concerns (content/categories.yaml `law`)."""
    counts = await session.execute(select(Grievance.category, func.count(), _count_if(_is_open()))
                                   .where(scope.cases()).group_by(Grievance.category))
    by_law: dict[str, list[Any]] = {}
    for code, total, still_open in counts:
        category = get_category(code)
        law = category.law if category else "other"
        entry = by_law.setdefault(law, [0, 0, []])
        entry[0] += total
        entry[1] += int(still_open or 0)
        entry[2].append(category.name(scope.language) if category else code)
    table = Table("policy", [scope.h(k) for k in ("law", "cases", "open", "categories")])
    for law, (total, still_open, names) in sorted(by_law.items(), key=lambda item: (-item[1][0], item[0])):
        table.rows.append([t(scope.language, f"report.law_{law}"), total, still_open, ", ".join(sorted(names))])
    return table


async def _engagement(session: AsyncSession, scope: _Scope) -> Table:
    workplaces = select(Workplace.id).where(Workplace.grassroots_unit_id.in_(scope.tree()))
    registered = and_(Member.workplace_id.in_(workplaces), Member.onboarded_at.is_not(None),
                      Member.onboarded_at < scope.end, Member.status != MemberStatus.ERASED)
    members = select(Member.id).where(registered)
    in_period = (scope.start, scope.end)
    row = (await session.execute(select(
        func.count(),
        _count_if(Member.onboarded_at >= scope.start),
        _count_if(and_(Member.last_seen_at >= scope.start, Member.last_seen_at < scope.end)),
    ).where(registered))).one()
    quiz = (await session.execute(select(func.count(distinct(Point.member_id)), func.count()).where(
        Point.reason == "practice_quiz", Point.member_id.in_(members), _within(Point.at, in_period)))).one()
    contest = (await session.execute(select(func.count(distinct(ContestAttempt.member_id)), func.count(),
                                            func.count(ContestAttempt.submitted_at)).where(
        ContestAttempt.member_id.in_(members), _within(ContestAttempt.started_at, in_period)))).one()
    ideas = (await session.execute(select(func.count(), _count_if(Idea.status == IdeaStatus.ACCEPTED)).where(
        Idea.unit_id.in_(scope.tree()), _within(Idea.created_at, in_period)))).one()
    nominations = (await session.execute(select(
        func.count(), _count_if(ExampleNomination.status == NominationStatus.APPROVED)).where(
        ExampleNomination.unit_id.in_(scope.tree()), _within(ExampleNomination.created_at, in_period)))).one()
    values = [("members", row[0]), ("new_members", row[1]), ("active_members", row[2]),
              ("quiz_participants", quiz[0]), ("quizzes_finished", quiz[1]),
              ("contest_entrants", contest[0]), ("contest_attempts", contest[1]), ("contest_submitted", contest[2]),
              ("ideas", ideas[0]), ("ideas_accepted", ideas[1]),
              ("nominations", nominations[0]), ("nominations_approved", nominations[1])]
    values += await _survey_rows(session, members, in_period)
    return Table("engagement", [scope.h("measure"), scope.h("value")],
                 [[scope.label(key), int(value or 0)] for key, value in values])


def _within(column: Any, bounds: tuple[datetime, datetime]) -> Any:
    return and_(column >= bounds[0], column < bounds[1])


async def _survey_rows(session: AsyncSession, members: Select[Any],
                       bounds: tuple[datetime, datetime]) -> list[tuple[str, int]]:
    """Survey response rates, when the surveys feature's tables exist: members who answered at least one
    survey in the period, and their share of the members (per cent). Looked up by table name so reports work
    with or without that feature."""
    taken = Base.metadata.tables.get("survey_participations")
    if taken is None:
        return []
    respondents = int(await session.scalar(
        select(func.count(distinct(taken.c.member_id)))
        .where(taken.c.member_id.in_(members), taken.c.at >= bounds[0], taken.c.at < bounds[1])) or 0)
    total = int(await session.scalar(select(func.count()).select_from(members.subquery())) or 0)
    return [("survey_respondents", respondents),
            ("survey_response_rate_pct", round(100 * respondents / total) if total else 0)]


# ----- files -----

def sheet_title(report: Report, table: Table) -> str:
    return t(report.language, f"report.table_{table.key}")[:31]  # Excel's limit for sheet names


def write_xlsx(report: Report, target: Path | io.BytesIO) -> None:
    """One sheet per table, Vietnamese (or the report's language) headers, bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    cover = workbook.active
    cover.title = t(report.language, "report.sheet_cover")[:31]
    cover.append([report.title()])
    cover["A1"].font = Font(bold=True)
    cover.append([t(report.language, "report.col_unit_code"), report.unit_code])
    cover.append([t(report.language, "report.col_period"), report.period.label()])
    for table in report.tables:
        sheet = workbook.create_sheet(sheet_title(report, table))
        sheet.append(table.header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
        sheet.freeze_panes = "A2"
        for index, _ in enumerate(table.header):
            letter = sheet.cell(row=1, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = 18 if index else 36
    workbook.save(target)


def write_csv_zip(report: Report, target: Path | io.BytesIO) -> list[str]:
    """One CSV per table (UTF-8 with BOM so Excel shows Vietnamese), all in one zip; returns the names."""
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, table in enumerate(report.tables, start=1):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(table.header)
            writer.writerows([["" if cell is None else cell for cell in row] for row in table.rows])
            name = f"{number:02d}_{table.key}.csv"
            archive.writestr(name, "\ufeff" + buffer.getvalue())
            names.append(name)
    return names


def render_chart(report: Report) -> bytes:
    """A PNG: cases by category, and acknowledgement/resolution deadlines met and missed. CPU-bound: call it
    through asyncio.to_thread from the bot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    categories = report.table("by_category").rows
    sla_rows = report.table("sla").rows
    figure = Figure(figsize=(10, 6), dpi=100)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    names = [row[0] for row in categories] or ["—"]
    left.barh(names, [row[1] for row in categories] or [0], color="#1f6fb2")
    left.invert_yaxis()
    left.set_title(t(report.language, "report.chart_categories"))
    left.tick_params(axis="y", labelsize=8)
    labels = [row[0] for row in sla_rows]
    right.bar(labels, [row[1] for row in sla_rows], color="#2e9d57", label=t(report.language, "report.col_met"))
    right.bar(labels, [row[2] for row in sla_rows], bottom=[row[1] for row in sla_rows], color="#d0453b",
              label=t(report.language, "report.col_missed"))
    right.set_title(t(report.language, "report.chart_sla"))
    right.legend(fontsize=8)
    figure.suptitle(report.title(), fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def summary_lines(report: Report) -> list[str]:
    """A few headline figures for the chat message that comes with the files."""
    status = report.table("by_status")
    total = sum(row[1] for row in status.rows)
    sla = report.table("sla")
    times = report.table("times")
    return [t(report.language, "report.summary", total=total,
              ack_median=_shown(times.rows[0][2]), resolve_median=_shown(times.rows[1][2]),
              ack_sla=_shown(sla.rows[0][4]), resolve_sla=_shown(sla.rows[1][4]))]


def _shown(value: Any) -> str:
    return "—" if value is None else str(value)
