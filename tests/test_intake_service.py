"""The intake draft's checks and the CaseDraft it becomes (bot.services.intake): no Telegram, no database."""

from __future__ import annotations

import json
import unicodedata

import pytest

from bot.services import intake
from bot.services.grievances import Attachment
from bot.services.intake import Problem


def complete_draft(**changes):
    draft = intake.new_draft()
    draft.update(category="wages", scope="individual", text="Công ty trả lương chậm ba tuần liên tục.",
                 workplace_id=7, workplace_name="Công ty TNHH May Sông Hồng Hà Nội", identity="named", urgent=False)
    draft.update(changes)
    return draft


def test_description_length_is_counted_after_nfc_and_trimming():
    decomposed = unicodedata.normalize("NFD", "Lương chậm hai tháng rồi")  # 24 characters in NFC, more in NFD
    text, problem = intake.check_description("  \n" + decomposed + "  ")
    assert text == "Lương chậm hai tháng rồi" and problem is None
    assert intake.check_description("a" * 19) == ("a" * 19, Problem.TOO_SHORT)
    assert intake.check_description("   " + "a" * 19 + "   ")[1] is Problem.TOO_SHORT
    assert intake.check_description("a" * 20)[1] is None
    assert intake.check_description("a" * 3000)[1] is None
    assert intake.check_description("a" * 3001)[1] is Problem.TOO_LONG
    nineteen_letters = unicodedata.normalize("NFD", "ế" * 19)  # 38 code points before NFC
    assert intake.check_description(nineteen_letters)[1] is Problem.TOO_SHORT


@pytest.mark.parametrize(("typed", "expected"), [
    ("30", 30), ("khoảng 30 người", 30), ("~50", 50), ("1.200", 1200), ("1,200 người", 1200), ("2", 2),
    ("20, 30 người", 20), ("1", None), ("0", None), ("ba mươi", None), ("", None), ("100001", None), ("99999999999", None),
])
def test_group_size_parsing(typed, expected):
    assert intake.parse_group_size(typed) == expected


def test_group_size_buttons():
    assert [label for label, _ in intake.GROUP_SIZES] == ["2–10", "11–50", "51–200", "200+"]
    assert intake.group_size_from_button("11–50") == 50
    assert intake.group_size_from_button("12–50") is None


def test_attachments_up_to_five_and_at_most_20_mb():
    draft = intake.new_draft()
    assert intake.add_attachment(draft, "big", "document", 20 * 1024 * 1024 + 1) is Problem.TOO_BIG
    assert intake.add_attachment(draft, "edge", "document", 20 * 1024 * 1024) is None
    assert intake.add_attachment(draft, "unknown-size", "photo", None) is None
    for number in range(3):
        assert intake.add_attachment(draft, f"v{number}", "voice", 100) is None
    assert intake.add_attachment(draft, "sixth", "photo", 10) is Problem.TOO_MANY
    assert [a["file_id"] for a in draft["attachments"]] == ["edge", "unknown-size", "v0", "v1", "v2"]
    with pytest.raises(ValueError):
        intake.add_attachment(intake.new_draft(), "x", "sticker", 1)


def test_a_voice_message_can_stand_for_the_description():
    draft = complete_draft(text=None)
    assert not intake.has_description(draft) and intake.missing_fields(draft) == ["description"]
    intake.add_attachment(draft, "voice-1", "voice", 2048)
    assert intake.has_description(draft) and intake.missing_fields(draft) == []
    assert intake.build_case_draft(draft, "vi").text is None


def test_building_the_case_draft_for_a_listed_workplace():
    draft = complete_draft(scope="group", group_size=50, group_label="11–50", urgent=True, identity="anonymous")
    intake.add_attachment(draft, "photo-1", "photo", 1234)
    case = intake.build_case_draft(draft, "en")
    assert (case.category, case.scope, case.group_size, case.urgent, case.identity) == (
        "wages", "group", 50, True, "anonymous")
    assert (case.workplace_id, case.workplace_other_name, case.province_code) == (7, None, None)
    assert case.language == "en" and case.attachments == [Attachment("photo-1", "photo", 1234)]


def test_building_the_case_draft_for_an_unlisted_workplace():
    draft = complete_draft(workplace_id=None, workplace_name="Xưởng gạch Đông Anh", province_code=1,
                           group_size=30)
    case = intake.build_case_draft(draft, "vi")
    assert (case.workplace_id, case.workplace_other_name, case.province_code) == (None, "Xưởng gạch Đông Anh", 1)
    assert case.group_size is None  # only a group has a size


def test_incomplete_drafts_are_refused():
    assert intake.missing_fields(intake.new_draft()) == ["category", "scope", "description", "workplace",
                                                         "identity"]
    assert intake.missing_fields(complete_draft(scope="group")) == ["scope"]
    assert intake.missing_fields(complete_draft(category="lottery")) == ["category"]
    assert intake.missing_fields(complete_draft(workplace_id=None, province_code=None)) == ["workplace"]
    assert intake.missing_fields(complete_draft(identity="public")) == ["identity"]
    with pytest.raises(ValueError):
        intake.build_case_draft(complete_draft(identity=None), "vi")


def test_urgency_is_proposed_by_category_and_words():
    assert intake.proposes_urgency(complete_draft(category="safety_health", text="Xưởng rất nóng và nhiều bụi."))
    assert intake.proposes_urgency(complete_draft(text="Cong ty no luong ba thang roi, chua tra"))
    assert not intake.proposes_urgency(complete_draft(text="Bữa ăn ca hôm nay hơi nguội."))
    assert not intake.proposes_urgency(complete_draft(text=None))


def test_workplace_names():
    assert intake.check_workplace_name("  Xưởng A  ") == ("Xưởng A", True)
    assert intake.check_workplace_name("A")[1] is False
    assert intake.check_workplace_name("x" * 256)[1] is False


def test_the_draft_survives_json():
    """user_data is persisted as JSON: a draft must come back the same."""
    draft = complete_draft()
    intake.add_attachment(draft, "photo-1", "photo", None)
    assert json.loads(json.dumps(draft)) == draft
