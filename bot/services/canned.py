"""Ready answers officers can pick instead of typing (content/canned_replies.yaml), per category, case status
and action. The worker receives the text in their own language; officers see the label."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot import CONTENT_DIR

PATH = CONTENT_DIR / "canned_replies.yaml"
ACTIONS = ("reply", "ask", "resolve")
STATUSES = ("open", "acknowledged", "waiting_worker")
LANGUAGES = ("vi", "en")
LABEL_LIMIT = 40
TEXT_LIMIT = 3000
SHOWN = 6  # at most this many buttons under a prompt
_ID = re.compile(r"[a-z0-9_]{1,24}")


@dataclass(frozen=True)
class Canned:
    id: str
    actions: tuple[str, ...]
    categories: tuple[str, ...]  # empty: every category
    statuses: tuple[str, ...]  # empty: every open status
    texts: dict[str, dict[str, str]]  # language → {label, text}

    def label(self, language: str) -> str:
        return (self.texts.get(language) or self.texts["vi"])["label"]

    def text(self, language: str) -> str:
        return (self.texts.get(language) or self.texts["vi"])["text"]

    def fits(self, category: str, status: str, action: str) -> bool:
        return action in self.actions and (not self.categories or category in self.categories) \
            and (not self.statuses or status in self.statuses)


def parse(data: Any, category_codes: set[str]) -> tuple[list[Canned], list[str]]:
    """The ready answers and a list of problems (empty when the file is good)."""
    problems: list[str] = []
    replies: list[Canned] = []
    items = data.get("replies") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [], ["needs a list under `replies`"]
    seen: set[str] = set()
    for number, item in enumerate(items, 1):
        where = f"reply {number} ({item.get('id') if isinstance(item, dict) else '?'})"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        before = len(problems)
        ident = str(item.get("id") or "")
        if not _ID.fullmatch(ident):
            problems.append(f"{where}: id must be 1-24 of a-z 0-9 _")
        elif ident in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(ident)
        actions = _list(item, "actions", problems, where)
        if not actions or set(actions) - set(ACTIONS):
            problems.append(f"{where}: actions must be some of {', '.join(ACTIONS)}")
        categories = _list(item, "categories", problems, where)
        for unknown in sorted(set(categories) - category_codes):
            problems.append(f"{where}: unknown category {unknown!r}")
        statuses = _list(item, "statuses", problems, where)
        if set(statuses) - set(STATUSES):
            problems.append(f"{where}: statuses must be some of {', '.join(STATUSES)}")
        texts = {}
        for language in LANGUAGES:
            entry = item.get(language)
            if not isinstance(entry, dict) or not entry.get("label") or not entry.get("text"):
                problems.append(f"{where}: {language} needs a label and a text")
                continue
            if len(str(entry["label"])) > LABEL_LIMIT:
                problems.append(f"{where}: {language}.label longer than {LABEL_LIMIT} characters")
            if len(str(entry["text"])) > TEXT_LIMIT:
                problems.append(f"{where}: {language}.text longer than {TEXT_LIMIT} characters")
            texts[language] = {"label": str(entry["label"]), "text": str(entry["text"])}
        if len(problems) == before:
            replies.append(Canned(ident, tuple(actions), tuple(categories), tuple(statuses), texts))
    return replies, problems


def _list(item: dict[str, Any], key: str, problems: list[str], where: str) -> list[str]:
    value = item.get(key) or []
    if not isinstance(value, list):
        problems.append(f"{where}: {key} must be a list")
        return []
    return [str(entry) for entry in value]


def load(path: Path = PATH) -> tuple[list[Canned], list[str]]:
    from bot.services.categories import category_codes

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [], [f"cannot be read: {exc!r}"]
    return parse(data, set(category_codes()))


@cache
def _replies() -> tuple[Canned, ...]:
    replies, problems = load()
    if problems:
        raise ValueError(f"{PATH}: " + "; ".join(problems))
    return tuple(replies)


def canned_for(category: str, status: str, action: str) -> list[Canned]:
    """The category's own answers first, then the general ones; at most SHOWN."""
    fitting = [reply for reply in _replies() if reply.fits(category, status, action)]
    fitting.sort(key=lambda reply: not reply.categories)
    return fitting[:SHOWN]


def get(ident: str) -> Canned | None:
    return next((reply for reply in _replies() if reply.id == ident), None)
