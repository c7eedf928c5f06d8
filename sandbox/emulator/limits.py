"""Flood control as Telegram applies it, for tests: injected 429s and optional rate enforcement.

Telegram's bot FAQ ("My bot is hitting limits, how do I avoid this?") documents: in a single chat avoid
more than one message per second; in a group no more than 20 messages per minute; for bulk notifications
not more than about 30 messages per second overall. The limits are about *sending messages*, so only
methods that post a new message count here (SENDING_METHODS: send*, copy*, forward*; an album counts
once). Editing (editMessage*), deleting, answering callback queries, chat actions and every read
method do not count. The per-chat window is one second for private chats, one minute for groups.
Every violation is recorded in ``violations``; a send refused with 429 does not use up the window
(Telegram did not deliver it), a counted-only one does.
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
        if times > 0:
            self.rules.append(Rule(method.lower() if method else None, chat_id, times, retry_after))

    def enforce(self, global_per_second: float, per_chat_per_second: float, per_group_per_minute: float,
                reply_429: bool) -> None:
        self.enforcing = True
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.reply_429 = reply_429

    def check_rules(self, method: str, chat_id: Any) -> None:
        """Raise the 429 of the first injected rule matching this call (any method, any chat when None)."""
        if not self.rules:
            return
        lowered = method.lower()
        for rule in self.rules:
            if rule.method in (None, lowered) and rule.chat_id in (None, chat_id):
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
                raise _too_many(rule.retry_after)

    def check(self, method: str, chat_id: int | None, is_group: bool) -> None:
        """Raise a 429 ApiError when enforcing and a limit is exceeded; record every limit violation."""
        lowered = method.lower()
        if not self.enforcing or lowered not in SENDING_METHODS:
            return
        stamp = time.monotonic()
        problem = self._over_limit(stamp, chat_id, is_group)
        if problem is not None:
            self.violations.append({"method": method, "chat_id": chat_id, "limit": problem, "at": stamp})
            if self.reply_429:
                raise _too_many(1)
        self._global.append(stamp)  # delivered (counting only, or within the limits): it uses the window
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
