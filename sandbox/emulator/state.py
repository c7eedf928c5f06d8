"""The emulator's world: users, chats, messages, files, and what each bot has been sent."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EmulatorUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data


@dataclass
class EmulatorChat:
    id: int
    type: str  # "private" | "group" | "supergroup" | "channel"
    title: str | None = None
    user: EmulatorUser | None = None  # the other side of a private chat
    members: dict[int, str] = field(default_factory=dict)  # user id → status
    is_forum: bool = False
    topics: dict[int, str] = field(default_factory=dict)  # message_thread_id → name
    closed_topics: set[int] = field(default_factory=set)
    pinned: list[int] = field(default_factory=list)  # pinned message ids, the latest last

    def to_dict(self) -> dict[str, Any]:
        if self.type == "private" and self.user is not None:
            data = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
            return data
        data = {"id": self.id, "type": self.type, "title": self.title or ""}
        if self.is_forum:
            data["is_forum"] = True
        return data

    def full_info(self) -> dict[str, Any]:
        return {**self.to_dict(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                        "premium_subscription": False, "gifts_from_channels": False}}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    size: int
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None


@dataclass
class Call:
    """One request a bot made, as the emulator decoded and answered it."""

    method: str
    params: dict[str, Any]
    status: int
    error: str | None
    time: float
    token: str


@dataclass
class BotState:
    token: str
    user: EmulatorUser
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    next_update_id: int = 1
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    poll_generation: int = 0
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    webhook_task: asyncio.Task[None] | None = None
    webhook_changed: asyncio.Event = field(default_factory=asyncio.Event)  # cuts a retry backoff short
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class ChatLog:
    """What a bot did in one chat, for tests to await: new messages, and every action."""

    sent: deque[dict[str, Any]] = field(default_factory=deque)
    events: deque[dict[str, Any]] = field(default_factory=deque)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=10))
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Ids:
    """Unique ids for users, groups, files and callback queries."""

    def __init__(self) -> None:
        # Ten digits, as most Telegram user ids are today, and above PostgreSQL's INTEGER: an id squeezed
        # into 32 bits or a 9-digit check somewhere fails in tests instead of in production.
        self._users = itertools.count(6_100_000_001)
        self._groups = itertools.count(1)
        self._files = itertools.count(1)
        self._queries = itertools.count(1)

    def user(self) -> int:
        return next(self._users)

    def group(self) -> int:
        return -1_001_000_000_000 - next(self._groups)

    def file(self) -> tuple[str, str]:
        number = next(self._files)
        return f"EMUFILE{number:08d}x{int(time.time()):x}", f"EMUU{number:08d}"

    def query(self) -> str:
        return f"{next(self._queries)}{int(time.time() * 1000) % 100000:05d}"


def now() -> int:
    return int(time.time())


def snapshot(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of a stored message that later changes to the stored one do not reach.

    The emulator only ever replaces a stored message's top-level values (edits put new objects in), except
    for a poll's counters, which change in place; so a shallow copy plus a copy of the poll is enough, and
    several times cheaper than a deep copy. Treat what you get as read-only."""
    if message is None:
        return None
    copied = dict(message)
    if "poll" in copied:
        copied["poll"] = clone(copied["poll"])
    return copied


def clone(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars), several times faster than copy.deepcopy."""
    kind = type(value)
    if kind is dict:
        return {key: clone(item) for key, item in value.items()}
    if kind is list:
        return [clone(item) for item in value]
    return value
