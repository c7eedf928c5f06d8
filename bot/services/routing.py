"""Routing: which union unit handles a grievance first, from content/routing.yaml.

Pure domain code: it takes the facts of a case and the worker's unit path and returns a decision;
building the path from the database is the grievance service's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot import CONTENT_DIR

LEVELS = {"vgcl": 1, "provincial": 2, "upper": 3, "grassroots": 4}
SCOPES = ("individual", "group")
IDENTITIES = ("named", "confidential", "anonymous")
WHEN_KEYS = {"category", "scope", "urgent", "identity", "has_grassroots", "collective"}
PREFERENCES = ("industrial_park",)


@dataclass(frozen=True)
class CaseFacts:
    category: str
    scope: str = "individual"
    urgent: bool = False
    identity: str = "named"
    has_grassroots: bool = True
    collective: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    when: dict[str, Any]
    target: str
    notify: tuple[str, ...] = ()
    prefer: str | None = None
    why: str = ""

    def matches(self, facts: CaseFacts) -> bool:
        for key, expected in self.when.items():
            value = getattr(facts, key)
            if isinstance(expected, list):
                if value not in expected:
                    return False
            elif value != expected:
                return False
        return True


@dataclass(frozen=True)
class PathUnit:
    """One unit on the worker's path, grassroots first, VGCL last."""

    id: int
    level: int
    has_inbox: bool
    industrial_park: bool = False


@dataclass(frozen=True)
class Route:
    rule: str
    unit_id: int | None  # None: no unit on the path has an inbox; the admins take it
    notify_unit_ids: tuple[int, ...] = ()
    passed_over: tuple[int, ...] = field(default_factory=tuple)  # units skipped for having no inbox

    @property
    def to_admins(self) -> bool:
        return self.unit_id is None


class RoutingError(ValueError):
    pass


def parse_rules(data: dict[str, Any], categories: set[str]) -> list[Rule]:
    """Validate routing.yaml; raises RoutingError listing every problem."""
    problems: list[str] = []
    rules: list[Rule] = []
    for index, raw in enumerate(data.get("rules") or [], start=1):
        name = raw.get("name") or f"rule {index}"
        when = raw.get("when") or {}
        for key in set(when) - WHEN_KEYS:
            problems.append(f"{name}: unknown condition {key!r}")
        for category in when.get("category", []):
            if category not in categories:
                problems.append(f"{name}: unknown category {category!r}")
        if "scope" in when and when["scope"] not in SCOPES:
            problems.append(f"{name}: scope must be one of {SCOPES}")
        for identity in when.get("identity", []):
            if identity not in IDENTITIES:
                problems.append(f"{name}: unknown identity mode {identity!r}")
        target = raw.get("target")
        if target not in LEVELS:
            problems.append(f"{name}: unknown target level {target!r}")
        notify = tuple(raw.get("notify") or ())
        for level in notify:
            if level not in LEVELS:
                problems.append(f"{name}: unknown notify level {level!r}")
        prefer = raw.get("prefer")
        if prefer is not None and prefer not in PREFERENCES:
            problems.append(f"{name}: unknown preference {prefer!r}")
        rules.append(Rule(name, when, target, notify, prefer, raw.get("why", "")))
    problems += _unreachable(rules)
    if not rules or rules[-1].when:
        problems.append("the last rule must match everything (when: {}) so no case is left without a route")
    if problems:
        raise RoutingError("\n".join(problems))
    return rules


def _unreachable(rules: list[Rule]) -> list[str]:
    """A rule after one that matches everything it would match can never fire."""
    problems = []
    for index, rule in enumerate(rules):
        for earlier in rules[:index]:
            if _covers(earlier.when, rule.when):
                problems.append(f"{rule.name}: unreachable, {earlier.name} above always matches first")
                break
    return problems


def _covers(broad: dict[str, Any], narrow: dict[str, Any]) -> bool:
    for key, expected in broad.items():
        if key not in narrow:
            return False
        allowed = expected if isinstance(expected, list) else [expected]
        wanted = narrow[key] if isinstance(narrow[key], list) else [narrow[key]]
        if not set(wanted) <= set(allowed):
            return False
    return True


@cache
def default_rules(path: Path = CONTENT_DIR / "routing.yaml") -> tuple[Rule, ...]:
    from bot.services.categories import category_codes

    return tuple(parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")), category_codes()))


def decide(facts: CaseFacts, path: list[PathUnit], rules: tuple[Rule, ...] | None = None) -> Route:
    """The first matching rule's target, walked up the path past units without an inbox."""
    rules = rules if rules is not None else default_rules()
    rule = next(rule for rule in rules if rule.matches(facts))
    target_level = LEVELS[rule.target]
    candidates = [unit for unit in path if unit.level <= target_level]
    if rule.prefer == "industrial_park":
        parks = [unit for unit in path if unit.industrial_park and unit.has_inbox]
        if parks:
            candidates = parks + [unit for unit in candidates if unit not in parks]
    passed_over = []
    chosen = None
    for unit in candidates:
        if unit.has_inbox:
            chosen = unit
            break
        passed_over.append(unit.id)
    notify = tuple(unit.id for unit in path for level in rule.notify
                   if unit.level == LEVELS[level] and unit.has_inbox and unit is not chosen)
    return Route(rule.name, chosen.id if chosen else None, notify, tuple(passed_over))
