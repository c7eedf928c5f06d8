"""Onboarding and settings, through the real Application and the Bot API emulator."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Consent, Member, UnionStatus, Workplace
from tests.support.harness import buttons_of, data_of, reply_keyboard_of, t


async def member_of(harness, user) -> Member:
    async with harness.session_factory() as session:
        return await session.scalar(select(Member).where(Member.telegram_id == user.id))


async def workplace_by_code(harness, code) -> Workplace:
    async with harness.session_factory() as session:
        return await session.scalar(select(Workplace).where(Workplace.code == code))


async def onboard(harness, user, language="vi", province_typed="ha noi", workplace_typed="may song hong",
                  workplace_button=None) -> dict:
    """Walk the whole onboarding; returns the final message."""
    h = harness
    ask_language = await h.reply_to(user, "/start")
    assert {data for _, data in buttons_of(ask_language)} == {"lang:vi", "lang:en"}
    await h.press(user, ask_language, f"lang:{language}")
    notice = await h.next(user)
    assert notice["message_id"] == ask_language["message_id"]  # the next question replaces the answered one
    assert notice["text"].startswith(t(language, "language.chosen", language=t(language, "language.name")))
    assert t(language, "consent.notice") in notice["text"]
    await h.press(user, notice, "consent:yes")
    ask_province = await h.next(user)
    assert len([d for _, d in buttons_of(ask_province) if d.startswith("prov:")]) == 10
    ask_sector = await h.reply_to(user, province_typed)
    assert "Hà Nội ✓" in ask_sector["text"] and ask_sector["text"].endswith(t(language, "sector.ask"))
    await h.press(user, ask_sector, "sector:garment")
    ask_workplace = await h.next(user)
    assert ask_workplace["text"].endswith(t(language, "workplace.ask"))
    await h.send(user, workplace_typed)
    results = await h.next(user)
    await h.press(user, results, workplace_button or buttons_of(results)[0][1])
    ask_membership = await h.next(user)
    await h.press(user, ask_membership, "union:member")
    settled = await h.next(user)
    assert settled["message_id"] == ask_membership["message_id"] and not buttons_of(settled)
    return await h.next(user)  # the summary comes as a new message: it carries the main menu keyboard


async def test_onboarding_in_vietnamese(harness):
    user = harness.user("Lan", last_name="Nguyễn", username="lan_may")
    done = await onboard(harness, user)
    assert t("vi", "onboarding.done") in done["text"]
    assert "Thành phố Hà Nội" in done["text"]
    assert t("vi", "menu.settings") in reply_keyboard_of(done)
    member = await member_of(harness, user)
    assert (member.language, member.province_code, member.sector) == ("vi", 1, "garment")
    assert member.union_status == UnionStatus.MEMBER and member.onboarded_at is not None
    assert member.first_name == "Lan" and member.consent_version is not None
    async with harness.session_factory() as session:
        workplace = await session.get(Workplace, member.workplace_id)
        consents = (await session.scalars(select(Consent).where(Consent.member_id == member.id))).all()
    assert "Sông Hồng" in workplace.name
    assert [c.granted for c in consents] == [True]


async def test_onboarding_in_english(harness):
    user = harness.user("John", language_code="en")
    done = await onboard(harness, user, language="en", province_typed="Hà Nội")
    assert t("en", "onboarding.done") in done["text"]
    assert t("en", "menu.settings") in reply_keyboard_of(done)
    assert (await member_of(harness, user)).language == "en"


async def test_each_answer_stays_visible_above_the_next_question(harness):
    user = harness.user()
    question = await harness.reply_to(user, "/start")
    await harness.press(user, question, "lang:vi")
    edited = await harness.next(user)
    assert edited["message_id"] == question["message_id"]
    assert edited["text"].split("\n\n")[0] == t("vi", "language.chosen", language="Tiếng Việt")
    assert {d for _, d in buttons_of(edited)} == {"consent:yes", "consent:no", "consent:more"}


async def test_province_paging_and_typing_variants(harness):
    user = harness.user()
    await harness.reply_to(user, "/start")
    question = harness.emulator.messages(user.id)[-1]
    await harness.press(user, question, "lang:vi")
    notice = await harness.next(user)
    await harness.press(user, notice, "consent:yes")
    ask_province = await harness.next(user)
    await harness.press(user, ask_province, data_of(ask_province, "›"))
    page_two = await harness.next(user)
    assert page_two["message_id"] == ask_province["message_id"]
    assert buttons_of(page_two) != buttons_of(ask_province)
    chosen = await harness.reply_to(user, "tp hcm")
    assert "Hồ Chí Minh ✓" in chosen["text"]


async def test_declining_consent_keeps_no_profile_and_says_why(harness):
    user = harness.user("Minh", username="minh")
    question = await harness.reply_to(user, "/start")
    await harness.press(user, question, "lang:vi")
    notice = await harness.next(user)
    await harness.press(user, notice, "consent:no")
    assert (await harness.next(user))["text"] == t("vi", "consent.declined_short")
    declined = await harness.next(user)
    assert declined["text"] == t("vi", "consent.declined")
    assert t("vi", "menu.help") in reply_keyboard_of(declined)
    member = await member_of(harness, user)
    assert member.consent_version is None and member.first_name is None and member.username is None
    settings = await harness.reply_to(user, "/settings")
    assert "set:province" not in {d for _, d in buttons_of(settings)}
    assert "set:consent" in {d for _, d in buttons_of(settings)}


async def test_deep_link_prefills_the_workplace(harness):
    garment = await workplace_by_code(harness, harness.demo["garment_workplace"])
    user = harness.user()
    question = await harness.reply_to(user, f"/start w-{garment.code}")
    await harness.press(user, question, "lang:vi")
    await harness.press(user, await harness.next(user), "consent:yes")
    await harness.next(user)
    await harness.press(user, await harness.reply_to(user, "ha noi"), "sector:garment")
    confirm = await harness.next(user)
    assert garment.name in confirm["text"]
    await harness.press(user, confirm, f"wp:{garment.id}")
    await harness.press(user, await harness.next(user), "union:not_yet")
    await harness.next(user)
    assert t("vi", "onboarding.done") in (await harness.next(user))["text"]
    member = await member_of(harness, user)
    assert member.workplace_id == garment.id and member.union_status == UnionStatus.NOT_YET


async def test_unlisted_workplace_takes_name_and_province(harness):
    user = harness.user()
    question = await harness.reply_to(user, "/start")
    await harness.press(user, question, "lang:vi")
    await harness.press(user, await harness.next(user), "consent:yes")
    await harness.next(user)
    await harness.press(user, await harness.reply_to(user, "bac ninh"), "sector:electronics")
    ask = await harness.next(user)
    await harness.press(user, ask, "wp:other")
    ask_name = await harness.next(user)
    assert ask_name["text"].endswith(t("vi", "workplace.ask_name"))
    ask_province = await harness.reply_to(user, "Công ty TNHH Linh Kiện Ánh Dương")
    same = data_of(ask_province, "Bắc Ninh")
    await harness.press(user, ask_province, same)
    await harness.press(user, await harness.next(user), "union:not_yet")
    await harness.next(user)
    await harness.next(user)
    member = await member_of(harness, user)
    assert member.workplace_id is None
    assert member.workplace_other_name == "Công ty TNHH Linh Kiện Ánh Dương"
    assert member.workplace_other_province_code == member.province_code


async def test_settings_change_language_and_sector(harness):
    user = harness.user()
    await onboard(harness, user)
    settings = await harness.reply_to(user, t("vi", "menu.settings"))
    await harness.press(user, settings, "set:language")
    question = await harness.next(user)
    await harness.press(user, question, "lang:en")
    settings_again = await harness.next(user)
    assert t("en", "profile.title") in settings_again["text"]
    await harness.press(user, settings_again, "set:sector")
    await harness.press(user, await harness.next(user), "sector:logistics")
    summary = await harness.next(user)
    assert "Sector: Transport" in summary["text"] and summary["message_id"] == settings["message_id"]
    await harness.press(user, summary, "set:close")
    assert (await harness.next(user))["text"] == t("en", "settings.closed")
    closing = await harness.next(user)
    assert closing["text"] == t("en", "menu.title")
    member = await member_of(harness, user)
    assert (member.language, member.sector) == ("en", "logistics")


async def test_withdrawing_consent_clears_identity(harness):
    user = harness.user("Hoa", username="hoa")
    await onboard(harness, user)
    settings = await harness.reply_to(user, "/settings")
    await harness.press(user, settings, "set:consent")
    ask = await harness.next(user)
    await harness.press(user, ask, "consent:withdraw")
    await harness.next(user)
    member = await member_of(harness, user)
    assert member.consent_version is None and member.first_name is None and member.username is None


async def test_returning_member_is_welcomed_back(harness):
    user = harness.user("Lan")
    await onboard(harness, user)
    again = await harness.reply_to(user, "/start")
    assert again["text"] == t("vi", "start.welcome_back", name="Lan")


async def test_restart_in_the_middle_of_onboarding(harness):
    user = harness.user()
    question = await harness.reply_to(user, "/start")
    await harness.press(user, question, "lang:vi")
    await harness.press(user, await harness.next(user), "consent:yes")
    await harness.next(user)  # the province question
    await harness.restart_bot()
    ask_sector = await harness.reply_to(user, "bac ninh")
    assert "Bắc Ninh ✓" in ask_sector["text"]
    assert ask_sector["text"].endswith(t("vi", "sector.ask"))
