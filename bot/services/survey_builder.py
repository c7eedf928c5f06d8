"""The in-chat survey builder's domain: a draft (a plain dict, kept in the admin's user_data and so in PTB
persistence) filled step by step, each typed piece checked as it comes, then turned into the same YAML a
survey file holds and read back with surveys.load_text, so every rule of the format lives in one place
(bot/services/surveys.py). No telegram here.

The draft:
    {"step": …, "paused": bool, "token": 6 hex (the slug's tail), "title": {"vi", "en"},
     "intro": {"vi", "en"} or {} (the standard one), "anonymous": bool,
     "questions": [{"id": "q1", "type": …, "text": {"vi", "en"}, "options": [{"id": "o1", "vi", "en"}],
                    "optional": bool, "low": {"vi", "en"} or {}, "high": likewise (scale labels of 1 and 5),
                    "next": {option id: later question id | "end"}}],
     "current": the question being entered, "rule": [question id, option id] being set,
     "opens": ISO time (UTC) or "now", "closes": ISO time (UTC) or {"days": n} (n days after opening)}
Question ids are q1, q2… in order (only the last question is ever removed, so they stay in order); option ids
o1, o2… ; a scale's options are "1"…"5" as in the format.

English skipped: the format needs both texts (surveys._texts: "needs vi and en texts"), so the Vietnamese
text is stored as the English one too; members reading English see it, as they would with the fallback.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.services import surveys
from bot.services.broadcasts import parse_local_datetime
from bot.services.surveys import (
    END,
    INTRO_LIMIT,
    OPTION_LIMIT,
    OPTIONS_MAX,
    OPTIONS_MIN,
    QUESTION_LIMIT,
    QUESTIONS_MAX,
    SURVEY_TZ,
    TITLE_LIMIT,
    SurveySpec,
)
from bot.text import fold, nfc

KINDS = surveys.KINDS  # single | multiple | scale | text
CHOICE_KINDS = ("single", "multiple")
RULE_KINDS = ("single", "scale")  # the kinds the format allows skip logic on
CLOSE_PRESETS = (7, 14, 30)  # days after opening, offered as buttons
SLUG_BASE = 40
SOURCE = Path("survey-builder.yaml")  # names the generated file in the validator's problems


def new_draft() -> dict[str, Any]:
    return {"step": "title_vi", "paused": False, "token": secrets.token_hex(3), "title": {}, "intro": {},
            "anonymous": None, "questions": [], "current": None, "rule": None, "opens": None, "closes": None}


def is_draft(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("step"), str) \
        and isinstance(value.get("questions"), list)


# ----- typed pieces: each returns a problem code (catalog key tail) or None -----

def text_problem(text: str | None, limit: int) -> str | None:
    cleaned = nfc(text or "")
    if not cleaned:
        return "empty"
    return "too_long" if len(cleaned) > limit else None


def title_problem(text: str | None) -> str | None:
    return text_problem(text, TITLE_LIMIT)


def question_problem(text: str | None) -> str | None:
    return text_problem(text, QUESTION_LIMIT)


def intro_problem(text: str | None) -> str | None:
    return text_problem(text, INTRO_LIMIT)


def parse_labels(text: str | None) -> tuple[tuple[str, str] | None, str | None]:
    """The labels of 1 and 5 of a scale: "Rất không hài lòng / Rất hài lòng" (or one a line), each
    ≤ OPTION_LIMIT as the format allows."""
    cleaned = nfc(text or "")
    lines = [line.strip() for line in cleaned.splitlines() if line.strip()]
    parts = lines if len(lines) == 2 else [part.strip() for part in cleaned.split("/")]
    if len(parts) != 2 or not all(parts):
        return None, "labels_format"
    if any(len(part) > OPTION_LIMIT for part in parts):
        return None, "label_too_long"
    return (parts[0], parts[1]), None


def parse_options(text: str | None, count: int | None = None) -> tuple[list[str], str | None]:
    """One option a line (blank lines ignored): OPTIONS_MIN–OPTIONS_MAX of them, each ≤ OPTION_LIMIT, no two
    alike; `count` when they must match the Vietnamese options one for one."""
    lines = [nfc(line) for line in (text or "").splitlines()]
    options = [line for line in lines if line]
    if count is not None and len(options) != count:
        return options, "options_count"
    if not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
        return options, "options_number"
    if any(len(option) > OPTION_LIMIT for option in options):
        return options, "option_too_long"
    if len({option.casefold() for option in options}) != len(options):
        return options, "options_twice"
    return options, None


def parse_time(text: str | None, now: datetime) -> tuple[datetime | None, str | None]:
    """A typed local time ("25/12/2026 08:00", day first) → UTC; it must not have passed."""
    local = parse_local_datetime(nfc(text or ""))
    if local is None:
        return None, "time_format"
    moment = local.replace(tzinfo=SURVEY_TZ).astimezone(UTC)
    return (None, "time_past") if moment <= now else (moment, None)


# ----- building the draft -----

def start_question(draft: dict[str, Any], kind: str) -> None:
    number = len(draft["questions"]) + 1
    draft["current"] = {"id": f"q{number}", "type": kind, "text": {}, "options": [], "next": {},
                        "optional": kind == "text", "low": {}, "high": {}}


def set_intro(draft: dict[str, Any], language: str, text: str) -> None:
    """The Vietnamese intro stands for the English one until English is typed."""
    if language == "vi":
        draft["intro"] = {"vi": text, "en": text}
    else:
        draft["intro"]["en"] = text


def set_labels(question: dict[str, Any], language: str, low: str, high: str) -> None:
    """The Vietnamese labels stand for the English ones until English is typed."""
    languages = surveys.LANGS if language == "vi" else (language,)
    for code in languages:
        question.setdefault("low", {})[code] = low
        question.setdefault("high", {})[code] = high


def set_optional(draft: dict[str, Any], optional: bool) -> bool:
    """Whether the last question may be skipped; False when there is none."""
    if not draft["questions"]:
        return False
    draft["questions"][-1]["optional"] = optional
    return True


def is_optional(question: dict[str, Any]) -> bool:
    return bool(question.get("optional", question["type"] == "text"))


def set_options(question: dict[str, Any], language: str, options: list[str]) -> None:
    if language == "vi":
        question["options"] = [{"id": f"o{i}", "vi": text, "en": text} for i, text in enumerate(options, 1)]
    else:
        for option, text in zip(question["options"], options, strict=True):
            option["en"] = text


def finish_question(draft: dict[str, Any]) -> None:
    draft["questions"].append(draft["current"])
    draft["current"] = None


def remove_last(draft: dict[str, Any]) -> dict[str, Any] | None:
    """Drop the last question (and every skip rule that went to it); returns it."""
    if not draft["questions"]:
        return None
    removed = draft["questions"].pop()
    for question in draft["questions"]:
        question["next"] = {option: target for option, target in question.get("next", {}).items()
                            if target != removed["id"]}
    return removed


def may_add(draft: dict[str, Any]) -> bool:
    return len(draft["questions"]) < QUESTIONS_MAX


def option_ids(question: dict[str, Any]) -> list[str]:
    return list(surveys.SCALE) if question["type"] == "scale" else [o["id"] for o in question["options"]]


def option_label(question: dict[str, Any], option_id: str, language: str = "vi") -> str:
    for option in question["options"]:
        if option["id"] == option_id:
            return option.get(language) or option["vi"]
    return option_id


def question_by_id(draft: dict[str, Any], question_id: str) -> dict[str, Any] | None:
    return next((q for q in draft["questions"] if q["id"] == question_id), None)


def rule_questions(draft: dict[str, Any]) -> list[dict[str, Any]]:
    """Questions that may carry skip logic: single choice or scale, with a later question to go to (going to
    the end is offered too, so the last one counts)."""
    return [q for q in draft["questions"] if q["type"] in RULE_KINDS]


def targets(draft: dict[str, Any], question_id: str) -> list[str]:
    """Where an answer to the question may lead: only forward (a later question) or the end."""
    ids = [q["id"] for q in draft["questions"]]
    return [*ids[ids.index(question_id) + 1:], END] if question_id in ids else []


def set_rule(draft: dict[str, Any], question_id: str, option_id: str, target: str | None) -> bool:
    """Set (or, with target None, remove) "this answer goes to target"; False when it is not allowed."""
    question = question_by_id(draft, question_id)
    if question is None or question["type"] not in RULE_KINDS or option_id not in option_ids(question):
        return False
    if target is None:
        question["next"].pop(option_id, None)
        return True
    if target not in targets(draft, question_id):
        return False
    question["next"][option_id] = target
    return True


def set_opens(draft: dict[str, Any], moment: datetime | None) -> None:
    """None: open at the moment it is saved."""
    draft["opens"] = moment.isoformat() if moment else "now"


def opens_at(draft: dict[str, Any], now: datetime) -> datetime:
    raw = draft.get("opens")
    return now if raw in (None, "now") else datetime.fromisoformat(raw)


def closes_at(draft: dict[str, Any], now: datetime) -> datetime | None:
    raw = draft.get("closes")
    if isinstance(raw, dict):
        return opens_at(draft, now) + timedelta(days=int(raw["days"]))
    return datetime.fromisoformat(raw) if raw else None


def close_problem(draft: dict[str, Any], moment: datetime, now: datetime) -> str | None:
    if moment <= opens_at(draft, now):
        return "closes_before_opens"
    return None


def set_closes(draft: dict[str, Any], moment: datetime) -> None:
    draft["closes"] = moment.isoformat()


def set_closes_after(draft: dict[str, Any], days: int) -> None:
    """Closing `days` after opening (counted from the moment of saving when it opens then)."""
    draft["closes"] = {"days": days}


# ----- the survey -----

def slug(draft: dict[str, Any]) -> str:
    """From the Vietnamese title (folded to a-z 0-9 -) and the draft's token, so saving twice updates the one
    survey and two drafts with the same title do not overwrite each other."""
    folded = "".join(c if c.isascii() and c.isalnum() else " " for c in fold(draft["title"].get("vi", "")))
    base = "-".join(folded.split())[:SLUG_BASE].strip("-")
    return f"{base or 'khao-sat'}-{draft['token']}"


def problems(draft: dict[str, Any], now: datetime) -> list[str]:
    """What keeps the draft from being saved, as problem codes (catalog key tails), in the steps' order."""
    found = []
    if not draft["title"].get("vi"):
        found.append("no_title")
    if not isinstance(draft.get("anonymous"), bool):
        found.append("no_privacy")
    if not draft["questions"]:
        found.append("no_questions")
    if draft.get("opens") is None:
        found.append("no_opens")
    closes = closes_at(draft, now)
    if closes is None:
        found.append("no_closes")
    elif closes <= now:
        found.append("closes_past")
    elif closes <= opens_at(draft, now):
        found.append("closes_before_opens")
    return found


