"""Union service levels (content/sla.yaml): acknowledgement and resolution deadlines.

Working days skip Saturdays, Sundays and the holidays listed in sla.yaml, counted in the union's time
zone (Asia/Ho_Chi_Minh); a deadline keeps the local time of day it started at. These are the union's own
service levels, never legal time limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot import CONTENT_DIR
from bot.services.routing import LEVELS

LEVEL_NAMES = {number: name for name, number in LEVELS.items()}


@dataclass(frozen=True)
class Deadlines:
    acknowledge_by: datetime
    resolve_by: datetime


@dataclass(frozen=True)
class SlaConfig:
    collective_threshold: int
    defaults: dict[str, dict[str, int]]
    levels: dict[str, dict[str, dict[str, int]]]
    holidays: frozenset[date]

    def terms(self, urgent: bool, level: int) -> dict[str, int]:
        urgency = "urgent" if urgent else "normal"
        override = (self.levels.get(LEVEL_NAMES.get(level, "")) or {}).get(urgency) or {}
        return {**self.defaults[urgency], **override}


def parse_config(data: dict[str, Any]) -> SlaConfig:
    holidays = frozenset(value if isinstance(value, date) else date.fromisoformat(str(value))
                         for value in data.get("holidays") or [])
    return SlaConfig(int(data["collective_threshold"]), data["defaults"], data.get("levels") or {}, holidays)


@cache
def default_config() -> SlaConfig:
    return parse_config(yaml.safe_load((CONTENT_DIR / "sla.yaml").read_text(encoding="utf-8")))


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, tz: ZoneInfo, holidays: frozenset[date] = frozenset()) -> datetime:
    """`days` working days after `start`, at the same local time; a start on a day off counts from the
    next working day's start of business (08:00)."""
    local = start.astimezone(tz)
    if not is_working_day(local.date(), holidays):
        local = local.replace(hour=8, minute=0, second=0, microsecond=0)
        while not is_working_day(local.date(), holidays):
            local += timedelta(days=1)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if is_working_day(local.date(), holidays):
            remaining -= 1
    return local


def deadlines(start: datetime, urgent: bool, level: int, tz: ZoneInfo, config: SlaConfig | None = None) -> Deadlines:
    config = config or default_config()
    terms = config.terms(urgent, level)
    if "acknowledge_hours" in terms:
        acknowledge = start.astimezone(tz) + timedelta(hours=terms["acknowledge_hours"])
    else:
        acknowledge = add_working_days(start, terms["acknowledge_days"], tz, config.holidays)
    resolve = add_working_days(start, terms["resolve_days"], tz, config.holidays)
    return Deadlines(acknowledge, resolve)
