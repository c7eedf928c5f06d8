"""`congdoan content check`: every content file and catalog validated, problems listed with their file."""

from __future__ import annotations

import re
import string
from pathlib import Path

import yaml

from bot import CONTENT_DIR
from bot.i18n import LANGUAGES, all_keys, catalog_path, duplicate_keys, load_catalog


def check_all() -> list[str]:
    return [*check_catalogs(), *check_sectors(), *check_demo_units(), *check_categories(), *check_routing(),
            *check_sla(), *check_canned_replies(), *check_quizzes(), *check_surveys(),
            *check_library()]



def check_library(content_dir: Path = CONTENT_DIR) -> list[str]:
    """Topics, articles and the FAQ (bot.services.library): each problem as "file:line: message"."""
    from bot.services.library import check_content

    return [str(problem) for problem in check_content(content_dir)]

def check_surveys() -> list[str]:
    from bot.services.surveys import check_files

    return check_files()


def check_quizzes() -> list[str]:
    from bot.services.quizzes import check_files

    return check_files()


def check_canned_replies() -> list[str]:
    from bot.services import canned

    _, problems = canned.load()
    return [f"{canned.PATH}: {problem}" for problem in problems]


LAW_TOPICS = {"labour_code", "social_insurance", "health_insurance", "employment", "osh", "union_institutions",
              "other"}


def check_categories() -> list[str]:
    path = CONTENT_DIR / "categories.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        problems = []
        codes = [item["code"] for item in data["categories"]]
        if len(set(codes)) != len(codes):
            problems.append(f"{path}: duplicate category code")
        for item in data["categories"]:
            if item["law"] not in LAW_TOPICS:
                problems.append(f"{path}: {item['code']}: unknown law topic {item['law']!r}")
            for language in ("vi", "en"):
                text = item.get(language) or {}
                for field in ("name", "hint"):
                    if not text.get(field):
                        problems.append(f"{path}: {item['code']}: {language}.{field} is missing")
                if not isinstance(text.get("helps", []), list):
                    problems.append(f"{path}: {item['code']}: {language}.helps must be a list")
        for kind in ("urgent_keywords", "emergency_keywords"):
            if not all(entry.get("text") for entry in data.get(kind) or []):
                problems.append(f"{path}: {kind}: every entry needs a text")
        return problems
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        return [f"{path}: cannot be read: {exc!r}"]


def check_routing() -> list[str]:
    from bot.services.categories import category_codes
    from bot.services.routing import RoutingError, parse_rules

    path = CONTENT_DIR / "routing.yaml"
    try:
        parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")), category_codes())
    except RoutingError as exc:
        return [f"{path}: {line}" for line in str(exc).splitlines()]
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        return [f"{path}: cannot be read: {exc!r}"]
    return []


def check_sla() -> list[str]:
    path = CONTENT_DIR / "sla.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = []
    if not isinstance(data.get("collective_threshold"), int) or data["collective_threshold"] < 2:
        problems.append(f"{path}: collective_threshold must be a whole number of at least 2")
    for urgency in ("urgent", "normal"):
        values = (data.get("defaults") or {}).get(urgency) or {}
        if not any(key in values for key in ("acknowledge_hours", "acknowledge_days")):
            problems.append(f"{path}: defaults.{urgency} needs acknowledge_hours or acknowledge_days")
        if not isinstance(values.get("resolve_days"), int) or values["resolve_days"] < 1:
            problems.append(f"{path}: defaults.{urgency}.resolve_days must be a positive whole number")
    from bot.services.sla import parse_config

    try:
        parse_config(data)
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"{path}: {exc}")
    return problems


def check_catalogs() -> list[str]:
    problems: list[str] = []
    keys = {language: all_keys(language) for language in LANGUAGES}
    reference = keys["vi"]
    for language in LANGUAGES:
        for key, duplicate_in in duplicate_keys(language):
            problems.append(f"{duplicate_in}: {key}: already defined in another catalog file")
        path = catalog_path(language).parent
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
