"""The content library: topics (content/topics.yaml) and articles (content/articles/<slug>.<lang>.md).

Articles are Markdown with YAML front matter (see docs in content/README or the issue-4 format notes), in a
small subset: paragraphs, "## " headings, "- " list items, **bold** and [links](https://…). They are rendered
once, at load, to Telegram HTML and split into parts that fit one message each, with the source and review
date appended. `load_content` validates topics, articles and the FAQ together and builds the search index;
the bot loads it once at start (`ensure_loaded`) and refuses to start when anything is wrong.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot import CONTENT_DIR
from bot.i18n import LANGUAGES, t
from bot.text import nfc, vietnamese_sort_key

if TYPE_CHECKING:
    from bot.services.faq import FaqEntry
    from bot.services.search import SearchIndex

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
# Room kept in every part for the "title (2/3)" line the later parts start with.
PART_HEADER_ROOM = 200
PART_LIMIT = MESSAGE_LIMIT - PART_HEADER_ROOM
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 48
TOPIC_CODE = re.compile(r"^[a-z0-9_]+$")
TOPIC_CODE_MAX = 32  # it travels in callback data (64 bytes)
SUMMARY_MAX = 200
TITLE_MAX = 150
REQUIRED = ("slug", "topic", "title", "language", "summary", "tags", "source", "reviewed")
OPTIONAL = ("related", "quiz")


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class ContentError(Exception):
    """Invalid content: every problem found, each with its file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))

    def one_line(self) -> str:
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem(s); run `congdoan content check`)" if more else ""
        return f"invalid content: {self.problems[0]}{suffix}"


@dataclass(frozen=True)
class Topic:
    code: str
    names: dict[str, str]
    descriptions: dict[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["vi"]

    def description(self, language: str) -> str:
        return self.descriptions.get(language) or self.descriptions["vi"]


@dataclass(frozen=True)
class Article:
    slug: str
    language: str
    topic: str
    title: str
    summary: str
    tags: tuple[str, ...]
    source: str
    reviewed: date
    body: str  # the Markdown as written
    related: tuple[str, ...] = ()
    quiz: str | None = None
    path: Path | None = None
    parts: tuple[str, ...] = field(default=(), compare=False)  # Telegram HTML, each ≤ one message


@dataclass(frozen=True)
class Library:
    topics: tuple[Topic, ...]
    articles: dict[tuple[str, str], Article]  # (slug, language) → article

    def topic(self, code: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.code == code), None)

    def slugs(self) -> set[str]:
        return {slug for slug, _ in self.articles}

    def get_article(self, slug: str, language: str) -> Article | None:
        """The article in `language`, else its Vietnamese version, else any version."""
        for candidate in (language, "vi", *LANGUAGES):
            article = self.articles.get((slug, candidate))
            if article is not None:
                return article
        return None

    def articles_in(self, topic_code: str, language: str) -> list[Article]:
        """One version per article of the topic (the reader's language where it exists), by title."""
        slugs = sorted({slug for (slug, _), article in self.articles.items() if article.topic == topic_code})
        chosen = [article for slug in slugs if (article := self.get_article(slug, language)) is not None]
        return sorted(chosen, key=lambda article: vietnamese_sort_key(article.title))

    def versions(self) -> list[Article]:
        return list(self.articles.values())


@dataclass(frozen=True)
class Content:
    library: Library
    faq: tuple[FaqEntry, ...]
    index: SearchIndex


# ----- loading and caching -----

_current: Content | None = None


def load_content(content_dir: Path = CONTENT_DIR) -> Content:
    """Topics, articles and FAQ from `content_dir`, validated together, with their search index."""
    from bot.services import faq as faq_module
    from bot.services.search import SearchIndex

    library, problems = read_library(content_dir)
    entries, faq_problems = faq_module.read_faq(content_dir / "faq.yaml", {topic.code for topic in library.topics},
                                                library.slugs())
    problems += faq_problems
    if problems:
        raise ContentError(problems)
    return Content(library, tuple(entries), SearchIndex(library.versions(), entries))


