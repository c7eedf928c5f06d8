"""The survey builder below Telegram: each typed piece checked as it comes, skip rules only forward, optional
questions (free text by default), an intro of the admin's own or the standard one, scale labels, incomplete
drafts refused with their reasons, and a complete draft read back through the survey file validator (so a draft
that slipped past the builder's own checks is still refused there) and saved like a file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import survey_builder as builder
from bot.services import surveys

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 13:00 in Hà Nội
INTRO = {"vi": "Giới thiệu", "en": "Intro"}


def complete_draft() -> dict:
    """Four questions, one of each kind, English given for some texts and skipped for others."""
    draft = builder.new_draft()
    draft["title"] = {"vi": "Khảo sát bữa ăn ca", "en": "Shift meals survey"}
    draft["anonymous"] = True
    builder.start_question(draft, "single")
    draft["current"]["text"] = {"vi": "Bữa ăn có đủ no không?", "en": "Are meals filling?"}
    builder.set_options(draft["current"], "vi", ["Đủ no", "Chưa đủ"])
    builder.set_options(draft["current"], "en", ["Enough", "Not enough"])
    builder.finish_question(draft)
    builder.start_question(draft, "multiple")
    draft["current"]["text"] = {"vi": "Muốn thêm gì?", "en": "Muốn thêm gì?"}
    builder.set_options(draft["current"], "vi", ["Rau", "Thịt", "Trái cây"])
    builder.finish_question(draft)
    for kind, text in (("scale", "Chấm mấy điểm?"), ("text", "Góp ý thêm?")):
        builder.start_question(draft, kind)
        draft["current"]["text"] = {"vi": text, "en": text}
        if kind == "scale":
            builder.set_labels(draft["current"], "vi", "Rất tệ", "Rất ngon")
            builder.set_labels(draft["current"], "en", "Very bad", "Very good")
        builder.finish_question(draft)
    assert builder.set_rule(draft, "q1", "o1", "q3")
    builder.set_opens(draft, None)
    builder.set_closes_after(draft, 7)
    return draft


def test_a_complete_draft_becomes_the_spec_a_file_would_give():
    draft = complete_draft()
    spec, problems = builder.build(draft, INTRO, NOW)
    assert problems == [] and spec is not None
    assert surveys.SLUG.fullmatch(spec.slug) and spec.slug == f"khao-sat-bua-an-ca-{draft['token']}"
    assert spec.title == {"vi": "Khảo sát bữa ăn ca", "en": "Shift meals survey"} and spec.intro == INTRO
    assert spec.anonymous is True
    assert spec.opens_at == NOW and spec.closes_at == NOW + timedelta(days=7)
    assert [(q.id, q.kind) for q in spec.questions] == [("q1", "single"), ("q2", "multiple"), ("q3", "scale"),
                                                        ("q4", "text")]
    first = spec.questions[0]
    assert [(o.id, o.text) for o in first.options] == [("o1", {"vi": "Đủ no", "en": "Enough"}),
                                                       ("o2", {"vi": "Chưa đủ", "en": "Not enough"})]
    assert first.next == {"o1": "q3"}
    # English skipped: the Vietnamese text stands for both.
    assert spec.questions[1].options[2].text == {"vi": "Trái cây", "en": "Trái cây"}
    assert spec.questions[2].option_ids() == surveys.SCALE and spec.questions[3].options == ()
    # Choices and scales must be answered; free text may be skipped (nobody is forced to type).
    assert [q.optional for q in spec.questions] == [False, False, False, True]
    assert spec.questions[2].low == {"vi": "Rất tệ", "en": "Very bad"}
    assert spec.questions[2].high == {"vi": "Rất ngon", "en": "Very good"}
    assert [(q.low, q.high) for q in spec.questions if q.kind != "scale"] == [({}, {})] * 3


def test_the_admin_decides_which_question_may_be_skipped():
    draft = complete_draft()
    assert builder.set_optional(draft, False)  # the last one: free text made required
    assert builder.set_optional(builder.new_draft(), True) is False  # no question yet
    draft["questions"][0]["optional"] = True
    assert [q.optional for q in builder.build(draft, INTRO, NOW)[0].questions] == [True, False, False, False]
    # A draft kept from before the choice existed: free text optional, the rest required.
    for question in draft["questions"]:
        del question["optional"]
    assert [builder.is_optional(q) for q in draft["questions"]] == [False, False, False, True]
    assert [q.optional for q in builder.build(draft, INTRO, NOW)[0].questions] == [False, False, False, True]


def test_the_intro_is_the_admins_own_or_the_standard_one():
    draft = complete_draft()
    assert builder.build(draft, INTRO, NOW)[0].intro == INTRO  # kept the standard one
    builder.set_intro(draft, "vi", "Mời bạn góp ý về bữa ăn ca.")
    assert builder.build(draft, INTRO, NOW)[0].intro == {"vi": "Mời bạn góp ý về bữa ăn ca.",
                                                          "en": "Mời bạn góp ý về bữa ăn ca."}
    builder.set_intro(draft, "en", "Tell us about shift meals.")
    assert builder.build(draft, INTRO, NOW)[0].intro == {"vi": "Mời bạn góp ý về bữa ăn ca.",
                                                          "en": "Tell us about shift meals."}
    assert builder.intro_problem("x" * surveys.INTRO_LIMIT) is None
    assert builder.intro_problem("x" * (surveys.INTRO_LIMIT + 1)) == "too_long"
    assert builder.intro_problem(" ") == "empty"


def test_scale_labels_are_two_names_within_the_option_limit():
    assert builder.parse_labels("Rất không hài lòng / Rất hài lòng") == (("Rất không hài lòng", "Rất hài lòng"),
                                                                         None)
    assert builder.parse_labels("Tệ/Tốt") == (("Tệ", "Tốt"), None)
    assert builder.parse_labels("Tệ hoặc 1/2\nTốt") == (("Tệ hoặc 1/2", "Tốt"), None)  # one a line
    for wrong in ("Rất tệ", "Tệ / Vừa / Tốt", " / Tốt", "Tệ /", "", None, "a\nb\nc"):
        assert builder.parse_labels(wrong) == (None, "labels_format"), wrong
    assert builder.parse_labels("Tệ / " + "x" * surveys.OPTION_LIMIT)[1] is None
    assert builder.parse_labels("Tệ / " + "x" * (surveys.OPTION_LIMIT + 1)) == (None, "label_too_long")
    # Labels skipped: the scale is plain 1 … 5 in the file too.
    draft = complete_draft()
    draft["questions"][2]["low"], draft["questions"][2]["high"] = {}, {}
    assert "low" not in builder.to_data(draft, INTRO, NOW)["questions"][2]
    scale = builder.build(draft, INTRO, NOW)[0].questions[2]
    assert (scale.low, scale.high) == ({}, {})


def test_english_skipped_is_the_vietnamese_text_because_the_format_needs_both():
    """The format has no "no English" (surveys._texts): a text without it is refused, so the builder stores the
    Vietnamese text for both languages and members reading English see it."""
    draft = complete_draft()
    assert builder.build(draft, INTRO, NOW)[0].questions[3].text == {"vi": "Góp ý thêm?", "en": "Góp ý thêm?"}
    del draft["questions"][3]["text"]["en"]
    spec, problems = builder.build(draft, INTRO, NOW)
    assert spec is None and len(problems) == 1 and problems[0].endswith(": q4.text.en is missing")
    question = {"id": "q1", "type": "scale", "text": {}, "options": [], "next": {}, "optional": False,
                "low": {}, "high": {}}
    builder.set_labels(question, "vi", "Tệ", "Tốt")
    assert question["low"] == {"vi": "Tệ", "en": "Tệ"} and question["high"] == {"vi": "Tốt", "en": "Tốt"}



def test_an_incomplete_draft_is_refused_with_every_reason():
    draft = builder.new_draft()
    assert builder.build(draft, INTRO, NOW) == (None, ["no_title", "no_privacy", "no_questions", "no_opens",
                                                       "no_closes"])
    draft = complete_draft()
    builder.set_closes(draft, NOW - timedelta(minutes=1))  # the admin took so long that the close has passed
    assert builder.build(draft, INTRO, NOW) == (None, ["closes_past"])
    builder.set_opens(draft, NOW + timedelta(days=3))
    builder.set_closes(draft, NOW + timedelta(days=2))
    assert builder.build(draft, INTRO, NOW) == (None, ["closes_before_opens"])
    assert builder.close_problem(draft, NOW + timedelta(days=2), NOW) == "closes_before_opens"
    assert builder.close_problem(draft, NOW + timedelta(days=4), NOW) is None


def test_the_survey_validator_has_the_last_word():
    """A rule written past set_rule (going back to an earlier question) passes the builder's own checks and is
    refused by surveys.parse, with its reason."""
    draft = complete_draft()
    draft["questions"][2]["next"] = {"2": "q1"}
    spec, problems = builder.build(draft, INTRO, NOW)
    assert spec is None and len(problems) == 1
    assert "q3: next goes to 'q1', which is not a later question (or end)" in problems[0]
    draft = complete_draft()
    draft["questions"][0]["options"][1]["en"] = "x" * (surveys.OPTION_LIMIT + 1)
    spec, problems = builder.build(draft, INTRO, NOW)
    assert spec is None and "q1.o2.en is longer than 100 characters" in problems[0]
    draft = complete_draft()
    draft["questions"][2]["high"]["en"] = "x" * (surveys.OPTION_LIMIT + 1)
    spec, problems = builder.build(draft, INTRO, NOW)
    assert spec is None and "q3.high.en is longer than 100 characters" in problems[0]


def test_typed_texts_are_checked_against_the_format_limits():
    assert builder.title_problem("   ") == "empty" and builder.title_problem(None) == "empty"
    assert builder.title_problem("a" * surveys.TITLE_LIMIT) is None
    assert builder.title_problem("a" * (surveys.TITLE_LIMIT + 1)) == "too_long"
    assert builder.question_problem("b" * surveys.QUESTION_LIMIT) is None
    assert builder.question_problem("b" * (surveys.QUESTION_LIMIT + 1)) == "too_long"


def test_options_are_one_a_line_within_the_limits():
    assert builder.parse_options("Có\n\n  Không  \n") == (["Có", "Không"], None)
    assert builder.parse_options("Chỉ một")[1] == "options_number"
    eleven = "\n".join(f"Lựa chọn {n}" for n in range(11))
    assert builder.parse_options(eleven)[1] == "options_number"
    ten = "\n".join(f"Lựa chọn {n}" for n in range(10))
    assert builder.parse_options(ten)[1] is None
    assert builder.parse_options("Có\n" + "x" * (surveys.OPTION_LIMIT + 1))[1] == "option_too_long"
    assert builder.parse_options("Có\n" + "x" * surveys.OPTION_LIMIT)[1] is None
    assert builder.parse_options("Có\ncó")[1] == "options_twice"
    assert builder.parse_options("Yes\nNo\nMaybe", count=2) == (["Yes", "No", "Maybe"], "options_count")
    assert builder.parse_options("Yes\nNo", count=2) == (["Yes", "No"], None)


def test_times_are_local_day_first_and_in_the_future():
    assert builder.parse_time("25/12/2026 08:00", NOW) == (datetime(2026, 12, 25, 1, 0, tzinfo=UTC), None)
    assert builder.parse_time("25-12-2026 8h30", NOW)[0] == datetime(2026, 12, 25, 1, 30, tzinfo=UTC)
    assert builder.parse_time("ngày mai", NOW) == (None, "time_format")
    assert builder.parse_time("31/02/2027 08:00", NOW) == (None, "time_format")
    assert builder.parse_time("25/11/2026 12:59", NOW) == (None, "time_past")  # 05:59 UTC
    assert builder.parse_time("25/11/2026 13:01", NOW)[1] is None
    draft = complete_draft()  # closing "14 days" counts from the opening, whenever that is
    builder.set_opens(draft, NOW + timedelta(days=1))
    builder.set_closes_after(draft, 14)
    assert builder.closes_at(draft, NOW) == NOW + timedelta(days=15)
    assert builder.build(draft, INTRO, NOW)[0].closes_at == NOW + timedelta(days=15)


def test_skip_rules_only_go_forward_from_single_choice_and_scale():
    draft = complete_draft()
    assert builder.targets(draft, "q1") == ["q2", "q3", "q4", "end"]
    assert builder.targets(draft, "q4") == ["end"]
    assert not builder.set_rule(draft, "q3", "4", "q2")  # backwards
    assert not builder.set_rule(draft, "q3", "4", "q3")  # itself
    assert not builder.set_rule(draft, "q2", "o1", "q4")  # multiple choice has no skip logic
    assert not builder.set_rule(draft, "q1", "o9", "q4")  # no such option
    assert not builder.set_rule(draft, "q9", "o1", "end")
    assert builder.set_rule(draft, "q3", "1", "end") and draft["questions"][2]["next"] == {"1": "end"}
    assert [q["id"] for q in builder.rule_questions(draft)] == ["q1", "q3"]
    assert builder.set_rule(draft, "q1", "o1", None) and draft["questions"][0]["next"] == {}


def test_removing_the_last_question_drops_the_rules_that_went_to_it():
    draft = complete_draft()
    assert builder.set_rule(draft, "q1", "o2", "q4")
    removed = builder.remove_last(draft)
    assert removed["id"] == "q4" and draft["questions"][0]["next"] == {"o1": "q3"}
    builder.start_question(draft, "text")
    assert draft["current"]["id"] == "q4"  # the ids stay in order
    assert builder.remove_last(builder.new_draft()) is None


def test_the_slug_comes_from_the_title_and_the_draft():
    draft = builder.new_draft()
    draft["title"] = {"vi": "Đời sống & việc làm — cuối năm 2026!"}
    assert builder.slug(draft) == f"doi-song-viec-lam-cuoi-nam-2026-{draft['token']}"
    draft["title"] = {"vi": "Khảo sát " * 20}
    assert surveys.SLUG.fullmatch(builder.slug(draft)) and len(builder.slug(draft)) <= 48
    draft["title"] = {"vi": "???"}
    assert builder.slug(draft) == f"khao-sat-{draft['token']}"
    assert builder.slug(draft) != builder.slug({**builder.new_draft(), "title": {"vi": "???"}})


async def test_a_built_survey_saves_like_a_file_and_again_updates_it(session):
    draft = complete_draft()
    now = datetime.now(UTC)
    spec, problems = builder.build(draft, INTRO, now)
    assert problems == []
    survey, created = await surveys.save_survey(session, spec, "admin:1")
    assert created and survey.questions[0]["next"] == {"o1": "q3"} and survey.anonymous is True
    again, created = await surveys.save_survey(session, builder.build(draft, INTRO, now)[0], "admin:1")
    assert not created and again.id == survey.id
