"""The in-chat survey builder through the real application: an admin builds a survey with every kind of question,
an intro of their own, scale labels, an optional question and a skip rule from /admin → Surveys, saves it, it
opens, workers (one reading Vietnamese, one English) answer it with /survey following the skip and skipping
the optional free-text question, and the results count them. Non-admins, forged and stale presses, stickers, too-long text, Cancel, and a restart in
the middle (the draft is kept)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import delete, func, select

from bot import i18n
from bot.services import survey_results, surveys
from bot.text import escape
from db.models import Admin, Survey
from handlers.survey_builder import DRAFT
from tests.support.harness import buttons_of, t
from tests.transcripts.test_survey import admin_user, alert_of, relax_burst_limit, restart, worker

TITLE = "Khảo sát <bữa ăn> ca 2026"
Q1, Q2, Q3, Q4 = ("Bữa ăn ca có đủ no không?", "Bạn muốn bếp thêm gì?", "Bạn chấm bữa ăn mấy điểm?",
                  "Góp ý thêm cho bếp ăn")
INTRO_VI = "Công đoàn muốn nghe <ý kiến> của bạn về bữa ăn ca."
INTRO_EN = "The union wants your views on shift meals."


def vi(key: str, **values: object) -> str:
    return t("vi", f"survey_builder.{key}", **values)


def added(number: int, question: str, optional: bool = False) -> str:
    """The "question added" screen's text, the survey having `number` questions."""
    return vi("question_added", number=number, question=question, count=number, max=surveys.QUESTIONS_MAX,
              requirement=i18n.t("vi", "survey_builder.optional_note" if optional else "survey_builder.required_note"))


async def open_builder(harness, admin) -> dict:
    hub = await harness.reply_to(admin, "/admin")
    await harness.press(admin, hub, "adm:sv:list")
    overview = await harness.next(admin)
    assert (i18n.t("vi", "survey_builder.new_button"), "svb:new") in buttons_of(overview)
    await harness.press(admin, overview, "svb:new")
    return await harness.next(admin)


async def press(harness, user, message: dict, data: str) -> dict:
    await harness.press(user, message, data)
    return await harness.next(user)


async def refused(harness, user, message: dict, data: str) -> str:
    return await alert_of(harness, await harness.press(user, message, data, force=True))


async def add_question(harness, admin, screen: dict, kind: str, text: str, options: str | None = None,
                       english: str | None = None, english_options: str | None = None) -> dict:
    """From the kind screen to the "question added" screen."""
    prompt = await press(harness, admin, screen, f"svb:kind:{kind}")
    number = int(prompt["text"].split()[1])  # "Câu 3 (…)"
    assert prompt["text"] == vi("ask_question_vi", number=number, kind=vi(f"kind_{kind}"),
                                limit=surveys.QUESTION_LIMIT)
    prompt = await harness.reply_to(admin, text)
    if english is None:
        prompt = await press(harness, admin, prompt, "svb:skip:q_en")
    else:
        prompt = await harness.reply_to(admin, english)
    if kind == "scale":  # no level names
        assert prompt["text"] == vi("ask_labels_vi", number=number, limit=surveys.OPTION_LIMIT)
        return await press(harness, admin, prompt, "svb:skip:labels_vi")
    if options is None:
        return prompt
    assert prompt["text"] == vi("ask_options_vi", min=2, max=10, limit=surveys.OPTION_LIMIT)
    prompt = await harness.reply_to(admin, options)
    if english_options is None:
        return await press(harness, admin, prompt, "svb:skip:opts_en")
    return await harness.reply_to(admin, english_options)


