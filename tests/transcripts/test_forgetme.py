"""/forgetme: after a confirmation the member's personal data is erased, open cases are closed with a word
to their officers, statistics stay, and an anonymous case stays anonymous."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.i18n import t as catalog
from bot.services import cases, members
from bot.services.privacy import erased_text
from db.models import (
    AuditLog,
    Base,
    CaseStatus,
    Consent,
    DataErasure,
    Grievance,
    GrievanceEvent,
    GrievanceMessage,
    Member,
    MemberStatus,
    Officer,
)
from db.types import utcnow
from tests.support.harness import buttons_of, data_of, t
from tests.transcripts.test_mydata import CASE_TEXT, file_case, member_of, officer_with_inbox, ready_member

SECRETS = ("Bí Mật", "bimat_99", "+84987654321")


async def forget(harness, user) -> dict:
    ask = await harness.reply_to(user, "/forgetme")
    while ask["text"] != t(user.language_code, "privacy.forget_ask"):  # news about their case came first
        ask = await harness.next(user)
    await harness.press(user, ask, data_of(ask, t(user.language_code, "privacy.forget_confirm")))
    done = await harness.next(user)
    assert done["text"] == t(user.language_code, "privacy.forgotten")
    menu = await harness.next(user)
    assert menu["text"] == t(user.language_code, "privacy.forgotten_menu")
    return done


async def everything_stored(session) -> str:
    """Every row of every table but PTB's conversation states (a step name by Telegram id, no content)."""
    rows = []
    for table in Base.metadata.sorted_tables:
        if table.name != "ptb_conversations":
            rows += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(rows)


def texts(harness, chat_id) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in harness.emulator.messages(chat_id)]


DRAFT_TOKEN = "9f3c1a7be0d24c5f8a6b2e1d4c7f0a93"


async def test_an_anonymous_worker_is_forgotten_and_stays_anonymous(harness):
    officer, group = await officer_with_inbox(harness)
    worker = harness.user("Nguyễn Thị Bí Mật", username="bimat_99")
    member_id = await ready_member(harness, worker, phone="+84987654321")
    grievance = await file_case(harness, member_id, identity="anonymous", attachments=["EMUPHOTO9"])
    await harness.next(group.id)
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, grievance.id)
        g.draft_token = DRAFT_TOKEN  # as intake stores it; the worker's conversation data keeps it too
        holder = await session.scalar(select(Member).where(Member.telegram_id == officer.id))
        await cases.claim(session, g, holder, utcnow())
        await cases.add_note(session, g, holder, "Người này làm ở tổ 3", utcnow())
        await cases.worker_message(session, g, await session.get_one(Member, member_id), utcnow(),
                                   text="Tôi bổ sung: quản đốc biết việc này.")
    harness.emulator.drain(group)

    await forget(harness, worker)

    withdrawn = await harness.next(group.id)
    assert withdrawn["text"] == t("vi", "privacy.case_withdrawn", code=grievance.code)
    card = await harness.next(group.id)
    assert erased_text() in card["text"] and CASE_TEXT not in card["text"]
    async with harness.session_factory() as session:
        member = await session.get_one(Member, member_id)
        assert member.status == MemberStatus.ERASED and member.telegram_id is None
        assert (member.first_name, member.last_name, member.username, member.phone) == (None,) * 4
        assert member.workplace_id is None and member.consent_version is None
        g = await session.get_one(Grievance, grievance.id)
        assert g.status == CaseStatus.CLOSED and g.text == erased_text()
        assert (g.category, g.identity, g.unit_id is not None, g.created_at is not None) == \
            ("wages", "anonymous", True, True)  # the statistics stay
        messages = (await session.scalars(select(GrievanceMessage).where(
            GrievanceMessage.grievance_id == g.id))).all()
        assert all(m.text in (None, erased_text()) for m in messages)
        assert all(m.file_id is None for m in messages)
        notes = (await session.scalars(select(GrievanceEvent.note).where(
            GrievanceEvent.grievance_id == g.id, GrievanceEvent.action == "note"))).all()
        assert notes == [erased_text()]
        consents = (await session.scalars(select(Consent.granted).where(Consent.member_id == member_id)
                                          .order_by(Consent.id))).all()
        assert consents == [True, False]  # the log stays as proof, with the withdrawal
        assert await session.scalar(select(func.count()).select_from(DataErasure)) == 2  # the member, the case
        assert await session.scalar(select(AuditLog.id).where(AuditLog.action == "member.erased")) is not None
        stored = await everything_stored(session)
    for secret in SECRETS:
        assert secret not in stored
        assert not any(secret in text for text in texts(harness, group.id))
    assert DRAFT_TOKEN not in stored  # it would tie the worker's leftover conversation data to the case
    assert not re.search(rf"\b{worker.id}\b", stored)

    # Officers can still open the case: no crash, no identity.
    await harness.send(officer, f"/case {grievance.code}")
    timeline = await harness.next(officer)
    assert grievance.code in timeline["text"] and erased_text() in timeline["text"]
    for secret in SECRETS:
        assert secret not in timeline["text"]
    assert catalog("vi", "timeline.withdrawn", who=catalog("vi", "timeline.the_worker")) in timeline["text"]

    # The person is a stranger now: /start begins from the language question.
    again = await harness.reply_to(worker, "/start")
    assert [data for _, data in buttons_of(again)] == ["lang:vi", "lang:en"]
    assert (await member_of(harness, worker)).id != member_id


async def test_a_named_case_of_an_erased_worker_still_renders(harness):
    officer, group = await officer_with_inbox(harness)
    worker = harness.user("Lan", username="lan_may")
    member_id = await ready_member(harness, worker)
    grievance = await file_case(harness, member_id, identity="named")
    card = await harness.next(group.id)
    assert "Lan" in card["text"]
    await harness.press(officer, card, f"case:claim:{grievance.id}")
    await harness.next(group.id)
    await forget(harness, worker)
    await harness.send(officer, f"/case {grievance.code}")
    timeline = await harness.next(officer)
    assert grievance.code in timeline["text"] and "lan_may" not in timeline["text"]
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, grievance.id)
        assert g.holder_member_id is None and g.status == CaseStatus.CLOSED


async def test_keeping_the_data_and_an_officer_forgotten(harness):
    officer, _ = await officer_with_inbox(harness)
    worker = harness.user("Lan", language_code="en")
    member_id = await ready_member(harness, worker)
    ask = await harness.reply_to(worker, "/forgetme")
    await harness.press(worker, ask, data_of(ask, t("en", "privacy.forget_cancel")))
    kept = await harness.next(worker)
    assert kept["text"] == t("en", "privacy.forget_kept")
    assert (await member_of(harness, worker)).id == member_id
    # An officer who asks to be forgotten loses the role with the name.
    officer_member = await member_of(harness, officer)
    await forget(harness, officer)
    async with harness.session_factory() as session:
        roles = (await session.scalars(select(Officer).where(Officer.member_id == officer_member.id))).all()
        assert roles and all(role.revoked_at is not None for role in roles)


async def test_withdrawn_consent_stops_new_reports(harness):
    worker = harness.user("Lan")
    member_id = await ready_member(harness, worker)
    async with harness.session_factory() as session:
        member = await session.get_one(Member, member_id)
        await members.record_consent(session, member, False, members.TelegramIdentity(worker.id, None, None, None,
                                                                                      "vi"))
    refused = await harness.reply_to(worker, "/report")
    assert refused["text"] == t("vi", "intake.needs_profile")
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Grievance)) == 0
