"""The emulator rejects what Telegram rejects, with the status PTB turns into the right exception."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

from sandbox.emulator.spec import load_spec, missing_required

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after


async def test_get_me_and_a_plain_message(emu, bot):
    user = emu.create_user("Lan")
    assert bot.username == "emu_test_bot"
    message = await bot.send_message(user.id, "xin chào")
    assert message.text == "xin chào" and message.chat.id == user.id and message.from_user.is_bot
    assert emu.messages(user.id)[-1]["text"] == "xin chào"


async def test_unknown_method_is_404_and_recorded(emu):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.base_url}5000000001:EMU-TEST/sendTelepathy", json={}) as response:
            assert response.status == 404
            assert (await response.json())["ok"] is False
    assert emu.unknown_methods == ["sendTelepathy"]


async def test_unknown_token_is_invalid_token(emu):
    from telegram import Bot

    with pytest.raises(InvalidToken):
        async with Bot("999:NOPE", base_url=emu.base_url) as stranger:
            await stranger.get_me()


async def test_unknown_and_missing_parameters(emu, bot):
    user = emu.create_user()
    async with aiohttp.ClientSession() as http:
        url = f"{emu.base_url}5000000001:EMU-TEST/sendMessage"
        async with http.post(url, data={"chat_id": str(user.id), "text": "a", "colour": "red"}) as response:
            assert response.status == 400 and "colour" in (await response.json())["description"]
        async with http.post(url, data={"chat_id": str(user.id)}) as response:
            assert response.status == 400 and "text" in (await response.json())["description"]


async def test_limits(emu, bot):
    user = emu.create_user()
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(user.id, "a" * 4097)
    assert (await bot.send_message(user.id, "đ" * 4096)).text == "đ" * 4096
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_photo(user.id, b"\x89PNG", caption="c" * 1025)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "buttons", reply_markup=markup)
    with pytest.raises(BadRequest, match="(?i)empty"):
        await bot.send_message(user.id, "   ")


async def test_html_is_parsed_into_entities_and_bad_html_refused(emu, bot):
    user = emu.create_user()
    message = await bot.send_message(user.id, "<b>Lương</b> &amp; <i>thưởng</i>", parse_mode=ParseMode.HTML)
    assert message.text == "Lương & thưởng"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 5), ("italic", 8, 6)]
    for bad in ("a < b", "<b>open", "<blink>x</blink>", "<b><i>x</b></i>"):
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(user.id, bad, parse_mode=ParseMode.HTML)


async def test_string_fields_stay_strings(emu, bot):
    user = emu.create_user()
    message = await bot.send_message(user.id, "42")
    assert message.text == "42" and emu.calls_of("sendMessage")[-1].params["text"] == "42"


async def test_edit_not_modified_and_chat_not_found(emu, bot):
    user = emu.create_user()
    message = await bot.send_message(user.id, "một")
    await message.edit_text("hai")
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("hai", chat_id=user.id, message_id=message.message_id)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(123456789, "ai đó?")
    assert await bot.delete_message(user.id, message.message_id)
    assert emu.get_message(user.id, message.message_id) is None
    with pytest.raises(BadRequest, match="(?i)not found"):
        await bot.delete_message(user.id, message.message_id)


async def test_blocked_and_deactivated_users(emu, bot):
    blocked, gone = emu.create_user(), emu.create_user()
    emu.block_chat(blocked.id)
    emu.block_chat(gone.id, reason="deactivated")
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await bot.send_message(blocked.id, "tin")
    with pytest.raises(Forbidden, match="(?i)deactivated"):
        await bot.send_message(gone.id, "tin")
    emu.unblock_chat(blocked.id)
    assert await bot.send_message(blocked.id, "tin")


async def test_injected_429_carries_retry_after(emu, bot):
    user = emu.create_user()
    emu.add_429(method="sendMessage", chat_id=user.id, times=1, retry_after=3)
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(user.id, "một")
    assert error.value.retry_after in (3, dt.timedelta(seconds=3))
    assert await bot.send_message(user.id, "hai")


async def test_flood_limits_are_counted_and_enforced(emu, bot):
    user = emu.create_user()
    group = emu.create_group("Tổ 1", members=[user])
    emu.enforce_limits(global_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    await bot.send_message(user.id, "1")
    with pytest.raises(RetryAfter):
        await bot.send_message(user.id, "2")  # second message in the same second to one chat
    for index in range(20):
        await bot.send_message(group.id, str(index))
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "21st in a minute")
    assert [v["limit"] for v in emu.flood_violations] == ["chat", "group"]


async def test_results_have_every_field_the_spec_requires(emu, bot):
    user = emu.create_user()
    spec = load_spec()
    message = await bot.send_message(user.id, "x")
    poll = await bot.send_poll(user.id, "Câu hỏi?", ["A", "B"], type="quiz", correct_option_ids=[1])
    me = await bot.get_me()
    chat = await bot.get_chat(user.id)
    assert missing_required(spec, "Message", message.to_dict()) == []
    assert missing_required(spec, "Poll", poll.poll.to_dict()) == []
    assert missing_required(spec, "User", me.to_dict()) == []
    assert missing_required(spec, "ChatFullInfo", chat.to_dict()) == []
