"""Surveys (khảo sát): files, the window they are open in, and answering one question at a time.

A file content/surveys/<slug>.yaml (times are Asia/Ho_Chi_Minh local; every text in vi and en):

    slug: doi-song-viec-lam-cuoi-2026          # 1–48 of a-z 0-9 -
    title: {vi: "…", en: "…"}
    intro: {vi: "…", en: "…"}
    anonymous: true                             # true: responses are stored without the member
    opens: 2026-12-01 08:00
    closes: 2026-12-20 20:00
    questions:
      - id: wages                               # 1–16 of a-z 0-9 _ ; unique in the survey
        type: single                            # single | multiple | scale | text
        text: {vi: "…", en: "…"}
        options:                                # single and multiple: 2–10 options
          - {id: on_time, vi: "…", en: "…"}
          - {id: late, vi: "…", en: "…"}
        next: {on_time: overtime, late: end}    # optional skip logic (single, scale): a later question or end
      - id: satisfaction
        type: scale                             # buttons 1…5; options are "1" … "5" for `next`
        text: {vi: "…", en: "…"}
        low: {vi: "Rất không hài lòng", en: "…"}    # optional labels of 1 and 5
        high: {vi: "Rất hài lòng", en: "…"}
      - id: comment
        type: text                              # typed answer of up to max_length (≤ 1000) characters
        text: {vi: "…", en: "…"}
        optional: true                          # any question may be optional: a Skip button

Without a `next` entry for the chosen option, the following question comes; after the last one, the
response is stored. Every press is checked here against the member's stored progress (the question it
answers must be the one awaiting an answer), so stale and forged buttons change nothing.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot import CONTENT_DIR
from bot.i18n import DEFAULT_LANGUAGE
from bot.services.quizzes import record_points
from bot.text import nfc
from db.models import (
    Member,
    Survey,
    SurveyParticipation,
    SurveyProgress,
    SurveyResponse,
    Workplace,
)

SURVEY_DIR = CONTENT_DIR / "surveys"
SURVEY_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SLUG = re.compile(r"[a-z0-9-]{1,48}")
ID = re.compile(r"[a-z0-9_]{1,16}")
KINDS = ("single", "multiple", "scale", "text")
SCALE = tuple(str(n) for n in range(1, 6))
END = "end"
TITLE_LIMIT, INTRO_LIMIT, QUESTION_LIMIT, OPTION_LIMIT = 120, 1000, 500, 100
QUESTIONS_MAX, OPTIONS_MIN, OPTIONS_MAX = 30, 2, 10
TEXT_LIMIT = 1000
SURVEY_POINTS = 2  # reason "survey", ref "survey:<id>" (as contests use "contest_attempt" / "attempt:<id>")
LANGS = ("vi", "en")
TOP_KEYS = {"slug", "title", "intro", "anonymous", "opens", "closes", "questions"}
QUESTION_KEYS = {"id", "type", "text", "options", "next", "optional", "max_length", "low", "high"}


# ----- the format -----

@dataclass(frozen=True)
class Option:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: dict[str, str]
    options: tuple[Option, ...] = ()
    next: dict[str, str] = field(default_factory=dict)
    optional: bool = False
    max_length: int = TEXT_LIMIT
    low: dict[str, str] = field(default_factory=dict)
    high: dict[str, str] = field(default_factory=dict)

    def option_ids(self) -> tuple[str, ...]:
        return SCALE if self.kind == "scale" else tuple(option.id for option in self.options)

    def option_text(self, option_id: str, language: str) -> str:
        for option in self.options:
            if option.id == option_id:
                return localised(option.text, language)
        return option_id

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.kind, "text": self.text,
                "options": [{"id": o.id, "text": o.text} for o in self.options], "next": self.next,
                "optional": self.optional, "max_length": self.max_length, "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        return cls(data["id"], data["type"], data["text"],
                   tuple(Option(o["id"], o["text"]) for o in data.get("options") or ()), data.get("next") or {},
                   bool(data.get("optional")), int(data.get("max_length") or TEXT_LIMIT), data.get("low") or {},
                   data.get("high") or {})


@dataclass(frozen=True)
class SurveySpec:
    slug: str
    title: dict[str, str]
    intro: dict[str, str]
    anonymous: bool
    opens_at: datetime
    closes_at: datetime
    questions: tuple[Question, ...]


def localised(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()), "")


def questions_of(survey: Survey) -> list[Question]:
    return [Question.from_json(item) for item in survey.questions]


# YAML with line numbers: each mapping remembers its own line and the line of each key.
class _LineDict(dict):  # type: ignore[type-arg]
    line = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {loader.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
# Times stay text until _local_time reads them, so a bad date is a problem with a line, not a crash.
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: Any, key: Any, message: str) -> None:
        line = 1
        if isinstance(where, _LineDict):
            line = where.key_lines.get(key, where.line) if key is not None else where.line
        self.items.append(f"{self.path}:{line}: {message}")


def load_file(path: Path) -> tuple[SurveySpec | None, list[str]]:
    """The survey in a file, or None with every problem as "file:line: message"."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1: cannot be read ({exc})"]
    return load_text(text, path)