def to_data(draft: dict[str, Any], intro: dict[str, str], now: datetime) -> dict[str, Any]:
    """The survey file's fields (see bot/services/surveys.py), times as local wall-clock text; `intro` is the
    standard one, used when the admin kept it."""
    def local(moment: datetime) -> str:
        return moment.astimezone(SURVEY_TZ).strftime("%Y-%m-%d %H:%M:%S")

    questions = []
    for question in draft["questions"]:
        item: dict[str, Any] = {"id": question["id"], "type": question["type"],
                                "text": dict(question["text"]), "optional": is_optional(question)}
        if question["type"] in CHOICE_KINDS:
            item["options"] = [{"id": o["id"], "vi": o["vi"], "en": o["en"]} for o in question["options"]]
        if question["type"] == "scale" and question.get("low") and question.get("high"):
            item["low"], item["high"] = dict(question["low"]), dict(question["high"])
        if question.get("next"):
            item["next"] = dict(question["next"])
        questions.append(item)
    closes = closes_at(draft, now)
    return {"slug": slug(draft), "title": dict(draft["title"]), "intro": dict(draft.get("intro") or intro),
            "anonymous": draft.get("anonymous"), "opens": local(opens_at(draft, now)),
            "closes": local(closes) if closes else None, "questions": questions}


def build(draft: dict[str, Any], intro: dict[str, str], now: datetime) -> tuple[SurveySpec | None, list[str]]:
    """The survey spec, read back through the same validator as a survey file; or the problems: codes from
    problems(), else the validator's "file:line: message" lines."""
    found = problems(draft, now)
    if found:
        return None, found
    text = yaml.safe_dump(to_data(draft, intro, now), allow_unicode=True, sort_keys=False)
    return surveys.load_text(text, SOURCE)
