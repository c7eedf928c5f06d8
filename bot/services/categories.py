"""Grievance categories and the words that make a case urgent or an emergency (content/categories.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import yaml

from bot import CONTENT_DIR
from bot.text import fold, nfc


@dataclass(frozen=True)
class Category:
    code: str
    law: str
    urgent: bool
    texts: dict[str, dict[str, object]]  # language → {name, hint, helps}

    def name(self, language: str) -> str:
        return str(self._text(language)["name"])

    def hint(self, language: str) -> str:
        return str(self._text(language)["hint"])

    def helps(self, language: str) -> list[str]:
        return list(self._text(language).get("helps") or [])  # type: ignore[call-overload]

    def _text(self, language: str) -> dict[str, object]:
        return self.texts.get(language) or self.texts["vi"]


@dataclass(frozen=True)
class Keyword:
    text: str
    accented_only: bool = False

    def found_in(self, text: str, folded: str) -> bool:
        if self.accented_only:
            return _contains_words(nfc(text).lower(), nfc(self.text).lower())
        return _contains_words(folded, fold(self.text))


def _contains_words(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


@cache
def _content() -> dict[str, object]:
    return yaml.safe_load((CONTENT_DIR / "categories.yaml").read_text(encoding="utf-8"))


@cache
def all_categories() -> tuple[Category, ...]:
    return tuple(Category(item["code"], item["law"], bool(item.get("urgent")), {"vi": item["vi"], "en": item["en"]})
                 for item in _content()["categories"])  # type: ignore[index, union-attr]


def category_codes() -> set[str]:
    return {category.code for category in all_categories()}


def get_category(code: str) -> Category | None:
    return next((category for category in all_categories() if category.code == code), None)


@cache
def _keywords(kind: str) -> tuple[Keyword, ...]:
    return tuple(Keyword(item["text"], bool(item.get("accented_only"))) for item in _content()[kind])  # type: ignore[index, union-attr]


def is_emergency(text: str) -> bool:
    """A life may be at risk: show the emergency numbers before anything else."""
    folded = fold(text)
    return any(keyword.found_in(text, folded) for keyword in _keywords("emergency_keywords"))


def proposes_urgent(category: Category, text: str) -> bool:
    """Propose "urgent" for the worker to confirm: by category, emergency words or urgent words."""
    folded = fold(text)
    return category.urgent or is_emergency(text) or any(
        keyword.found_in(text, folded) for keyword in _keywords("urgent_keywords"))