def load_text(text: str, path: Path) -> tuple[SurveySpec | None, list[str]]:
    """The same for text that came another way (a file an admin sent in the chat); `path` names it."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [f"{path}:{mark.line + 1 if mark else 1}: not valid YAML ({getattr(exc, 'problem', exc)})"]
    return parse(data, path)


def parse(data: Any, path: Path) -> tuple[SurveySpec | None, list[str]]:
    problems = _Problems(path)
    if not isinstance(data, _LineDict):
        problems.add(None, None, "must be a mapping with slug, title, intro, anonymous, opens, closes, questions")
        return None, problems.items
    for key in data:
        if key not in TOP_KEYS:
            problems.add(data, key, f"unknown field {key!r}")
    slug = str(data.get("slug") or "")
    if not SLUG.fullmatch(slug):
        problems.add(data, "slug", "slug must be 1–48 of a-z 0-9 -")
    title = _texts(data, "title", TITLE_LIMIT, problems)
    intro = _texts(data, "intro", INTRO_LIMIT, problems)
    anonymous = data.get("anonymous")
    if not isinstance(anonymous, bool):
        problems.add(data, "anonymous", "anonymous must be true or false")
    opens, closes = _local_time(data, "opens", problems), _local_time(data, "closes", problems)
    if opens and closes and closes <= opens:
        problems.add(data, "closes", "closes must be after opens")
    questions = _questions(data, problems)
    if problems.items:
        return None, problems.items
    return SurveySpec(slug, title, intro, bool(anonymous), opens, closes, tuple(questions)), []  # type: ignore[arg-type]


def _texts(parent: _LineDict, key: str, limit: int, problems: _Problems, label: str | None = None) -> dict[str, str]:
    raw = parent.get(key)
    label = label or key
    if not isinstance(raw, dict):
        problems.add(parent, key, f"{label} needs vi and en texts")
        return {}
    texts = {}
    for language in LANGS:
        value = raw.get(language)
        if not isinstance(value, str) or not value.strip():
            problems.add(raw, language if language in raw else None, f"{label}.{language} is missing")
        elif len(value.strip()) > limit:
            problems.add(raw, language, f"{label}.{language} is longer than {limit} characters")
        else:
            texts[language] = nfc(value)
    return texts


def _local_time(parent: _LineDict, key: str, problems: _Problems) -> datetime | None:
    raw = parent.get(key)
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime(raw.year, raw.month, raw.day)
    else:
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            problems.add(parent, key, f"{key} must be a local time like 2026-12-01 08:00")
            return None
    return moment.replace(tzinfo=SURVEY_TZ) if moment.tzinfo is None else moment


def _questions(data: _LineDict, problems: _Problems) -> list[Question]:
    raw = data.get("questions")
    if not isinstance(raw, list) or not raw:
        problems.add(data, "questions", "questions needs at least one question")
        return []
    if len(raw) > QUESTIONS_MAX:
        problems.add(data, "questions", f"at most {QUESTIONS_MAX} questions")
    parsed: list[tuple[_LineDict, Question]] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, _LineDict):
            problems.add(data, "questions", "each question must be a mapping with id, type and text")
            continue
        question = _question(item, problems)
        if question is None:
            continue
        if question.id in seen:
            problems.add(item, "id", f"question id {question.id!r} is used twice")
        seen.add(question.id)
        parsed.append((item, question))
    # Every well-formed id counts as a jump target, so a question with another problem is reported once.
    order = [str(item.get("id")) for item in raw if isinstance(item, _LineDict) and ID.fullmatch(str(item.get("id")))]
    for item, question in parsed:
        later = set(order[len(order) - order[::-1].index(question.id):])
        for option_id, target in question.next.items():
            if option_id not in question.option_ids():
                problems.add(item, "next", f"{question.id}: next names an unknown option {option_id!r}")
            if target != END and target not in later:
                problems.add(item, "next", f"{question.id}: next goes to {target!r}, which is not a later "
                                           "question (or end)")
    return [question for _, question in parsed]


def _question(item: _LineDict, problems: _Problems) -> Question | None:
    for key in item:
        if key not in QUESTION_KEYS:
            problems.add(item, key, f"unknown field {key!r}")
    qid, kind = str(item.get("id") or ""), item.get("type")
    if not ID.fullmatch(qid):
        problems.add(item, "id", "question id must be 1–16 of a-z 0-9 _")
        return None
    if kind not in KINDS:
        problems.add(item, "type", f"{qid}: type must be one of {', '.join(KINDS)}")
        return None
    text = _texts(item, "text", QUESTION_LIMIT, problems, f"{qid}.text")
    options = _options(item, qid, kind, problems)
    nxt = item.get("next") or {}
    if not isinstance(nxt, dict) or (nxt and kind not in ("single", "scale")):
        problems.add(item, "next", f"{qid}: next is a mapping option → question, for single and scale questions")
        nxt = {}
    optional = item.get("optional", False)
    if not isinstance(optional, bool):
        problems.add(item, "optional", f"{qid}: optional must be true or false")
    max_length = item.get("max_length", TEXT_LIMIT)
    if kind == "text" and (not isinstance(max_length, int) or isinstance(max_length, bool)
                           or not 1 <= max_length <= TEXT_LIMIT):
        problems.add(item, "max_length", f"{qid}: max_length must be a whole number from 1 to {TEXT_LIMIT}")
        max_length = TEXT_LIMIT
    labels = {key: _texts(item, key, OPTION_LIMIT, problems, f"{qid}.{key}") if key in item else {}
              for key in ("low", "high")}
    if kind != "scale" and (labels["low"] or labels["high"]):
        problems.add(item, "low", f"{qid}: low and high are for scale questions")
    return Question(qid, kind, text, options, {str(k): str(v) for k, v in nxt.items()}, bool(optional),
                    max_length if kind == "text" else TEXT_LIMIT, labels["low"], labels["high"])


def _options(item: _LineDict, qid: str, kind: str, problems: _Problems) -> tuple[Option, ...]:
    raw = item.get("options")
    if kind not in ("single", "multiple"):
        if raw is not None:
            problems.add(item, "options", f"{qid}: only single and multiple questions have options")
        return ()
    if not isinstance(raw, list) or not OPTIONS_MIN <= len(raw) <= OPTIONS_MAX:
        problems.add(item, "options", f"{qid}: needs {OPTIONS_MIN}–{OPTIONS_MAX} options")
        return ()
    options, seen = [], set()
    for entry in raw:
        if not isinstance(entry, _LineDict) or not ID.fullmatch(str(entry.get("id") or "")):
            problems.add(entry if isinstance(entry, _LineDict) else item, "id",
                         f"{qid}: each option needs an id of 1–16 of a-z 0-9 _")
            continue
        oid = str(entry["id"])
        if oid in seen:
            problems.add(entry, "id", f"{qid}: option id {oid!r} is used twice")
        seen.add(oid)
        texts = {}
        for language in LANGS:
            value = entry.get(language)
            if not isinstance(value, str) or not value.strip():
                problems.add(entry, language if language in entry else None, f"{qid}.{oid}.{language} is missing")
            elif len(value) > OPTION_LIMIT:
                problems.add(entry, language, f"{qid}.{oid}.{language} is longer than {OPTION_LIMIT} characters")
            else:
                texts[language] = nfc(value)
        options.append(Option(oid, texts))
    return tuple(options)


def check_files(directory: Path = SURVEY_DIR) -> list[str]:
    """Every survey file checked (for `congdoan content check`), slugs unique across files."""
    problems: list[str] = []
    slugs: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")) if directory.exists() else []:
        spec, found = load_file(path)
        problems += found
        if spec is not None:
            if spec.slug in slugs:
                problems.append(f"{path}:1: slug {spec.slug!r} is also used by {slugs[spec.slug]}")
            slugs[spec.slug] = path
    return problems


# ----- surveys in the database -----

class SurveyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # closed | answered


async def save_survey(session: AsyncSession, spec: SurveySpec, loaded_by: str) -> tuple[Survey, bool]:
    """Create or update the survey with this slug; returns (survey, created). Once anyone has answered, the
    questions and anonymity can no longer change, and a closed survey cannot be reopened this way."""
    questions = [question.to_json() for question in spec.questions]
    survey = await session.scalar(select(Survey).where(Survey.slug == spec.slug))
    created = survey is None
    if survey is None:
        survey = Survey(slug=spec.slug, loaded_by=loaded_by)
        session.add(survey)
    else:
        if survey.closed_at is not None:
            raise SurveyError("closed", "the survey is closed already")
        answered = await session.scalar(select(SurveyParticipation.id).where(
            SurveyParticipation.survey_id == survey.id).limit(1))
        if answered and (survey.questions != questions or survey.anonymous != spec.anonymous):
            raise SurveyError("answered", "people have already answered: the questions and anonymity cannot change")
    survey.title, survey.intro, survey.anonymous, survey.questions = spec.title, spec.intro, spec.anonymous, questions
    survey.opens_at, survey.closes_at = spec.opens_at, spec.closes_at
    await session.commit()
    return survey, created


def is_open(survey: Survey, now: datetime) -> bool:
    return survey.closed_at is None and survey.opens_at <= now < survey.closes_at


def state_of(survey: Survey, now: datetime) -> str:
    if survey.closed_at is not None or survey.closes_at <= now:
        return "closed"
    return "open" if survey.opens_at <= now else "scheduled"


async def all_surveys(session: AsyncSession) -> list[Survey]:
    return list(await session.scalars(select(Survey).order_by(Survey.opens_at.desc(), Survey.id.desc())))


async def unclosed(session: AsyncSession) -> list[Survey]:
    return list(await session.scalars(select(Survey).where(Survey.closed_at.is_(None))))


async def respondents(session: AsyncSession, survey_id: int) -> int:
    return await session.scalar(select(func.count(SurveyParticipation.id)).where(
        SurveyParticipation.survey_id == survey_id))


def may_take_part(member: Member) -> bool:
    return member.has_consent and member.onboarded_at is not None


@dataclass(frozen=True)
class Listed:
    survey: Survey
    started: bool


async def open_for(session: AsyncSession, member: Member, now: datetime) -> list[Listed]:
    """Open surveys the member has not answered yet, and whether they started one."""
    done = select(SurveyParticipation.survey_id).where(SurveyParticipation.member_id == member.id)
    surveys = await session.scalars(select(Survey).where(
        Survey.closed_at.is_(None), Survey.opens_at <= now, Survey.closes_at > now, Survey.id.not_in(done))
        .order_by(Survey.closes_at, Survey.id))
    started = set(await session.scalars(select(SurveyProgress.survey_id).where(SurveyProgress.member_id == member.id)))
    return [Listed(survey, survey.id in started) for survey in surveys]


# ----- answering -----

class Outcome(enum.StrEnum):
    QUESTION = "question"  # show `question` (the one awaiting an answer)
    DONE = "done"  # the response was just stored
    ALREADY = "already"  # this member answered this survey before
    NOT_OPEN = "not_open"  # unknown, not yet open, or closed
    STALE = "stale"  # the press is not for the question awaiting an answer, or names no such option
    TOO_LONG = "too_long"
    EMPTY = "empty"


@dataclass
class Step:
    outcome: Outcome
    survey: Survey | None = None
    question: Question | None = None
    number: int = 0  # 1-based position of the question in the survey
    total: int = 0
    selected: tuple[str, ...] = ()
    resumed: bool = False


async def _progress(session: AsyncSession, survey_id: int, member_id: int) -> SurveyProgress | None:
    return await session.scalar(select(SurveyProgress).where(
        SurveyProgress.survey_id == survey_id, SurveyProgress.member_id == member_id))


async def has_answered(session: AsyncSession, survey_id: int, member_id: int) -> bool:
    return await session.scalar(select(SurveyParticipation.id).where(
        SurveyParticipation.survey_id == survey_id, SurveyParticipation.member_id == member_id)) is not None


def _step(survey: Survey, progress: SurveyProgress, resumed: bool = False) -> Step:
    questions = questions_of(survey)
    ids = [q.id for q in questions]
    position = ids.index(progress.current)
    return Step(Outcome.QUESTION, survey, questions[position], position + 1, len(questions),
                tuple(progress.selected or ()), resumed)


async def start(session: AsyncSession, survey_id: int, member: Member, now: datetime) -> Step:
    """Start the survey, or show the question a member stopped at (after a restart too)."""
    survey = await session.get(Survey, survey_id)
    if survey is None or not is_open(survey, now):
        return Step(Outcome.NOT_OPEN, survey)
    if await has_answered(session, survey_id, member.id):
        return Step(Outcome.ALREADY, survey)
    progress = await _progress(session, survey_id, member.id)
    if progress is not None:
        return _step(survey, progress, resumed=True)
    progress = SurveyProgress(survey_id=survey_id, member_id=member.id, current=questions_of(survey)[0].id,
                              answers={}, selected=[], started_at=now)
    session.add(progress)
    try:
        await session.commit()
    except IntegrityError:  # a second press at the same moment started it already
        await session.rollback()
        progress = await _progress(session, survey_id, member.id)
        if progress is None:
            return Step(Outcome.ALREADY, survey)
    return _step(survey, progress)


async def _current(session: AsyncSession, survey_id: int, member: Member, question_id: str,
                   now: datetime) -> tuple[Step | None, Survey | None, SurveyProgress | None, Question | None]:
    """The survey, progress and question a press is about, or the Step to answer when it is not valid."""
    survey = await session.get(Survey, survey_id)
    if survey is None:
        return Step(Outcome.STALE), None, None, None
    if await has_answered(session, survey_id, member.id):
        return Step(Outcome.ALREADY, survey), None, None, None
    if not is_open(survey, now):
        return Step(Outcome.NOT_OPEN, survey), None, None, None
    progress = await _progress(session, survey_id, member.id)
    if progress is None or progress.current != question_id:
        return Step(Outcome.STALE, survey), None, None, None
    question = next(q for q in questions_of(survey) if q.id == question_id)
    return None, survey, progress, question


async def choose(session: AsyncSession, survey_id: int, member: Member, question_id: str, option_id: str,
                 now: datetime) -> Step:
    """A single-choice or scale answer."""
    refused, survey, progress, question = await _current(session, survey_id, member, question_id, now)
    if refused is not None:
        return refused
    if question.kind not in ("single", "scale") or option_id not in question.option_ids():
        return Step(Outcome.STALE, survey)
    return await _advance(session, survey, progress, member, question, option_id, question.next.get(option_id), now)


async def toggle(session: AsyncSession, survey_id: int, member: Member, question_id: str, option_id: str,
                 now: datetime) -> Step:
    """Tick or untick an option of a multiple-choice question (stored, so a restart keeps the ticks)."""
    refused, survey, progress, question = await _current(session, survey_id, member, question_id, now)
    if refused is not None:
        return refused
    if question.kind != "multiple" or option_id not in question.option_ids():
        return Step(Outcome.STALE, survey)
    selected = list(progress.selected or [])
    selected = [o for o in selected if o != option_id] if option_id in selected else [*selected, option_id]
    progress.selected = [o for o in question.option_ids() if o in selected]  # a new list: JSON change tracked
    await session.commit()
    return _step(survey, progress)


async def done(session: AsyncSession, survey_id: int, member: Member, question_id: str, now: datetime) -> Step:
    """The Done button of a multiple-choice question: nothing ticked counts only for an optional question."""
    refused, survey, progress, question = await _current(session, survey_id, member, question_id, now)
    if refused is not None:
        return refused
    if question.kind != "multiple":
        return Step(Outcome.STALE, survey)
    selected = list(progress.selected or [])
    if not selected and not question.optional:
        return Step(Outcome.EMPTY, survey, question)
    return await _advance(session, survey, progress, member, question, selected or None, None, now)


async def skip(session: AsyncSession, survey_id: int, member: Member, question_id: str, now: datetime) -> Step:
    refused, survey, progress, question = await _current(session, survey_id, member, question_id, now)
    if refused is not None:
        return refused
    if not question.optional:
        return Step(Outcome.STALE, survey)
    return await _advance(session, survey, progress, member, question, None, None, now)


async def write(session: AsyncSession, survey_id: int, member: Member, question_id: str, typed: str,
                now: datetime) -> Step:
    """A typed answer to a free-text question."""
    refused, survey, progress, question = await _current(session, survey_id, member, question_id, now)
    if refused is not None:
        return refused
    if question.kind != "text":
        return Step(Outcome.STALE, survey)
    text = nfc(typed)
    if not text:
        return Step(Outcome.EMPTY, survey, question)
    if len(text) > question.max_length:
        return Step(Outcome.TOO_LONG, survey, question)
    return await _advance(session, survey, progress, member, question, text, None, now)


def next_question(questions: list[Question], question: Question, target: str | None) -> str | None:
    """Skip logic: the target of the chosen option (or end), else the following question, else the end."""
    if target == END:
        return None
    if target is not None:
        return target
    ids = [q.id for q in questions]
    position = ids.index(question.id)
    return ids[position + 1] if position + 1 < len(ids) else None


async def _advance(session: AsyncSession, survey: Survey, progress: SurveyProgress, member: Member,
                   question: Question, value: Any, target: str | None, now: datetime) -> Step:
    answers = {**progress.answers, question.id: value}
    following = next_question(questions_of(survey), question, target)
    if following is not None:
        progress.answers, progress.selected, progress.current = answers, [], following
        await session.commit()
        return _step(survey, progress)
    return await _submit(session, survey, progress, member, answers, now)


async def _submit(session: AsyncSession, survey: Survey, progress: SurveyProgress, member: Member,
                  answers: dict[str, Any], now: datetime) -> Step:
    """Store the response, the participation row and the points in one transaction, and drop the progress.

    One response per member: a participation row (survey, member) with a unique key, rather than a salted hash
    on the response. The row says only *that* someone answered, which the union needs anyway to send the
    summary to participants and to count points; the response itself carries no member, no time and a random
    id, so nothing in the database joins the two. A salted hash would tie each response to a member for
    anyone holding the salt, and could not tell us whom to send the summary to."""
    anonymous = survey.anonymous
    workplace = await session.get(Workplace, member.workplace_id) if member.workplace_id else None
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        session.add(SurveyParticipation(survey_id=survey.id, member_id=member.id, at=day if anonymous else now))
        session.add(SurveyResponse(
            id=secrets.token_hex(16), survey_id=survey.id, member_id=None if anonymous else member.id,
            province_code=member.province_code or (workplace.province_code if workplace else None),
            sector=member.sector, unit_id=workplace.grassroots_unit_id if workplace else None,
            language=member.language, answers=answers, submitted_at=None if anonymous else now))
        await record_points(session, member.id, "survey", SURVEY_POINTS, f"survey:{survey.id}",
                            day if anonymous else now)
        await session.execute(delete(SurveyProgress).where(SurveyProgress.id == progress.id))
        await session.commit()
    except (IntegrityError, StaleDataError):  # the same progress finished at the same moment elsewhere
        await session.rollback()
        return Step(Outcome.ALREADY, survey)
    return Step(Outcome.DONE, survey)


# ----- opening and closing -----

async def open_now(session: AsyncSession, survey_id: int, now: datetime) -> Survey | None:
    """An admin opens a scheduled survey now; None when it is open, closed, or its end has passed."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.closed_at is not None or survey.opens_at <= now or survey.closes_at <= now:
        return None
    survey.opens_at = now
    await session.commit()
    return survey


