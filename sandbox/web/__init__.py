"""The sandbox's web page and its small JSON API, on the emulator's event loop.

The page (static/) is plain HTML, CSS and JavaScript. It acts as the personas through the emulator's
test-side API (send_text, press_button, send_photo, send_document, answer_poll) and learns what the bot did
from the events the emulator records, pushed as server-sent events.

    GET  /api/state                      personas, their chats, the bot's command menu
    GET  /api/chats/{chat}/messages      the chat as it is now (edits applied, deleted messages gone)
    POST /api/send    {persona, chat, text, reply_to?}
    POST /api/press   {persona, chat, message_id, data}       → {answer: the bot's answerCallbackQuery}
    POST /api/vote    {persona, chat, message_id, options}
    POST /api/upload  multipart: persona, chat, caption?, file → a photo (image/*) or a document
    GET  /api/file/{file_id}             a file's bytes (photos in the chat)
    GET  /api/events                     server-sent events: {"type": "event", chat_id, kind, message} | reset
    POST /api/reset                      the demo data again
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.emulator import NoMessage
from sandbox.personas import PERSONAS

if TYPE_CHECKING:
    from sandbox.app import Sandbox, World

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 20 * 1024 * 1024
SANDBOX = web.AppKey("sandbox", object)


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


@web.middleware
async def _same_machine_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """The page acts as anyone in the demo: only pages served from this address may use the API (no other
    site open in the browser, no DNS-rebound name)."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if host not in LOOPBACK_NAMES:
        raise web.HTTPForbidden(text="the sandbox answers on 127.0.0.1 only")
    origin = request.headers.get("Origin")
    if request.method == "POST" and origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-site request refused")
    return await handler(request)


def make_web_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024, middlewares=[_same_machine_only])
    app[SANDBOX] = sandbox
    app.router.add_get("/", _index)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/api/chats/{chat}/messages", _messages)
    app.router.add_post("/api/send", _send)
    app.router.add_post("/api/press", _press)
    app.router.add_post("/api/vote", _vote)
    app.router.add_post("/api/upload", _upload)
    app.router.add_get("/api/file/{file_id}", _file)
    app.router.add_get("/api/events", _events)
    app.router.add_post("/api/reset", _reset)
    app.router.add_static("/static", STATIC)
    return app


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]  # type: ignore[return-value]


def _world(request: web.Request) -> World:
    world = _sandbox(request).world
    if world is None:
        raise web.HTTPServiceUnavailable(text="the sandbox is restarting")
    return world