async def test_an_admin_builds_a_survey_that_workers_answer_with_its_skip_logic(harness):
    relax_burst_limit(harness)
    admin = await admin_user(harness)
    prompt = await open_builder(harness, admin)
    assert prompt["text"] == vi("ask_title_vi", limit=surveys.TITLE_LIMIT)
    prompt = await harness.reply_to(admin, TITLE)
    assert prompt["text"] == vi("ask_title_en", limit=surveys.TITLE_LIMIT)
    prompt = await harness.reply_to(admin, "Shift meals 2026")
    standard = i18n.t("vi", "survey_builder.default_intro")
    assert prompt["text"] == vi("ask_intro_vi", limit=surveys.INTRO_LIMIT, standard=standard)
    assert buttons_of(prompt)[0] == (i18n.t("vi", "survey_builder.keep_intro_button"), "svb:skip:intro_vi")
    too_long = "Giới thiệu " * 100
    assert (await harness.reply_to(admin, too_long))["text"] == vi("problem_too_long", limit=surveys.INTRO_LIMIT,
                                                                   length=len(too_long.strip()))
    prompt = await harness.reply_to(admin, INTRO_VI)
    assert prompt["text"] == vi("ask_intro_en", limit=surveys.INTRO_LIMIT)
    privacy = await harness.reply_to(admin, INTRO_EN)
    assert privacy["text"] == vi("ask_privacy")
    kind = await press(harness, admin, privacy, "svb:anon:1")
    assert kind["text"] == vi("ask_kind", number=1)
    assert [data for _, data in buttons_of(kind)] == ["svb:kind:single", "svb:kind:multiple", "svb:kind:scale",
                                                      "svb:kind:text", "svb:cancel"]

    more = await add_question(harness, admin, kind, "single", Q1, "Đủ no\nChưa đủ", english="Are meals filling?",
                              english_options="Enough\nNot enough")
    assert more["text"] == added(1, Q1)  # a choice is required unless the admin says otherwise
    assert buttons_of(more)[0] == (i18n.t("vi", "survey_builder.make_optional_button"), "svb:opt:1")
    kind = await press(harness, admin, more, "svb:add")
    prompt = await press(harness, admin, kind, "svb:kind:multiple")
    prompt = await harness.reply_to(admin, Q2)
    prompt = await press(harness, admin, prompt, "svb:skip:q_en")
    # Options: too few, a duplicate, one too long; then right.
    assert (await harness.reply_to(admin, "Chỉ một"))["text"] == vi("problem_options_number", min=2, max=10, given=1)
    assert (await harness.reply_to(admin, "Rau\nrau"))["text"] == vi("problem_options_twice")
    long_option = "Thịt " * 30
    assert (await harness.reply_to(admin, f"Rau\n{long_option}"))["text"] == vi("problem_option_too_long",
                                                                              limit=surveys.OPTION_LIMIT)
    prompt = await harness.reply_to(admin, "Thêm rau\nThêm thịt\nThêm trái cây")
    assert prompt["text"] == vi("ask_options_en", count=3)
    assert (await harness.reply_to(admin, "Vegetables\nMeat"))["text"] == vi("problem_options_count", count=3,
                                                                              given=2)
    more = await press(harness, admin, prompt, "svb:skip:opts_en")
    # Made optional, then required again.
    more = await press(harness, admin, more, "svb:opt:1")
    assert more["text"] == added(2, Q2, optional=True)
    assert buttons_of(more)[0] == (i18n.t("vi", "survey_builder.make_required_button"), "svb:opt:0")
    more = await press(harness, admin, more, "svb:opt:0")
    assert more["text"] == added(2, Q2)
    for forged in ("svb:opt:2", "svb:opt:", "svb:skip:labels_vi", "svb:skip"):
        assert await refused(harness, admin, more, forged) == t("vi", "input.stale_button"), forged

    # A scale with names for 1 and 5: one that cannot be read, one too long, then Vietnamese and English.
    kind = await press(harness, admin, more, "svb:add")
    prompt = await press(harness, admin, kind, "svb:kind:scale")
    prompt = await press(harness, admin, await harness.reply_to(admin, Q3), "svb:skip:q_en")
    assert prompt["text"] == vi("ask_labels_vi", number=3, limit=surveys.OPTION_LIMIT)
    assert (await harness.reply_to(admin, "Rất tệ"))["text"] == vi("problem_labels_format")
    assert (await harness.reply_to(admin, "Tệ / Vừa / Tốt"))["text"] == vi("problem_labels_format")
    assert (await harness.reply_to(admin, "Tệ / " + "Tốt " * 30))["text"] == vi("problem_label_too_long",
                                                                              limit=surveys.OPTION_LIMIT)
    prompt = await harness.reply_to(admin, "Rất không hài lòng / Rất hài lòng")
    assert prompt["text"] == vi("ask_labels_en", number=3, limit=surveys.OPTION_LIMIT)
    more = await harness.reply_to(admin, "Very dissatisfied\nVery satisfied")
    assert more["text"] == added(3, Q3)
    kind = await press(harness, admin, more, "svb:add")
    more = await add_question(harness, admin, kind, "text", "Góp ý (bản nháp)")

    # Edit the last question (entered again), then add one too many and remove it.
    kind = await press(harness, admin, more, "svb:edit")
    assert kind["text"].startswith(vi("editing", number=4, question="Góp ý (bản nháp)"))
    more = await add_question(harness, admin, kind, "text", Q4)
    assert more["text"] == added(4, Q4, optional=True)  # free text: nobody is forced to type
    kind = await press(harness, admin, more, "svb:add")
    more = await add_question(harness, admin, kind, "single", "Câu thừa", "Có\nKhông")
    assert more["text"] == added(5, "Câu thừa")
    more = await press(harness, admin, more, "svb:drop")
    assert more["text"] == vi("removed", number=5) + "\n\n" + added(4, Q4, optional=True)

    # Skip logic: single choice and scale questions only, forward only.
    rules = await press(harness, admin, more, "svb:done")
    assert vi("rules_none") in rules["text"]
    assert [data for _, data in buttons_of(rules)][:2] == ["svb:rq:q1", "svb:rq:q3"]
    assert await refused(harness, admin, rules, "svb:rq:q2") == t("vi", "input.stale_button")  # multiple choice
    pick = await press(harness, admin, rules, "svb:rq:q1")
    assert [text for text, _ in buttons_of(pick)][:2] == ["Đủ no", "Chưa đủ"]
    target = await press(harness, admin, pick, "svb:ro:o1")
    assert [data for _, data in buttons_of(target)] == ["svb:rt:q2", "svb:rt:q3", "svb:rt:q4", "svb:rt:end",
                                                        "svb:rt:next", "svb:back", "svb:cancel"]
    for forged in ("svb:rt:q1", "svb:rt:q9", "svb:rt:", "svb:ro:o2", "svb:save"):
        assert await refused(harness, admin, target, forged) == t("vi", "input.stale_button"), forged
    rules = await press(harness, admin, target, "svb:rt:q3")
    assert vi("rule_line", number=1, option="Đủ no", target=vi("to_question", number=3)) in rules["text"]

    # The window: a typed time that cannot be read, one in the past, then "open now" and 7 days.
    opens = await press(harness, admin, rules, "svb:times")
    example = re.search(r"\d\d/\d\d/\d{4} 08:00", opens["text"]).group()  # tomorrow, local
    assert opens["text"] == vi("ask_opens", example=example)
    assert (await harness.reply_to(admin, "sáng mai"))["text"] == vi("problem_time_format", example=example)
    assert (await harness.reply_to(admin, "01/01/2020 08:00"))["text"] == vi("problem_time_past", example=example)
    closes = await press(harness, admin, opens, "svb:now")
    assert closes["text"] == vi("ask_closes", example=example)
    preview = await press(harness, admin, closes, "svb:days:7")
    for part in (TITLE, "Shift meals 2026", vi("preview_anonymous"), vi("preview_open_now"),
                 vi("preview_days_after", days=7), vi("preview_intro", intro=escape(INTRO_VI)),
                 vi("preview_english", text=INTRO_EN), f"1. {Q1}",
                 "Are meals filling?", "• Đủ no / Enough", "• Thêm trái cây",
                 vi("preview_scale_labels", low="Rất không hài lòng", high="Rất hài lòng"),
                 vi("preview_scale_labels_en", low="Very dissatisfied", high="Very satisfied"),
                 vi("preview_question", number=4, question=Q4, kind=vi("kind_text")) + "\n"
                 + i18n.t("vi", "survey_builder.preview_optional"),
                 vi("preview_rule", option="Đủ no", target=vi("to_question", number=3))):
        assert part in preview["text"], part
    assert preview["text"].count(vi("preview_optional")) == 1

    saved = await press(harness, admin, preview, "svb:save")
    async with harness.session_factory() as session:
        survey = await session.scalar(select(Survey))
    tz = harness.settings.tz
    assert saved["text"] == vi("saved", title=escape(TITLE), count=4,
                               opens=survey.opens_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
                               closes=survey.closes_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"))
    assert survey.loaded_by == f"admin:{admin.id}" and survey.anonymous
    assert survey.title == {"vi": TITLE, "en": "Shift meals 2026"}
    assert survey.intro == {"vi": INTRO_VI, "en": INTRO_EN}
    assert [(q["id"], q["type"], q["next"], q["optional"]) for q in survey.questions] == [
        ("q1", "single", {"o1": "q3"}, False), ("q2", "multiple", {}, False), ("q3", "scale", {}, False),
        ("q4", "text", {}, True)]
    assert survey.questions[2]["low"] == {"vi": "Rất không hài lòng", "en": "Very dissatisfied"}
    assert survey.questions[2]["high"] == {"vi": "Rất hài lòng", "en": "Very satisfied"}
    assert survey.questions[1]["text"] == {"vi": Q2, "en": Q2}  # English skipped: the format needs a text
    assert survey.closes_at - survey.opens_at == timedelta(days=7)
    assert harness.application.job_queue.get_jobs_by_name(f"survey-close-{survey.id}")
    assert DRAFT not in harness.application.user_data[admin.id]
    assert await refused(harness, admin, preview, "svb:save") == t("vi", "input.stale_button")  # saved once

    # Workers answer it: "Đủ no" jumps from question 1 to 3; "Chưa đủ" goes through question 2. Lan reads
    # Vietnamese and skips the optional last question; Minh reads English and types an answer.
    lan, minh = await worker(harness, "Lan"), await worker(harness, "Minh", language="en")
    answers = {"Lan": ("vi", TITLE, INTRO_VI, "o1", (), ("Rất không hài lòng", "Rất hài lòng"), Q4),
               "Minh": ("en", "Shift meals 2026", INTRO_EN, "o2", ("o1", "o3"), ("Very dissatisfied",
                                                                                 "Very satisfied"), Q4)}
    for user in (lan, minh):
        lang, title, intro_text, first, ticks, (low, high), last = answers[user.first_name]
        listing = await harness.reply_to(user, "/survey")
        assert (f"📝 {title}", f"survey:open:{survey.id}") in buttons_of(listing)
        await harness.press(user, listing, f"survey:open:{survey.id}")
        intro = await harness.next(user)
        assert intro_text in intro["text"] and i18n.t(lang, "survey_builder.default_intro") not in intro["text"]
        question = await harness.next(user)
        first_text = Q1 if lang == "vi" else "Are meals filling?"
        assert question["text"] == t(lang, "survey.question", number=1, total=4, question=first_text)
        assert all(data != f"sv:s:{survey.id}:q1" for _, data in buttons_of(question))  # required
        question = await press(harness, user, question, f"sv:a:{survey.id}:q1:{first}")
        for option in ticks:  # English skipped: Minh reads the Vietnamese question
            assert question["text"].startswith(t(lang, "survey.question", number=2, total=4, question=Q2))
            question = await press(harness, user, question, f"sv:t:{survey.id}:q2:{option}")
        if ticks:
            question = await press(harness, user, question, f"sv:d:{survey.id}:q2")
        assert question["text"] == t(lang, "survey.question", number=3, total=4, question=Q3) + "\n\n" + \
            t(lang, "survey.scale_hint", low=low, high=high)
        question = await press(harness, user, question, f"sv:a:{survey.id}:q3:4")
        assert question["text"].startswith(t(lang, "survey.question", number=4, total=4, question=last))
        assert (t(lang, "survey.skip_button"), f"sv:s:{survey.id}:q4") in buttons_of(question)
        if user is lan:
            done = await press(harness, user, question, f"sv:s:{survey.id}:q4")
        else:
            done = await harness.reply_to(user, f"Ý kiến của {user.first_name}")
        assert done["text"] == t(lang, "survey.thanks", title=escape(title), points=surveys.SURVEY_POINTS)

    async with harness.session_factory() as session:
        results = await survey_results.compute(session, await session.get(Survey, survey.id), "vi")
    counts = {result.question.id: (result.answered, dict(result.counts)) for result in results.questions}
    assert results.respondents == 2
    assert counts["q1"] == (2, {"o1": 1, "o2": 1})
    assert counts["q2"] == (1, {"o1": 1, "o3": 1})  # Lan skipped it
    assert counts["q3"] == (2, {"4": 2})
    last = next(r for r in results.questions if r.question.id == "q4")
    assert list(last.texts) == ["Ý kiến của Minh"]  # Lan skipped it


async def test_a_non_admin_is_refused_every_builder_button_and_their_text_is_not_taken(harness):
    relax_burst_limit(harness)
    lan = await worker(harness, "Lan")
    listing = await harness.reply_to(lan, "/survey")
    for data in ("svb:new", "svb:fresh", "svb:resume", "svb:cancel", "svb:kind:single", "svb:anon:1", "svb:save",
                 "svb:days:7", "svb:rt:end"):
        assert await refused(harness, lan, listing, data) == t("vi", "admin.not_allowed"), data
    assert DRAFT not in harness.application.user_data.get(lan.id, {})

    # An admin whose right is withdrawn mid-way: the next typed step is refused and the draft dropped.
    admin = await admin_user(harness)
    await open_builder(harness, admin)
    async with harness.session_factory() as session:
        await session.execute(delete(Admin).where(Admin.telegram_id == admin.id))
        await session.commit()
    answer = await harness.reply_to(admin, "Khảo sát trái phép")
    assert answer["text"] == t("vi", "admin.not_allowed")
    assert DRAFT not in harness.application.user_data[admin.id]
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count(Survey.id))) == 0