async def close(session: AsyncSession, survey_id: int, now: datetime) -> Survey | None:
    """Close the survey (at its time, or earlier by an admin); None if already closed. Unfinished progress is
    dropped: those answers were never submitted."""
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.closed_at is not None:
        return None
    survey.closes_at = min(survey.closes_at, now)
    survey.closed_at = now
    await session.execute(delete(SurveyProgress).where(SurveyProgress.survey_id == survey_id))
    await session.commit()
    return survey


async def due_to_close(session: AsyncSession, now: datetime) -> list[int]:
    return list(await session.scalars(select(Survey.id).where(Survey.closed_at.is_(None), Survey.closes_at <= now)))


async def summaries_unsent(session: AsyncSession) -> list[int]:
    return list(await session.scalars(
        select(SurveyParticipation.survey_id).join(Survey, Survey.id == SurveyParticipation.survey_id)
        .where(Survey.closed_at.is_not(None), SurveyParticipation.summary_sent_at.is_(None)).distinct()))


async def participants_to_tell(session: AsyncSession, survey_id: int) -> list[tuple[SurveyParticipation, Member]]:
    rows = await session.execute(
        select(SurveyParticipation, Member).join(Member, Member.id == SurveyParticipation.member_id)
        .where(SurveyParticipation.survey_id == survey_id, SurveyParticipation.summary_sent_at.is_(None))
        .order_by(SurveyParticipation.id))
    return [(p, m) for p, m in rows]


async def mark_told(session: AsyncSession, participation_id: int, now: datetime) -> None:
    participation = await session.get(SurveyParticipation, participation_id)
    if participation is not None:
        participation.summary_sent_at = now
        await session.commit()

