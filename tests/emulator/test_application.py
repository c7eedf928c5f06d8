"""A real PTB Application against the emulator, in polling mode and in webhook mode."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from sandbox.emulator import BotApiEmulator, NoMessage
from tests.emulator.conftest import TOKEN

SECRET = "hook-Secret_42"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payload = " ".join(context.args)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Tham gia", callback_data="join"),
                                    InlineKeyboardButton("Để sau", callback_data="later")]])
    await update.message.reply_html(f"<b>Chào {update.effective_user.first_name}</b>! Mã: <code>{payload}</code>",
                                    reply_markup=markup)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Đã ghi nhận", show_alert=query.data == "later")
    await query.edit_message_text(f"Bạn chọn: <i>{query.data}</i>", parse_mode="HTML")


def build(emu: BotApiEmulator) -> Application:
    application = (Application.builder().token(TOKEN).base_url(emu.base_url).base_file_url(emu.base_file_url)
                   .build())
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    return application


@pytest.fixture
async def polling_app(emu: BotApiEmulator) -> AsyncIterator[Application]:
    application = build(emu)
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def test_polling_start_press_and_edit(emu, polling_app):
    user = emu.create_user("Lan")
    sent = await emu.send_text(user, "/start w-ABC")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    greeting = await emu.next_message(user.id)
    assert greeting["text"] == "Chào Lan! Mã: w-ABC"
    assert [(e["type"], e["offset"], e["length"]) for e in greeting["entities"]] == [("bold", 0, 8), ("code", 14, 5)]
    assert greeting["from"]["username"] == "emu_test_bot" and "reply_to_message" not in greeting  # PTB quotes
    assert [b["callback_data"] for b in greeting["reply_markup"]["inline_keyboard"][0]] == ["join", "later"]

    query_id = await emu.press_button(user, greeting, "later")
    assert await emu.wait_answer(query_id) == {"text": "Đã ghi nhận", "show_alert": True, "url": None,
                                               "cache_time": 0}
    assert emu.callback_answers[query_id]["show_alert"] is True
    kinds = []
    while "edited" not in kinds:
        event = await emu.next_event(user.id)
        kinds.append(event["kind"])
    assert kinds.count("sent") == 1 and "answered_callback" in kinds
    assert event["message"]["text"] == "Bạn chọn: later" and "reply_markup" not in event["message"]

    # messages(): the chat as it is now, the user's /start and the edited greeting
    assert [m.get("text") for m in emu.messages(user.id)] == ["/start w-ABC", "Bạn chọn: later"]
    assert emu.get_message(user.id, greeting["message_id"])["edit_date"] >= greeting["date"]
    with pytest.raises(NoMessage, match="recent activity"):
        await emu.next_message(user.id, timeout=0.05)
    with pytest.raises(asyncio.TimeoutError):  # NoMessage is both
        await emu.next_message(user.id, timeout=0.01)


async def test_polling_with_a_deep_link_in_a_group_and_bot_username(emu, polling_app):
    user = emu.create_user("Minh", username="minh_cd")
    group = emu.create_group("CĐCS May Sông Hồng", members=[user])
    sent = await emu.send_text(user, "/start@emu_test_bot", chat=group)
    greeting = await emu.next_message(group)
    assert greeting["chat"]["id"] == group.id and greeting["chat"]["type"] == "supergroup"
    assert greeting["reply_to_message"]["message_id"] == sent["message_id"]  # PTB quotes only in groups
    # press by message id + chat, as a test that only kept the id would
    query_id = await emu.press_button(user, greeting["message_id"], "join", chat=group)
    await emu.wait_answer(query_id)
    while (event := await emu.next_event(group))["kind"] != "edited":
        pass
    assert event["message"]["message_id"] == greeting["message_id"]
    assert emu.messages(group.id)[-1]["text"] == "Bạn chọn: join"


async def test_the_emulator_watches_what_several_users_see_concurrently(emu, polling_app):
    users = [emu.create_user(f"Worker{i}") for i in range(20)]
    await asyncio.gather(*(emu.send_text(user, f"/start {user.id}") for user in users))
    replies = await asyncio.gather(*(emu.next_message(user.id) for user in users))
    assert [reply["text"].rsplit(" ", 1)[-1] for reply in replies] == [str(user.id) for user in users]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def webhook_app(emu: BotApiEmulator) -> AsyncIterator[tuple[Application, str]]:
    application = build(emu)
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    await application.initialize()
    await application.start()
    await application.updater.start_webhook(listen="127.0.0.1", port=port, url_path="tg/hook",
                                            secret_token=SECRET, webhook_url=url)
    try:
        yield application, url
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def test_webhook_mode_delivers_updates_with_the_secret(emu, webhook_app):
    _, url = webhook_app
    hook = emu.calls_of("setWebhook")[-1]
    assert hook.status == 200 and hook.params["url"] == url and hook.params["secret_token"] == SECRET
    user = emu.create_user("Hoa")
    await emu.send_text(user, "/start webhook")
    greeting = await emu.next_message(user.id)
    assert greeting["text"].startswith("Chào Hoa")
    query_id = await emu.press_button(user, greeting, "join")
    assert (await emu.wait_answer(query_id))["text"] == "Đã ghi nhận"
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0 and info.last_error_message is None


async def test_webhook_with_a_wrong_secret_is_refused_by_ptb_and_retried(emu, webhook_app):
    _, url = webhook_app
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        await bot.set_webhook(url, secret_token="not-the-secret")
        user = emu.create_user("Tuấn")
        await emu.send_text(user, "/start x")
        with pytest.raises(NoMessage):
            await emu.next_message(user.id, timeout=0.4)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1 and "403" in (info.last_error_message or "")
        # the right secret again: the update that was refused is delivered now, nothing is lost
        await bot.set_webhook(url, secret_token=SECRET)
        assert (await emu.next_message(user.id))["text"].startswith("Chào Tuấn")
