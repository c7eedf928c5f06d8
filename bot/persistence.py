"""PTB persistence over SQLAlchemy: one row per conversation key and per user/chat, not one blob.

PTB hands over changed entries every `update_interval` seconds and on shutdown. Writes are buffered and
applied in one transaction per round, and entries that did not change since the last write are skipped,
so an idle user costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from db.models import ConversationState, StoredChatData, StoredUserData
from db.types import utcnow

log = logging.getLogger(__name__)
_DROP = object()


class SqlPersistence(BasePersistence[dict[str, Any], dict[str, Any], dict[str, Any]]):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], update_interval: float = 1.0) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=True, user_data=True, callback_data=False),
            update_interval=update_interval,
        )
        self._sessions = session_factory
        self._written: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], Any] = {}
        self._writer: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()

    # Reading: once, at start.
    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(StoredUserData))).all()
        for row in rows:
            self._written[("user", str(row.user_id))] = _dump(row.data)
        return {row.user_id: dict(row.data) for row in rows}

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(StoredChatData))).all()
        for row in rows:
            self._written[("chat", str(row.chat_id))] = _dump(row.data)
        return {row.chat_id: dict(row.data) for row in rows}

    async def get_bot_data(self) -> dict[str, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self._sessions() as session:
            rows = (await session.scalars(select(ConversationState).where(ConversationState.name == name))).all()
        conversations: ConversationDict = {}
        for row in rows:
            if row.state is not None:
                conversations[_key_from_text(row.conv_key)] = row.state["value"]
                self._written[(f"conv:{name}", row.conv_key)] = _dump(row.state["value"])
        return conversations

    # Writing: buffered, then applied together.
    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        self._queue((f"conv:{name}", _key_to_text(key)), _DROP if new_state is None else new_state)

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        self._queue(("user", str(user_id)), data or _DROP)

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        self._queue(("chat", str(chat_id)), data or _DROP)

    async def drop_user_data(self, user_id: int) -> None:
        self._queue(("user", str(user_id)), _DROP)

    async def drop_chat_data(self, chat_id: int) -> None:
        self._queue(("chat", str(chat_id)), _DROP)

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        return None

    async def update_callback_data(self, data: object) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        await self._write_pending()

    def _queue(self, slot: tuple[str, str], value: Any) -> None:
        text = "" if value is _DROP else _dump(value)
        if self._written.get(slot, "") == text and slot not in self._pending:
            return
        self._pending[slot] = value
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_pending())

    async def _write_pending(self) -> None:
        async with self._write_lock:  # one writer at a time: flush() may run beside the background task
            while self._pending:
                batch, self._pending = self._pending, {}
                try:
                    await self._write(batch)
                except Exception:
                    log.exception("persistence write failed for %d entries; will retry", len(batch))
                    self._pending = batch | self._pending
                    return
                for slot, value in batch.items():
                    self._written[slot] = "" if value is _DROP else _dump(value)

    async def _write(self, batch: dict[tuple[str, str], Any]) -> None:
        """A handful of set-based statements in one short transaction, rows in a fixed order (so two
        writers can never deadlock on PostgreSQL, and SQLite's single write lock is held briefly)."""
        users, chats, conversations = _split(batch)
        async with self._sessions() as session:
            await _upsert_data(session, StoredUserData, "user_id", users)
            await _upsert_data(session, StoredChatData, "chat_id", chats)
            await _upsert_conversations(session, conversations)
            await session.commit()


def _split(batch: dict[tuple[str, str], Any]) -> tuple[dict[int, Any], dict[int, Any], dict[tuple[str, str], Any]]:
    users: dict[int, Any] = {}
    chats: dict[int, Any] = {}
    conversations: dict[tuple[str, str], Any] = {}
    for (kind, key), value in sorted(batch.items()):
        if kind == "user":
            users[int(key)] = value
        elif kind == "chat":
            chats[int(key)] = value
        else:
            conversations[(kind.removeprefix("conv:"), key)] = value
    return users, chats, conversations


def _insert(session: AsyncSession, model: type) -> Any:
    dialect = session.bind.dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(model)


async def _upsert_data(session: AsyncSession, model: type, id_column: str, rows: dict[int, Any]) -> None:
    dropped = [key for key, value in rows.items() if value is _DROP]
    kept = [{id_column: key, "data": value, "updated_at": utcnow()} for key, value in rows.items()
            if value is not _DROP]
    if dropped:
        await session.execute(delete(model).where(getattr(model, id_column).in_(dropped)))
    if kept:
        statement = _insert(session, model)
        statement = statement.on_conflict_do_update(
            index_elements=[id_column], set_={"data": statement.excluded.data, "updated_at": statement.excluded.updated_at})
        await session.execute(statement, kept)


async def _upsert_conversations(session: AsyncSession, rows: dict[tuple[str, str], Any]) -> None:
    for name in sorted({name for name, _ in rows}):
        dropped = [key for (n, key), value in rows.items() if n == name and value is _DROP]
        if dropped:
            await session.execute(delete(ConversationState).where(
                ConversationState.name == name, ConversationState.conv_key.in_(dropped)))
    kept = [{"name": name, "conv_key": key, "state": {"value": value}, "updated_at": utcnow()}
            for (name, key), value in rows.items() if value is not _DROP]
    if kept:
        statement = _insert(session, ConversationState)
        statement = statement.on_conflict_do_update(
            index_elements=["name", "conv_key"],
            set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at})
        await session.execute(statement, kept)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _key_to_text(key: ConversationKey) -> str:
    return json.dumps(list(key))


def _key_from_text(text: str) -> ConversationKey:
    return tuple(json.loads(text))
