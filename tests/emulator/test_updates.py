"""getUpdates, webhooks, callbacks, files, polls and forum topics with the real PTB."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from tests.emulator.conftest import TOKEN


async def test_get_updates_offset_limit_and_long_poll(emu, bot):
    user = emu.create_user()
    for text in ("1", "2", "3"):
        await emu.send_text(user, text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["1", "2"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["3"]
    started = time.monotonic()
    waiting = asyncio.create_task(bot.get_updates(offset=rest[-1].update_id + 1, timeout=5))
    await asyncio.sleep(0.2)
    await emu.send_text(user, "4")
    woken = await waiting
    assert [u.message.text for u in woken] == ["4"] and time.monotonic() - started < 2


async def test_a_second_poller_terminates_the_first(emu, bot):
    from telegram import Bot

    async with Bot(TOKEN, base_url=emu.base_url) as second_instance:  # e.g. a second copy of the bot started
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(second_instance.get_updates(timeout=1))
        with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
            await first
        assert await second == ()


async def test_get_updates_conflicts_with_a_webhook(emu, bot):
    await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.url == "https://example.invalid/hook"
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_polling_application_with_buttons(emu):
    async def start(update: Update, context) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Đồng ý", callback_data="yes")]])
        await update.message.reply_html("<b>Chào</b> bạn", reply_markup=markup)

    async def pressed(update: Update, context) -> None:
        await update.callback_query.answer("OK")
        await update.callback_query.edit_message_text(f"Bạn chọn: {update.callback_query.data}")

    application = Application.builder().token(TOKEN).base_url(emu.base_url).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        user = emu.create_user("Lan")
        await emu.send_text(user, "/start")
        greeting = await emu.next_message(user.id)
        assert greeting["text"] == "Chào bạn" and greeting["entities"][0]["type"] == "bold"
        query_id = await emu.press_button(user, greeting, "yes")
        assert (await emu.wait_answer(query_id))["text"] == "OK"
        edited = await emu.next_change(user.id)
        while edited["message_id"] != greeting["message_id"] or "chọn" not in edited["text"]:
            edited = await emu.next_change(user.id)
        assert edited["text"] == "Bạn chọn: yes" and "reply_markup" not in edited
        with pytest.raises(AssertionError, match="(?i)no button"):
            await emu.press_button(user, greeting, "forged")
        await application.updater.stop()
        await application.stop()


async def test_webhook_delivery_with_secret_and_retries(emu):
    received: list[dict] = []
    failures = {"left": 2}

    async def hook(request):
        from aiohttp import web

        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
        received.append(await request.json())
        return web.Response(text="ok")

    from aiohttp import web

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        from telegram import Bot

        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
            user = emu.create_user()
            await emu.send_text(user, "một")
            await emu.send_text(user, "hai")
            for _ in range(200):
                if len(received) == 2:
                    break
                await asyncio.sleep(0.02)
            assert [u["message"]["text"] for u in received] == ["một", "hai"]
            info = await bot.get_webhook_info()
            assert info.last_error_message and "500" in info.last_error_message
            await bot.delete_webhook()
    finally:
        await runner.cleanup()


async def test_callback_answers_once(emu, bot):
    user = emu.create_user()
    message = await bot.send_message(user.id, "?", reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton("a", callback_data="a")]]))
    query_id = await emu.press_button(user, message.to_dict(), "a")
    assert await bot.answer_callback_query(query_id, "ok")
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id, "again")


async def test_files_both_ways(emu, bot):
    user = emu.create_user()
    sent = await emu.send_photo(user, b"\x89PNG-bytes", caption="bảng lương")
    file = await bot.get_file(sent["photo"][-1]["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"\x89PNG-bytes"
    uploaded = await bot.send_document(user.id, b"%PDF-1.4 don", filename="don.pdf")
    again = await bot.send_document(user.id, uploaded.document.file_id)
    assert again.document.file_id == uploaded.document.file_id
    big = await emu.send_document(user, b"x", filename="video.mp4", file_size=25 * 1024 * 1024)
    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await bot.get_file(big["document"]["file_id"])


async def test_copy_hides_the_sender_and_forward_shows_it(emu, bot):
    user = emu.create_user("Lan")
    group = emu.create_group("CĐCS", members=[emu.create_user("Cán bộ")])
    photo = await emu.send_photo(user, b"img")
    copied = await bot.copy_message(group.id, user.id, photo["message_id"])
    copy = emu.get_message(group.id, copied.message_id)
    assert "photo" in copy and "forward_origin" not in copy and copy["from"]["is_bot"]
    forwarded = await bot.forward_message(group.id, user.id, photo["message_id"])
    assert forwarded.forward_origin.sender_user.id == user.id


async def test_polls_and_answers(emu, bot):
    user = emu.create_user()
    message = await bot.send_poll(user.id, "Thời giờ làm thêm tối đa?", ["200 giờ", "300 giờ"], type="quiz",
                                  correct_option_ids=[1], is_anonymous=False, explanation="Bộ luật Lao động 2019")
    assert message.poll.type == "quiz" and message.poll.options[1].persistent_id
    await emu.answer_poll(user, message.to_dict(), [1])
    updates = await bot.get_updates()
    answers = [u.poll_answer for u in updates if u.poll_answer]
    assert answers[0].option_ids == (1,) and answers[0].user.id == user.id


async def test_forum_topics(emu, bot):
    officer = emu.create_user("Cán bộ")
    forum = emu.create_group("Hộp thư CĐCS", members=[officer], is_forum=True)
    topic = await bot.create_forum_topic(forum.id, "PA-2611-0042")
    message = await bot.send_message(forum.id, "Thẻ phản ánh", message_thread_id=topic.message_thread_id)
    assert message.message_thread_id == topic.message_thread_id
    with pytest.raises(BadRequest, match="(?i)thread not found"):
        await bot.send_message(forum.id, "x", message_thread_id=999)
    plain = emu.create_group("Không phải diễn đàn", members=[officer])
    with pytest.raises(BadRequest, match="(?i)not a forum"):
        await bot.create_forum_topic(plain.id, "x")


async def test_bot_removed_from_group_gets_my_chat_member_and_403(emu, bot):
    officer = emu.create_user("Cán bộ")
    group = emu.create_group("Hộp thư", members=[officer])
    await emu.remove_bot_from_group(group, officer)
    updates = await bot.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "left"
    from telegram.error import Forbidden

    with pytest.raises(Forbidden):
        await bot.send_message(group.id, "còn ai không?")


async def test_inject_any_update(emu, bot):
    update_id = await emu.inject_update({"edited_channel_post": {"message_id": 1, "date": 0,
                                                                  "chat": {"id": -100, "type": "channel"}}})
    updates = await bot.get_updates()
    assert updates[-1].update_id == update_id
