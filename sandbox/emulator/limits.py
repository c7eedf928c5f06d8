"""Flood control as Telegram applies it, for tests: injected 429s and optional rate enforcement.

Telegram documents about 30 messages a second overall, about 1 a second in one private chat and 20 a
minute in one group. Only methods that send a new message count (editing, answering callbacks and
chat actions do not), which is how the limits are described in Telegram's bot FAQ.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sandbox.emulator.spec import ApiError

SENDING_METHODS = frozenset({
    "sendmessage", "sendphoto", "senddocument", "sendvoice", "sendaudio", "sendvideo", "sendanimation",
    "sendsticker", "sendpoll", "sendmediagroup", "sendlocation", "sendcontact", "sendvideonote", "senddice",
    "copymessage", "copymessages", "forwardmessage", "forwardmessages", "sendvenue",
})


@dataclass
class Rule:
    method: str | None
    chat_id: int | None
    times: int
    retry_after: int


class FloodWatch:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.enforcing = False
        self.reply_429 = True
        self.global_per_second = 30.0
        self.per_chat_per_second = 1.0
        self.per_group_per_minute = 20.0
        self.violations: list[dict[str, Any]] = []
        self._global: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}

    def add_rule(self, method: str | None, chat_id: int | None, times: int, retry_after: int) -> None:
        self.rules.append(Rule(method.lower() if method else None, chat_id, times, retry_after))

    def enforce(self, global_per_second: float, per_chat_per_second: float, per_group_per_minute: float,
                reply_429: bool) -> None:
        self.enforcing = True
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.reply_429 = reply_429

    def check(self, method: str, chat_id: int | None, is_group: bool) -> None:
        """Raise a 429 ApiError when a rule or a limit says so; record every limit violation."""
        lowered = method.lower()
        for rule in self.rules:
            if rule.times > 0 and rule.method in (None, lowered) and rule.chat_id in (None, chat_id):
                rule.times -= 1
                raise _too_many(rule.retry_after)
        if not self.enforcing or lowered not in SENDING_METHODS:
            return
        stamp = time.monotonic()
        problem = self._over_limit(stamp, chat_id, is_group)
        if problem is not None:
            self.violations.append({"method": method, "chat_id": chat_id, "limit": problem, "at": stamp})
            if self.reply_429:
                raise _too_many(1)
            return
        self._global.append(stamp)
        if chat_id is not None:
            self._chats.setdefault(chat_id, deque()).append(stamp)

    def _over_limit(self, stamp: float, chat_id: int | None, is_group: bool) -> str | None:
        _trim(self._global, stamp - 1.0)
        if len(self._global) >= self.global_per_second:
            return "global"
        if chat_id is None:
            return None
        window = 60.0 if is_group else 1.0
        allowed = self.per_group_per_minute if is_group else self.per_chat_per_second
        sent = self._chats.setdefault(chat_id, deque())
        _trim(sent, stamp - window)
        if len(sent) >= allowed:
            return "group" if is_group else "chat"
        return None


def _trim(stamps: deque[float], older_than: float) -> None:
    while stamps and stamps[0] <= older_than:
        stamps.popleft()


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
