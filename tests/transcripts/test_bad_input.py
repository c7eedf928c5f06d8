"""Bad input gets a short polite answer in the member's language, and the conversation stays usable."""

from __future__ import annotations

from tests.support.harness import buttons_of, t


async def reach_province_step(harness, user, language="vi") -> dict:
    question = await harness.reply_to(user, "/start")
    await harness.press(user, question, f"lang:{language}")
    await harness.press(user, await harness.next(user), "consent:yes")
    return await harness.next(user)


async def test_sticker_and_photo_where_text_is_expected(harness):
    user = harness.user()
    await reach_province_step(harness, user)
    await harness.emulator.send_sticker(user)
    again = await harness.next(user)
    assert again["text"] == t("vi", "input.type_or_press") + "\n\n" + t("vi", "province.ask")
    await harness.emulator.send_photo(user, b"\x89PNG fake", caption="ha noi")
    assert (await harness.next(user))["text"].startswith(t("vi", "input.type_or_press"))
    assert "Hà Nội ✓" in (await harness.reply_to(user, "ha noi"))["text"]


async def test_five_thousand_character_workplace_name(harness):
    user = harness.user()
    await reach_province_step(harness, user)
    await harness.press(user, await harness.reply_to(user, "ha noi"), "sector:garment")
    ask = await harness.next(user)
    await harness.press(user, ask, "wp:other")
    await harness.next(user)
    too_long = await harness.reply_to(user, "A" * 4096)
    assert too_long["text"] == t("vi", "input.too_long", limit=255)
    assert (await harness.reply_to(user, "Xưởng mộc Phú Gia"))["text"] == t("vi", "workplace.ask_province")


async def test_button_from_an_old_message(harness):
    user = harness.user()
    first_question = await harness.reply_to(user, "/start")
    await harness.press(user, first_question, "lang:vi")
    notice = await harness.next(user)
    await harness.press(user, notice, "consent:yes")
    await harness.next(user)  # province question, in place of the notice
    query_id = await harness.press(user, notice, "consent:no", force=True)  # a client's stale copy
    assert (await harness.emulator.wait_answer(query_id))["text"] == t("vi", "input.stale_button")
    again = await harness.next(user)
    assert again["text"] == t("vi", "province.ask") and again["message_id"] != notice["message_id"]
    assert "Hà Nội ✓" in (await harness.reply_to(user, "ha noi"))["text"]


async def test_forged_callback_data(harness):
    user = harness.user()
    province_question = await reach_province_step(harness, user)
    for forged in ("prov:99", "prov:abc", "provpage:x", "\u0000" * 10, "lang:fr"):
        query_id = await harness.press(user, province_question, forged, force=True)
        assert (await harness.emulator.wait_answer(query_id))["text"] == t("vi", "input.stale_button")
        assert (await harness.next(user))["text"] == t("vi", "province.ask")
    # A forged settings field is refused without leaving the current step.
    query_id = await harness.press(user, province_question, "set:drop_tables", force=True)
    assert (await harness.emulator.wait_answer(query_id))["text"] == t("vi", "input.stale_button")
    assert "Hà Nội ✓" in (await harness.reply_to(user, "hn"))["text"]


async def test_forged_button_outside_any_conversation(harness):
    user = harness.user()
    await harness.reply_to(user, "/help")
    message = harness.emulator.messages(user.id)[-1]
    query_id = await harness.press(user, message, "case:claim:1", force=True)
    assert (await harness.emulator.wait_answer(query_id))["show_alert"] is True


async def test_command_from_a_group(harness):
    user = harness.user()
    group = harness.emulator.create_group("Tổ sản xuất 3", members=[user])
    await harness.send(user, "/settings@congdoan_test_bot", chat=group)
    answer = await harness.next(group.id)
    assert answer["text"] == t("vi", "group.private_only")
    assert buttons_of(answer)[0][1].startswith("https://t.me/congdoan_test_bot")


async def test_plain_group_chatter_is_ignored(harness):
    user = harness.user()
    group = harness.emulator.create_group("Tổ sản xuất 3", members=[user])
    await harness.send(user, "chào mọi người", chat=group)
    await harness.send(user, "/help@congdoan_test_bot", chat=group)
    answer = await harness.next(group.id)
    assert answer["text"] == t("vi", "group.private_only")  # the greeting got no reply before it


async def test_unknown_command_and_free_text_outside_a_flow(harness):
    user = harness.user(language_code="en")
    assert (await harness.reply_to(user, "/frobnicate"))["text"] == t("en", "input.unknown_command")
    assert (await harness.reply_to(user, "hello?"))["text"] == t("en", "input.not_understood")
    await harness.emulator.send_voice(user, b"OggS")
    assert (await harness.next(user))["text"] == t("en", "input.unexpected_media")


async def test_menu_help_and_cancel_in_the_middle_of_a_step(harness):
    user = harness.user()
    await reach_province_step(harness, user)
    help_text = await harness.reply_to(user, "/help")
    assert help_text["text"] == t("vi", "help.text")
    assert "Hà Nội ✓" in (await harness.reply_to(user, "ha noi"))["text"]  # help kept the step
    cancelled = await harness.reply_to(user, "/cancel")
    assert cancelled["text"] == t("vi", "cancel.done")
    assert (await harness.reply_to(user, "garment"))["text"] == t("vi", "input.not_understood")
    menu = await harness.reply_to(user, "/menu")
    assert menu["text"] == t("vi", "menu.title")


async def test_edited_messages_do_not_count_as_answers(harness):
    user = harness.user()
    await reach_province_step(harness, user)
    sent = await harness.send(user, "xyz khong co")
    assert (await harness.next(user))["text"].startswith(t("vi", "province.no_match", typed="xyz khong co"))
    await harness.emulator.edit_text(user, sent, "ha noi")
    assert "Bắc Ninh ✓" in (await harness.reply_to(user, "bac ninh"))["text"]


async def test_a_failing_handler_apologises_and_logs_ids_not_text(harness, caplog):
    from telegram.ext import MessageHandler, filters

    async def explode(update, context):
        raise RuntimeError("handler failed")

    harness.application.handlers[0].insert(0, MessageHandler(filters.Regex("^boom"), explode))
    user = harness.user()
    secret_text = "boom: lương tháng 10 của tôi bị nợ"
    sent = await harness.send(user, secret_text)
    apology = await harness.next(user)
    assert apology["text"] == t("vi", "error.generic")
    failures = [r for r in caplog.records if r.name == "congdoan.errors"]
    assert failures and "RuntimeError" in failures[0].getMessage()
    assert secret_text not in caplog.text and "lương" not in caplog.text
    assert sent["message_id"]  # the conversation goes on:
    assert (await harness.reply_to(user, "/menu"))["text"] == t("vi", "menu.title")
