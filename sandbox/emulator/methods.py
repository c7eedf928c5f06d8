"""The Bot API methods the emulator implements, each answering as Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sandbox.emulator.markup import parse, utf16_len
from sandbox.emulator.spec import ApiError, bad_request
from sandbox.emulator.state import BotState, EmulatorChat, now

if TYPE_CHECKING:
    from sandbox.emulator.server import BotApiEmulator

Handler = Callable[["BotApiEmulator", BotState, dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_FILE_DOWNLOAD = 20 * 1024 * 1024
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message")
UPDATE_TYPES = ("message", "edited_message", "channel_post", "edited_channel_post", "callback_query", "poll",
                "poll_answer", "my_chat_member", "chat_member", "chat_join_request", "inline_query")
DEFAULT_UPDATES = tuple(t for t in UPDATE_TYPES if t not in ("chat_member",))


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name.lower()] = handler
        return handler

    return register


async def dispatch(emu: BotApiEmulator, bot: BotState, name: str, params: dict[str, Any]) -> Any:
    handler = HANDLERS.get(name.lower())
    if handler is None:
        raise bad_request(f"method {name} is not supported by the emulator")
    return await handler(emu, bot, params)


# ----- helpers -----

def _chat(emu: BotApiEmulator, chat_id: Any) -> EmulatorChat:
    chat = emu.chats.get(chat_id) if isinstance(chat_id, int) else None
    if chat is None and isinstance(chat_id, str):
        chat = next((c for c in emu.chats.values() if c.user and f"@{c.user.username}" == chat_id), None)
    if chat is None:
        raise bad_request("chat not found")
    return chat


def _can_send(emu: BotApiEmulator, bot: BotState, chat: EmulatorChat, method_name: str) -> None:
    reason = emu.blocked.get(chat.id)
    if reason is not None:
        text = "Forbidden: user is deactivated" if reason == "deactivated" else "Forbidden: bot was blocked by the user"
        raise ApiError(403, text)
    if chat.type != "private" and chat.members.get(bot.user.id) in (None, "left", "kicked"):
        raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
    emu.flood.check(method_name, chat.id, chat.type != "private")


def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    if not markup:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
    for row in markup.get("keyboard", []):
        for button in row:
            if not (button if isinstance(button, str) else button.get("text")):
                raise bad_request("keyboard button text is empty")
    return markup


def _text_content(params: dict[str, Any]) -> dict[str, Any]:
    source = params.get("text", "")
    text, entities = parse(source, params.get("parse_mode"), params.get("entities"))
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def _caption(params: dict[str, Any]) -> dict[str, Any]:
    source = params.get("caption")
    if source is None:
        return {}
    text, entities = parse(source, params.get("parse_mode"), params.get("caption_entities"))
    if utf16_len(text) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    content: dict[str, Any] = {"caption": text} if text else {}
    if entities:
        content["caption_entities"] = entities
    return content


def _thread(chat: EmulatorChat, params: dict[str, Any]) -> int | None:
    thread_id = params.get("message_thread_id")
    if thread_id and chat.is_forum and thread_id not in chat.topics:
        raise bad_request("message thread not found")
    return thread_id


def _reply(emu: BotApiEmulator, chat: EmulatorChat, params: dict[str, Any], content: dict[str, Any]) -> None:
    reply = params.get("reply_parameters") or {}
    reply_id = reply.get("message_id") if isinstance(reply, dict) else None
    if reply_id is None:
        return
    target = emu.get_message(reply.get("chat_id", chat.id), reply_id)
    if target is None:
        if reply.get("allow_sending_without_reply"):
            return
        raise bad_request("message to be replied not found")
    content["reply_to_message"] = copy.deepcopy(target)


def _send(emu: BotApiEmulator, bot: BotState, params: dict[str, Any], content: dict[str, Any],
          method_name: str) -> dict[str, Any]:
    chat = _chat(emu, params["chat_id"])
    thread_id = _thread(chat, params)
    _can_send(emu, bot, chat, method_name)
    markup = _markup(params)
    if markup is not None and "inline_keyboard" in markup:
        content["reply_markup"] = markup
    elif markup is not None:
        # Telegram's Message has no field for reply keyboards; the emulator keeps them under its own key
        # for tests and the sandbox page (PTB files unknown keys under api_kwargs).
        content["reply_keyboard"] = markup
    _reply(emu, chat, params, content)
    return emu.new_bot_message(bot, chat, content, thread_id)


def _target(emu: BotApiEmulator, params: dict[str, Any]) -> tuple[EmulatorChat, dict[str, Any]]:
    if params.get("inline_message_id"):
        raise bad_request("inline messages are not supported by the emulator")
    chat = _chat(emu, params.get("chat_id"))
    message = emu.get_message(chat.id, params.get("message_id", 0))
    if message is None:
        raise bad_request("message to edit not found")
    return chat, message


def _file_param(emu: BotApiEmulator, params: dict[str, Any], name: str, path_hint: str,
                mime: str | None) -> Any:
    value = params.get(name)
    uploads = params.get("__uploads__", {})
    if isinstance(value, dict) and "data" in value:
        return emu.new_file(value["data"], f"{path_hint}/{value['filename']}", value.get("content_type") or mime,
                            value["filename"])
    if isinstance(value, str) and value.startswith("attach://"):
        upload = uploads.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request(f"file {value} not found in the request")
        return emu.new_file(upload["data"], f"{path_hint}/{upload['filename']}",
                            upload.get("content_type") or mime, upload["filename"])
    if isinstance(value, str) and value in emu.files:
        return emu.files[value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return emu.new_file(b"", f"{path_hint}/remote", mime, None)
    raise bad_request("wrong file identifier/HTTP URL specified")


def _file_dict(stored: Any, **extra: Any) -> dict[str, Any]:
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size, **extra}


# ----- identity, commands, chats -----

@method("getMe")
async def get_me(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return {**bot.user.to_dict(), "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False,
            "has_topics_enabled": False, "allows_users_to_create_topics": False}


@method("logOut")
@method("close")
async def log_out(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    return True


@method("setMyCommands")
async def set_my_commands(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    commands = params["commands"]
    for command in commands:
        if not 1 <= len(command.get("command", "")) <= 32 or not 1 <= len(command.get("description", "")) <= 256:
            raise bad_request("BOT_COMMAND_INVALID")
    bot.commands[_command_scope(params)] = commands
    return True


@method("getMyCommands")
async def get_my_commands(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    return bot.commands.get(_command_scope(params), [])


@method("deleteMyCommands")
async def delete_my_commands(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    bot.commands.pop(_command_scope(params), None)
    return True


def _command_scope(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code') or ''}"


@method("setChatMenuButton")
@method("setMyDescription")
@method("setMyShortDescription")
@method("setMyName")
async def accepted(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    return True


@method("getChat")
async def get_chat(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return _chat(emu, params["chat_id"]).full_info()


@method("getChatMember")
async def get_chat_member(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    from sandbox.emulator.server import _member

    chat = _chat(emu, params["chat_id"])
    user = emu.users.get(params["user_id"])
    if user is None:
        raise bad_request("user not found")
    if chat.type == "private":
        return _member(user, "member")
    return _member(user, chat.members.get(user.id, "left"))


@method("getChatAdministrators")
async def get_chat_administrators(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict]:
    from sandbox.emulator.server import _member

    chat = _chat(emu, params["chat_id"])
    return [_member(emu.users[uid], status) for uid, status in chat.members.items()
            if status in ("creator", "administrator")]


@method("getChatMemberCount")
async def get_chat_member_count(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> int:
    chat = _chat(emu, params["chat_id"])
    return sum(1 for status in chat.members.values() if status not in ("left", "kicked")) or 2


@method("leaveChat")
async def leave_chat(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    chat.members[bot.user.id] = "left"
    return True


@method("sendChatAction")
async def send_chat_action(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    if chat.id in emu.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    emu.record_event(chat.id, "chat_action", None, action=params["action"])
    return True


# ----- sending -----

@method("sendMessage")
async def send_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return _send(emu, bot, params, _text_content(params), "sendMessage")


@method("sendPhoto")
async def send_photo(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    caption = _caption(params)
    stored = _file_param(emu, params, "photo", "photos", "image/jpeg")
    photo = [_file_dict(stored, width=1280, height=960)]
    return _send(emu, bot, params, {"photo": photo, **caption}, "sendPhoto")


@method("sendDocument")
async def send_document(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    caption = _caption(params)
    stored = _file_param(emu, params, "document", "documents", "application/octet-stream")
    document = _file_dict(stored, file_name=stored.file_name or "file", mime_type=stored.mime_type or
                          "application/octet-stream")
    return _send(emu, bot, params, {"document": document, **caption}, "sendDocument")


@method("sendVoice")
async def send_voice(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    caption = _caption(params)
    stored = _file_param(emu, params, "voice", "voice", "audio/ogg")
    voice = _file_dict(stored, duration=params.get("duration") or 1, mime_type="audio/ogg")
    return _send(emu, bot, params, {"voice": voice, **caption}, "sendVoice")


@method("sendAudio")
async def send_audio(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    caption = _caption(params)
    stored = _file_param(emu, params, "audio", "music", "audio/mpeg")
    audio = _file_dict(stored, duration=params.get("duration") or 1)
    return _send(emu, bot, params, {"audio": audio, **caption}, "sendAudio")


@method("sendVideo")
async def send_video(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    caption = _caption(params)
    stored = _file_param(emu, params, "video", "videos", "video/mp4")
    video = _file_dict(stored, width=640, height=360, duration=params.get("duration") or 1)
    return _send(emu, bot, params, {"video": video, **caption}, "sendVideo")


@method("sendSticker")
async def send_sticker(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    stored = _file_param(emu, params, "sticker", "stickers", "image/webp")
    sticker = _file_dict(stored, type="regular", width=512, height=512, is_animated=False, is_video=False)
    return _send(emu, bot, params, {"sticker": sticker}, "sendSticker")


@method("sendLocation")
async def send_location(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    location = {"latitude": params["latitude"], "longitude": params["longitude"]}
    return _send(emu, bot, params, {"location": location}, "sendLocation")


@method("sendMediaGroup")
async def send_media_group(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    media = params["media"]
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media in the album: 2-10 needed")
    messages = []
    group_id = uuid.uuid4().hex[:16]
    for item in media:
        kind = item.get("type")
        if kind not in ("photo", "document", "video", "audio"):
            raise bad_request(f"unsupported media type {kind}")
        sub = {"chat_id": params["chat_id"], kind: item.get("media"), "__uploads__": params.get("__uploads__", {}),
               "caption": item.get("caption"), "parse_mode": item.get("parse_mode"),
               "message_thread_id": params.get("message_thread_id")}
        message = await HANDLERS[f"send{kind}"](emu, bot, sub)
        message["media_group_id"] = group_id
        messages.append(message)
    return messages


@method("sendPoll")
async def send_poll(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    question, question_entities = parse(params["question"], params.get("question_parse_mode"))
    if not 1 <= utf16_len(question) <= 300:
        raise bad_request("poll question length must be 1-300")
    options = params["options"]
    if not isinstance(options, list) or not 2 <= len(options) <= 12:
        raise bad_request("poll must have 2-12 options")
    poll_options = []
    for index, option in enumerate(options):
        text = option.get("text") if isinstance(option, dict) else str(option)
        if not text or utf16_len(text) > 100:
            raise bad_request("poll option length must be 1-100")
        poll_options.append({"text": text, "voter_count": 0, "persistent_id": f"o{index}"})
    poll_type = params.get("type") or "regular"
    poll: dict[str, Any] = {
        "id": uuid.uuid4().hex[:18], "question": question, "options": poll_options, "total_voter_count": 0,
        "is_closed": bool(params.get("is_closed")), "is_anonymous": params.get("is_anonymous", True),
        "type": poll_type, "allows_multiple_answers": bool(params.get("allows_multiple_answers")),
        "allows_revoting": poll_type != "quiz", "members_only": False,
    }
    if question_entities:
        poll["question_entities"] = question_entities
    correct = params.get("correct_option_ids")
    if poll_type == "quiz":
        if not correct or any(not 0 <= c < len(options) for c in correct):
            raise bad_request("wrong correct option ids for the quiz")
        poll["correct_option_ids"] = correct
    if params.get("explanation"):
        explanation, _ = parse(params["explanation"], params.get("explanation_parse_mode"))
        if utf16_len(explanation) > 200:
            raise bad_request("poll explanation is too long")
        poll["explanation"] = explanation
    if params.get("open_period"):
        poll["open_period"] = params["open_period"]
    return _send(emu, bot, params, {"poll": poll}, "sendPoll")


@method("stopPoll")
async def stop_poll(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    _, message = _target(emu, params)
    if "poll" not in message:
        raise bad_request("message with poll to stop not found")
    message["poll"]["is_closed"] = True
    return copy.deepcopy(message["poll"])


@method("copyMessage")
async def copy_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    source_chat = _chat(emu, params["from_chat_id"])
    source = emu.get_message(source_chat.id, params["message_id"])
    if source is None:
        raise bad_request("message to copy not found")
    content = {key: copy.deepcopy(value) for key, value in source.items()
               if key in ("text", "entities", "photo", "document", "voice", "audio", "video", "sticker", "caption",
                          "caption_entities", "location", "contact", "poll")}
    if "caption" in params:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(_caption(params))
    message = _send(emu, bot, params, content, "copyMessage")
    return {"message_id": message["message_id"]}


@method("forwardMessage")
async def forward_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    source_chat = _chat(emu, params["from_chat_id"])
    source = emu.get_message(source_chat.id, params["message_id"])
    if source is None:
        raise bad_request("message to forward not found")
    content = {key: copy.deepcopy(value) for key, value in source.items()
               if key not in ("message_id", "date", "chat", "from", "reply_markup", "message_thread_id",
                              "is_topic_message", "reply_to_message")}
    origin_user = source.get("from")
    content["forward_origin"] = ({"type": "user", "date": source["date"], "sender_user": origin_user}
                                 if origin_user else {"type": "hidden_user", "date": source["date"],
                                                      "sender_user_name": "Hidden"})
    return _send(emu, bot, params, content, "forwardMessage")


# ----- editing and deleting -----

def _changed(message: dict[str, Any], updates: dict[str, Any]) -> bool:
    return any(message.get(key) != value for key, value in updates.items())


def _apply_edit(emu: BotApiEmulator, chat: EmulatorChat, message: dict[str, Any], updates: dict[str, Any],
                markup: dict[str, Any] | None, keep_markup: bool) -> dict[str, Any]:
    new_markup = markup if markup is not None else (message.get("reply_markup") if keep_markup else None)
    if not _changed(message, updates) and message.get("reply_markup") == new_markup:
        raise bad_request(NOT_MODIFIED)
    message.update(updates)
    for key, value in list(updates.items()):
        if value is None:
            message.pop(key, None)
    if new_markup:
        message["reply_markup"] = new_markup
    else:
        message.pop("reply_markup", None)
    message["edit_date"] = now()
    emu.record_event(chat.id, "edited", copy.deepcopy(message))
    return copy.deepcopy(message)


@method("editMessageText")
async def edit_message_text(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    content = _text_content(params)
    content.setdefault("entities", None)
    # Telegram drops the inline keyboard of an edited message unless a new one is given.
    return _apply_edit(emu, chat, message, content, _markup(params), keep_markup=False)


@method("editMessageCaption")
async def edit_message_caption(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params)
    content = _caption(params) or {"caption": None}
    content.setdefault("caption_entities", None)
    return _apply_edit(emu, chat, message, content, _markup(params), keep_markup=False)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params)
    return _apply_edit(emu, chat, message, {}, _markup(params), keep_markup=False)


@method("deleteMessage")
async def delete_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    message = emu.chat_messages.get(chat.id, {}).pop(params["message_id"], None)
    if message is None:
        raise bad_request("message to delete not found")
    emu.record_event(chat.id, "deleted", message)
    return True


@method("deleteMessages")
async def delete_messages(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    for message_id in params["message_ids"]:
        message = emu.chat_messages.get(chat.id, {}).pop(message_id, None)
        if message is not None:
            emu.record_event(chat.id, "deleted", message)
    return True


@method("pinChatMessage")
@method("unpinChatMessage")
async def pin(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    emu.record_event(chat.id, "pinned", emu.get_message(chat.id, params.get("message_id", 0)))
    return True


# ----- callbacks -----

@method("answerCallbackQuery")
async def answer_callback_query(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    query_id = params["callback_query_id"]
    query = emu.take_query(query_id)
    if query is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.get("text")
    if text is not None and utf16_len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = {"text": text, "show_alert": bool(params.get("show_alert")), "url": params.get("url")}
    emu.callback_answers[query_id] = answer
    chat_id = (query.get("message") or {}).get("chat", {}).get("id")
    if chat_id is not None:
        emu.record_event(chat_id, "answered_callback", None, **answer)
    return True


# ----- forum topics -----

@method("createForumTopic")
async def create_forum_topic(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat = _chat(emu, params["chat_id"])
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    name = params["name"]
    if not 1 <= utf16_len(name) <= 128:
        raise bad_request("topic name length must be 1-128")
    thread_id = emu.new_bot_message(bot, chat, {"forum_topic_created": {"name": name, "icon_color": 7322096}},
                                    None)["message_id"]
    chat.topics[thread_id] = name
    return {"message_thread_id": thread_id, "name": name, "icon_color": params.get("icon_color") or 7322096}


@method("editForumTopic")
@method("closeForumTopic")
@method("reopenForumTopic")
async def change_forum_topic(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    if params["message_thread_id"] not in chat.topics:
        raise bad_request("TOPIC_ID_INVALID")
    if params.get("name"):
        chat.topics[params["message_thread_id"]] = params["name"]
    return True


# ----- files -----

@method("getFile")
async def get_file(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    stored = emu.files.get(params["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_FILE_DOWNLOAD:
        raise bad_request("file is too big")
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size,
            "file_path": stored.file_path}


# ----- updates: polling and webhooks -----

@method("getUpdates")
async def get_updates(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    if bot.webhook_url:
        raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                            "delete the webhook first")
    limit = min(max(int(params.get("limit") or 100), 1), 100)
    timeout = max(int(params.get("timeout") or 0), 0)
    if params.get("allowed_updates") is not None:
        bot.allowed_updates = list(params["allowed_updates"]) or None
    async with bot.changed:
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.changed.notify_all()
        _confirm(bot, params.get("offset"))
        deadline = time.monotonic() + timeout
        while not _deliverable(bot):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(bot.changed.wait(), remaining)
            if bot.poll_generation != generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                                    "instance is running")
            if bot.webhook_url:
                return []
        return [update for update in list(bot.updates)[:limit] if _allowed(bot, update)][:limit] or []


def _confirm(bot: BotState, offset: Any) -> None:
    if offset is None:
        return
    offset = int(offset)
    if offset < 0:
        while len(bot.updates) > -offset:
            bot.updates.popleft()
        return
    while bot.updates and bot.updates[0]["update_id"] < offset:
        bot.updates.popleft()


def _kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _allowed(bot: BotState, update: dict[str, Any]) -> bool:
    allowed = bot.allowed_updates or DEFAULT_UPDATES
    return _kind(update) in allowed


def _deliverable(bot: BotState) -> bool:
    while bot.updates and not _allowed(bot, bot.updates[0]):
        bot.updates.popleft()  # Telegram never queues update kinds the bot did not ask for
    return bool(bot.updates)


@method("setWebhook")
async def set_webhook(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    url = params["url"]
    max_connections = params.get("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("max_connections must be 1-100")
    secret = params.get("secret_token")
    if secret is not None and not (1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)):
        raise bad_request("secret token contains unallowed characters")
    if url and not url.startswith(("https://", "http://127.", "http://localhost")):
        raise bad_request("bad webhook: HTTPS url must be provided for webhook")
    if params.get("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook_url, bot.webhook_secret, bot.webhook_max_connections = url, secret, max_connections
    if params.get("allowed_updates") is not None:
        bot.allowed_updates = list(params["allowed_updates"]) or None
    async with bot.changed:
        bot.poll_generation += 1
        bot.changed.notify_all()
    if url and (bot.webhook_task is None or bot.webhook_task.done()):
        bot.webhook_task = asyncio.get_running_loop().create_task(_deliver(emu, bot))
    return True


@method("deleteWebhook")
async def delete_webhook(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    bot.webhook_url, bot.webhook_secret = "", None
    if params.get("drop_pending_updates"):
        bot.updates.clear()
    async with bot.changed:
        bot.changed.notify_all()
    return True


@method("getWebhookInfo")
async def get_webhook_info(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"url": bot.webhook_url, "has_custom_certificate": False,
                            "pending_update_count": len(bot.updates)}
    if bot.webhook_url:
        info["max_connections"] = bot.webhook_max_connections
    if bot.allowed_updates:
        info["allowed_updates"] = bot.allowed_updates
    if bot.last_error_date:
        info["last_error_date"] = bot.last_error_date
        info["last_error_message"] = bot.last_error_message
    return info


async def _deliver(emu: BotApiEmulator, bot: BotState) -> None:
    """POST queued updates to the webhook in order, retrying failures with a short backoff."""
    delay = 0.05
    while bot.webhook_url:
        async with bot.changed:
            while bot.webhook_url and not _deliverable(bot):
                await bot.changed.wait()
            if not bot.webhook_url:
                return
            update = bot.updates[0]
        headers = {"X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret} if bot.webhook_secret else {}
        try:
            async with emu.http().post(bot.webhook_url, json=update, headers=headers) as response:
                ok = 200 <= response.status < 300
                error = None if ok else f"Wrong response from the webhook: {response.status} {response.reason}"
        except Exception as exc:  # noqa: BLE001 - any failure means Telegram would retry
            ok, error = False, f"Connection failed: {type(exc).__name__}"
        if ok:
            delay = 0.05
            if bot.updates and bot.updates[0] is update:
                bot.updates.popleft()
            continue
        bot.last_error_date, bot.last_error_message = now(), error
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
