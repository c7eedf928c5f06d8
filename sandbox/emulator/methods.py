"""The Bot API methods the emulator implements, each answering as Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sandbox.emulator.markup import parse, utf16_len
from sandbox.emulator.spec import ApiError, bad_request
from sandbox.emulator.state import BotState, EmulatorChat, clone, now, snapshot

if TYPE_CHECKING:
    from sandbox.emulator.server import BotApiEmulator

Handler = Callable[["BotApiEmulator", BotState, dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_FILE_DOWNLOAD = 20 * 1024 * 1024
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message")
# Update kinds Telegram leaves out unless a bot names them in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name.lower()] = handler
        return handler

    return register


async def dispatch(emu: BotApiEmulator, bot: BotState, name: str, params: dict[str, Any]) -> Any:
    handler = HANDLERS.get(name.lower())
    if handler is None:
        emu.unsupported_methods.append(name)
        raise bad_request("method not supported by the emulator")
    return await handler(emu, bot, params)


# ----- helpers -----

def _chat(emu: BotApiEmulator, chat_id: Any) -> EmulatorChat:
    if isinstance(chat_id, str):
        chat_id = emu.usernames.get(chat_id.lower(), chat_id)
    chat = emu.chats.get(chat_id) if isinstance(chat_id, int) else None
    if chat is None:
        user = emu.users.get(chat_id) if isinstance(chat_id, int) else None
        if user is not None and user.is_bot:
            raise ApiError(403, "Forbidden: bots can't send messages to bots")
        raise bad_request("chat not found")
    return chat


FORBIDDEN = {"blocked": "Forbidden: bot was blocked by the user",
             "deactivated": "Forbidden: user is deactivated",
             "kicked": "Forbidden: bot was kicked from the supergroup chat"}


def _can_send(emu: BotApiEmulator, bot: BotState, chat: EmulatorChat, method_name: str) -> None:
    reason = emu.blocked.get(chat.id)
    if reason is not None:
        raise ApiError(403, FORBIDDEN.get(reason, FORBIDDEN["blocked"]))
    if chat.type != "private" and chat.members.get(bot.user.id) in (None, "left", "kicked"):
        raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
    emu.flood.check(method_name, chat.id, chat.type != "private")


def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    if not markup:
        return None
    if not isinstance(markup, dict) or not any(key in markup for key in MARKUP_KINDS):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for key in ("inline_keyboard", "keyboard"):
        rows = markup.get(key)
        if rows is not None and not (isinstance(rows, list) and all(isinstance(row, list) for row in rows)):
            kind = "InlineKeyboardMarkup" if key == "inline_keyboard" else "ReplyKeyboardMarkup"
            raise bad_request(f'field "{key}" of the {kind} must be an Array of Arrays')
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
            if not any(key in button for key in BUTTON_ACTIONS):
                raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline "
                                  "keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                raise bad_request("BUTTON_URL_INVALID")
    for row in markup.get("keyboard", []):
        for button in row:
            if not (button if isinstance(button, str) else button.get("text")):
                raise bad_request("keyboard button text is empty")
    return markup


MARKUP_KINDS = ("inline_keyboard", "keyboard", "remove_keyboard", "force_reply")
BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                  "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                  "callback_game", "pay")


def _users(emu: BotApiEmulator):  # type: ignore[no-untyped-def]
    def lookup(user_id: int) -> dict[str, Any] | None:
        user = emu.users.get(user_id)
        return user.to_dict() if user else None

    return lookup


def _text_content(params: dict[str, Any], emu: BotApiEmulator | None = None) -> dict[str, Any]:
    source = params.get("text", "")
    text, entities = parse(source, params.get("parse_mode"), params.get("entities"), _users(emu) if emu else None)
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
    if thread_id and chat.is_forum:
        if thread_id not in chat.topics:
            raise bad_request("message thread not found")
        if thread_id in chat.closed_topics:
            raise bad_request("TOPIC_CLOSED")
    return thread_id if chat.is_forum else None


def _reply(emu: BotApiEmulator, chat: EmulatorChat, params: dict[str, Any], content: dict[str, Any]) -> None:
    reply = params.get("reply_parameters") or {}
    reply_id = reply.get("message_id") if isinstance(reply, dict) else None
    if reply_id is None:
        return
    reply_chat = _chat(emu, reply["chat_id"]).id if reply.get("chat_id") is not None else chat.id
    target = emu.get_message(reply_chat, reply_id)
    if target is None:
        if reply.get("allow_sending_without_reply"):
            return
        raise bad_request("message to be replied not found")
    if reply_chat != chat.id:
        origin = ({"type": "user", "date": target["date"], "sender_user": target["from"]} if target.get("from")
                  else {"type": "hidden_user", "date": target["date"], "sender_user_name": "Hidden"})
        content["external_reply"] = {"origin": origin, "chat": target["chat"], "message_id": reply_id}
        return
    quoted = snapshot(target)
    quoted.pop("reply_to_message", None)  # Telegram nests one level only
    content["reply_to_message"] = quoted


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
    if thread_id is None and chat.is_forum and "reply_to_message" in content:
        thread_id = content["reply_to_message"].get("message_thread_id")  # a reply stays in its topic
    return emu.new_bot_message(bot, chat, content, thread_id)


def _target(emu: BotApiEmulator, params: dict[str, Any], bot: BotState | None = None) -> tuple[EmulatorChat, dict]:
    """The message an edit method points at; with `bot`, it must be one that bot sent."""
    if params.get("inline_message_id"):
        raise bad_request("inline messages are not supported by the emulator")
    if params.get("chat_id") is None or params.get("message_id") is None:
        raise bad_request("message identifier is not specified")
    chat = _chat(emu, params.get("chat_id"))
    message = emu.get_message(chat.id, params["message_id"])
    if message is None:
        raise bad_request("message to edit not found")
    if bot is not None and message.get("from", {}).get("id") != bot.user.id:
        raise bad_request("message can't be edited")
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
    chat = _chat(emu, params["chat_id"])
    info = chat.full_info()
    if chat.pinned and emu.get_message(chat.id, chat.pinned[-1]) is not None:
        info["pinned_message"] = clone(emu.get_message(chat.id, chat.pinned[-1]))
    return info


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
    from sandbox.emulator.server import _member

    chat = _chat(emu, params["chat_id"])
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    old = chat.members.get(bot.user.id)
    if old in (None, "left", "kicked"):
        raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
    chat.members[bot.user.id] = "left"
    emu.record_event(chat.id, "left", None)
    await emu.queue_update(bot, "my_chat_member", {
        "chat": chat.to_dict(), "from": bot.user.to_dict(), "date": now(),
        "old_chat_member": _member(bot.user, old), "new_chat_member": _member(bot.user, "left")})
    return True


CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note",
                          "upload_video_note"})


@method("sendChatAction")
async def send_chat_action(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    if chat.id in emu.blocked:
        raise ApiError(403, FORBIDDEN.get(emu.blocked[chat.id], FORBIDDEN["blocked"]))
    if params["action"] not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    emu.record_event(chat.id, "chat_action", None, action=params["action"])
    return True


# ----- sending -----

@method("sendMessage")
async def send_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return _send(emu, bot, params, _text_content(params, emu), "sendMessage")


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


@method("sendAnimation")
async def send_animation(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    caption = _caption(params)
    stored = _file_param(emu, params, "animation", "animations", "video/mp4")
    animation = _file_dict(stored, width=320, height=240, duration=params.get("duration") or 1)
    return _send(emu, bot, params, {"animation": animation, **caption}, "sendAnimation")


@method("sendVideoNote")
async def send_video_note(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    stored = _file_param(emu, params, "video_note", "video_notes", "video/mp4")
    note = _file_dict(stored, length=params.get("length") or 240, duration=params.get("duration") or 1)
    return _send(emu, bot, params, {"video_note": note}, "sendVideoNote")


@method("sendLocation")
async def send_location(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    location = {"latitude": params["latitude"], "longitude": params["longitude"]}
    return _send(emu, bot, params, {"location": location}, "sendLocation")


@method("sendVenue")
async def send_venue(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    location = {"latitude": params["latitude"], "longitude": params["longitude"]}
    venue = {"location": location, "title": params["title"], "address": params["address"]}
    return _send(emu, bot, params, {"venue": venue, "location": location}, "sendVenue")


@method("sendContact")
async def send_contact(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    contact = {key: params[key] for key in ("phone_number", "first_name", "last_name", "vcard") if params.get(key)}
    return _send(emu, bot, params, {"contact": contact}, "sendContact")


DICE_MAX = {"🎲": 6, "🎯": 6, "🎳": 6, "🏀": 5, "⚽": 5, "🎰": 64}


@method("sendDice")
async def send_dice(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    emoji = params.get("emoji") or "🎲"
    if emoji not in DICE_MAX:
        raise bad_request("DICE_EMOJI_INVALID")
    chat = _chat(emu, params["chat_id"])
    value = len(emu.chat_messages.get(chat.id, {})) % DICE_MAX[emoji] + 1  # deterministic, for repeatable tests
    return _send(emu, bot, params, {"dice": {"emoji": emoji, "value": value}}, "sendDice")


@method("sendMediaGroup")
async def send_media_group(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    media = params["media"]
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media in the album: 2-10 needed")
    kinds = {item.get("type") if isinstance(item, dict) else None for item in media}
    if not kinds <= {"photo", "video", "document", "audio"}:
        raise bad_request(f"unsupported media type in the album: {sorted(map(str, kinds))}")
    if len(kinds) > 1 and kinds & {"document", "audio"}:
        raise bad_request("documents and audio can't be mixed with other media types in an album")
    chat = _chat(emu, params["chat_id"])
    _can_send(emu, bot, chat, "sendMediaGroup")  # the whole album counts as one send
    thread_id = _thread(chat, params)
    group_id = str(10**17 + next(_ALBUMS))
    contents = []
    for item in media:
        kind = item["type"]
        caption = _caption({"caption": item.get("caption"), "parse_mode": item.get("parse_mode"),
                            "caption_entities": item.get("caption_entities")})
        stored = _file_param(emu, {**params, "media": item.get("media")}, "media", f"{kind}s", None)
        if kind == "photo":
            body: Any = [_file_dict(stored, width=1280, height=960)]
        elif kind == "video":
            body = _file_dict(stored, width=640, height=360, duration=item.get("duration") or 1)
        elif kind == "audio":
            body = _file_dict(stored, duration=item.get("duration") or 1)
        else:
            body = _file_dict(stored, file_name=stored.file_name or "file",
                              mime_type=stored.mime_type or "application/octet-stream")
        contents.append({kind: body, **caption, "media_group_id": group_id})
    messages = []
    for content in contents:
        _reply(emu, chat, params, content)
        messages.append(emu.new_bot_message(bot, chat, content, thread_id))
    return messages


_ALBUMS = itertools.count(1)


@method("sendPoll")
async def send_poll(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    question, question_entities = parse(params["question"], params.get("question_parse_mode"))
    if not 1 <= utf16_len(question) <= 300:
        raise bad_request("poll question length must be 1-300")
    options = params["options"]
    if not isinstance(options, list) or not 1 <= len(options) <= 12:
        raise bad_request("poll must have 1-12 options")
    poll_options = []
    for index, option in enumerate(options):
        text = option.get("text") if isinstance(option, dict) else str(option)
        if not text or utf16_len(text) > 100:
            raise bad_request("poll option length must be 1-100")
        poll_options.append({"persistent_id": str(index), "text": text, "voter_count": 0})
    poll_type = params.get("type") or "regular"
    if poll_type not in ("regular", "quiz"):
        raise bad_request("poll type is invalid")
    allows_revoting = params.get("allows_revoting")
    poll: dict[str, Any] = {
        "id": str(5_000_000_000_000_000_000 + next(_POLLS)), "question": question, "options": poll_options,
        "total_voter_count": 0, "is_closed": bool(params.get("is_closed")),
        "is_anonymous": params.get("is_anonymous", True), "type": poll_type,
        "allows_multiple_answers": bool(params.get("allows_multiple_answers")),
        "allows_revoting": (poll_type != "quiz") if allows_revoting is None else bool(allows_revoting),
        "members_only": bool(params.get("members_only")),
    }
    if params.get("close_date"):
        poll["close_date"] = params["close_date"]
    if params.get("description"):
        poll["description"], description_entities = parse(params["description"],
                                                           params.get("description_parse_mode"),
                                                           params.get("description_entities"))
        if description_entities:
            poll["description_entities"] = description_entities
    if question_entities:
        poll["question_entities"] = question_entities
    correct = params.get("correct_option_ids")
    if poll_type == "quiz":
        if not correct or any(not 0 <= c < len(options) for c in correct):
            raise bad_request("wrong correct option ids for the quiz")
        poll["correct_option_ids"] = correct
    if params.get("explanation"):
        explanation, explanation_entities = parse(params["explanation"], params.get("explanation_parse_mode"),
                                                  params.get("explanation_entities"))
        if utf16_len(explanation) > 200:
            raise bad_request("poll explanation is too long")
        poll["explanation"] = explanation
        if explanation_entities:
            poll["explanation_entities"] = explanation_entities
    if params.get("open_period"):
        poll["open_period"] = params["open_period"]
    return _send(emu, bot, params, {"poll": poll}, "sendPoll")


_POLLS = itertools.count(1)


@method("stopPoll")
async def stop_poll(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params, bot)
    if "poll" not in message:
        raise bad_request("message with poll to stop not found")
    if message["poll"]["is_closed"]:
        raise bad_request("poll has already been closed")
    message["poll"]["is_closed"] = True
    if params.get("reply_markup") is not None:
        message["reply_markup"] = _markup(params)
    emu.record_event(chat.id, "edited", message)
    await emu.queue_update(bot, "poll", clone(message["poll"]))
    return clone(message["poll"])


COPYABLE = ("text", "entities", "photo", "document", "voice", "audio", "video", "animation", "video_note",
            "sticker", "caption", "caption_entities", "location", "venue", "contact", "poll", "dice",
            "link_preview_options", "show_caption_above_media", "has_media_spoiler")
SERVICE = ("new_chat_members", "left_chat_member", "forum_topic_created", "pinned_message", "new_chat_title")


def _source(emu: BotApiEmulator, params: dict[str, Any], message_id: int, verb: str) -> dict[str, Any]:
    source_chat = _chat(emu, params["from_chat_id"])
    source = emu.get_message(source_chat.id, message_id)
    if source is None:
        raise bad_request(f"message to {verb} not found")
    if any(key in source for key in SERVICE):
        raise bad_request("message can't be forwarded" if verb == "forward" else "message can't be copied")
    return source


def _copy(emu: BotApiEmulator, bot: BotState, params: dict[str, Any], source: dict[str, Any],
          method_name: str) -> dict[str, Any]:
    """A copy: the same content sent by the bot, with no link to the original (no forward_origin)."""
    content = {key: clone(value) for key, value in source.items() if key in COPYABLE}
    if "poll" in content:
        if content["poll"]["type"] == "quiz" and "correct_option_ids" not in content["poll"]:
            raise bad_request("message can't be copied")
        content["poll"].update(id=str(5_000_000_000_000_000_000 + next(_POLLS)), total_voter_count=0,
                               is_closed=False)
        for option in content["poll"]["options"]:
            option["voter_count"] = 0
    if "caption" in params or params.get("remove_caption"):
        content.pop("caption", None)
        content.pop("caption_entities", None)
        if not params.get("remove_caption"):
            content.update(_caption(params))
    return _send(emu, bot, params, content, method_name)


def _forward(emu: BotApiEmulator, bot: BotState, params: dict[str, Any], source: dict[str, Any],
             method_name: str) -> dict[str, Any]:
    """A forward: the same content, with forward_origin naming the original sender (kept from the
    original when it was itself a forward)."""
    content = {key: clone(value) for key, value in source.items() if key in COPYABLE}
    if "forward_origin" in source:
        content["forward_origin"] = clone(source["forward_origin"])
    elif source.get("chat", {}).get("type") == "channel":
        content["forward_origin"] = {"type": "channel", "date": source["date"], "chat": clone(source["chat"]),
                                     "message_id": source["message_id"]}
    elif source.get("from"):
        content["forward_origin"] = {"type": "user", "date": source["date"], "sender_user": clone(source["from"])}
    else:
        content["forward_origin"] = {"type": "hidden_user", "date": source["date"], "sender_user_name": "Hidden"}
    if params.get("protect_content"):
        content["has_protected_content"] = True
    return _send(emu, bot, params, content, method_name)


@method("copyMessage")
async def copy_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    source = _source(emu, params, params["message_id"], "copy")
    return {"message_id": _copy(emu, bot, params, source, "copyMessage")["message_id"]}


@method("forwardMessage")
async def forward_message(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    return _forward(emu, bot, params, _source(emu, params, params["message_id"], "forward"), "forwardMessage")


def _many(params: dict[str, Any]) -> list[int]:
    ids = params["message_ids"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or ids != sorted(set(ids)):
        raise bad_request("message_ids must be 1-100 strictly increasing message identifiers")
    return ids


def _each(emu: BotApiEmulator, bot: BotState, params: dict[str, Any], act: Any, method_name: str,
          verb: str) -> list[dict[str, Any]]:
    """Copy or forward several messages; missing or service messages are skipped, as Telegram does."""
    result = []
    for message_id in _many(params):
        source = emu.get_message(_chat(emu, params["from_chat_id"]).id, message_id)
        if source is None or any(key in source for key in SERVICE):
            continue
        result.append({"message_id": act(emu, bot, params, source, method_name)["message_id"]})
    if not result:
        raise bad_request(f"there are no messages to {verb}")
    return result


@method("copyMessages")
async def copy_messages(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _each(emu, bot, params, _copy, "copyMessages", "copy")


@method("forwardMessages")
async def forward_messages(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _each(emu, bot, params, _forward, "forwardMessages", "forward")


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
    emu.record_event(chat.id, "edited", message)
    return message


@method("editMessageText")
async def edit_message_text(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params, bot)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    content = _text_content(params, emu)
    content.setdefault("entities", None)
    # Telegram drops the inline keyboard of an edited message unless a new one is given.
    return _apply_edit(emu, chat, message, content, _markup(params), keep_markup=False)


@method("editMessageCaption")
async def edit_message_caption(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params, bot)
    if not any(key in message for key in ("photo", "video", "document", "audio", "animation", "voice")):
        raise bad_request("there is no caption in the message to edit")
    content = _caption(params) or {"caption": None}
    content.setdefault("caption_entities", None)
    return _apply_edit(emu, chat, message, content, _markup(params), keep_markup=False)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    chat, message = _target(emu, params, bot)
    markup = params.get("reply_markup")
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
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
async def pin(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    message = emu.get_message(chat.id, params["message_id"])
    if message is None:
        raise bad_request("message to pin not found")
    chat.pinned.append(message["message_id"])
    emu.record_event(chat.id, "pinned", message)
    if not params.get("disable_notification") or chat.type == "private":
        # Telegram posts a service message about the pin (silently in private chats)
        emu.new_bot_message(bot, chat, {"pinned_message": clone(message)}, None)
    return True


@method("unpinChatMessage")
async def unpin(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    message_id = params.get("message_id") or (chat.pinned[-1] if chat.pinned else None)
    if message_id is None or message_id not in chat.pinned:
        raise bad_request("message to unpin not found")
    chat.pinned.remove(message_id)
    emu.record_event(chat.id, "unpinned", emu.get_message(chat.id, message_id))
    return True


@method("unpinAllChatMessages")
async def unpin_all(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    for message_id in chat.pinned:
        emu.record_event(chat.id, "unpinned", emu.get_message(chat.id, message_id))
    chat.pinned.clear()
    return True


@method("setMessageReaction")
async def set_message_reaction(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat = _chat(emu, params["chat_id"])
    message = emu.get_message(chat.id, params["message_id"])
    if message is None:
        raise bad_request("message to react not found")
    emu.record_event(chat.id, "reaction", message, reaction=params.get("reaction") or [])
    return True


# ----- callbacks -----

@method("answerCallbackQuery")
async def answer_callback_query(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    query_id = params["callback_query_id"]
    text = params.get("text")
    if text is not None and utf16_len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query = emu.take_query(bot, query_id)
    if query is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    answer = {"text": text, "show_alert": bool(params.get("show_alert")), "url": params.get("url"),
              "cache_time": params.get("cache_time") or 0}
    emu.answered(query_id, answer)
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
    color = params.get("icon_color") or 7322096
    if color not in TOPIC_COLORS:
        raise bad_request("TOPIC_COLOR_INVALID")
    _can_send(emu, bot, chat, "createForumTopic")
    created = emu.new_bot_message(bot, chat, {"forum_topic_created": {"name": name, "icon_color": color}}, None)
    thread_id = created["message_id"]
    chat.topics[thread_id] = name
    topic = {"message_thread_id": thread_id, "name": name, "icon_color": color}
    if params.get("icon_custom_emoji_id"):
        topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
    return topic


TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)


def _topic(emu: BotApiEmulator, params: dict[str, Any]) -> tuple[EmulatorChat, int]:
    chat = _chat(emu, params["chat_id"])
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    if params["message_thread_id"] not in chat.topics:
        raise bad_request("TOPIC_ID_INVALID")
    return chat, params["message_thread_id"]


@method("editForumTopic")
async def edit_forum_topic(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat, thread_id = _topic(emu, params)
    name = params.get("name")
    if name is not None and not 1 <= utf16_len(name) <= 128:
        raise bad_request("topic name length must be 1-128")
    if name is None and params.get("icon_custom_emoji_id") is None:
        raise bad_request("TOPIC_NOT_MODIFIED")
    if name:
        chat.topics[thread_id] = name
        emu.new_bot_message(bot, chat, {"forum_topic_edited": {"name": name}}, thread_id)
    return True


@method("closeForumTopic")
async def close_forum_topic(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat, thread_id = _topic(emu, params)
    if thread_id in chat.closed_topics:
        raise bad_request("TOPIC_NOT_MODIFIED")
    chat.closed_topics.add(thread_id)
    emu.new_bot_message(bot, chat, {"forum_topic_closed": {}}, thread_id)
    return True


@method("reopenForumTopic")
async def reopen_forum_topic(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat, thread_id = _topic(emu, params)
    if thread_id not in chat.closed_topics:
        raise bad_request("TOPIC_NOT_MODIFIED")
    chat.closed_topics.discard(thread_id)
    emu.new_bot_message(bot, chat, {"forum_topic_reopened": {}}, thread_id)
    return True


@method("deleteForumTopic")
async def delete_forum_topic(emu: BotApiEmulator, bot: BotState, params: dict[str, Any]) -> bool:
    chat, thread_id = _topic(emu, params)
    del chat.topics[thread_id]
    chat.closed_topics.discard(thread_id)
    messages = emu.chat_messages.get(chat.id, {})
    for message_id in [i for i, m in messages.items() if m.get("message_thread_id") == thread_id or i == thread_id]:
        emu.record_event(chat.id, "deleted", messages.pop(message_id))
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
        while not bot.updates:
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
        return list(itertools.islice(bot.updates, limit))


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


def wanted(bot: BotState, kind: str, known_kinds: frozenset[str]) -> bool:
    """Whether Telegram would create an update of this kind for the bot, given its allowed_updates
    (as in Telegram, the filter applies to updates created after it was set, not to queued ones)."""
    if kind not in known_kinds:
        return True  # not an update kind at all (fuzzing): deliver as given
    if bot.allowed_updates:
        return kind in bot.allowed_updates
    return kind not in OPT_IN_UPDATES


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
    bot.webhook_changed.set()
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
    bot.webhook_changed.set()
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
            while bot.webhook_url and not bot.updates:
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
        bot.webhook_changed.clear()
        with contextlib.suppress(TimeoutError):  # a new setWebhook (say, a fixed secret) retries at once
            await asyncio.wait_for(bot.webhook_changed.wait(), delay)
        delay = min(delay * 2, 1.0)
