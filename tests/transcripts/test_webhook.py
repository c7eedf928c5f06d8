"""Webhook mode: the secret is checked, bodies over 1 MB are refused, a repeated update_id is ignored."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from bot.runner import serve_webhook
from sandbox.demo import load_demo_units
from tests.support.harness import Harness, make_settings, t

SECRET = "webhook_secret-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def webhook_bot(db_url, emulator):
    await load_demo_units(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = make_settings(db_url, emulator, webhook_url=url, webhook_secret=SECRET,
                             webhook_listen=f"127.0.0.1:{port}")
    stop = asyncio.Event()
    server = asyncio.create_task(serve_webhook(settings, stop))
    for _ in range(200):
        if any(call.status == 200 for call in emulator.calls_of("setWebhook")):
            break
        await asyncio.sleep(0.02)
    try:
        yield Harness(emulator, settings), url
    finally:
        stop.set()
        await server


def update_json(update_id: int, user_id: int, text: str) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_790_000_000, "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "Lan"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else [],
    }}


async def test_updates_arrive_through_the_webhook(webhook_bot):
    harness, _ = webhook_bot
    user = harness.user()
    question = await harness.reply_to(user, "/start")
    assert question["text"] == t("vi", "language.ask")


async def test_wrong_or_missing_secret_gets_403(webhook_bot):
    _, url = webhook_bot
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                        {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}):
            async with http.post(url, json=update_json(1, 5, "/start"), headers=headers) as response:
                assert response.status == 403


async def test_body_over_one_megabyte_gets_413(webhook_bot):
    _, url = webhook_bot
    body = json.dumps(update_json(2, 5, "x" * (1024 * 1024 + 10))).encode()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 413

        async def chunks():
            for _ in range(11):
                yield b" " * (100 * 1024)

        async with http.post(url, data=chunks(), headers=headers) as response:
            assert response.status == 413


async def test_repeated_update_id_is_processed_once(webhook_bot):
    harness, url = webhook_bot
    user = harness.user()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(url, json=update_json(777_001, user.id, "/menu"), headers=headers) as response:
                assert response.status == 200
    first = await harness.next(user)
    assert first["text"] == t("vi", "menu.title")
    with pytest.raises((asyncio.TimeoutError, AssertionError)):
        await harness.next(user, timeout=1.0)
