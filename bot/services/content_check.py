"""`congdoan content check`: every content file and catalog validated, problems listed with their file."""

from __future__ import annotations

import re
import string

from bot import CONTENT_DIR
from bot.i18n import LANGUAGES, all_keys, catalog_path, load_catalog


def check_all() -> list[str]:
    return [*check_catalogs(), *check_sectors(), *check_demo_units()]


def check_catalogs() -> list[str]:
    problems: list[str] = []
    keys = {language: all_keys(language) for language in LANGUAGES}
    reference = keys["vi"]
    for language in LANGUAGES:
        path = catalog_path(language)
        for missing in sorted(reference - keys[language]):
            problems.append(f"{path}: {missing}: missing translation")
        for extra in sorted(keys[language] - reference):
            problems.append(f"{path}: {extra}: not in the Vietnamese catalog")
        for key in sorted(keys[language] & reference):
            ours, theirs = _fields(load_catalog(language)[key]), _fields(load_catalog("vi")[key])
            if ours != theirs:
                problems.append(f"{path}: {key}: placeholders {sorted(ours)} differ from vi {sorted(theirs)}")
            if len(load_catalog(language)[key]) > 4096:
                problems.append(f"{path}: {key}: longer than one Telegram message")
    return problems


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def check_sectors() -> list[str]:
    from bot.services.sectors import all_sectors

    try:
        sectors = all_sectors()
    except (KeyError, TypeError, ValueError) as exc:
        return [f"{CONTENT_DIR / 'sectors.yaml'}: {exc}"]
    return [f"{CONTENT_DIR / 'sectors.yaml'}: bad sector code {s.code!r}" for s in sectors
            if not re.fullmatch(r"[a-z_]{2,32}", s.code)]


def check_demo_units() -> list[str]:
    from bot.services.units import UnitsImportError, parse_units_csv

    path = CONTENT_DIR / "demo" / "units.csv"
    try:
        parse_units_csv(path.read_text(encoding="utf-8-sig"))
    except UnitsImportError as exc:
        return [f"{path}:{problem.line}: {problem.message}" for problem in exc.problems]
    return []
