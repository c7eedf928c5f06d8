"""Webhook mode: an aiohttp endpoint that checks Telegram's secret in constant time, caps the body at
1 MB and ignores a repeated update_id (Telegram retries deliveries it thinks failed)."""

from __future__ import annotations

import hmac
import json
import logging
from collections import OrderedDict
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024
REMEMBERED_UPDATES = 10_000

log = logging.getLogger(__name__)


class RecentIds:
    """The last N update ids seen, for dropping Telegram's redeliveries."""

    def __init__(self, size: int = REMEMBERED_UPDATES) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._size = size

    def seen_before(self, update_id: int) -> bool:
        if update_id in self._ids:
            return True
        self._ids[update_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return False


def webhook_path(webhook_url: str) -> str:
    return urlsplit(webhook_url).path or "/"


def make_webhook_app(application: Application, secret: str, path: str) -> web.Application:  # type: ignore[type-arg]
    recent = RecentIds()
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(await request.read())
            update_id = int(data["update_id"])
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="too large")
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="bad update")
        if recent.seen_before(update_id):
            log.info("update %s delivered again; ignored", update_id)
            return web.Response(text="ok")
        await application.update_queue.put(Update.de_json(data, application.bot))
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(path, receive)
    return app
