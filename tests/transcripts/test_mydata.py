"""/mydata: a JSON file and a readable summary of everything held about the member (Law 91/2025)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import cases, members, officers, units
from bot.services.grievances import Attachment, CaseDraft, add_voice, submit_case
from db.models import Consent, ContentFeedback, Grievance, Member, Point, Workplace
from db.types import utcnow
from handlers import notify
from tests.support.harness import buttons_of, data_of, t

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CASE_TEXT = "Công ty trả lương chậm ba tuần liên tục, tổ may số 3 đều bị."


async def ready_member(harness, user, phone="+84912345678", workplace_code="WP-MAYSH") -> int:
    """The user as an onboarded member who consented; returns the member id."""
    async with harness.session_factory() as session:
        workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
        now = datetime.now(UTC)
        member = Member(telegram_id=user.id, first_name=user.first_name, last_name=user.last_name,
                        username=user.username, phone=phone, language=user.language_code or "vi",
                        consent_version=members.CONSENT_VERSION, consented_at=now, province_code=1,
                        sector="garment", workplace_id=workplace.id, onboarded_at=now)
        session.add(member)
        await session.flush()
        session.add(Consent(member_id=member.id, version=members.CONSENT_VERSION, granted=True,
                            language=member.language, at=now))
        await session.commit()
        return member.id


async def officer_with_inbox(harness, code="CDCS-MAYSH", first_name="Hùng", last_name="Trần"):
    officer = harness.user(first_name, last_name=last_name)
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, code), "test")
    await harness.reply_to(officer, f"/start officer-{invite.token}")
    group = harness.emulator.create_group(f"Hộp thư {code}", members=[officer])
    await harness.send(officer, "/inbox", chat=group)
    await harness.next(group.id)
    return officer, group


async def file_case(harness, member_id, identity="named", text=CASE_TEXT, when=None, attachments=()) -> Grievance:
    """A case committed as intake does, its card sent where it is held."""
    async with harness.session_factory() as session:
        member = await session.get_one(Member, member_id)
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
        submitted = await submit_case(session, member, CaseDraft(
            "wages", text, identity=identity, workplace_id=workplace,
            attachments=[Attachment(file_id, "photo", 1000) for file_id in attachments]), when or utcnow(), VN)
        await notify.new_case(harness.application.bot, session, submitted.grievance, VN, harness.settings.admin_ids)
        return submitted.grievance


async def member_of(harness, user) -> Member | None:
    async with harness.session_factory() as session:
        return await session.scalar(select(Member).where(Member.telegram_id == user.id))


async def received_json(harness, user) -> tuple[dict, dict, dict]:
    """The document the bot sent (parsed) and the summary that follows it."""
    document = await harness.next(user)
    while "document" not in document:  # what came before (a settings screen…)
        document = await harness.next(user)
    assert document["document"]["file_name"].endswith(".json")
    data = json.loads(harness.emulator.files[document["document"]["file_id"]].data)
    summary = await harness.next(user)
    return document, data, summary


async def test_mydata_sends_everything_held_and_nothing_internal(harness):
    officer, group = await officer_with_inbox(harness)
    worker = harness.user("Lan", last_name="Nguyễn", username="lan_may")
    member_id = await ready_member(harness, worker)
    grievance = await file_case(harness, member_id, attachments=["EMUPHOTO1"])
    card = await harness.next(group.id)
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, grievance.id)
        holder = await session.scalar(select(Member).where(Member.telegram_id == officer.id))
        await cases.claim(session, g, holder, utcnow())
        await cases.add_note(session, g, holder, "Ghi chú nội bộ: chị Lan hay phàn nàn", utcnow())
        await cases.reply(session, g, holder, "Công đoàn đã làm việc với phòng nhân sự.", utcnow())
        session.add(ContentFeedback(member_id=member_id, item_kind="faq", item_slug="no-luong", context="intake",
                                    helped=True))
        session.add(Point(member_id=member_id, reason="practice", amount=5, ref="quiz:1"))
        await session.commit()
    assert card["text"]

    await harness.send(worker, "/mydata")
    document, data, summary = await received_json(harness, worker)

    assert document["caption"] == t("vi", "privacy.mydata_caption")
    assert data["format"] == "congdoan-mydata/1"
    assert data["profile"]["first_name"] == "Lan" and data["profile"]["username"] == "lan_may"
    assert data["profile"]["phone"] == "+84912345678" and data["profile"]["telegram_id"] == worker.id
    assert data["consents"][0]["granted"] is True
    [case] = data["cases"]
    assert case["code"] == grievance.code and case["text"] == CASE_TEXT and case["status"] == "acknowledged"
    kinds = [entry["kind"] for entry in case["timeline"]]
    assert "received" in kinds and "acknowledged" in kinds and "reply" in kinds
    assert any(entry["text"] == "Công đoàn đã làm việc với phòng nhân sự." for entry in case["timeline"])
    assert any(entry["file"] == "photo" for entry in case["timeline"])
    everything = json.dumps(data, ensure_ascii=False)
    assert "Ghi chú nội bộ" not in everything  # internal notes are the union's, not the member's
    assert "Hùng" not in everything and "Trần" not in everything  # nor officers' names
    assert data["points"]["total"] == 5
    assert data["content_feedback"][0]["item"] == "no-luong"
    assert grievance.code in summary["text"]
    assert summary["text"].startswith(t("vi", "privacy.summary_title"))


async def test_mydata_from_settings_in_english_and_without_consent(harness):
    worker = harness.user("Mai", language_code="en")
    member_id = await ready_member(harness, worker)
    async with harness.session_factory() as session:
        member = await session.get_one(Member, member_id)
        await members.record_consent(session, member, False, members.TelegramIdentity(worker.id, None, None, None,
                                                                                      "en"))
    await harness.send(worker, "/settings")
    screen = await harness.next(worker)
    await harness.press(worker, screen, data_of(screen, t("en", "privacy.settings_mydata")))
    _, data, summary = await received_json(harness, worker)
    assert data["profile"]["first_name"] is None  # withdrawing consent cleared the name already
    assert [c["granted"] for c in data["consents"]] == [True, False]
    assert t("en", "privacy.consent_none") in summary["text"]
    assert data["cases"] == []


async def test_cosigned_cases_and_a_forged_button(harness):
    author, voice = harness.user("Lan"), harness.user("Hoa")
    author_id, voice_id = await ready_member(harness, author), await ready_member(harness, voice)
    grievance = await file_case(harness, author_id)
    async with harness.session_factory() as session:
        await add_voice(session, grievance.id, await session.get_one(Member, voice_id), utcnow(), VN)
    await harness.send(voice, "/mydata")
    _, data, _ = await received_json(harness, voice)
    assert [c["code"] for c in data["cosigned_cases"]] == [grievance.code]
    assert data["cases"] == []  # someone else's case: never its text
    assert CASE_TEXT not in json.dumps(data, ensure_ascii=False)
    message = await harness.reply_to(voice, "/forgetme")
    query = await harness.press(voice, message, f"priv:erase:{author_id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    assert (await member_of(harness, voice)).first_name == "Hoa"
    assert buttons_of(message)[0][1] == f"priv:erase:{voice_id}"


async def test_drafts_are_part_of_the_export(harness):
    worker = harness.user("Lan")
    await ready_member(harness, worker)
    await harness.reply_to(worker, "/report")
    await harness.send(worker, "/mydata")
    _, data, _ = await received_json(harness, worker)
    assert data["drafts"]["intake"]["step"] == "category"
    assert datetime.fromisoformat(data["generated_at"]).tzinfo is not None
