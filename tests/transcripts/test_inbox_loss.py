"""The bot removed from a unit's inbox group: the unit has no inbox, its open cases, ideas, nominations and
join requests go up to the nearest unit above with an inbox (or to the admins) with working cards there,
the old cards are stale, and the admins are told."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from bot import i18n
from bot.services import officers
from bot.services.engagement import Rehomed
from db.models import (
    AuditLog,
    CaseStatus,
    EngagementCard,
    ExampleNomination,
    Grievance,
    GrievanceEvent,
    Idea,
    IdeaStatus,
    JoinRequest,
    JoinStatus,
    Member,
    NominationStatus,
    Unit,
)
from handlers.chat_members import alert_text
from sandbox.emulator import EmulatorUser
from tests.support.harness import data_of, t
from tests.transcripts.test_examples import NOMINEE, consent_and_send, nominate
from tests.transcripts.test_ideas import TITLE, send_idea
from tests.transcripts.test_join import onboarded_worker, send_request
from tests.transcripts.test_mydata import file_case, officer_with_inbox, ready_member

GRASSROOTS = "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội"
WARD = "Công đoàn phường Long Biên"
SECRETS = ("Bí Mật", "bimat_99", "+84987654321")  # the anonymous idea's author


async def an_admin(harness):
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    return admin


async def unit(harness, code) -> Unit:
    async with harness.session_factory() as session:
        return await session.scalar(select(Unit).where(Unit.code == code))


async def test_open_cases_go_to_the_parent_inbox_and_admins_are_told(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    _, ward = await officer_with_inbox(harness, "CDP-LONGBIEN", first_name="Minh", last_name="Lê")
    worker = harness.user("Lan")
    member_id = await ready_member(harness, worker)
    grievance = await file_case(harness, member_id)
    await harness.next(grassroots.id)  # the card
    harness.emulator.drain(worker)

    await harness.emulator.remove_bot_from_group(grassroots, officer)

    card = await harness.next(ward.id)
    assert card["text"].startswith(f"📋 {grievance.code}")
    alert = await harness.next(admin)
    assert alert["text"] == t("vi", "units.inbox_lost", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội",
                              code="CDCS-MAYSH", moved=1)
    told = await harness.next(worker)
    assert grievance.code in told["text"] and "Công đoàn phường Long Biên" in told["text"]
    assert (await unit(harness, "CDCS-MAYSH")).inbox_chat_id is None
    ward_unit = await unit(harness, "CDP-LONGBIEN")
    async with harness.session_factory() as session:
        g = await session.get_one(Grievance, grievance.id)
        assert g.unit_id == ward_unit.id and g.status == CaseStatus.OPEN
        event = await session.scalar(select(GrievanceEvent).where(GrievanceEvent.grievance_id == g.id,
                                                                  GrievanceEvent.action == "escalated"))
        assert (event.actor, event.note) == ("system", "inbox_lost")
        assert await session.scalar(select(AuditLog.subject).where(AuditLog.action == "inbox.lost")) == \
            "unit:CDCS-MAYSH"


async def test_nobody_above_with_an_inbox_means_the_admins_hold_it(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    grievance = await file_case(harness, await ready_member(harness, harness.user("Lan")))
    await harness.next(grassroots.id)
    await harness.emulator.remove_bot_from_group(grassroots, officer)
    card = await harness.next(admin)  # the admins get the card in their private chats…
    assert card["text"].startswith(f"📋 {grievance.code}")
    texts = [(await harness.next(admin))["text"] for _ in range(2)]  # …and two alerts
    assert t("vi", "admin.case_without_inbox", code=grievance.code) in texts
    assert t("vi", "units.inbox_lost", unit="Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội",
             code="CDCS-MAYSH", moved=1) in texts
    async with harness.session_factory() as session:
        assert (await session.get_one(Grievance, grievance.id)).unit_id is None


async def test_leaving_another_group_changes_nothing_and_a_new_inbox_works(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    chatter = harness.emulator.create_group("Nhóm tán gẫu", members=[officer])
    await harness.emulator.remove_bot_from_group(chatter, officer)
    await harness.emulator.add_bot_to_group(chatter, officer)  # joining is no loss either
    answer = await harness.reply_to(admin, "/help")
    assert answer["text"] == t("vi", "help.text_no_consent")  # nothing was sent to the admin before it
    assert (await unit(harness, "CDCS-MAYSH")).inbox_chat_id == grassroots.id
    # After a loss, /inbox in a new group makes it the inbox again.
    await harness.emulator.remove_bot_from_group(grassroots, officer)
    alert = await harness.next(admin)
    assert alert["text"].startswith("⚠️")
    fresh = harness.emulator.create_group("Hộp thư mới", members=[officer])
    await harness.send(officer, "/inbox", chat=fresh)
    assert (await harness.next(fresh.id))["text"].startswith("✅")
    assert (await unit(harness, "CDCS-MAYSH")).inbox_chat_id == fresh.id


@dataclass(frozen=True)
class OpenItems:
    """The three cards in the grassroots inbox and the worker behind each item."""

    idea: dict
    nomination: dict
    join: dict
    author: EmulatorUser  # of the anonymous idea
    nominator: EmulatorUser
    requester: EmulatorUser  # writes in English


async def open_items_at_grassroots(harness, group) -> OpenItems:
    """An anonymous idea, a nomination awaiting approval and a join request, each from its own worker, with
    their cards in the grassroots inbox; what the workers were shown so far is read."""
    author = await onboarded_worker(harness, first_name=SECRETS[0], username=SECRETS[1], phone=SECRETS[2])
    await send_idea(harness, author, identity="anonymous", with_photo=False)
    nominator = await onboarded_worker(harness)
    await consent_and_send(harness, nominator, await nominate(harness, nominator, photo=False))
    requester = await onboarded_worker(harness, first_name="Tuấn", username="tuan_may", phone="+84911222333",
                                       language="en")
    await send_request(harness, requester)
    idea, nomination, join = [await harness.next(group.id) for _ in range(3)]
    for worker in (author, nominator, requester):
        harness.emulator.drain(worker)
    return OpenItems(idea, nomination, join, author, nominator, requester)


async def arrived_cards(harness, chat) -> tuple[dict, dict, dict]:
    idea, nomination, join = [await harness.next(chat) for _ in range(3)]
    assert TITLE in idea["text"] and t("vi", "idea.card_anonymous") in idea["text"]
    assert NOMINEE in nomination["text"] and t("vi", "example.status_pending") in nomination["text"]
    assert "Tuấn Nguyễn · @tuan_may · +84911222333" in join["text"]
    return idea, nomination, join


async def test_open_engagement_items_go_to_the_parent_inbox_with_working_cards(harness):
    admin = await an_admin(harness)
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    ward_officer, ward = await officer_with_inbox(harness, "CDP-LONGBIEN", first_name="Minh", last_name="Lê")
    items = await open_items_at_grassroots(harness, grassroots)
    old_idea, old_nomination, old_join, author = items.idea, items.nomination, items.join, items.author

    await harness.emulator.remove_bot_from_group(grassroots, officer)

    idea_card, nomination_card, join_card = await arrived_cards(harness, ward.id)
    alert = await harness.next(admin)
    assert alert["text"] == "\n\n".join((
        t("vi", "units.inbox_lost", unit=GRASSROOTS, code="CDCS-MAYSH", moved=0),
        t("vi", "inbox_loss.items_moved", to=WARD, ideas=1, nominations=1, joins=1)))
    # Each worker hears once, in their language and the ward's name (no officer's); the anonymous author too.
    assert (await harness.next(author))["text"] == t("vi", "inbox_loss.idea_moved", code="SK-0001", title=TITLE,
                                                     unit=WARD)
    assert (await harness.next(items.nominator))["text"] == t("vi", "inbox_loss.nomination_moved", nominee=NOMINEE,
                                                              unit=WARD)
    assert (await harness.next(items.requester))["text"] == t("en", "inbox_loss.join_moved", unit=WARD)

    # An officer of the ward acts on each new card.
    await harness.press(ward_officer, idea_card, data_of(idea_card, t("vi", "idea.card_ack")))
    assert t("vi", "idea.status_acknowledged") in (await harness.edited(ward.id, idea_card["message_id"]))["text"]
    assert (await harness.next(author))["text"] == t("vi", "idea.worker_acknowledged", unit=WARD, code="SK-0001",
                                                     title=TITLE)
    await harness.press(ward_officer, nomination_card, data_of(nomination_card, t("vi", "example.card_approve")))
    approved = await harness.edited(ward.id, nomination_card["message_id"])
    assert t("vi", "example.status_approved") in approved["text"]
    await harness.press(ward_officer, join_card, data_of(join_card, t("vi", "join.card_contacted")))
    contacted = await harness.edited(ward.id, join_card["message_id"])
    assert t("vi", "join.status_contacted") in contacted["text"] and "Minh Lê" in contacted["text"]

    # The bot back in the old group: its old cards are stale.
    await harness.emulator.add_bot_to_group(grassroots, officer)
    for old, label in ((old_idea, t("vi", "idea.card_reply")), (old_nomination, t("vi", "example.card_reject")),
                       (old_join, t("vi", "join.card_joined"))):
        pressed = await harness.press(officer, old, data_of(old, label))
        assert (await harness.emulator.wait_answer(pressed))["text"] == t("vi", "input.stale_button")

    for message in harness.emulator.messages(ward.id):
        shown = message.get("text") or ""
        for secret in (*SECRETS, str(author.id)):
            assert secret not in shown, (secret, shown)
    ward_unit = await unit(harness, "CDP-LONGBIEN")
    async with harness.session_factory() as session:
        idea = await session.scalar(select(Idea))
        nomination = await session.scalar(select(ExampleNomination))
        request = await session.scalar(select(JoinRequest))
        assert (idea.unit_id, idea.status) == (ward_unit.id, IdeaStatus.ACKNOWLEDGED)
        assert (nomination.unit_id, nomination.status) == (ward_unit.id, NominationStatus.APPROVED)
        assert (request.unit_id, request.status) == (ward_unit.id, JoinStatus.CONTACTED)
        assert await session.scalar(select(EngagementCard).where(EngagementCard.chat_id == grassroots.id)) is None
        moves = (await session.scalars(select(AuditLog.subject).where(AuditLog.action.endswith(".moved"))
                                       .order_by(AuditLog.id))).all()
        assert moves == [f"idea:{idea.id}", f"example:{nomination.id}", f"join:{request.id}"]


async def test_with_no_inbox_above_the_items_go_to_the_admins(harness):
    admin = harness.user("Quản trị")
    await harness.reply_to(admin, "/start")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    officer, grassroots = await officer_with_inbox(harness, "CDCS-MAYSH")
    items = await open_items_at_grassroots(harness, grassroots)
    async with harness.session_factory() as session:  # the nominator cannot be reached: the others still hear
        await session.execute(update(Member).where(Member.telegram_id == items.nominator.id)
                              .values(telegram_id=None))
        await session.commit()

    await harness.emulator.remove_bot_from_group(grassroots, officer)

    idea_card, nomination_card, join_card = await arrived_cards(harness, admin.id)
    alert = await harness.next(admin)
    assert alert["text"] == "\n\n".join((
        t("vi", "units.inbox_lost", unit=GRASSROOTS, code="CDCS-MAYSH", moved=0),
        t("vi", "inbox_loss.items_moved", to=t("vi", "case.union_admins"), ideas=1, nominations=1, joins=1)))
    for secret in SECRETS:
        assert secret not in idea_card["text"]
    assert (await harness.next(items.author))["text"] == t("vi", "inbox_loss.idea_moved", code="SK-0001",
                                                           title=TITLE, unit=t("vi", "case.union_admins"))
    assert (await harness.next(items.requester))["text"] == t("en", "inbox_loss.join_moved",
                                                              unit=t("en", "case.union_admins"))
    await harness.press(admin, join_card, data_of(join_card, t("vi", "join.card_notnow")))
    assert t("vi", "join.status_not_now") in (await harness.edited(admin, join_card["message_id"]))["text"]
    async with harness.session_factory() as session:
        assert [row.unit_id for row in (await session.scalars(select(Idea))).all()] == [None]
        assert [row.unit_id for row in (await session.scalars(select(ExampleNomination))).all()] == [None]
        request = await session.scalar(select(JoinRequest))
        assert (request.unit_id, request.status) == (None, JoinStatus.NOT_NOW)


def test_the_alert_lists_cases_that_stayed_by_code_only():
    lost = Unit(code="CDCS-MAYSH", name="Công đoàn <cơ sở>", level=4)
    ward = Unit(code="CDP-LONGBIEN", name=WARD, level=3)
    text = alert_text(lost, 2, ["PA-0003", "PA-0007"], [Rehomed("idea", [object(), object()], ward),
                                                         Rehomed("example", [], ward),
                                                         Rehomed("join", [object()], ward)])
    assert text.split("\n\n") == [
        i18n.t("vi", "units.inbox_lost", unit="Công đoàn &lt;cơ sở&gt;", code="CDCS-MAYSH", moved=2),
        i18n.t("vi", "inbox_loss.items_moved", to=WARD, ideas=2, nominations=0, joins=1),
        i18n.t("vi", "inbox_loss.cases_stayed", count=2, codes="PA-0003, PA-0007")]
    nothing_else = alert_text(lost, 0, [], [Rehomed("idea", [], None), Rehomed("join", [], None)])
    assert nothing_else == i18n.t("vi", "units.inbox_lost", unit="Công đoàn &lt;cơ sở&gt;", code="CDCS-MAYSH",
                                  moved=0)