def check_content(content_dir: Path = CONTENT_DIR) -> list[Problem]:
    try:
        load_content(content_dir)
    except ContentError as error:
        return error.problems
    return []


def install(content: Content | None) -> None:
    """Make `content` what the bot serves (None: load content/ again on next use)."""
    global _current
    _current = content


def ensure_loaded(content_dir: Path = CONTENT_DIR) -> Content:
    """Load once; later calls return the cached content. Raises ContentError when it is invalid."""
    if _current is None:
        install(load_content(content_dir))
    assert _current is not None
    return _current


def current() -> Content:
    """What the bot serves. `congdoan run` has loaded and checked it before starting (ensure_loaded); a bot
    started another way (tests) loads it here, and serves an empty library if it is invalid, after logging
    why, rather than failing every update: `congdoan content check` and the tests report the problems."""
    if _current is None:
        install(load_or_empty(CONTENT_DIR))
    assert _current is not None
    return _current


def load_or_empty(content_dir: Path) -> Content:
    try:
        return load_content(content_dir)
    except ContentError as error:
        log.error("content not loaded: %s", error.one_line())
        return empty_content()


def empty_content() -> Content:
    from bot.services.search import SearchIndex

    return Content(Library((), {}), (), SearchIndex([], []))


def get_article(slug: str, language: str) -> Article | None:
    return current().library.get_article(slug, language)


def topics() -> tuple[Topic, ...]:
    return current().library.topics


def get_topic(code: str) -> Topic | None:
    return current().library.topic(code)


def articles_in(topic_code: str, language: str) -> list[Article]:
    return current().library.articles_in(topic_code, language)


# ----- reading and validating -----

def read_library(content_dir: Path) -> tuple[Library, list[Problem]]:
    topic_list, problems = read_topics(content_dir / "topics.yaml")
    codes = {topic.code for topic in topic_list}
    articles: dict[tuple[str, str], Article] = {}
    article_dir = content_dir / "articles"
    paths = sorted(article_dir.glob("*.md")) if article_dir.is_dir() else []
    lines_of: dict[tuple[str, str], dict[str, int]] = {}
    for path in paths:
        article, key_lines, article_problems = read_article(path, codes)
        problems += article_problems
        if article is None:
            continue
        key = (article.slug, article.language)
        if key in articles:
            problems.append(Problem(path, 1, f"duplicate article {article.slug!r} in {article.language!r} "
                                             f"(also in {articles[key].path})"))
            continue
        articles[key] = article
        lines_of[key] = key_lines
    problems += _check_links(articles, lines_of, content_dir / "quizzes")
    return Library(tuple(topic_list), articles), problems


def read_topics(path: Path) -> tuple[list[Topic], list[Problem]]:
    data, problem = _load_yaml(path)
    if problem is not None:
        return [], [problem]
    items = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return [], [Problem(path, 1, "needs a non-empty list under 'topics:'")]
    topic_list: list[Topic] = []
    problems: list[Problem] = []
    for item in items:
        line = getattr(item, "line", None)
        if not isinstance(item, dict):
            problems.append(Problem(path, line, "each topic needs code, vi and en"))
            continue
        code = item.get("code")
        if not isinstance(code, str) or not TOPIC_CODE.match(code) or len(code) > TOPIC_CODE_MAX:
            problems.append(Problem(path, line, f"bad topic code {code!r} (use a-z, 0-9 and _, at most "
                                                f"{TOPIC_CODE_MAX} characters)"))
            continue
        if any(topic.code == code for topic in topic_list):
            problems.append(Problem(path, line, f"duplicate topic code {code!r}"))
            continue
        names, descriptions = {}, {}
        for language in LANGUAGES:
            text = item.get(language)
            for name_field, target in (("name", names), ("description", descriptions)):
                value = text.get(name_field) if isinstance(text, dict) else None
                if not isinstance(value, str) or not value.strip():
                    problems.append(Problem(path, _line(item, language, line),
                                            f"topic {code!r}: {language}.{name_field} is missing"))
                else:
                    target[language] = nfc(value)
        topic_list.append(Topic(code, names, descriptions))
    return topic_list, problems


