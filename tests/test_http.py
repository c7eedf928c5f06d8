"""The aiohttp request adapter against the emulator: JSON bodies, multipart uploads, PTB's errors."""

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError

from bot.http import AiohttpRequest
from bot.services import pacing
from sandbox.emulator import BotApiEmulator

TOKEN = "5100000001:HTTP"


@pytest.fixture
async def bot():
    async with BotApiEmulator() as emulator:
        emulator.add_bot(TOKEN, username="http_bot")
        async with Bot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url,
                       request=AiohttpRequest(pool_size=4)) as bot:
            yield bot, emulator


async def test_text_keyboards_and_strings_survive_the_json_body(bot):
    bot, emulator = bot
    user = emulator.create_user("Lan")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Đồng ý", callback_data="consent:yes")]])
    message = await bot.send_message(user.id, "42", reply_markup=markup)
    assert message.text == "42" and message.reply_markup.inline_keyboard[0][0].callback_data == "consent:yes"
    assert emulator.calls_of("sendMessage")[-1].params["text"] == "42"


async def test_files_go_as_multipart(bot):
    bot, emulator = bot
    user = emulator.create_user("Lan")
    sent = await bot.send_document(user.id, b"%PDF-1.4 don", filename="don.pdf", caption="Đơn")
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 don"
    assert sent.caption == "Đơn"


async def test_errors_become_ptb_exceptions(bot):
    bot, emulator = bot
    with pytest.raises(BadRequest):
        await bot.send_message(123, "chat not found")
    await emulator.stop()
    with pytest.raises(NetworkError):
        await bot.send_message(1, "emulator gone")


async def test_messages_sent_count_in_the_send_window_and_edits_do_not():
    """The application's sends count against the bot's limit so that a broadcast yields to them."""
    async with BotApiEmulator() as emulator:
        emulator.add_bot(TOKEN, username="http_bot")
        window = pacing.SendWindow(100, clock=lambda: 0.0)  # a stopped clock: nothing ages out
        async with Bot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url,
                       request=AiohttpRequest(pool_size=4, counter=window)) as bot:
            user = emulator.create_user("Lan")
            message = await bot.send_message(user.id, "một")
            await bot.edit_message_text("hai", user.id, message.message_id)
            await bot.get_me()
            with pytest.raises(BadRequest):
                await bot.send_message(123, "chat not found")  # refused, but it may have been counted
    assert window.recent() == 2