def _bad(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


def _json(value: Any) -> web.Response:
    return web.json_response(value, dumps=lambda v: json.dumps(v, ensure_ascii=False))


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _state(request: web.Request) -> web.Response:
    world = _world(request)
    emulator, cast = world.emulator, world.cast
    personas = []
    for persona in PERSONAS:
        user = cast.users[persona.key]
        chats = []
        for chat_id in cast.chats_of(persona.key):
            chat = emulator.chats[chat_id]
            chats.append({"id": chat.id, "type": chat.type, "title": chat.title,
                          "last": _preview(emulator.messages(chat.id))})
        personas.append({"key": persona.key, "user_id": user.id,
                         "name": " ".join(filter(None, (persona.last_name, persona.first_name))),
                         "first_name": persona.first_name, "short": persona.short, "role": persona.role, "chats": chats,
                         "started": persona.workplace is not None})
    bot = next(iter(emulator.bots.values()))
    commands = {language: bot.commands.get(f'{{"type": "default"}}|{code}', [])
                for language, code in (("vi", ""), ("en", "en"))}
    return _json({"personas": personas, "bot": {"id": bot.user.id, "name": bot.user.first_name,
                                                "username": bot.user.username, "commands": commands}})


def _preview(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not messages:
        return None
    last = messages[-1]
    text = last.get("text") or last.get("caption") or ""
    kind = next((k for k in ("photo", "document", "voice", "poll", "sticker", "contact") if k in last), None)
    return {"id": last["message_id"], "text": text[:80], "kind": kind, "date": last["date"], "from_bot": last["from"].get("is_bot", False)}


def _persona_user(world: World, key: Any, chat_id: int) -> Any:
    if key not in world.cast.users:
        raise _bad("unknown persona")
    if chat_id not in world.cast.chats_of(key):
        raise _bad("this persona is not in that chat")
    return world.cast.users[key]


def _chat_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad("chat must be a number") from None


async def _messages(request: web.Request) -> web.Response:
    world = _world(request)
    chat_id = _chat_id(request.match_info["chat"])
    user = _persona_user(world, request.query.get("persona"), chat_id)
    return _json({"messages": [_with_vote(world, m, user.id) for m in world.emulator.messages(chat_id)]})


def _with_vote(world: World, message: dict[str, Any], user_id: int) -> dict[str, Any]:
    """A poll message with the persona's own vote, as their Telegram app would remember it."""
    if "poll" not in message:
        return message
    votes = world.emulator._poll_votes.get(message["poll"]["id"], {})  # the sandbox is part of the emulator
    return {**message, "my_vote": votes.get(user_id)}


async def _body(request: web.Request) -> tuple[World, Any, int, dict[str, Any]]:
    world = _world(request)
    if request.content_type != "application/json":
        raise _bad("expected a JSON body")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise _bad("expected a JSON body") from None
    if not isinstance(body, dict):
        raise _bad("expected a JSON object")
    chat_id = _chat_id(body.get("chat"))
    return world, _persona_user(world, body.get("persona"), chat_id), chat_id, body


def _published(world: World, message: dict[str, Any]) -> web.Response:
    """Tell every open page about a persona's own message (the emulator records only what the bot does)."""
    world.emulator.publish({"type": "event", "chat_id": message["chat"]["id"], "kind": "sent", "message": message})
    return _json({"message": message})


async def _send(request: web.Request) -> web.Response:
    world, user, chat_id, body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 4096:
        raise _bad("text must be 1-4096 characters")
    reply_to = None
    if body.get("reply_to") is not None:
        reply_to = world.emulator.get_message(chat_id, _chat_id(body["reply_to"]))
        if reply_to is None:
            raise _bad("that message is gone")
    contact = body.get("contact")
    if contact:  # a reply-keyboard button that shares the persona's phone number
        message = await world.emulator.send_contact(user, "+8490" + str(user.id)[-7:], chat=chat_id)
        return _published(world, message)
    chat = None if chat_id == user.id else chat_id
    message = await world.emulator.send_text(user, text.strip(), chat=chat, reply_to=reply_to)
    return _published(world, message)


async def _press(request: web.Request) -> web.Response:
    world, user, chat_id, body = await _body(request)
    data = body.get("data")
    if not isinstance(data, str):
        raise _bad("data must be text")
    try:
        query_id = await world.emulator.press_button(user, _chat_id(body.get("message_id")), data, chat=chat_id)
    except AssertionError:
        raise _bad("that button is no longer there") from None
    try:
        answer = await world.emulator.wait_answer(query_id, timeout=5)
    except NoMessage:
        answer = None
    return _json({"answer": answer})


async def _vote(request: web.Request) -> web.Response:
    world, user, chat_id, body = await _body(request)
    options = body.get("options")
    if not isinstance(options, list) or not all(isinstance(o, int) for o in options):
        raise _bad("options must be a list of numbers")
    message = world.emulator.get_message(chat_id, _chat_id(body.get("message_id")))
    if message is None:
        raise _bad("that poll is gone")
    try:
        await world.emulator.answer_poll(user, message, options)
    except AssertionError as error:
        raise _bad(str(error)) from None
    world.emulator.publish({"type": "event", "chat_id": chat_id, "kind": "edited", "message": message})
    return _json({"ok": True})


async def _upload(request: web.Request) -> web.Response:
    world = _world(request)
    fields: dict[str, Any] = {}
    reader = await request.multipart()
    async for part in reader:
        if part.filename is not None:
            data = await part.read()
            fields["file"] = (part.filename, part.headers.get("Content-Type") or "application/octet-stream", data)
        else:
            fields[part.name or ""] = await part.text()
    chat_id = _chat_id(fields.get("chat"))
    user = _persona_user(world, fields.get("persona"), chat_id)
    if "file" not in fields:
        raise _bad("no file")
    filename, mime_type, data = fields["file"]
    chat = None if chat_id == user.id else chat_id
    caption = (fields.get("caption") or "").strip() or None
    if mime_type.startswith("image/") and mime_type != "image/gif" and not fields.get("as_document"):
        message = await world.emulator.send_photo(user, data, caption=caption, chat=chat)
    else:
        message = await world.emulator.send_document(user, data, filename, mime_type, caption=caption, chat=chat)
    return _published(world, message)


async def _file(request: web.Request) -> web.StreamResponse:
    stored = _world(request).emulator.files.get(request.match_info["file_id"])
    if stored is None:
        raise web.HTTPNotFound()
    mime_type = stored.mime_type or "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if not mime_type.startswith("image/") or mime_type == "image/svg+xml":
        mime_type = "application/octet-stream"  # downloaded, never rendered by the browser
        headers["Content-Disposition"] = "attachment"
    return web.Response(body=stored.data, content_type=mime_type, headers=headers)


async def _events(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    queue = sandbox.subscribe()
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event["type"] == "closing":
                break
            payload = json.dumps(event, ensure_ascii=False)
            await response.write(f"data: {payload}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        sandbox.unsubscribe(queue)
    with contextlib.suppress(Exception):
        await response.write_eof()
    return response


async def _reset(request: web.Request) -> web.Response:
    await _sandbox(request).reset()
    return _json({"ok": True})