def read_article(path: Path, topic_codes: set[str]) -> tuple[Article | None, dict[str, int], list[Problem]]:
    """One article file; (None, …, problems) when it cannot be used."""
    try:
        text = nfc(path.read_text(encoding="utf-8")).replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError) as error:
        return None, {}, [Problem(path, None, f"cannot be read: {error}")]
    front, body, body_line, problem = _split_front_matter(path, text)
    if problem is not None:
        return None, {}, [problem]
    meta, problem = _load_yaml_text(path, front, first_line=2)
    if problem is not None:
        return None, {}, [problem]
    if not isinstance(meta, dict):
        return None, {}, [Problem(path, 2, "the front matter must be 'field: value' lines")]
    key_lines: dict[str, int] = dict(getattr(meta, "key_lines", {}))
    problems = _check_fields(path, meta, key_lines, topic_codes)
    problems += [Problem(path, body_line + offset, message) for offset, message in markdown_problems(body)]
    if not body.strip():
        problems.append(Problem(path, body_line, "the article has no text"))
    if problems:
        return None, key_lines, problems
    article = Article(
        slug=meta["slug"], language=meta["language"], topic=meta["topic"], title=nfc(str(meta["title"])),
        summary=nfc(str(meta["summary"])), tags=tuple(nfc(str(tag)) for tag in meta["tags"]),
        source=nfc(str(meta["source"])), reviewed=_as_date(meta["reviewed"]), body=body,  # type: ignore[arg-type]
        related=tuple(meta.get("related") or ()), quiz=meta.get("quiz"), path=path)
    parts, too_long = split_parts(article)
    if too_long:
        return None, key_lines, [Problem(path, body_line + offset, "this paragraph is too long for one Telegram "
                                                                   "message even after splitting; shorten it")
                                 for offset in too_long]
    return _with_parts(article, parts), key_lines, []


def _with_parts(article: Article, parts: tuple[str, ...]) -> Article:
    return Article(**{**article.__dict__, "parts": parts})


def _split_front_matter(path: Path, text: str) -> tuple[str, str, int, Problem | None]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return "", "", 1, Problem(path, 1, "must start with a '---' line opening the front matter")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]), index + 2, None
    return "", "", 1, Problem(path, 1, "the front matter is not closed by a '---' line")


def _check_fields(path: Path, meta: dict[str, Any], key_lines: dict[str, int],
                  topic_codes: set[str]) -> list[Problem]:
    def problem(name: str, message: str) -> Problem:
        return Problem(path, key_lines.get(name, 2), message)

    problems = [Problem(path, 1, f"missing field '{name}'") for name in REQUIRED
                if meta.get(name) in (None, "")]
    problems += [problem(name, f"unknown field '{name}'") for name in meta if name not in (*REQUIRED, *OPTIONAL)]
    slug, language = meta.get("slug"), meta.get("language")
    if slug is not None and not (isinstance(slug, str) and SLUG.match(slug) and len(slug) <= SLUG_MAX):
        problems.append(problem("slug", f"bad slug {slug!r} (a-z, 0-9 and -, at most {SLUG_MAX} characters)"))
    if language is not None and language not in LANGUAGES:
        problems.append(problem("language", f"unknown language {language!r} (use vi or en)"))
    if isinstance(slug, str) and language in LANGUAGES and path.name != f"{slug}.{language}.md":
        problems.append(problem("slug", f"the file should be named {slug}.{language}.md"))
    topic = meta.get("topic")
    if topic is not None and topic not in topic_codes:
        problems.append(problem("topic", f"unknown topic {topic!r}"))
    if meta.get("title") is not None and len(str(meta["title"])) > TITLE_MAX:
        problems.append(problem("title", f"the title is longer than {TITLE_MAX} characters"))
    if meta.get("summary") is not None and len(str(meta["summary"])) > SUMMARY_MAX:
        problems.append(problem("summary", f"the summary is longer than {SUMMARY_MAX} characters"))
    if meta.get("tags") is not None and not _is_text_list(meta["tags"]):
        problems.append(problem("tags", "tags must be a list, e.g. [overtime, wages]"))
    if meta.get("reviewed") is not None and _as_date(meta["reviewed"]) is None:
        problems.append(problem("reviewed", f"reviewed must be a date like 2026-11-25, not {meta['reviewed']!r}"))
    related = meta.get("related")
    if related is not None and not (_is_text_list(related) and all(SLUG.match(str(s)) for s in related)):
        problems.append(problem("related", "related must be a list of article slugs"))
    quiz = meta.get("quiz")
    if quiz is not None and not (isinstance(quiz, str) and SLUG.match(quiz) and len(quiz) <= 50):
        problems.append(problem("quiz", f"bad quiz slug {quiz!r}"))
    return problems


