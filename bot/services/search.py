"""One search index over the library's articles and the FAQ: diacritic-insensitive and typo-tolerant.

Every text is folded once, at build time, with bot.text.search_key (no tone marks, đ→d, abbreviations such as
"bhxh" expanded). Documents are scored with BM25 over words and word pairs (Vietnamese words are mostly two
syllables: "tăng ca", "thất nghiệp", so pairs carry the meaning), with titles, tags, questions and keywords
weighing more than summaries, and summaries more than bodies. A query word the index does not know is
replaced by its closest known word (rapidfuzz), so "thieuu" still finds "thiểu".

There is one view per reader language: a reader sees the version of an article in their language (else the
Vietnamese one), and the English view also knows the Vietnamese title and tags, so Vietnamese words find
English articles too.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.i18n import LANGUAGES
from bot.text import nfc, search_key

ARTICLE, FAQ = "article", "faq"
KINDS = (ARTICLE, FAQ)
QUERY_MAX = 300  # characters of a typed search
TEXT_MAX = 1500  # characters of a long text (a grievance description) matched to answers
K1, B = 1.2, 0.75
PAIR_WEIGHT = 1.5
TITLE_WEIGHT, SUMMARY_WEIGHT, BODY_WEIGHT, OTHER_LANGUAGE_WEIGHT = 3.0, 2.0, 1.0, 2.0
RELATIVE_CUTOFF = 0.25  # results scoring under this share of the best one are noise
TEXT_RELATIVE_CUTOFF = 0.5
# A long text must share this many word pairs with an answer, or one with its question or keywords.
TEXT_MIN_PAIRS = 2
# Folded function words: not searched alone (they still count inside word pairs, e.g. "lương tối thiểu").
STOPWORDS = frozenset("""
a ai anh ban bi cac cai chi cho chua co cua da dang de den di do duoc gi ha hay khi khong la lam len ma minh
mot nay neu nhe nhu nhung nao o oi ra roi se sao thi toi tu va van ve vi voi xin chao cam on em
the of to in on is are for and or my me i you what how do does can be it with at by as an this that""".split())
# Folded word pairs that nearly every workplace text has: no evidence that a long text and an answer meet.
GENERIC_PAIRS = frozenset({"cong ty", "nguoi lao", "lao dong", "su dung", "dung lao", "cong doan", "doanh nghiep",
                           "cong nhan", "noi lam", "lam viec", "the company", "my company"})
_SEGMENT = re.compile(r"[.,;:!?()\[\]\"“”/\n]+")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\s]+\)")


@dataclass(frozen=True)
class SearchHit:
    kind: str  # article | faq
    key: str  # the article slug or the FAQ id
    score: float


class SearchIndex:
    def __init__(self, articles: Iterable[object], faq: Iterable[object]) -> None:
        """`articles`: every language version (bot.services.library.Article); `faq`: FaqEntry objects."""
        by_slug: dict[str, dict[str, object]] = defaultdict(dict)
        for article in articles:
            by_slug[article.slug][article.language] = article  # type: ignore[attr-defined]
        faq_entries = list(faq)
        self._views = {language: _View(_documents(by_slug, faq_entries, language)) for language in LANGUAGES}

    def search(self, text: str, language: str, limit: int = 8, kinds: tuple[str, ...] = KINDS) -> list[SearchHit]:
        """Typed words, best first. Most of the words typed (all of one or two) must be found in an item."""
        return self._view(language).search(nfc(text)[:QUERY_MAX], limit, kinds)

    def match_text(self, text: str, language: str, limit: int = 3, kinds: tuple[str, ...] = (FAQ,)) -> list[SearchHit]:
        """Items that fit a longer text in the worker's own words (shared word pairs), best first."""
        return self._view(language).match_text(nfc(text)[:TEXT_MAX], limit, kinds)

    def _view(self, language: str) -> _View:
        return self._views.get(language) or self._views["vi"]


# ----- documents -----

Field = tuple[str, float]  # (text, weight)