async def test_forged_and_stale_presses_stickers_and_long_text_are_answered_politely(harness):
    relax_burst_limit(harness)
    admin = await admin_user(harness)
    hub = await harness.reply_to(admin, "/admin")
    for forged in ("svb:kind:single", "svb:save", "svb:skip:title_en"):  # no draft yet
        assert await refused(harness, admin, hub, forged) == t("vi", "input.stale_button"), forged
    prompt = await open_builder(harness, admin)

    await harness.emulator.send_sticker(admin)
    assert (await harness.next(admin))["text"] == vi("text_expected")
    too_long = "Khảo sát " * 20
    assert (await harness.reply_to(admin, too_long))["text"] == vi("problem_too_long", limit=surveys.TITLE_LIMIT,
                                                                   length=len(too_long.strip()))
    prompt = await harness.reply_to(admin, "<b>Khảo sát</b> & thử")
    prompt = await press(harness, admin, prompt, "svb:skip:title_en")
    # A stale Skip of the English title, pressed on the intro step, does not keep the standard intro.
    assert await refused(harness, admin, prompt, "svb:skip:title_en") == t("vi", "input.stale_button")
    await harness.emulator.send_sticker(admin)
    assert (await harness.next(admin))["text"] == vi("text_expected")
    privacy = await press(harness, admin, prompt, "svb:skip:intro_vi")
    for forged in ("svb:anon:2", "svb:anon:", "svb:kind:single", "svb:skip", "svb:skip:intro_vi",
                   "svb:skip:privacy", "svb:opt:1", "svb:days:7", "svb:rq:q1", "svb:",
                   "svb:zzz", "svb:add", "svb:done", "svb:now", "svb:ro:1", "svb:edit:1", "svb:days:99999999999"):
        assert await refused(harness, admin, privacy, forged) == t("vi", "input.stale_button"), forged
    kind = await press(harness, admin, privacy, "svb:anon:0")
    for forged in ("svb:kind:stars", "svb:kind:", "svb:drop", "svb:edit"):
        assert await refused(harness, admin, kind, forged) == t("vi", "input.stale_button"), forged
    more = await add_question(harness, admin, kind, "text", "Bạn <i>nghĩ</i> gì?")
    assert more["text"] == added(1, escape("Bạn <i>nghĩ</i> gì?"), optional=True)
    more = await press(harness, admin, more, "svb:opt:0")  # this one must be answered
    assert more["text"] == added(1, escape("Bạn <i>nghĩ</i> gì?"))
    rules = await press(harness, admin, more, "svb:done")
    assert vi("rules_unavailable") in rules["text"]  # no single-choice or scale question
    opens = await press(harness, admin, rules, "svb:times")
    closes = await press(harness, admin, opens, "svb:now")
    preview = await press(harness, admin, closes, "svb:days:14")
    assert "<b>Khảo sát</b> & thử" in preview["text"] and vi("preview_named") in preview["text"]
    assert vi("preview_intro_standard", intro=i18n.t("vi", "survey_builder.default_intro")) in preview["text"]
    assert vi("preview_optional") not in preview["text"]
    saved = await press(harness, admin, preview, "svb:save")
    assert saved["text"].startswith("✅")
    async with harness.session_factory() as session:
        survey = await session.scalar(select(Survey))
    assert survey.intro == {language: i18n.t(language, "survey_builder.default_intro")
                            for language in surveys.LANGS}
    assert survey.questions[0]["optional"] is False
    # The user's HTML is shown as typed, never as formatting.
    assert all(entity["type"] != "italic" for entity in preview.get("entities", []))