def _check_links(articles: dict[tuple[str, str], Article], lines_of: dict[tuple[str, str], dict[str, int]],
                 quiz_dir: Path) -> list[Problem]:
    slugs = {slug for slug, _ in articles}
    problems = []
    for key, article in articles.items():
        assert article.path is not None
        lines = lines_of[key]
        for target in article.related:
            if target == article.slug:
                problems.append(Problem(article.path, lines.get("related"), "an article cannot be related to itself"))
            elif target not in slugs:
                problems.append(Problem(article.path, lines.get("related"), f"related article {target!r} does not exist"))
        if article.quiz and not (quiz_dir / f"{article.quiz}.yaml").is_file():
            problems.append(Problem(article.path, lines.get("quiz"),
                                    f"quiz {article.quiz!r} does not exist (no {quiz_dir / article.quiz}.yaml)"))
    return problems


def _is_text_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str | int | float) for item in value)


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


# ----- YAML with line numbers -----

class _LineDict(dict):  # type: ignore[type-arg]
    line: int | None = None
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """Safe YAML whose mappings remember their line and each key's line, for error messages."""

    first_line = 1


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    offset = loader.first_line - 1
    mapping.line = node.start_mark.line + 1 + offset
    mapping.key_lines = {str(key.value): key.start_mark.line + 1 + offset for key, _ in node.value
                         if isinstance(key, yaml.ScalarNode)}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(path: Path) -> tuple[Any, Problem | None]:
    if not path.is_file():
        return None, Problem(path, None, "file is missing")
    try:
        text = nfc(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return None, Problem(path, None, f"cannot be read: {error}")
    return _load_yaml_text(path, text)


def _load_yaml_text(path: Path, text: str, first_line: int = 1) -> tuple[Any, Problem | None]:
    loader = _LineLoader(text)
    loader.first_line = first_line
    try:
        return loader.get_single_data(), None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + first_line if mark is not None else first_line
        return None, Problem(path, line, f"not valid YAML: {getattr(error, 'problem', None) or error}")
    finally:
        loader.dispose()


def _line(item: object, key: str, default: int | None) -> int | None:
    return getattr(item, "key_lines", {}).get(key, default)


def line_of(item: object, key: str | None = None) -> int | None:
    """The line of a mapping loaded by `load_yaml_with_lines` (or of one of its keys)."""
    if key is not None:
        return _line(item, key, getattr(item, "line", None))
    return getattr(item, "line", None)


def load_yaml_with_lines(path: Path) -> tuple[Any, Problem | None]:
    return _load_yaml(path)


# ----- the Markdown subset -----

_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass(frozen=True)
class Block:
    kind: str  # paragraph | heading | list
    lines: tuple[str, ...]  # list: one entry per item
    line: int  # offset of its first line in the body (0-based)


def parse_blocks(body: str) -> list[Block]:
    blocks: list[Block] = []
    current: list[str] = []
    kind, start = "", 0

    def flush() -> None:
        nonlocal current, kind
        if current:
            blocks.append(Block(kind, tuple(current), start))
        current, kind = [], ""

    for number, raw in enumerate(body.split("\n")):
        line = raw.rstrip()
        if not line.strip():
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(Block("heading", (line[3:].strip(),), number))
        elif line.lstrip().startswith("- "):
            if kind != "list":
                flush()
                kind, start = "list", number
            current.append(line.lstrip()[2:].strip())
        elif kind == "list" and raw.startswith((" ", "\t")) and current:
            current[-1] += " " + line.strip()  # a wrapped list item
        else:
            if kind != "paragraph":
                flush()
                kind, start = "paragraph", number
            current.append(line.strip())
    flush()
    return blocks


def markdown_problems(body: str) -> list[tuple[int, str]]:
    """(line offset in the body, message) for everything outside the supported subset."""
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(body.split("\n")):
        stripped = line.strip()
        if stripped.startswith("#") and not line.startswith("## "):
            problems.append((number, "only '## ' headings are supported"))
        if stripped.startswith("|") or re.match(r"^\|?\s*:?-{3,}:?\s*\|", stripped):
            problems.append((number, "tables are not supported"))
        if "![" in line:
            problems.append((number, "images are not supported"))
        if _HTML_TAG.search(line):
            problems.append((number, "HTML is not supported; use **bold** and [links](https://…)"))
        for _, url in _LINK.findall(line):
            if not url.startswith("https://"):
                problems.append((number, f"links must start with https:// ({url})"))
        if line.count("**") % 2:
            problems.append((number, "unbalanced ** (bold must open and close on the same line)"))
    return problems


def render_inline(text: str) -> str:
    """Escaped text with **bold** and [links](https://…) as Telegram HTML."""
    pieces: list[str] = []
    position = 0
    for match in _LINK.finditer(text):
        pieces.append(_render_bold(text[position:match.start()]))
        label, url = match.groups()
        pieces.append(f'<a href="{html.escape(url, quote=True)}">{_render_bold(label)}</a>')
        position = match.end()
    pieces.append(_render_bold(text[position:]))
    return "".join(pieces)


def _render_bold(text: str) -> str:
    return _BOLD.sub(lambda match: f"<b>{match.group(1)}</b>", html.escape(text, quote=False))


def render_block(block: Block) -> str:
    if block.kind == "heading":
        return f"<b>{render_inline(block.lines[0])}</b>"
    if block.kind == "list":
        return "\n".join(f"• {render_inline(item)}" for item in block.lines)
    return render_inline(" ".join(block.lines))


def footer(article: Article) -> str:
    return t(article.language, "learn.article_footer", source=html.escape(article.source, quote=False),
             reviewed=article.reviewed.strftime("%d/%m/%Y"))


def split_parts(article: Article, limit: int = PART_LIMIT) -> tuple[tuple[str, ...], list[int]]:
    """The article as HTML parts of at most `limit` characters, cut only between blocks (so no tag is ever
    cut in two); the title opens the first part, the source and review date close the last. Also returns
    the body line offsets of blocks that cannot fit any part."""
    chunks = [f"📄 <b>{html.escape(article.title, quote=False)}</b>"]
    offsets = [-1]
    for block in parse_blocks(article.body):
        chunks.append(render_block(block))
        offsets.append(block.line)
    chunks.append(footer(article))
    offsets.append(-1)
    too_long = [offset for chunk, offset in zip(chunks, offsets, strict=True) if utf16_length(chunk) > limit]
    if too_long:
        return (), [max(offset, 0) for offset in too_long]
    return tuple(_pack(chunks, limit)), []


def _pack(chunks: Iterable[str], limit: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for chunk in chunks:
        candidate = f"{current}\n\n{chunk}" if current else chunk
        if utf16_length(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = chunk
    if current:
        parts.append(current)
    return parts


def part_text(article: Article, index: int) -> str:
    """Part `index` as sent: parts after the first start with the title and "(n/N)"."""
    total = len(article.parts)
    if index == 0 or total == 1:
        return article.parts[index]
    header = t(article.language, "learn.part_header", title=html.escape(article.title, quote=False),
               number=index + 1, total=total)
    return f"{header}\n\n{article.parts[index]}"


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
