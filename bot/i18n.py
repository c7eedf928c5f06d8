"""Translations from the gettext catalogs in locale/<lang>/LC_MESSAGES/*.po, one file per feature
(messages.po for onboarding and menus, grievances.po, officers.po, …) merged into one table per language.

Message ids are symbolic keys (e.g. "start.welcome"); Vietnamese is the default and the fallback,
English is complete too. Babel reads the .po files directly, so no compile step is needed. A key defined
in two files of one language is an error (see `congdoan content check`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from bot import LOCALE_DIR

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
DOMAIN = "messages"

log = logging.getLogger(__name__)


def catalog_path(language: str, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{domain}.po"


def catalog_files(language: str, locale_dir: Path = LOCALE_DIR) -> list[Path]:
    return sorted((locale_dir / language / "LC_MESSAGES").glob("*.po"))


def read_catalog_file(path: Path, language: str) -> dict[str, str]:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {str(message.id): str(message.string) for message in catalog if message.id and message.string}


@cache
def load_catalog(language: str) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for path in catalog_files(language):
        merged.update(read_catalog_file(path, language))
    return merged


def duplicate_keys(language: str) -> list[tuple[str, Path]]:
    """Keys defined in more than one file of a language, with the later file."""
    seen: set[str] = set()
    duplicates = []
    for path in catalog_files(language):
        for key in read_catalog_file(path, language):
            if key in seen:
                duplicates.append((key, path))
            seen.add(key)
    return duplicates


def normalise_language(code: str | None) -> str:
    """Map a Telegram language_code ("en-US", "vi") to one we have; Vietnamese otherwise."""
    if code:
        short = code.split("-")[0].lower()
        if short in LANGUAGES:
            return short
    return DEFAULT_LANGUAGE


def t(language: str | None, key: str, /, **values: object) -> str:
    """The text for `key` in `language`, formatted with `values` ({name} placeholders)."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    template = load_catalog(lang).get(key) or load_catalog(DEFAULT_LANGUAGE).get(key)
    if template is None:
        log.error("missing translation key %s", key)
        return key
    return template.format(**values) if values else template


def all_keys(language: str) -> set[str]:
    return set(load_catalog(language))