def _documents(by_slug: dict[str, dict[str, object]], faq: list[object],
               language: str) -> list[tuple[str, str, list[Field]]]:
    documents: list[tuple[str, str, list[Field]]] = []
    for slug, versions in sorted(by_slug.items()):
        shown = versions.get(language) or versions.get("vi") or next(iter(versions.values()))
        fields = _article_fields(shown)
        other = versions.get("vi") if shown is not versions.get("vi") else None
        if other is not None:
            fields += [(other.title, OTHER_LANGUAGE_WEIGHT)]  # type: ignore[attr-defined]
            fields += [(tag, OTHER_LANGUAGE_WEIGHT) for tag in other.tags]  # type: ignore[attr-defined]
        documents.append((ARTICLE, slug, fields))
    for entry in faq:
        fields = [(entry.question(language), TITLE_WEIGHT), (entry.answer(language), BODY_WEIGHT)]  # type: ignore[attr-defined]
        fields += [(word, TITLE_WEIGHT) for word in entry.keywords]  # type: ignore[attr-defined]
        if language != "vi" and language in entry.questions:  # type: ignore[attr-defined]
            fields.append((entry.question("vi"), OTHER_LANGUAGE_WEIGHT))  # type: ignore[attr-defined]
        documents.append((FAQ, entry.id, fields))  # type: ignore[attr-defined]
    return documents


def _article_fields(article: object) -> list[Field]:
    body = _LINK.sub(r"\1", article.body).replace("**", " ")  # type: ignore[attr-defined]
    return [(article.title, TITLE_WEIGHT), *((tag, TITLE_WEIGHT) for tag in article.tags),  # type: ignore[attr-defined]
            (article.summary, SUMMARY_WEIGHT), (body, BODY_WEIGHT)]  # type: ignore[attr-defined]


def _token_runs(text: str) -> list[list[str]]:
    """Folded words, in runs that punctuation does not cross (a pair never spans two sentences)."""
    return [words for segment in _SEGMENT.split(text) if (words := search_key(segment).split())]


def _terms(run: list[str | None]) -> tuple[list[str], list[str]]:
    """Searchable single words (not function words) and adjacent pairs (not two function words)."""
    words = [word for word in run if word and word not in STOPWORDS]
    pairs = [f"{first} {second}" for first, second in zip(run, run[1:], strict=False)
             if first and second and not (first in STOPWORDS and second in STOPWORDS)]
    return words, pairs


# ----- the index of one reader language -----

