"""BotApiEmulator: an HTTP server on loopback that speaks the Bot API well enough for PTB 22 to run
unchanged against it, plus a test-side API in the same event loop to act as users and watch the bot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.emulator import methods
from sandbox.emulator.limits import FloodWatch
from sandbox.emulator.spec import ApiError, Spec, decode_params, load_spec
from sandbox.emulator.state import (
    BotState,
    Call,
    ChatLog,
    EmulatorChat,
    EmulatorUser,
    Ids,
    StoredFile,
    clone,
    now,
    snapshot,
)

log = logging.getLogger(__name__)
MAX_FILE_DOWNLOAD = 20 * 1024 * 1024


class NoMessage(AssertionError, asyncio.TimeoutError):
    """The bot did not do what a test waited for in time; says what the chat saw last.

    Both an AssertionError (pytest shows the message) and an asyncio.TimeoutError."""


class BotApiEmulator:
    """The Bot API over HTTP on loopback, and a test-side API to act as users and watch what bots did.

    Everything runs in the event loop that called start(); test-side helpers that queue updates are async.
    """

    def __init__(self, spec_path: str | Path | None = None) -> None:
        self.spec: Spec = load_spec(Path(spec_path)) if spec_path else load_spec()
        self._update_kinds = frozenset(self.spec.type_fields.get("Update", ())) - {"update_id"}
        self.ids = Ids()
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, EmulatorUser] = {}
        self.chats: dict[int, EmulatorChat] = {}
        self.usernames: dict[str, int] = {}  # lower-case "@name" → chat id, for chat_id="@name"
        self.chat_messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._next_message_id: dict[int, int] = {}
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self.calls: list[Call] = []
        self.unknown_methods: list[str] = []
        self.unsupported_methods: list[str] = []  # in the spec but not implemented here (answered 400)
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self._open_queries: dict[str, tuple[str, dict[str, Any]]] = {}  # id → (bot token, query)
        self._answer_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poll_votes: dict[str, dict[int, list[int]]] = {}  # poll id → user id → chosen options
        self._poll_messages: dict[str, tuple[int, int]] = {}  # poll id → (chat id, message id)
        self._logs: dict[int, ChatLog] = {}
        self.blocked: dict[int, str] = {}
        self.flood = FloodWatch()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.port = 0
        self.host = "127.0.0.1"

    # ----- lifecycle -----

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> BotApiEmulator:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for bot in self.bots.values():
            if bot.webhook_task:
                bot.webhook_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await bot.webhook_task
            async with bot.changed:
                bot.poll_generation += 1
                bot.changed.notify_all()
        if self._http:
            await self._http.close()
            self._http = None
        if self._runner:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> BotApiEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    # ----- world building -----

    def add_bot(self, token: str, username: str = "emulator_bot", first_name: str = "Bot") -> EmulatorUser:
        """Register a bot; each bot has its own update queue and webhook. The token must look like
        Telegram's (``<bot id>:<secret>``)."""
        bot_id_text, _, secret = token.partition(":")
        if not bot_id_text.isdigit() or not secret:
            raise ValueError(f"a bot token looks like '123456:ABC…', not {token!r}")
        user = EmulatorUser(int(bot_id_text), first_name, username=username, is_bot=True)
        self.users[user.id] = user
        self.bots[token] = BotState(token, user)
        if username:
            self.usernames[f"@{username.lower()}"] = user.id
        return user

    def create_user(self, first_name: str = "User", last_name: str | None = None, username: str | None = None,
                    language_code: str | None = "vi") -> EmulatorUser:
        """A new user with a unique id; their private chat with the bot has the same id."""
        user = EmulatorUser(self.ids.user(), first_name, last_name, username, language_code)
        self.users[user.id] = user
        self.chats[user.id] = EmulatorChat(user.id, "private", user=user)
        if username:
            self.usernames[f"@{username.lower()}"] = user.id
        return user

    def create_group(self, title: str, members: list[EmulatorUser] | None = None, is_forum: bool = False,
                     bot_token: str | None = None) -> EmulatorChat:
        """A supergroup (id -100…); the first member is its creator, the bot an administrator."""
        chat = EmulatorChat(self.ids.group(), "supergroup", title=title, is_forum=is_forum)
        for index, member in enumerate(members or []):
            chat.members[member.id] = "creator" if index == 0 else "member"
        chat.members[self._bot(bot_token).user.id] = "administrator"
        self.chats[chat.id] = chat
        return chat

    def _bot(self, token: str | None = None) -> BotState:
        if token is not None:
            return self.bots[token]
        if not self.bots:
            raise RuntimeError("add_bot() first")
        return next(iter(self.bots.values()))

    def _chat_for(self, user: EmulatorUser, chat: EmulatorChat | int | None) -> EmulatorChat:
        if chat is None:
            return self.chats[user.id]
        return chat if isinstance(chat, EmulatorChat) else self.chats[chat]

    def _stored(self, message: Any, chat: EmulatorChat | int | None = None) -> dict[str, Any]:
        """The stored message for a dict, a PTB Message, or a message id with `chat`."""
        if hasattr(message, "to_dict") and not isinstance(message, dict):
            message = message.to_dict()
        if isinstance(message, int):
            if chat is None:
                raise TypeError("pass chat= with a bare message id")
            chat_id = chat.id if isinstance(chat, EmulatorChat) else chat
            message_id = message
        else:
            chat_id = message["chat"]["id"] if "chat" in message else (
                chat.id if isinstance(chat, EmulatorChat) else chat)
            message_id = message["message_id"]
        stored = self.chat_messages.get(chat_id, {}).get(message_id)
        if stored is None:
            raise AssertionError(f"message {message_id} is not in chat {chat_id} (deleted, or never sent)")
        return stored

    # ----- acting as a user -----

    async def send_text(self, user: EmulatorUser, text: str, chat: EmulatorChat | int | None = None,
                        reply_to: dict[str, Any] | None = None, message_thread_id: int | None = None,
                        bot_token: str | None = None) -> dict[str, Any]:
        """Send text as the user (to their private chat with the bot unless `chat` is given). A leading
        "/command" or "/command@botname" gets a bot_command entity, so "/start payload" is a deep link."""
        if not text:
            raise ValueError("Telegram does not deliver empty messages")
        content: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        return await self._user_message(user, chat, content, reply_to, message_thread_id, bot_token)

    async def send_content(self, user: EmulatorUser, content: dict[str, Any], chat: EmulatorChat | int | None = None,
                           reply_to: dict[str, Any] | None = None, message_thread_id: int | None = None,
                           bot_token: str | None = None) -> dict[str, Any]:
        """Send any message content (e.g. {"dice": {...}}) as the user; message_id, date, chat, from are added."""
        return await self._user_message(user, chat, dict(content), reply_to, message_thread_id, bot_token)

    async def send_photo(self, user: EmulatorUser, data: bytes = b"\x89PNG\r\n", caption: str | None = None,
                         chat: EmulatorChat | int | None = None, file_size: int | None = None,
                         bot_token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        stored = self._store_file(data, "photos/photo.jpg", "image/jpeg", None, file_size)
        content: dict[str, Any] = {"photo": [{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                                              "width": 1280, "height": 960, "file_size": stored.size}]}
        if caption:
            content["caption"] = caption
        return await self._user_message(user, chat, content, bot_token=bot_token, **kwargs)

    async def send_document(self, user: EmulatorUser, data: bytes = b"%PDF-1.4", filename: str = "file.pdf",
                            mime_type: str = "application/pdf", caption: str | None = None,
                            chat: EmulatorChat | int | None = None, file_size: int | None = None,
                            bot_token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        stored = self._store_file(data, f"documents/{filename}", mime_type, filename, file_size)
        content: dict[str, Any] = {"document": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                                                "file_name": filename, "mime_type": mime_type,
                                                "file_size": stored.size}}
        if caption:
            content["caption"] = caption
        return await self._user_message(user, chat, content, bot_token=bot_token, **kwargs)

    async def send_voice(self, user: EmulatorUser, data: bytes = b"OggS", duration: int = 3,
                         chat: EmulatorChat | int | None = None, file_size: int | None = None,
                         bot_token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        stored = self._store_file(data, "voice/voice.oga", "audio/ogg", None, file_size)
        content = {"voice": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                             "duration": duration, "mime_type": "audio/ogg", "file_size": stored.size}}
        return await self._user_message(user, chat, content, bot_token=bot_token, **kwargs)

    async def send_sticker(self, user: EmulatorUser, chat: EmulatorChat | int | None = None,
                           bot_token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        stored = self._store_file(b"RIFFWEBP", "stickers/sticker.webp", "image/webp", None, None)
        content = {"sticker": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "type": "regular",
                               "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}}
        return await self._user_message(user, chat, content, bot_token=bot_token, **kwargs)

    async def send_location(self, user: EmulatorUser, latitude: float, longitude: float,
                            chat: EmulatorChat | int | None = None, bot_token: str | None = None,
                            **kwargs: Any) -> dict[str, Any]:
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        return await self._user_message(user, chat, content, bot_token=bot_token, **kwargs)

    async def send_contact(self, user: EmulatorUser, phone_number: str, first_name: str | None = None,
                           chat: EmulatorChat | int | None = None, bot_token: str | None = None,
                           user_id: int | None = None, **kwargs: Any) -> dict[str, Any]:
        """Share a contact; by default the user's own (user_id == user.id, as the "share my phone" button)."""
        contact = {"phone_number": phone_number, "first_name": first_name or user.first_name,
                   "user_id": user.id if user_id is None else user_id}
        if user.last_name and first_name is None:
            contact["last_name"] = user.last_name
        return await self._user_message(user, chat, {"contact": contact}, bot_token=bot_token, **kwargs)

    async def edit_text(self, user: EmulatorUser, message: Any, new_text: str,
                        bot_token: str | None = None) -> dict[str, Any]:
        """The user edits their message: an edited_message update."""
        stored = self._stored(message)
        if stored.get("from", {}).get("id") != user.id:
            raise AssertionError("a user can only edit their own messages")
        stored["text"] = new_text
        stored.pop("entities", None)
        entities = _command_entities(new_text)
        if entities:
            stored["entities"] = entities
        stored["edit_date"] = now()
        await self._enqueue(self._bot(bot_token), "edited_message", snapshot(stored))
        return snapshot(stored)

    async def press_button(self, user: EmulatorUser, message: Any, data: str, bot_token: str | None = None,
                           force: bool = False, chat: EmulatorChat | int | None = None) -> str:
        """Press an inline button: a callback_query update; returns its id. `message` is a message dict,
        a PTB Message, or a message id with `chat`. The button must exist unless force=True."""
        stored = self._stored(message, chat)
        chat_id = stored["chat"]["id"]
        if not force and data not in _callback_data(stored):
            raise AssertionError(f"no button {data!r} on message {stored['message_id']}: {_callback_data(stored)}")
        bot = self._bot(bot_token)
        query_id = self.ids.query()
        query = {"id": query_id, "from": user.to_dict(), "message": snapshot(stored),
                 "chat_instance": str(abs(chat_id) * 7 + bot.user.id % 1000), "data": data}
        self._open_queries[query_id] = (bot.token, query)
        await self._enqueue(bot, "callback_query", query)
        return query_id

    async def answer_poll(self, user: EmulatorUser, poll_message: Any, option_ids: list[int],
                          bot_token: str | None = None) -> None:
        """The user votes (an empty list retracts): a poll_answer update (non-anonymous polls only, as
        Telegram) and a poll update with the new counts."""
        stored = self._stored(poll_message)
        poll = stored.get("poll")
        if poll is None:
            raise AssertionError(f"message {stored['message_id']} has no poll")
        if poll["is_closed"]:
            raise AssertionError("the poll is closed")
        options = poll["options"]
        if any(not 0 <= index < len(options) for index in option_ids) or len(set(option_ids)) != len(option_ids):
            raise AssertionError(f"bad option ids {option_ids} for {len(options)} options")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise AssertionError("this poll allows one answer")
        votes = self._poll_votes.setdefault(poll["id"], {})
        previous = votes.get(user.id)
        if previous and not poll.get("allows_revoting", True):
            raise AssertionError("this poll does not allow changing the vote")
        for index in previous or []:
            options[index]["voter_count"] -= 1
        for index in option_ids:
            options[index]["voter_count"] += 1
        if option_ids:
            votes[user.id] = list(option_ids)
        else:
            votes.pop(user.id, None)
        poll["total_voter_count"] = len(votes)
        bot = self._bot(bot_token)
        if not poll["is_anonymous"]:
            persistent = [options[i]["persistent_id"] for i in option_ids]
            await self._enqueue(bot, "poll_answer", {"poll_id": poll["id"], "user": user.to_dict(),
                                                      "option_ids": list(option_ids),
                                                      "option_persistent_ids": persistent})
        await self._enqueue(bot, "poll", clone(poll))

    async def add_bot_to_group(self, group: EmulatorChat, by_user: EmulatorUser, bot_token: str | None = None) -> None:
        """`by_user` adds the bot (as an administrator): a my_chat_member update."""
        await self._bot_membership(group, by_user, "administrator", bot_token)

    async def remove_bot_from_group(self, group: EmulatorChat, by_user: EmulatorUser,
                                    bot_token: str | None = None) -> None:
        """`by_user` removes the bot: a my_chat_member update; sends to the group then get 403."""
        await self._bot_membership(group, by_user, "left", bot_token)

    async def _bot_membership(self, group: EmulatorChat, by_user: EmulatorUser, new: str,
                              token: str | None) -> None:
        bot = self._bot(token)
        old = group.members.get(bot.user.id, "left")
        group.members[bot.user.id] = new
        update = {"chat": group.to_dict(), "from": by_user.to_dict(), "date": now(),
                  "old_chat_member": _member(bot.user, old), "new_chat_member": _member(bot.user, new)}
        await self._enqueue(bot, "my_chat_member", update)

    async def add_member(self, group: EmulatorChat, user: EmulatorUser, bot_token: str | None = None) -> None:
        """The user joins: a service message with new_chat_members, and a chat_member update (delivered
        only to a bot that asked for "chat_member" in allowed_updates, as Telegram does)."""
        await self._membership(group, user, "left", "member", {"new_chat_members": [user.to_dict()]}, bot_token)

    async def remove_member(self, group: EmulatorChat, user: EmulatorUser, bot_token: str | None = None) -> None:
        """The user leaves: a left_chat_member service message and a chat_member update."""
        await self._membership(group, user, "member", "left", {"left_chat_member": user.to_dict()}, bot_token)

    async def _membership(self, group: EmulatorChat, user: EmulatorUser, default_old: str, new: str,
                          service: dict[str, Any], bot_token: str | None) -> None:
        old = group.members.get(user.id, default_old)
        group.members[user.id] = new
        bot = self._bot(bot_token)
        update = {"chat": group.to_dict(), "from": user.to_dict(), "date": now(),
                  "old_chat_member": _member(user, old), "new_chat_member": _member(user, new)}
        await self._enqueue(bot, "chat_member", update)
        message = self._new_message(group, user, service)
        await self._enqueue(bot, "message", snapshot(message))

    async def inject_update(self, update: dict[str, Any], bot_token: str | None = None) -> int:
        """Queue any update body (fuzz tests), whatever the bot's allowed_updates; the emulator assigns
        the update_id (an update_id in the dict is replaced)."""
        bot = self._bot(bot_token)
        body = {key: value for key, value in update.items() if key != "update_id"}
        update_id = await self._push(bot, body, force=True)
        assert update_id is not None
        return update_id

    async def _user_message(self, user: EmulatorUser, chat: EmulatorChat | int | None, content: dict[str, Any],
                            reply_to: dict[str, Any] | None = None, message_thread_id: int | None = None,
                            bot_token: str | None = None) -> dict[str, Any]:
        target = self._chat_for(user, chat)
        if target.type != "private" and target.members.get(user.id) in (None, "left", "kicked"):
            target.members[user.id] = "member"  # writing in a group makes the user a member of it
        reply = None
        if reply_to is not None:
            reply = snapshot(self._stored(reply_to, target))
            reply.pop("reply_to_message", None)  # Telegram nests one level only
            if message_thread_id is None and reply.get("message_thread_id"):
                message_thread_id = reply["message_thread_id"]
        message = self._new_message(target, user, content, message_thread_id)
        if reply is not None:
            message["reply_to_message"] = reply
        await self._enqueue(self._bot(bot_token), "message", snapshot(message))
        return snapshot(message)

    def _new_message(self, chat: EmulatorChat, sender: EmulatorUser, content: dict[str, Any],
                     thread_id: int | None = None) -> dict[str, Any]:
        message_id = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = message_id + 1
        message = {"message_id": message_id, "date": now(), "chat": chat.to_dict(), "from": sender.to_dict(),
                   **content}
        if "forum_topic_created" in content:
            thread_id = message_id  # a topic's id is the id of the message that created it
        if thread_id and chat.is_forum:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        self.chat_messages.setdefault(chat.id, {})[message_id] = message
        return message

    async def _enqueue(self, bot: BotState, kind: str, body: dict[str, Any]) -> int | None:
        return await self._push(bot, {kind: body})

    async def _push(self, bot: BotState, update: dict[str, Any], force: bool = False) -> int | None:
        """Queue an update for the bot; None when the bot's allowed_updates exclude its kind (unless forced)."""
        if not force and not methods.wanted(bot, next(iter(update)), self._update_kinds):
            return None
        async with bot.changed:
            update_id = bot.next_update_id
            bot.next_update_id += 1
            bot.updates.append({"update_id": update_id, **update})
            bot.changed.notify_all()
        return update_id

    # ----- watching the bot -----

    def _log(self, chat_id: int) -> ChatLog:
        log_ = self._logs.get(chat_id)
        if log_ is None:
            log_ = self._logs[chat_id] = ChatLog()
        return log_

    def record_event(self, chat_id: int, kind: str, message: dict[str, Any] | None = None, **extra: Any) -> None:
        chat_log = self._log(chat_id)
        message = snapshot(message)  # later edits change the stored message, not what a test already holds
        event = {"kind": kind, "message": message, **extra}
        chat_log.events.append(event)
        if kind == "sent" and message is not None:
            chat_log.sent.append(message)
        chat_log.recent.append(f"{kind}: {(message or {}).get('text') or (message or {}).get('caption') or extra}"[:200])
        chat_log.changed.set()

    async def next_message(self, chat_id: int | EmulatorUser | EmulatorChat, timeout: float = 5.0) -> dict[str, Any]:
        """The next new message a bot sent to that chat (in order, each returned once), as it was sent.
        Raises NoMessage (an AssertionError and asyncio.TimeoutError) naming the chat's recent activity."""
        return await self._wait(_chat_id(chat_id), "sent", timeout)

    async def next_event(self, chat_id: int | EmulatorUser | EmulatorChat, timeout: float = 5.0) -> dict[str, Any]:
        """The next thing a bot did in that chat: {"kind": "sent" | "edited" | "deleted" | "answered_callback"
        | "chat_action" | "pinned" | "unpinned" | "reaction" | "left", "message": {...} or None, ...details}.

        A separate queue from next_message: reading one does not consume the other."""
        return await self._wait(_chat_id(chat_id), "events", timeout)

    async def next_change(self, chat_id: int, timeout: float = 5.0) -> dict[str, Any]:
        """The next message the user would see appear or change: a new one, or one edited in place.

        Shares its queue with next_event (not with next_message): use one style per chat."""
        deadline = time.monotonic() + timeout
        chat_id = _chat_id(chat_id)
        while True:
            event = await self._wait(chat_id, "events", max(deadline - time.monotonic(), 0.0))
            if event["kind"] in ("sent", "edited"):
                return event["message"]

    async def _wait(self, chat_id: int, queue_name: str, timeout: float) -> dict[str, Any]:
        chat_log = self._log(chat_id)
        queue: deque[dict[str, Any]] = getattr(chat_log, queue_name)
        deadline = time.monotonic() + timeout
        while not queue:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoMessage(f"nothing new for chat {chat_id} within {timeout}s; "
                                f"recent activity: {list(chat_log.recent)}")
            chat_log.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(chat_log.changed.wait(), remaining)
        return queue.popleft()

    async def wait_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The bot's answerCallbackQuery for that press, once it comes."""
        if query_id in self.callback_answers:
            return self.callback_answers[query_id]
        waiter = self._answer_waiters.get(query_id)
        if waiter is None:
            waiter = self._answer_waiters[query_id] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            raise NoMessage(f"callback query {query_id} was not answered within {timeout}s") from None

    def answered(self, query_id: str, answer: dict[str, Any]) -> None:
        self.callback_answers[query_id] = answer
        waiter = self._answer_waiters.pop(query_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def drain(self, chat_id: int | EmulatorUser | EmulatorChat) -> None:
        """Forget what the bot did in that chat so far (both next_message and next_event queues)."""
        chat_log = self._log(_chat_id(chat_id))
        chat_log.sent.clear()
        chat_log.events.clear()

    def messages(self, chat_id: int | EmulatorUser | EmulatorChat) -> list[dict[str, Any]]:
        """The chat as it is now: every message (edits applied, deleted ones gone), by message_id.
        These are the emulator's own records: read them, do not change them."""
        return list(self.chat_messages.get(_chat_id(chat_id), {}).values())  # ids only grow: already in order

    def get_message(self, chat_id: int | EmulatorUser | EmulatorChat, message_id: int) -> dict[str, Any] | None:
        return self.chat_messages.get(_chat_id(chat_id), {}).get(message_id)

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def reset_calls(self) -> None:
        self.calls.clear()
        self.unknown_methods.clear()
        self.unsupported_methods.clear()

    # ----- fault injection -----

    def block_chat(self, chat_id: int | EmulatorUser | EmulatorChat, reason: str = "blocked") -> None:
        """Sends to the chat fail with 403: "Forbidden: bot was blocked by the user", or with
        reason="deactivated" "Forbidden: user is deactivated", or with reason="kicked" (groups)
        "Forbidden: bot was kicked from the supergroup chat"."""
        self.blocked[_chat_id(chat_id)] = reason

    def unblock_chat(self, chat_id: int | EmulatorUser | EmulatorChat) -> None:
        self.blocked.pop(_chat_id(chat_id), None)

    def add_429(self, method: str | None = None, chat_id: int | EmulatorUser | EmulatorChat | None = None,
                times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls matching method (any method when None) and chat_id (any call, with or
        without a chat, when None) get 429 "Too Many Requests: retry after N", parameters.retry_after = N."""
        self.flood.add_rule(method, None if chat_id is None else _chat_id(chat_id), times, retry_after)

    def enforce_limits(self, global_per_second: float = 30, per_chat_per_second: float = 1,
                       per_group_per_minute: float = 20, reply_429: bool = True) -> None:
        """Count (and with reply_429, refuse with 429) sends over Telegram's documented limits; see
        sandbox.emulator.limits for which methods count. Every violation lands in flood_violations."""
        self.flood.enforce(global_per_second, per_chat_per_second, per_group_per_minute, reply_429)

    def disable_limits(self) -> None:
        self.flood.enforcing = False

    @property
    def flood_violations(self) -> list[dict[str, Any]]:
        return self.flood.violations

    # ----- files -----

    def _store_file(self, data: bytes, path_hint: str, mime_type: str | None, file_name: str | None,
                    size: int | None) -> StoredFile:
        file_id, unique_id = self.ids.file()
        folder, _, name = path_hint.rpartition("/")
        stored = StoredFile(file_id, unique_id, data, size if size is not None else len(data),
                            f"{folder}/{unique_id}_{name}", mime_type, file_name)
        self.files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    # ----- HTTP -----

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.bots:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    async def _handle_api(self, request: web.Request) -> web.Response:
        token, method_name = request.match_info["token"], request.match_info["method"]
        bot = self.bots.get(token)
        if bot is None:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        method = self.spec.method(method_name)
        if method is None:
            self.unknown_methods.append(method_name)
            self.calls.append(Call(method_name, {}, 404, "Not Found", time.time(), token))
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        params: dict[str, Any] = {}
        try:
            try:
                raw, uploads = await _read_params(request)
            except (ValueError, UnicodeDecodeError, aiohttp.ClientError) as exc:
                raise ApiError(400, f"Bad Request: can't parse request body: {type(exc).__name__}") from None
            params = decode_params(method, raw, uploads)
            chat_id = params.get("chat_id")
            self.flood.check_rules(method.name, self.usernames.get(chat_id.lower(), chat_id)
                                   if isinstance(chat_id, str) else chat_id)
            params["__uploads__"] = uploads
            result = await methods.dispatch(self, bot, method.name, params)
        except ApiError as error:
            params.pop("__uploads__", None)
            self.calls.append(Call(method.name, params, error.status, error.description, time.time(), token))
            return web.json_response(error.body(), status=error.status)
        params.pop("__uploads__", None)
        self.calls.append(Call(method.name, params, 200, None, time.time(), token))
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    # ----- used by methods.py -----

    def new_file(self, data: bytes, path_hint: str, mime_type: str | None, file_name: str | None) -> StoredFile:
        return self._store_file(data, path_hint, mime_type, file_name, None)

    def new_bot_message(self, bot: BotState, chat: EmulatorChat, content: dict[str, Any],
                        thread_id: int | None) -> dict[str, Any]:
        message = self._new_message(chat, bot.user, content, thread_id)
        if "poll" in content:
            self._poll_messages[content["poll"]["id"]] = (chat.id, message["message_id"])
        self.record_event(chat.id, "sent", message)
        return message

    def take_query(self, bot: BotState, query_id: str) -> dict[str, Any] | None:
        """The open callback query with that id, for that bot; None when unknown or already answered."""
        entry = self._open_queries.get(query_id)
        if entry is None or entry[0] != bot.token:
            return None
        del self._open_queries[query_id]
        return entry[1]

    async def queue_update(self, bot: BotState, kind: str, body: dict[str, Any]) -> int | None:
        return await self._enqueue(bot, kind, body)

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Any] = {}
    if request.method != "POST" or not request.can_read_body:
        return raw, uploads
    content_type = request.content_type
    if content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            raw.update(body)
    elif content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if part.filename is not None:
                uploads[part.name] = {"filename": part.filename, "data": await part.read(),
                                      "content_type": part.headers.get("Content-Type")}
            else:
                raw[part.name] = await part.text()
    else:
        form = await request.post()
        raw.update({key: value for key, value in form.items() if isinstance(value, str)})
    return raw, uploads


def _chat_id(chat: int | EmulatorUser | EmulatorChat) -> int:
    return chat if isinstance(chat, int) else chat.id


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]


def _callback_data(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [button.get("callback_data") for row in markup.get("inline_keyboard", []) for button in row
            if button.get("callback_data") is not None]


def _member(user: EmulatorUser, status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": user.to_dict()}
    if status == "administrator":
        member.update({"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                       "can_delete_messages": True, "can_manage_video_chats": False, "can_restrict_members": False,
                       "can_promote_members": False, "can_change_info": False, "can_invite_users": True,
                       "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False,
                       "can_manage_topics": True})
    if status == "creator":
        member["is_anonymous"] = False
    if status == "restricted":
        member["until_date"] = 0
    return member
