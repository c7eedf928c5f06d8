"""Request decoding, routing and the methods beyond the basics, with the real PTB Bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import aiohttp
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, InvalidToken, RetryAfter

from sandbox.emulator import BotApiEmulator
from tests.emulator.conftest import TOKEN

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after


def api(emu: BotApiEmulator, method: str, token: str = TOKEN) -> str:
    return f"{emu.base_url}{token}/{method}"


async def test_routing_and_decoding_by_spec_type(emu):
    user = emu.create_user(username="lan_cd")
    async with aiohttp.ClientSession() as http:
        # JSON bodies, method names in any case, chat_id as @username
        async with http.post(api(emu, "SENDMESSAGE"), json={"chat_id": "@LAN_CD", "text": "json"}) as response:
            body = await response.json()
            assert response.status == 200 and body["result"]["chat"]["id"] == user.id
        # query strings on GET; numbers in String fields stay strings, Integer fields become ints
        async with http.get(api(emu, "sendMessage"), params={"chat_id": str(user.id), "text": "007",
                                                             "disable_notification": "true"}) as response:
            assert response.status == 200 and (await response.json())["result"]["text"] == "007"
        call = emu.calls[-1]
        assert call.method == "sendMessage" and call.params == {"chat_id": user.id, "text": "007",
                                                                "disable_notification": True}
        # a JSON field that does not parse, and a wrong type
        async with http.post(api(emu, "sendMessage"), data={"chat_id": str(user.id), "text": "x",
                                                            "reply_markup": "{not json"}) as response:
            assert response.status == 400
        async with http.post(api(emu, "sendMessage"), data={"chat_id": str(user.id), "text": "x",
                                                            "message_thread_id": "abc"}) as response:
            assert response.status == 400
        async with http.post(api(emu, "sendMessage"), data=b"{", headers={"Content-Type": "application/json"}) \
                as response:
            assert response.status == 400
        # files route: unknown token 401, unknown path 404
        async with http.get(f"{emu.base_file_url}{TOKEN}/photos/nothing.jpg") as response:
            assert response.status == 404
        async with http.get(f"{emu.base_file_url}1:NOPE/photos/nothing.jpg") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")  # do_api_request on purpose
async def test_strictness_through_ptb(emu, bot):
    user = emu.create_user()
    with pytest.raises(EndPointNotFound):  # a 404 answer; PTB names it so for do_api_request
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": user.id})
    assert emu.unknown_methods == ["sendTelepathy"]
    with pytest.raises(InvalidToken):  # 401
        async with Bot("42:WRONG", base_url=emu.base_url) as stranger:
            await stranger.get_me()
    with pytest.raises(BadRequest, match="(?i)unknown parameter colour"):
        await bot.send_message(user.id, "x", api_kwargs={"colour": "red"})
    with pytest.raises(BadRequest, match="(?i)parameter text is required"):
        await bot.do_api_request("sendMessage", api_kwargs={"chat_id": user.id})
    with pytest.raises(BadRequest, match="(?i)method not supported by the emulator"):
        await bot.do_api_request("sendInvoice", api_kwargs={"chat_id": user.id, "title": "t", "description": "d",
                                                            "payload": "p", "currency": "XTR", "prices": []})
    assert emu.unsupported_methods == ["sendInvoice"]
    assert emu.calls_of("sendinvoice")[0].status == 400
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(user.id, "😀" * 2049)  # 4098 UTF-16 code units
    assert (await bot.send_message(user.id, "😀" * 2048)).text == "😀" * 2048
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(user.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(user.id, "")
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_document(user.id, b"x", filename="a.txt", caption="c" * 1025)
    with pytest.raises(Forbidden, match="(?i)bots can't send messages to bots"):
        await bot.send_message(bot.id, "me?")
    emu.reset_calls()
    assert emu.calls == [] and emu.unknown_methods == []


async def test_edit_rules(emu, bot):
    user = emu.create_user()
    photo = await bot.send_photo(user.id, b"img", caption="một")
    with pytest.raises(BadRequest, match="(?i)no text in the message"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=photo.message_id)
    edited = await bot.edit_message_caption(chat_id=user.id, message_id=photo.message_id, caption="hai")
    assert edited.caption == "hai"
    with pytest.raises(BadRequest, match="(?i)message is not modified: specified new message content"):
        await bot.edit_message_caption(chat_id=user.id, message_id=photo.message_id, caption="hai")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]])
    with_markup = await bot.edit_message_reply_markup(user.id, photo.message_id, reply_markup=markup)
    assert with_markup.reply_markup == markup
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_reply_markup(user.id, photo.message_id, reply_markup=markup)
    users_message = await emu.send_text(user, "của tôi")
    with pytest.raises(BadRequest, match="(?i)message can't be edited"):
        await bot.edit_message_text("hijack", chat_id=user.id, message_id=users_message["message_id"])
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=999)
    kinds = []
    while True:
        try:
            kinds.append((await emu.next_event(user.id, timeout=0.01))["kind"])
        except AssertionError:
            break
    assert kinds == ["sent", "edited", "edited"]
    emu.drain(user.id)
    assert await bot.delete_message(user.id, users_message["message_id"])  # bots may delete in private chats
    assert (await emu.next_event(user.id))["kind"] == "deleted"
    assert [m["message_id"] for m in emu.messages(user.id)] == [photo.message_id]


async def test_get_updates_semantics(emu, bot):
    user = emu.create_user()
    for text in ("1", "2", "3"):
        await emu.send_text(user, text)
    assert [u.message.text for u in await bot.get_updates(limit=0)] == ["1", "2", "3"]  # clamped to 1..100
    first = await bot.get_updates(limit=1)
    assert [u.message.text for u in first] == ["1"]
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["1"]  # not confirmed yet
    rest = await bot.get_updates(offset=first[0].update_id + 1)
    assert [u.message.text for u in rest] == ["2", "3"]
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["3"]  # negative: the last ones
    await bot.get_updates(offset=rest[-1].update_id + 1)
    # allowed_updates: from then on, other kinds are not created for the bot (queued ones stay)
    await emu.send_text(user, "queued before the filter")
    message = await bot.send_message(user.id, "?", reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton("a", callback_data="a")]]))
    assert len(await bot.get_updates(allowed_updates=["callback_query"])) == 1
    await emu.send_text(user, "filtered out")
    await emu.press_button(user, message, "a")
    updates = await bot.get_updates()
    assert updates[0].message.text == "queued before the filter" and updates[1].callback_query.data == "a"
    assert len(updates) == 2
    assert await bot.get_updates(offset=updates[-1].update_id + 1, allowed_updates=[]) == ()  # default again
    # update ids keep increasing per bot, with no gap for updates never created
    await emu.send_text(user, "later")
    later = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert later[0].update_id == updates[-1].update_id + 1 and later[0].message.text == "later"
    # long poll: timeout waits, an update wakes it at once
    started = time.monotonic()
    assert await bot.get_updates(offset=later[-1].update_id + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 1.8
    waiting = asyncio.create_task(bot.get_updates(offset=later[-1].update_id + 1, timeout=10))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await emu.send_text(user, "wake")
    assert [u.message.text for u in await waiting] == ["wake"] and time.monotonic() - started < 0.5


async def test_webhook_settings(emu, bot):
    user = emu.create_user()
    await emu.send_text(user, "queued")
    with pytest.raises(BadRequest, match="(?i)max_connections"):
        await bot.set_webhook("https://example.invalid/hook", max_connections=101)
    with pytest.raises(BadRequest, match="(?i)secret token"):
        await bot.set_webhook("https://example.invalid/hook", secret_token="no spaces allowed")
    await bot.set_webhook("https://example.invalid/hook", max_connections=5, allowed_updates=["message"])
    with pytest.raises(Conflict, match="(?i)can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.max_connections == 5 and info.allowed_updates == ("message",) and info.pending_update_count == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == "" and await bot.get_updates() == ()


async def test_several_bots_have_their_own_queues(emu, bot):
    other_token = "6000000002:OTHER"
    emu.add_bot(other_token, username="other_bot")
    user = emu.create_user()
    await emu.send_text(user, "for the first")
    await emu.send_text(user, "for the other", bot_token=other_token)
    async with Bot(other_token, base_url=emu.base_url) as other:
        assert [u.message.text for u in await other.get_updates()] == ["for the other"]
        assert (await other.get_me()).username == "other_bot"
    assert [u.message.text for u in await bot.get_updates()] == ["for the first"]


async def test_files(emu, bot):
    user = emu.create_user()
    voice = await emu.send_voice(user, b"OggS-voice", duration=7)
    file = await bot.get_file(voice["voice"]["file_id"])
    assert file.file_path and bytes(await file.download_as_bytearray()) == b"OggS-voice"
    document = await emu.send_document(user, b"a,b\n1,2", filename="bang.csv", mime_type="text/csv")
    assert document["document"]["file_name"] == "bang.csv"
    uploaded = await bot.send_photo(user.id, b"\x89PNG upload")
    again = await bot.send_photo(user.id, uploaded.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == uploaded.photo[-1].file_unique_id
    downloaded = await (await bot.get_file(uploaded.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"\x89PNG upload"
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_photo(user.id, "no-such-file-id")
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("no-such-file-id")
    album = await bot.send_media_group(user.id, [InputMediaPhoto(b"p1", caption="<b>1</b>", parse_mode="HTML"),
                                                 InputMediaPhoto(uploaded.photo[-1].file_id)])
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id and album[0].caption == "1"
    with pytest.raises(BadRequest, match="(?i)can't be mixed"):
        await bot.send_media_group(user.id, [InputMediaPhoto(b"p"), InputMediaDocument(b"d")])
    sticker = await emu.send_sticker(user)
    assert (await bot.get_file(sticker["sticker"]["file_id"])).file_size


async def test_copy_messages_and_forward_messages(emu, bot):
    user = emu.create_user("Lan")
    group = emu.create_group("Hộp thư", members=[emu.create_user("Cán bộ")])
    first = await emu.send_text(user, "một")
    second = await emu.send_photo(user, b"img", caption="hai")
    copies = await bot.copy_messages(group.id, user.id, [first["message_id"], second["message_id"], 999])
    assert len(copies) == 2
    stored = [emu.get_message(group.id, c.message_id) for c in copies]
    assert stored[0]["text"] == "một" and stored[1]["caption"] == "hai"
    assert all("forward_origin" not in m and m["from"]["is_bot"] for m in stored)
    without_caption = await bot.copy_message(group.id, user.id, second["message_id"], caption="")
    assert "caption" not in emu.get_message(group.id, without_caption.message_id)
    forwards = await bot.forward_messages(group.id, user.id, [first["message_id"]])
    forwarded = emu.get_message(group.id, forwards[0].message_id)
    assert forwarded["forward_origin"]["sender_user"]["id"] == user.id
    # a forward of a forward names the original sender
    again = await bot.forward_message(user.id, group.id, forwards[0].message_id)
    assert again.forward_origin.sender_user.id == user.id
    with pytest.raises(BadRequest, match="(?i)message to copy not found"):
        await bot.copy_message(group.id, user.id, 999)


async def test_polls(emu, bot):
    user = emu.create_user()
    anonymous = await bot.send_poll(user.id, "Ca đêm?", ["Có", "Không"], allows_multiple_answers=True)
    assert anonymous.poll.is_anonymous and anonymous.poll.allows_revoting and not anonymous.poll.members_only
    await emu.answer_poll(user, anonymous.to_dict(), [0, 1])
    updates = await bot.get_updates()
    assert [u.poll.total_voter_count for u in updates if u.poll] == [1] and not any(u.poll_answer for u in updates)
    await bot.get_updates(offset=updates[-1].update_id + 1)

    quiz = await bot.send_poll(user.id, "Lương tối thiểu vùng I?", ["4,96 triệu", "4,41 triệu"], type="quiz",
                               correct_option_ids=[0], is_anonymous=False)
    assert not quiz.poll.allows_revoting
    await emu.answer_poll(user, quiz.to_dict(), [1])
    with pytest.raises(AssertionError, match="(?i)does not allow changing"):
        await emu.answer_poll(user, quiz.to_dict(), [0])
    updates = await bot.get_updates()
    answer = next(u.poll_answer for u in updates if u.poll_answer)
    assert answer.option_ids == (1,) and answer.option_persistent_ids == (quiz.poll.options[1].persistent_id,)
    stopped = await bot.stop_poll(user.id, quiz.message_id)
    assert stopped.is_closed and stopped.options[1].voter_count == 1
    with pytest.raises(BadRequest, match="(?i)already been closed"):
        await bot.stop_poll(user.id, quiz.message_id)
    with pytest.raises(BadRequest, match="(?i)wrong correct option"):
        await bot.send_poll(user.id, "?", ["a", "b"], type="quiz", correct_option_ids=[5])


async def test_forum_topics_and_pins(emu, bot):
    officer = emu.create_user("Cán bộ")
    forum = emu.create_group("Hộp thư CĐCS", members=[officer], is_forum=True)
    topic = await bot.create_forum_topic(forum.id, "PA-0042", icon_color=0x6FB9F0)
    assert topic.icon_color == 0x6FB9F0
    card = await bot.send_message(forum.id, "Thẻ", message_thread_id=topic.message_thread_id)
    reply = await emu.send_text(officer, "Đã nhận", chat=forum, reply_to=card.to_dict())
    assert reply["message_thread_id"] == topic.message_thread_id and reply["is_topic_message"]
    assert await bot.edit_forum_topic(forum.id, topic.message_thread_id, name="PA-0042 (khẩn)")
    assert forum.topics[topic.message_thread_id] == "PA-0042 (khẩn)"
    assert await bot.close_forum_topic(forum.id, topic.message_thread_id)
    with pytest.raises(BadRequest, match="(?i)TOPIC_CLOSED"):
        await bot.send_message(forum.id, "x", message_thread_id=topic.message_thread_id)
    assert await bot.reopen_forum_topic(forum.id, topic.message_thread_id)
    assert await bot.send_message(forum.id, "y", message_thread_id=topic.message_thread_id)

    assert await bot.pin_chat_message(forum.id, card.message_id, disable_notification=True)
    assert (await bot.get_chat(forum.id)).pinned_message.message_id == card.message_id
    assert await bot.unpin_chat_message(forum.id)
    with pytest.raises(BadRequest, match="(?i)message to unpin not found"):
        await bot.unpin_chat_message(forum.id, card.message_id)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")  # do_api_request on purpose
async def test_keyboards_replies_and_topics(emu, bot):
    officer = emu.create_user("Cán bộ")
    forum = emu.create_group("Hộp thư", members=[officer], is_forum=True)
    topic = await bot.create_forum_topic(forum.id, "PA-0001")
    card = await emu.send_text(officer, "câu hỏi", chat=forum, message_thread_id=topic.message_thread_id)
    answer = await bot.send_message(forum.id, "trả lời", reply_parameters=ReplyParameters(card["message_id"]))
    assert answer.message_thread_id == topic.message_thread_id  # a reply stays in the topic
    assert answer.reply_to_message.message_id == card["message_id"]
    with pytest.raises(BadRequest, match="(?i)message to be replied not found"):
        await bot.send_message(forum.id, "x", reply_parameters=ReplyParameters(999))
    for bad in ([[{"text": "only text"}]], [[{"callback_data": "no text"}]], [{"text": "x"}],
                [[{"text": "x", "url": "javascript:alert(1)"}]]):
        with pytest.raises(BadRequest, match="(?i)inline keyboard|BUTTON_URL_INVALID|Array of Arrays"):
            await bot.do_api_request("sendMessage", api_kwargs={"chat_id": officer.id, "text": "x",
                                                                "reply_markup": {"inline_keyboard": bad}})
    keyboard = await bot.send_message(officer.id, "chọn", reply_markup=ReplyKeyboardMarkup(
        [[KeyboardButton("Menu")]], resize_keyboard=True))
    assert emu.get_message(officer.id, keyboard.message_id)["reply_keyboard"]["keyboard"] == [[{"text": "Menu"}]]


async def test_chats_and_members(emu, bot):
    creator, member = emu.create_user("Chủ tịch"), emu.create_user("Đoàn viên", username="dv1")
    group = emu.create_group("CĐCS", members=[creator, member])
    assert group.id < -1_000_000_000_000
    assert (await bot.get_chat_member(group.id, creator.id)).status == "creator"
    assert (await bot.get_chat_member(group.id, member.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {creator.id, bot.id}
    assert (await bot.get_chat("@dv1")).id == member.id
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.get_chat(-100999)
    newcomer = emu.create_user("Mới")
    await emu.add_member(group, newcomer)
    updates = await bot.get_updates()
    assert updates[-1].message.new_chat_members[0].id == newcomer.id  # chat_member needs allowed_updates
    assert not any(u.chat_member for u in updates)
    await bot.get_updates(offset=updates[-1].update_id + 1)
    assert await bot.leave_chat(group.id)
    updates = await bot.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "left"
    with pytest.raises(Forbidden):
        await bot.send_message(group.id, "còn ai không?")
    await emu.add_bot_to_group(group, creator)
    assert await bot.send_message(group.id, "đã trở lại")


async def test_commands_and_menu(emu, bot):
    from telegram import BotCommand, BotCommandScopeAllPrivateChats, MenuButtonCommands

    commands = [BotCommand("start", "Bắt đầu"), BotCommand("menu", "Menu")]
    assert await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code="vi")
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="vi") == tuple(commands)
    assert await bot.get_my_commands() == ()
    assert await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="vi")
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="vi") == ()
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert await bot.send_chat_action(emu.create_user().id, "typing")
    assert await bot.log_out() and await bot.close()


async def test_fault_injection(emu, bot):
    user, other = emu.create_user(), emu.create_user()
    emu.add_429(method="sendMessage", times=2, retry_after=4)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(user.id, "x")
        assert caught.value.retry_after in (4, dt.timedelta(seconds=4))
    assert await bot.send_message(user.id, "ok")
    assert [c.status for c in emu.calls_of("sendMessage")] == [429, 429, 200]
    assert json.loads(json.dumps(emu.calls[-1].params))["text"] == "ok"

    emu.add_429(chat_id=other, times=1)
    assert await bot.send_message(user.id, "other chats are fine")
    with pytest.raises(RetryAfter):
        await bot.send_photo(other.id, b"img")

    # counting only: nothing refused, every violation recorded; edits do not count
    emu.enforce_limits(global_per_second=5, per_chat_per_second=1, per_group_per_minute=20, reply_429=False)
    for index in range(3):
        assert await bot.send_message(other.id, str(index))
    note = await bot.send_message(user.id, "e")
    await note.edit_text("edits do not count")
    await note.edit_text("not even twice in a second")
    assert [v["limit"] for v in emu.flood_violations] == ["chat", "chat"]
    users = [emu.create_user() for _ in range(6)]
    for target in users:
        await bot.send_message(target.id, "burst")
    assert "global" in [v["limit"] for v in emu.flood_violations]
    emu.disable_limits()


async def test_user_side_helpers(emu, bot):
    user = emu.create_user("Lan", last_name="Nguyễn")
    dice = await emu.send_content(user, {"dice": {"emoji": "🎲", "value": 4}})
    contact = await emu.send_contact(user, "+84901234567")
    location = await emu.send_location(user, 21.03, 105.85)
    injected = await emu.inject_update({"update_id": 1, "chat_member": {"nonsense": True}})
    updates = await bot.get_updates()
    assert updates[0].message.dice.value == 4 and updates[0].message.message_id == dice["message_id"]
    assert updates[1].message.contact.user_id == user.id and contact["contact"]["last_name"] == "Nguyễn"
    assert updates[2].message.location.latitude == pytest.approx(location["location"]["latitude"])
    assert updates[3].update_id == injected  # forced through, whatever allowed_updates say
    edited = await emu.edit_text(user, dice, "/menu")
    assert edited["entities"][0]["type"] == "bot_command"
    with pytest.raises(AssertionError, match="(?i)not in chat"):
        await emu.press_button(user, {"chat": {"id": user.id}, "message_id": 999}, "x")


async def test_stop_releases_a_waiting_poll():
    async with BotApiEmulator() as emu:
        emu.add_bot(TOKEN)
        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            waiting = asyncio.create_task(bot.get_updates(timeout=30))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await emu.stop()
            with pytest.raises(Exception):  # noqa: B017 - Conflict or a network error, either way at once
                await waiting
            assert time.monotonic() - started < 3