class _View:
    def __init__(self, documents: list[tuple[str, str, list[Field]]]) -> None:
        self.documents = [(kind, key) for kind, key, _ in documents]
        self.postings: dict[str, dict[str, list[tuple[int, float]]]] = {kind: defaultdict(list) for kind in KINDS}
        self.document_frequency: dict[str, int] = defaultdict(int)
        self.lengths: list[float] = []
        self.heading_pairs: list[frozenset[str]] = []  # word pairs of titles, tags, questions, keywords
        for number, (kind, _, fields) in enumerate(documents):
            frequencies: dict[str, float] = defaultdict(float)
            heading: set[str] = set()
            length = 0.0
            for text, weight in fields:
                for run in _token_runs(text):
                    words, pairs = _terms(run)  # type: ignore[arg-type]
                    length += weight * len(run)
                    for term in words:
                        frequencies[term] += weight
                    for term in pairs:
                        frequencies[term] += weight
                    if weight > BODY_WEIGHT:
                        heading.update(pairs)
            self.heading_pairs.append(frozenset(heading))
            for term, frequency in frequencies.items():
                self.postings[kind][term].append((number, frequency))
                self.document_frequency[term] += 1
            self.lengths.append(length)
        self.average_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        self.vocabulary: dict[int, list[str]] = defaultdict(list)  # single words by length, for typo fixing
        for term in self.document_frequency:
            if " " not in term:
                self.vocabulary[len(term)].append(term)

    # --- queries ---

    def search(self, text: str, limit: int, kinds: tuple[str, ...]) -> list[SearchHit]:
        run = self._corrected(search_key(text).split())
        words, pairs = _terms(run)
        typed = [word for word in search_key(text).split() if word not in STOPWORDS]
        distinct_typed = len(dict.fromkeys(typed))
        if not distinct_typed:
            return []
        needed = distinct_typed if distinct_typed <= 2 else math.ceil(0.6 * distinct_typed)
        scores, found_words, _ = self._score(list(dict.fromkeys(words)), list(dict.fromkeys(pairs)), kinds)
        ranked = [(score, number) for number, score in scores.items() if found_words[number] >= needed]
        return self._best(ranked, limit, RELATIVE_CUTOFF)

    def match_text(self, text: str, limit: int, kinds: tuple[str, ...]) -> list[SearchHit]:
        words: list[str] = []
        pairs: list[str] = []
        for raw in _token_runs(text):
            run_words, run_pairs = _terms(self._corrected(raw))
            words += run_words
            pairs += run_pairs
        distinct_pairs = [pair for pair in dict.fromkeys(pairs) if pair not in GENERIC_PAIRS]
        scores, _, found_pairs = self._score(list(dict.fromkeys(words)), distinct_pairs, kinds)
        wanted = frozenset(distinct_pairs)
        ranked = [(score, number) for number, score in scores.items()
                  if found_pairs[number] >= TEXT_MIN_PAIRS or self.heading_pairs[number] & wanted]
        return self._best(ranked, limit, TEXT_RELATIVE_CUTOFF)

    def _score(self, words: list[str], pairs: list[str],
               kinds: tuple[str, ...]) -> tuple[dict[int, float], dict[int, int], dict[int, int]]:
        scores: dict[int, float] = defaultdict(float)
        found_words: dict[int, int] = defaultdict(int)
        found_pairs: dict[int, int] = defaultdict(int)
        total = len(self.documents)
        for terms, weight, found in ((words, 1.0, found_words), (pairs, PAIR_WEIGHT, found_pairs)):
            for term in terms:
                frequency = self.document_frequency.get(term)
                if not frequency:
                    continue
                idf = math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
                for kind in kinds:
                    for number, term_frequency in self.postings[kind].get(term, ()):
                        norm = K1 * (1 - B + B * self.lengths[number] / self.average_length)
                        scores[number] += weight * idf * term_frequency * (K1 + 1) / (term_frequency + norm)
                        found[number] += 1
        return scores, found_words, found_pairs

    def _best(self, ranked: list[tuple[float, int]], limit: int, relative_cutoff: float) -> list[SearchHit]:
        if not ranked:
            return []
        ranked.sort(key=lambda item: (-item[0], item[1]))
        floor = ranked[0][0] * relative_cutoff
        return [SearchHit(*self.documents[number], round(score, 3)) for score, number in ranked[:limit]
                if score >= floor]

    def _corrected(self, words: list[str]) -> list[str | None]:
        """Each word as the index knows it: unknown words become their closest known word, or None."""
        return [word if word in STOPWORDS or word in self.document_frequency else self._closest(word)
                for word in words]

    def _closest(self, word: str) -> str | None:
        if len(word) < 3 or word.isdigit():
            return None
        candidates = [term for size in (len(word) - 1, len(word), len(word) + 1) for term in self.vocabulary.get(size, ())]
        cutoff = 80 if len(word) >= 5 else 75
        best = process.extract(word, candidates, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3)
        if not best:
            return None
        top = best[0][1]  # among equally close words, the most common one
        return max((choice for choice, score, _ in best if score == top), key=lambda term: self.document_frequency[term])


def search(text: str, language: str, limit: int = 8, kinds: tuple[str, ...] = KINDS) -> list[SearchHit]:
    """Search the content the bot serves (see bot.services.library.ensure_loaded). Text without two letters in
    a row ("5", "?!", "10") is no query: a stray number would match "5 ngày" in some article."""
    from bot.services import library

    if not is_query(text):
        return []
    return library.current().index.search(text, language, limit, kinds)


def is_query(text: str) -> bool:
    return any(a.isalpha() and b.isalpha() for a, b in zip(text, text[1:], strict=False))
