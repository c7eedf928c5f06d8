"""Legal answers (content/faq.yaml): loading, matching free text to the best answers, and whether they helped.

The entries are validated with the rest of the content (bot.services.library.load_content) and served from
the same cache; matching uses the search index (bot.services.search).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LANGUAGES, t
from bot.services import library
from bot.services.library import SLUG, SLUG_MAX, Problem
from bot.text import nfc
from db.models import ContentFeedback

ANSWER_MAX = 1000
QUESTION_MAX = 300
FIELDS = ("id", "topic", "question", "answer", "keywords", "source", "article")
CONTEXTS = ("intake", "search", "library")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True)
class FaqEntry:
    id: str
    topic: str
    questions: dict[str, str]
    answers: dict[str, str]
    source: str
    keywords: tuple[str, ...] = ()
    article: str | None = None
    line: int | None = None

    def question(self, language: str) -> str:
        return self.questions.get(language) or self.questions["vi"]

    def answer(self, language: str) -> str:
        return self.answers.get(language) or self.answers["vi"]


# ----- reading and validating -----

def read_faq(path: Path, topic_codes: set[str], article_slugs: set[str]) -> tuple[list[FaqEntry], list[Problem]]:
    """The entries of faq.yaml and every problem found. A missing file is an empty FAQ."""
    if not path.is_file():
        return [], []
    data, problem = library.load_yaml_with_lines(path)
    if problem is not None:
        return [], [problem]
    items = data.get("faq") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [], [Problem(path, 1, "needs a list under 'faq:'")]
    entries: list[FaqEntry] = []
    problems: list[Problem] = []
    seen: dict[str, int | None] = {}
    for item in items:
        entry, item_problems = _read_entry(path, item, topic_codes, article_slugs)
        problems += item_problems
        if entry is None:
            continue
        if entry.id in seen:
            problems.append(Problem(path, entry.line, f"duplicate FAQ id {entry.id!r} (first on line {seen[entry.id]})"))
            continue
        seen[entry.id] = entry.line
        entries.append(entry)
    return entries, problems


def _read_entry(path: Path, item: object, topic_codes: set[str],
                article_slugs: set[str]) -> tuple[FaqEntry | None, list[Problem]]:
    line = library.line_of(item)
    if not isinstance(item, dict):
        return None, [Problem(path, line, "each FAQ entry needs id, topic, question, answer and source")]

    def at(key: str) -> int | None:
        return library.line_of(item, key)

    problems: list[Problem] = []
    entry_id = item.get("id")
    if not (isinstance(entry_id, str) and SLUG.match(entry_id) and len(entry_id) <= SLUG_MAX):
        problems.append(Problem(path, at("id"), f"bad FAQ id {entry_id!r} (a-z, 0-9 and -, at most {SLUG_MAX})"))
    label = f"FAQ {entry_id!r}: " if isinstance(entry_id, str) else ""
    problems += [Problem(path, line, f"{label}missing field '{name}'") for name in ("topic", "source")
                 if not item.get(name)]
    problems += [Problem(path, at(name), f"{label}unknown field '{name}'") for name in item if name not in FIELDS]
    if item.get("topic") and item["topic"] not in topic_codes:
        problems.append(Problem(path, at("topic"), f"{label}unknown topic {item['topic']!r}"))
    questions = _texts(path, item, "question", QUESTION_MAX, label, problems)
    answers = _texts(path, item, "answer", ANSWER_MAX, label, problems)
    asked, answered = (set(value) if isinstance(value := item.get(name), dict) else set()
                       for name in ("question", "answer"))
    for language in sorted((asked ^ answered) & set(LANGUAGES)):
        problems.append(Problem(path, line, f"{label}question and answer must both have {language}"))
    keywords = item.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(word, str | int) for word in keywords):
        problems.append(Problem(path, at("keywords"), f"{label}keywords must be a list of words"))
        keywords = []
    article = item.get("article")
    if article is not None and article not in article_slugs:
        problems.append(Problem(path, at("article"), f"{label}article {article!r} does not exist"))
    if problems:
        return None, problems
    return FaqEntry(entry_id, item["topic"], questions, answers, nfc(str(item["source"])),  # type: ignore[arg-type]
                    tuple(nfc(str(word)) for word in keywords), article, line), []


def _texts(path: Path, item: dict, name: str, limit: int, label: str,  # type: ignore[type-arg]
           problems: list[Problem]) -> dict[str, str]:
    value = item.get(name)
    line = library.line_of(item, name)
    if not isinstance(value, dict) or not isinstance(value.get("vi"), str) or not value["vi"].strip():
        problems.append(Problem(path, line, f"{label}{name}.vi is missing"))
        return {}
    texts: dict[str, str] = {}
    for language, text in value.items():
        if language not in LANGUAGES:
            problems.append(Problem(path, line, f"{label}{name}: unknown language {language!r}"))
        elif not isinstance(text, str) or not text.strip():
            problems.append(Problem(path, line, f"{label}{name}.{language} is empty"))
        elif len(text) > limit:
            problems.append(Problem(path, line, f"{label}{name}.{language} is longer than {limit} characters"))
        elif text.count("**") % 2:
            problems.append(Problem(path, line, f"{label}{name}.{language}: unbalanced **"))
        else:
            texts[language] = nfc(text)
    return texts


# ----- serving -----

def entries() -> tuple[FaqEntry, ...]:
    return library.current().faq


def get(entry_id: str) -> FaqEntry | None:
    return next((entry for entry in entries() if entry.id == entry_id), None)


def match(text: str, language: str, limit: int = 3) -> list[FaqEntry]:
    """The answers that best fit a worker's own words (e.g. a grievance description), best first."""
    from bot.services.search import FAQ

    content = library.current()
    hits = content.index.match_text(text, language, limit=limit, kinds=(FAQ,))
    by_id = {entry.id: entry for entry in content.faq}
    return [by_id[hit.key] for hit in hits if hit.key in by_id]


def render_answer(entry: FaqEntry, language: str) -> str:
    """The question, the answer and its source as Telegram HTML (the answer may use **bold**)."""
    return t(language, "learn.faq_answer", question=html.escape(entry.question(language), quote=False),
             answer=render_text(entry.answer(language)), source=html.escape(entry.source, quote=False))


def render_text(text: str) -> str:
    return _BOLD.sub(lambda found: f"<b>{found.group(1)}</b>", html.escape(text, quote=False))


# ----- feedback: did it help? -----

async def record_shown(session: AsyncSession, member_id: int | None, items: list[tuple[str, str]],
                       context: str) -> list[int]:
    """One row per (kind, slug) shown, helped unknown yet; committed. Returns the row ids, in order."""
    rows = [ContentFeedback(member_id=member_id, item_kind=kind, item_slug=slug, context=context)
            for kind, slug in items]
    session.add_all(rows)
    await session.commit()
    return [row.id for row in rows]


async def record_helped(session: AsyncSession, row_id: int, member_id: int, helped: bool) -> ContentFeedback | None:
    """Set whether the item shown in row `row_id` helped; None when the row is not this member's."""
    row = await session.scalar(select(ContentFeedback).where(ContentFeedback.id == row_id))
    if row is None or row.member_id != member_id:
        return None
    row.helped = helped
    await session.commit()
    return row


async def shown_rows(session: AsyncSession, row_ids: list[int], member_id: int) -> list[ContentFeedback]:
    rows = (await session.scalars(select(ContentFeedback).where(ContentFeedback.id.in_(row_ids)))).all()
    by_id = {row.id: row for row in rows if row.member_id == member_id}
    return [by_id[row_id] for row_id in row_ids if row_id in by_id]
