"""Quiz and contest files (content/quizzes/<slug>.yaml, content/contests/<slug>.yaml): loading and validation.

The format is the contract in notes/content-format.md. Loaders take a directory, so tests can use their own
fixtures; every problem is reported with its file, and an invalid file is never loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import CONTENT_DIR
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from db.models import Point

QUIZ_DIR = CONTENT_DIR / "quizzes"
CONTEST_DIR = CONTENT_DIR / "contests"
TOPICS_FILE = CONTENT_DIR / "topics.yaml"
CONTEST_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

SLUG = re.compile(r"[a-z0-9-]{1,48}")
QUESTION_LIMIT = 300
OPTION_LIMIT = 100
EXPLANATION_LIMIT = 200
TITLE_LIMIT = 120
OPTIONS_MIN, OPTIONS_MAX = 2, 10
DEFAULT_TIME_LIMIT = 20
DEFAULT_ATTEMPTS = 2
PRACTICE_POINTS = 1


@dataclass(frozen=True)
class Question:
    text: dict[str, str]
    options: tuple[dict[str, str], ...]
    correct: int
    explanation: dict[str, str]

    def in_language(self, field_name: str, language: str) -> str:
        return localised(getattr(self, field_name), language)

    def option(self, index: int, language: str) -> str:
        return localised(self.options[index], language)

    def to_json(self, quiz: str) -> dict[str, Any]:
        return {"quiz": quiz, "question": self.text, "options": list(self.options), "correct": self.correct,
                "explanation": self.explanation}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        return cls(data["question"], tuple(data["options"]), data["correct"], data["explanation"])


@dataclass(frozen=True)
class Quiz:
    slug: str
    topic: str
    title: dict[str, str]
    questions: tuple[Question, ...]

    def title_in(self, language: str) -> str:
        return localised(self.title, language)


@dataclass(frozen=True)
class RoundSpec:
    number: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class ContestSpec:
    slug: str
    title: dict[str, str]
    quizzes: tuple[str, ...]
    rounds: tuple[RoundSpec, ...]
    questions_per_attempt: int
    time_limit_minutes: int
    attempts: int
    tiebreak: dict[str, str]


@dataclass
class Loaded:
    quizzes: dict[str, Quiz] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def localised(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()), "")


def topic_codes(path: Path = TOPICS_FILE) -> set[str] | None:
    """The known topic codes, or None when there is no topics file yet (then any topic is accepted)."""
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return {str(item["code"]) for item in data.get("topics") or []}
    except (KeyError, TypeError, yaml.YAMLError):
        return set()


class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")


def _texts(value: Any, where: str, limit: int, problems: _Problems, minimum: int = 1) -> dict[str, str]:
    """A {vi: …, en: …} text: Vietnamese required, other languages optional, each within the limit."""
    if isinstance(value, str):
        value = {DEFAULT_LANGUAGE: value}
    if not isinstance(value, dict) or not isinstance(value.get(DEFAULT_LANGUAGE), str):
        problems.add(where, f"needs a {DEFAULT_LANGUAGE} text")
        return {}
    texts: dict[str, str] = {}
    for language, text in value.items():
        if language not in LANGUAGES:
            problems.add(where, f"unknown language {language!r}")
            continue
        text = str(text).strip()
        if not minimum <= len(text) <= limit:
            problems.add(where, f"{language} text must be {minimum}–{limit} characters (it has {len(text)})")
        texts[language] = text
    return texts


def parse_question(raw: Any, where: str, problems: _Problems) -> Question | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with question, options, correct, explanation")
        return None
    before = len(problems.items)
    text = _texts(raw.get("question"), f"{where}.question", QUESTION_LIMIT, problems)
    options_raw = raw.get("options")
    options: list[dict[str, str]] = []
    if not isinstance(options_raw, list) or not OPTIONS_MIN <= len(options_raw) <= OPTIONS_MAX:
        problems.add(f"{where}.options", f"needs {OPTIONS_MIN}–{OPTIONS_MAX} options")
    else:
        options = [_texts(option, f"{where}.options[{index}]", OPTION_LIMIT, problems)
                   for index, option in enumerate(options_raw)]
    correct = raw.get("correct")
    if not isinstance(correct, int) or isinstance(correct, bool) or not 0 <= correct < max(len(options), 1):
        problems.add(f"{where}.correct", f"must be one option index from 0 to {max(len(options) - 1, 0)}")
    explanation = _texts(raw.get("explanation"), f"{where}.explanation", EXPLANATION_LIMIT, problems)
    if len(problems.items) > before:
        return None
    return Question(text, tuple(options), correct, explanation)  # type: ignore[arg-type]


def parse_quiz(data: Any, path: Path, topics: set[str] | None) -> tuple[Quiz | None, list[str]]:
    problems = _Problems(path)
    if not isinstance(data, dict):
        problems.add("", "must be a mapping with slug, topic, title, questions")
        return None, problems.items
    slug = str(data.get("slug") or "")
    if not SLUG.fullmatch(slug):
        problems.add("slug", "must be 1–48 of a-z 0-9 -")
    elif slug != path.stem:
        problems.add("slug", f"{slug!r} differs from the file name {path.stem!r}")
    topic = str(data.get("topic") or "")
    if not topic:
        problems.add("topic", "is missing")
    elif topics is not None and topic not in topics:
        problems.add("topic", f"unknown topic {topic!r} (not in topics.yaml)")
    title = _texts(data.get("title"), "title", TITLE_LIMIT, problems)
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.add("questions", "needs at least one question")
        raw_questions = []
    questions = [parse_question(raw, f"questions[{index}]", problems) for index, raw in enumerate(raw_questions)]
    if problems.items:
        return None, problems.items
    return Quiz(slug, topic, title, tuple(q for q in questions if q is not None)), []


def load_quizzes(directory: Path = QUIZ_DIR, topics_file: Path = TOPICS_FILE) -> Loaded:
    """Every valid quiz in the directory, and the problems of the others (each prefixed with its file)."""
    loaded = Loaded()
    if not directory.is_dir():
        return loaded
    topics = topic_codes(topics_file)
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            loaded.problems.append(f"{path}: cannot be read: {exc}")
            continue
        quiz, problems = parse_quiz(data, path, topics)
        loaded.problems.extend(problems)
        if quiz is not None:
            loaded.quizzes[quiz.slug] = quiz
    return loaded


def _local_time(raw: Any, where: str, problems: _Problems) -> datetime | None:
    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(str(raw))
        except ValueError:
            problems.add(where, "must be a local time like 2026-12-01T08:00")
            return None
    return moment.replace(tzinfo=CONTEST_TZ) if moment.tzinfo is None else moment


def _positive(data: dict[str, Any], key: str, default: int | None, limit: int, problems: _Problems) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        problems.add(key, f"must be a whole number from 1 to {limit}")
        return 1
    return value


def parse_contest(data: Any, path: Path, quizzes: dict[str, Quiz]) -> tuple[ContestSpec | None, list[str]]:
    problems = _Problems(path)
    if not isinstance(data, dict):
        problems.add("", "must be a mapping with slug, title, quizzes, rounds")
        return None, problems.items
    slug = str(data.get("slug") or "")
    if not SLUG.fullmatch(slug):
        problems.add("slug", "must be 1–48 of a-z 0-9 -")
    title = _texts(data.get("title"), "title", TITLE_LIMIT, problems)
    pool = data.get("quizzes")
    if not isinstance(pool, list) or not pool:
        problems.add("quizzes", "needs at least one quiz slug")
        pool = []
    for quiz in pool:
        if quiz not in quizzes:
            problems.add("quizzes", f"unknown or invalid quiz {quiz!r}")
    size = sum(len(quizzes[q].questions) for q in pool if q in quizzes)
    per_attempt = _positive(data, "questions_per_attempt", None, 50, problems)
    if size and per_attempt > size:
        problems.add("questions_per_attempt", f"is more than the {size} questions in the pool")
    time_limit = _positive(data, "time_limit_minutes", DEFAULT_TIME_LIMIT, 240, problems)
    attempts = _positive(data, "attempts", DEFAULT_ATTEMPTS, 5, problems)
    tiebreak = _texts(data.get("tiebreak"), "tiebreak", QUESTION_LIMIT, problems)
    rounds = _rounds(data.get("rounds"), problems)
    if problems.items:
        return None, problems.items
    return ContestSpec(slug, title, tuple(pool), tuple(rounds), per_attempt, time_limit, attempts, tiebreak), []


def _rounds(raw: Any, problems: _Problems) -> list[RoundSpec]:
    if not isinstance(raw, list) or not raw:
        problems.add("rounds", "needs at least one round")
        return []
    rounds: list[RoundSpec] = []
    for index, item in enumerate(raw):
        where = f"rounds[{index}]"
        if not isinstance(item, dict):
            problems.add(where, "must be {number, starts, ends}")
            continue
        number = item.get("number")
        starts = _local_time(item.get("starts"), f"{where}.starts", problems)
        ends = _local_time(item.get("ends"), f"{where}.ends", problems)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            problems.add(f"{where}.number", "must be a positive whole number")
            continue
        if starts and ends and ends <= starts:
            problems.add(where, "ends before it starts")
        if any(r.number == number for r in rounds):
            problems.add(where, f"round number {number} appears twice")
        if starts and ends:
            rounds.append(RoundSpec(number, starts, ends))
    return rounds


def load_contest(path: Path, quizzes: dict[str, Quiz]) -> tuple[ContestSpec | None, list[str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [f"{path}: cannot be read: {exc}"]
    return parse_contest(data, path, quizzes)


def check_files(quiz_dir: Path | None = None, contest_dir: Path | None = None,
                topics_file: Path | None = None) -> list[str]:
    """Every problem in the quiz and contest files (for `congdoan content check`)."""
    contest_dir = contest_dir or CONTEST_DIR
    loaded = load_quizzes(quiz_dir or QUIZ_DIR, topics_file or TOPICS_FILE)
    problems = list(loaded.problems)
    if contest_dir.is_dir():
        for path in sorted(contest_dir.glob("*.yaml")):
            problems.extend(load_contest(path, loaded.quizzes)[1])
    return problems


# ----- points (issue 4, emulation) -----

async def record_points(session: AsyncSession, member_id: int, reason: str, amount: int, ref: str | None,
                        at: datetime) -> bool:
    """Add a points row unless this member already got points for the same reason and ref; the caller
    commits. Returns whether a row was added."""
    if ref is not None and await session.scalar(select(Point.id).where(
            Point.member_id == member_id, Point.reason == reason, Point.ref == ref)):
        return False
    session.add(Point(member_id=member_id, reason=reason, amount=amount, ref=ref, at=at))
    return True


async def finish_practice(session: AsyncSession, member_id: int, slug: str, at: datetime) -> bool:
    """A practice quiz was finished: points once per quiz and member (repeating it is welcome, not paid)."""
    added = await record_points(session, member_id, "practice_quiz", PRACTICE_POINTS, f"quiz:{slug}", at)
    await session.commit()
    return added