async def test_cancel_drops_the_draft_and_its_buttons_go_stale(harness):
    relax_burst_limit(harness)
    admin = await admin_user(harness)
    await open_builder(harness, admin)
    prompt = await press(harness, admin, await harness.reply_to(admin, "Khảo sát sẽ huỷ"), "svb:skip:title_en")
    privacy = await press(harness, admin, prompt, "svb:skip:intro_vi")
    cancelled = await press(harness, admin, privacy, "svb:cancel")
    assert cancelled["text"] == vi("cancelled")
    assert buttons_of(cancelled) == [(i18n.t("vi", "survey_builder.back_to_surveys"), "adm:sv:list")]
    assert DRAFT not in harness.application.user_data[admin.id]
    assert await refused(harness, admin, privacy, "svb:anon:1") == t("vi", "input.stale_button")
    # Typed words are no longer builder input: they go on to the rest of the bot (a search).
    answer = await harness.reply_to(admin, "bảo hiểm xã hội")
    assert answer["text"] not in (vi("ask_title_vi", limit=surveys.TITLE_LIMIT),
                                  vi("ask_title_en", limit=surveys.TITLE_LIMIT))
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count(Survey.id))) == 0


async def test_a_restart_in_the_middle_keeps_the_draft_and_a_command_pauses_it(harness):
    relax_burst_limit(harness)
    admin = await admin_user(harness)
    await open_builder(harness, admin)
    prompt = await press(harness, admin, await harness.reply_to(admin, "Khảo sát sau khởi động lại"),
                         "svb:skip:title_en")
    privacy = await press(harness, admin, prompt, "svb:skip:intro_vi")
    kind = await press(harness, admin, privacy, "svb:anon:1")
    prompt = await press(harness, admin, kind, "svb:kind:single")

    await restart(harness)
    assert harness.application.user_data[admin.id][DRAFT]["step"] == "q_vi"
    prompt = await harness.reply_to(admin, "Ca làm có quá dài không?")
    prompt = await press(harness, admin, prompt, "svb:skip:q_en")
    assert prompt["text"] == vi("ask_options_vi", min=2, max=10, limit=surveys.OPTION_LIMIT)

    # A command pauses the typed input (the text goes on to the rest of the bot); the draft stays.
    listing = await harness.reply_to(admin, "/survey")
    assert listing["text"] in (t("vi", "survey.needs_profile"), t("vi", "survey.none_open"))
    await harness.reply_to(admin, "Có\nKhông")  # a search now, not the options
    assert harness.application.user_data[admin.id][DRAFT]["current"]["options"] == []

    await restart(harness)
    resume = await open_builder(harness, admin)
    assert resume["text"] == vi("resume_prompt", title="Khảo sát sau khởi động lại", count=0)
    prompt = await press(harness, admin, resume, "svb:resume")
    assert prompt["text"] == vi("ask_options_vi", min=2, max=10, limit=surveys.OPTION_LIMIT)
    prompt = await harness.reply_to(admin, "Có\nKhông")
    more = await press(harness, admin, prompt, "svb:skip:opts_en")
    assert more["text"] == added(1, "Ca làm có quá dài không?")

    # "Start over" from the resume screen drops the old draft.
    resume = await open_builder(harness, admin)
    fresh = await press(harness, admin, resume, "svb:fresh")
    assert fresh["text"] == vi("ask_title_vi", limit=surveys.TITLE_LIMIT)
    assert harness.application.user_data[admin.id][DRAFT]["questions"] == []
