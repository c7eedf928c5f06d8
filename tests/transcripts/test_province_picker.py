"""The shared province picker (handlers/province_picker.py) where a report names an unlisted workplace and where
onboarding does: the worker's own province first, paging in place, typed names with no match or several
matches, forged presses. Each flow keeps its own callback data."""

from __future__ import annotations

from tests.support.harness import buttons_of, t
from tests.transcripts.test_intake import no_answers_before_sending, ready_worker, to_review  # noqa: F401
from tests.transcripts.test_onboarding import member_of


def provinces_on(message, prefix) -> list[str]:
    return [data for _, data in buttons_of(message) if data.startswith(f"{prefix}:")]


async def forged_presses_are_refused(harness, user, message, forged, question) -> None:
    for data in forged:
        query = await harness.press(user, message, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button"), data
        assert (await harness.next(user))["text"] == question, data


async def test_a_report_picks_the_province_of_an_unlisted_workplace(harness):
    user = await ready_worker(harness)  # lives in Hà Nội (1)
    review = await to_review(harness, user)
    await harness.press(user, review, "rep:edit:workplace")
    await harness.press(user, await harness.next(user), "rep:wp:other")
    await harness.next(user)
    await harness.press(user, await harness.reply_to(user, "xưởng gạch không tên"), "rep:wp:unlisted")
    await harness.next(user)
    ask = await harness.reply_to(user, "Xưởng gạch Đông Anh")
    assert ask["text"] == t("vi", "intake.ask_workplace_province")
    assert buttons_of(ask)[0] == (t("vi", "intake.same_province", province="Hà Nội"), "rep:prov:1")
    assert len(provinces_on(ask, "rep:prov")) == 11  # own province, then a page of ten

    await harness.press(user, ask, "rep:provpage:1")
    page_two = await harness.next(user)
    assert page_two["message_id"] == ask["message_id"] and buttons_of(page_two)[0][1] == "rep:prov:1"
    assert not set(provinces_on(page_two, "rep:prov")[1:]) & set(provinces_on(ask, "rep:prov")[1:])
    await forged_presses_are_refused(harness, user, page_two, ("rep:prov:99", "rep:prov:²", "rep:provpage:x",
                                                               "rep:provpage:1234567890", "rep:prov:"),
                                     t("vi", "intake.ask_workplace_province"))

    none = await harness.reply_to(user, "Xứ sở thần tiên")
    assert none["text"] == (t("vi", "intake.province_no_match", typed="Xứ sở thần tiên") + "\n\n"
                            + t("vi", "intake.ask_workplace_province"))
    several = await harness.reply_to(user, "quang")
    assert several["text"] == t("vi", "intake.province_pick")
    assert [text for text, _ in buttons_of(several)] == ["Quảng Ngãi", "Quảng Ninh", "Quảng Trị", "Tuyên Quang"]
    await harness.press(user, several, buttons_of(several)[1][1])
    review = await harness.next(user)
    assert "Xưởng gạch Đông Anh" in review["text"]


async def test_onboarding_picks_the_province_and_that_of_an_unlisted_workplace(harness):
    user = harness.user()
    await harness.press(user, await harness.reply_to(user, "/start"), "lang:vi")
    await harness.press(user, await harness.next(user), "consent:yes")
    ask = await harness.next(user)
    assert ask["text"].endswith(t("vi", "province.ask")) and len(provinces_on(ask, "prov")) == 10
    assert "provpage:1" in {data for _, data in buttons_of(ask)}
    several = await harness.reply_to(user, "son")
    assert several["text"] == t("vi", "province.pick_match")
    assert [(text, data) for text, data in buttons_of(several)] == [("Lạng Sơn", "prov:20"), ("Sơn La", "prov:14")]
    await harness.press(user, several, "prov:14")
    ask_sector = await harness.next(user)
    assert t("vi", "province.chosen", province="Sơn La") in ask_sector["text"]
    await harness.press(user, ask_sector, "sector:electronics")
    await harness.press(user, await harness.next(user), "wp:other")
    await harness.next(user)

    ask = await harness.reply_to(user, "Xưởng may Mường La")
    assert ask["text"] == t("vi", "workplace.ask_province")
    assert buttons_of(ask)[0] == (t("vi", "workplace.same_province", province="Sơn La"), "wpprov:14")
    last_page = ask
    for page in (1, 2, 3):
        await harness.press(user, last_page, f"wpprovpage:{page}")
        last_page = await harness.next(user)
    assert last_page["message_id"] == ask["message_id"] and len(provinces_on(last_page, "wpprov")) == 1 + 34 - 30
    await forged_presses_are_refused(harness, user, last_page, ("wpprov:99", "wpprov:x", "wpprovpage:٣", "prov:1"),
                                     t("vi", "workplace.ask_province"))
    none = await harness.reply_to(user, "Xứ sở thần tiên")
    assert none["text"] == (t("vi", "province.no_match", typed="Xứ sở thần tiên") + "\n\n"
                            + t("vi", "workplace.ask_province"))
    assert buttons_of(none)[0][1] == "wpprov:14"
    await harness.press(user, await harness.reply_to(user, "son la"), "union:not_yet")
    await harness.next(user)  # the answer, in place of the question
    assert t("vi", "onboarding.done") in (await harness.next(user))["text"]
    member = await member_of(harness, user)
    assert (member.province_code, member.workplace_other_name, member.workplace_other_province_code) == (
        14, "Xưởng may Mường La", 14)
