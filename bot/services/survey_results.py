"""Survey results: answers counted per question and per province, sector and grassroots unit, with response
rates (respondents ÷ members of that group registered in the bot); a chart (PNG, matplotlib's Agg canvas,
no pyplot state, so it can render in a worker thread), an XLSX workbook and the summary sent to participants.

Scope: admins see everything; a unit officer sees the responses and members of their units' subtrees.
Anonymous surveys: a group's answer counts are shown only from MIN_GROUP respondents up, and free text is
listed without any group, so a small unit's answers cannot be told apart.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.services.provinces import get_province
from bot.services.sectors import get_sector
from bot.services.surveys import Question, localised, questions_of
from db.models import Member, MemberStatus, Survey, SurveyResponse, Unit, Workplace

MIN_GROUP = 3
GROUP_KINDS = ("province", "sector", "unit")
CHART_GROUPS = 12  # bars per response-rate panel
CHART_QUESTIONS = 10
LABEL_LIMIT = 42


@dataclass
class QuestionResult:
    question: Question
    answered: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)

    @property
    def average(self) -> float | None:
        total = sum(self.counts.values())
        if self.question.kind != "scale" or not total:
            return None
        return sum(int(option) * count for option, count in self.counts.items()) / total


@dataclass
class Group:
    kind: str  # province | sector | unit
    key: Any
    name: str
    respondents: int
    members: int
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # question id → option → count
    hidden: bool = False  # anonymous survey, fewer than MIN_GROUP respondents: counts not shown

    @property
    def rate(self) -> float:
        return self.respondents / self.members if self.members else 0.0


@dataclass
class Named:
    member_id: int
    name: str
    answers: dict[str, Any]
    province: str
    sector: str
    unit: str


@dataclass
class Results:
    survey: Survey
    language: str
    respondents: int
    questions: list[QuestionResult]
    groups: list[Group]
    named: list[Named] = field(default_factory=list)  # named surveys only
    suppressed: bool = False  # an officer's view of an anonymous survey with too few respondents: rates only

    def groups_of(self, kind: str) -> list[Group]:
        return [group for group in self.groups if group.kind == kind]


async def compute(session: AsyncSession, survey: Survey, language: str, unit_ids: set[int] | None = None) -> Results:
    """The results of a survey; unit_ids limits them to those grassroots units (an officer's subtree)."""
    query = select(SurveyResponse).where(SurveyResponse.survey_id == survey.id).order_by(SurveyResponse.id)
    if unit_ids is not None:
        query = query.where(SurveyResponse.unit_id.in_(unit_ids))
    responses = list(await session.scalars(query))
    questions = questions_of(survey)
    by_question = {q.id: QuestionResult(q) for q in questions}
    for response in responses:
        for qid, value in response.answers.items():
            result = by_question.get(qid)
            if result is None or value is None:
                continue
            result.answered += 1
            if result.question.kind == "text":
                result.texts.append(str(value))
            else:
                result.counts.update(value if isinstance(value, list) else [str(value)])
    groups = await _groups(session, survey, responses, questions, language, unit_ids)
    named = [] if survey.anonymous else await _named(session, responses, language)
    # A grassroots officer whose unit had one or two respondents would otherwise read their answers.
    suppressed = survey.anonymous and unit_ids is not None and 0 < len(responses) < MIN_GROUP
    if suppressed:
        by_question = {q.id: QuestionResult(q) for q in questions}
    return Results(survey, language, len(responses), list(by_question.values()), groups, named, suppressed)


def _member_counts_query(column: Any, unit_ids: set[int] | None) -> Any:
    query = (select(column, func.count(Member.id)).select_from(Member)
             .outerjoin(Workplace, Workplace.id == Member.workplace_id)
             .where(Member.status != MemberStatus.ERASED, Member.onboarded_at.is_not(None), column.is_not(None))
             .group_by(column))
    if unit_ids is not None:
        query = query.where(Workplace.grassroots_unit_id.in_(unit_ids))
    return query


async def _groups(session: AsyncSession, survey: Survey, responses: list[SurveyResponse], questions: list[Question],
                  language: str, unit_ids: set[int] | None) -> list[Group]:
    columns = {"province": Member.province_code, "sector": Member.sector, "unit": Workplace.grassroots_unit_id}
    keys = {"province": lambda r: r.province_code, "sector": lambda r: r.sector, "unit": lambda r: r.unit_id}
    groups: list[Group] = []
    for kind in GROUP_KINDS:
        members = dict((await session.execute(_member_counts_query(columns[kind], unit_ids))).all())
        answered: dict[Any, list[SurveyResponse]] = defaultdict(list)
        for response in responses:
            key = keys[kind](response)
            if key is not None:
                answered[key].append(response)
        for key in sorted(set(members) | set(answered), key=str):
            rows = answered.get(key, [])
            group = Group(kind, key, await _group_name(session, kind, key, language), len(rows),
                          max(members.get(key, 0), len(rows)))
            group.hidden = survey.anonymous and 0 < len(rows) < MIN_GROUP
            if not group.hidden:
                for question in questions:
                    if question.kind == "text":
                        continue
                    counts: Counter[str] = Counter()
                    for response in rows:
                        value = response.answers.get(question.id)
                        if value is not None:
                            counts.update(value if isinstance(value, list) else [str(value)])
                    group.counts[question.id] = counts
            groups.append(group)
    return groups


async def _group_name(session: AsyncSession, kind: str, key: Any, language: str) -> str:
    if kind == "province":
        province = get_province(int(key))
        return province.name if province else str(key)
    if kind == "sector":
        sector = get_sector(str(key))
        return sector.name(language) if sector else str(key)
    unit = await session.get(Unit, key)
    return unit.name if unit else str(key)


async def _named(session: AsyncSession, responses: list[SurveyResponse], language: str) -> list[Named]:
    rows = []
    for response in responses:
        member = await session.get(Member, response.member_id) if response.member_id else None
        name = " ".join(p for p in (member.first_name, member.last_name) if p) if member else ""
        rows.append(Named(response.member_id or 0, name,
                          response.answers, await _group_name(session, "province", response.province_code, language)
                          if response.province_code else "",
                          await _group_name(session, "sector", response.sector, language) if response.sector else "",
                          await _group_name(session, "unit", response.unit_id, language) if response.unit_id else ""))
    return rows


# ----- what the numbers say, in words -----

def option_label(question: Question, option_id: str, language: str) -> str:
    return option_id if question.kind == "scale" else question.option_text(option_id, language)


def share(count: int, total: int) -> int:
    return round(100 * count / total) if total else 0


def summary_text(results: Results, language: str) -> str:
    """The summary participants get after closing: counts per option, never typed answers."""
    lines = [t(language, "survey.summary_head", title=_html(localised(results.survey.title, language)),
               count=results.respondents)]
    for result in results.questions:
        question = result.question
        if question.kind == "text":
            continue
        lines.append(t(language, "survey.summary_question", question=_html(localised(question.text, language)),
                       answered=result.answered))
        for option in question.option_ids():
            lines.append(t(language, "survey.summary_option", option=_html(option_label(question, option, language)),
                           percent=share(result.counts[option], result.answered)))
        if result.average is not None:
            lines.append(t(language, "survey.summary_average", average=f"{result.average:.1f}"))
    return "\n".join(lines)


def _html(text: str) -> str:
    from bot.text import escape

    return escape(text)


def _short(text: str, limit: int = LABEL_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ----- the chart -----

def render_chart(results: Results) -> bytes:
    """A PNG: response rates per province, sector and unit, then each choice question's answers. Blocking
    (a second or so for a big survey): call it through asyncio.to_thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lang = results.language
    panels: list[tuple[str, list[str], list[float], str]] = []
    for kind in GROUP_KINDS:
        groups = sorted(results.groups_of(kind), key=lambda g: (-g.respondents, -g.rate, g.name))[:CHART_GROUPS]
        if groups:
            panels.append((t(lang, f"survey.chart_rate_{kind}"), [_short(g.name) for g in groups],
                           [round(100 * g.rate, 1) for g in groups], "%"))
    for result in [r for r in results.questions if r.question.kind != "text"][:CHART_QUESTIONS]:
        question = result.question
        labels = [_short(option_label(question, o, lang)) for o in question.option_ids()]
        panels.append((_short(localised(question.text, lang), 80), labels,
                       [float(result.counts[o]) for o in question.option_ids()], ""))
    figure = Figure(figsize=(9, 1.2 + sum(0.75 + 0.32 * len(labels) for _, labels, _, _ in panels)), dpi=100,
                    layout="constrained")  # leaves room for the title above the panels
    FigureCanvasAgg(figure)
    figure.suptitle(t(lang, "survey.chart_title", title=_short(localised(results.survey.title, lang), 70),
                      count=results.respondents), fontsize=12)
    heights = [0.6 + 0.32 * len(labels) for _, labels, _, _ in panels] or [1]
    axes = figure.subplots(len(heights), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    for ax, (title, labels, values, unit) in zip(axes, panels, strict=False):
        positions = list(range(len(labels)))
        ax.barh(positions, values, color="#c62828" if unit else "#1565c0")
        ax.set_yticks(positions, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9, loc="left")
        for position, value in zip(positions, values, strict=True):
            ax.annotate(f"{value:g}{unit}", (value, position), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7)
        ax.set_xlim(0, max([*values, 1]) * 1.15 if not unit else 110)
        ax.spines[["top", "right"]].set_visible(False)
    if not panels:
        axes[0].set_axis_off()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# ----- the workbook -----

def build_xlsx(results: Results, tz: tzinfo) -> bytes:
    """The workbook, headers in the requester's language (Vietnamese by default)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    lang = results.language
    survey = results.survey
    book = Workbook()
    overview = book.active
    overview.title = t(lang, "survey.xlsx_sheet_overview")
    for key, value in (("survey.xlsx_title", localised(survey.title, lang)),
                       ("survey.xlsx_anonymous", t(lang, "survey.yes" if survey.anonymous else "survey.no")),
                       ("survey.xlsx_opens", survey.opens_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")),
                       ("survey.xlsx_closes", survey.closes_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")),
                       ("survey.xlsx_respondents", results.respondents)):
        overview.append([t(lang, key), value])

    rates = book.create_sheet(t(lang, "survey.xlsx_sheet_rates"))
    rates.append([t(lang, key) for key in ("survey.xlsx_group", "survey.xlsx_name", "survey.xlsx_respondents",
                                           "survey.xlsx_members", "survey.xlsx_rate")])
    for group in results.groups:
        rates.append([t(lang, f"survey.group_{group.kind}"), group.name, group.respondents, group.members,
                      round(100 * group.rate, 1)])

    answers = book.create_sheet(t(lang, "survey.xlsx_sheet_answers"))
    answers.append([t(lang, key) for key in ("survey.xlsx_question", "survey.xlsx_option", "survey.xlsx_count",
                                             "survey.xlsx_share")])
    if results.suppressed:
        answers.append([t(lang, "survey.xlsx_hidden", minimum=MIN_GROUP), None, None, None])
    for result in results.questions:
        question_text = localised(result.question.text, lang)
        if result.question.kind == "text":
            answers.append([question_text, t(lang, "survey.xlsx_typed"), len(result.texts), None])
            continue
        for option in result.question.option_ids():
            answers.append([question_text, option_label(result.question, option, lang), result.counts[option],
                            share(result.counts[option], result.answered)])
        if result.average is not None:
            answers.append([question_text, t(lang, "survey.xlsx_average"), round(result.average, 2), None])

    by_group = book.create_sheet(t(lang, "survey.xlsx_sheet_groups"))
    by_group.append([t(lang, key) for key in ("survey.xlsx_group", "survey.xlsx_name", "survey.xlsx_question",
                                              "survey.xlsx_option", "survey.xlsx_count")])
    choice_questions = [r.question for r in results.questions if r.question.kind != "text"]
    for group in results.groups:
        if group.respondents == 0:
            continue
        if group.hidden:
            by_group.append([t(lang, f"survey.group_{group.kind}"), group.name,
                             t(lang, "survey.xlsx_hidden", minimum=MIN_GROUP), None, None])
            continue
        for question in choice_questions:
            for option in question.option_ids():
                by_group.append([t(lang, f"survey.group_{group.kind}"), group.name,
                                 localised(question.text, lang), option_label(question, option, lang),
                                 group.counts[question.id][option]])

    typed = book.create_sheet(t(lang, "survey.xlsx_sheet_typed"))
    typed.append([t(lang, "survey.xlsx_question"), t(lang, "survey.xlsx_answer")])
    for result in results.questions:
        for text in result.texts:
            typed.append([localised(result.question.text, lang), text])

    if not survey.anonymous:
        detail = book.create_sheet(t(lang, "survey.xlsx_sheet_detail"))
        questions = [r.question for r in results.questions]
        detail.append([t(lang, key) for key in ("survey.xlsx_member", "survey.xlsx_member_name",
                                                "survey.group_province", "survey.group_sector", "survey.group_unit")]
                      + [q.id for q in questions])
        for row in results.named:
            detail.append([row.member_id, row.name, row.province, row.sector, row.unit]
                          + [_answer_text(q, row.answers.get(q.id), lang) for q in questions])

    for sheet in book.worksheets:
        sheet.freeze_panes = "A2" if sheet is not overview else None
        for cells in sheet.iter_rows():
            for cell in cells:
                if cell.data_type == "f":  # typed text starting with "=" stays text, never a formula
                    cell.data_type = "s"
        for index, column in enumerate(sheet.iter_cols(), start=1):
            width = max((len(str(c.value)) for c in column if c.value is not None), default=8)
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _answer_text(question: Question, value: Any, language: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(option_label(question, v, language) for v in value)
    return str(value) if question.kind in ("text", "scale") else option_label(question, str(value), language)
