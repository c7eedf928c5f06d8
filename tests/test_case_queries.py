"""What officers look at (queues, timelines, transfer targets, views) and the ready answers, on both databases."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.services import canned, case_queries, cases
from bot.services.case_queries import Party, Queue
from bot.services.categories import category_codes
from bot.services.content_check import check_canned_replies
from bot.services.grievances import CaseDraft, add_voice, submit_case
from db.models import Grievance, GrievanceEvent, Member, Unit, Workplace
from tests.test_cases import NOW, VN, unit, world


@pytest.mark.parametrize(("typed", "code"), [
    ("PA-2611-0042", "PA-2611-0042"), ("pa-2611-0042", "PA-2611-0042"), (" pa 2611 0042 ", "PA-2611-0042"),
    ("pa26110042", "PA-2611-0042"), ("PA-2611-42", "PA-2611-0042"), ("pa–2611–0042", "PA-2611-0042"),
])
def test_codes_are_read_generously(typed, code):
    assert case_queries.normalise_code(typed) == code


@pytest.mark.parametrize("typed", ["", "hello", "PA-26-1", "2611-0042", "PA-2611-0042-7"])
def test_what_is_not_a_code(typed):
    assert case_queries.normalise_code(typed) is None


async def test_officers_see_their_subtree_and_admins_everything(session):
    grievance, worker, grassroots, ward, hcm = await world(session)
    for member, sees in ((grassroots, True), (ward, True), (hcm, False), (worker, False)):
        who = await case_queries.viewer(session, member, is_admin=False)
        assert who.sees(grievance) is sees
    assert not (await case_queries.viewer(session, worker, is_admin=False)).is_officer_or_admin
    admin = await case_queries.viewer(session, worker, is_admin=True)
    assert admin.sees(grievance) and admin.is_officer_or_admin
    assert await case_queries.find_case(session, grievance.code.lower()) is grievance
    assert await case_queries.find_case(session, "PA-0101-0001") is None


async def test_viewer_level_is_the_highest_unit_on_the_path(session):
    grievance, worker, grassroots, ward, _ = await world(session)
    assert await case_queries.viewer_level(session, grassroots, grievance, is_admin=False) == 4
    assert await case_queries.viewer_level(session, ward, grievance, is_admin=False) == 3
    assert await case_queries.viewer_level(session, worker, grievance, is_admin=True) is None


async def test_queues_mine_units_overdue_and_paging(session):
    grievance, worker, grassroots, ward, hcm = await world(session)
    workplace = await session.scalar(select(Workplace.id).where(Workplace.code == "WP-MAYSH"))
    more = [(await submit_case(session, worker, CaseDraft("wages", f"Trường hợp {n}", workplace_id=workplace),
                               NOW, VN)).grievance for n in range(4)]
    await cases.claim(session, more[0], grassroots, NOW)
    await session.execute(update(Grievance).where(Grievance.id == more[1].id)
                          .values(acknowledge_due_at=NOW - timedelta(days=1)))
    await session.commit()
    who = await case_queries.viewer(session, grassroots, is_admin=False)
    now = NOW + timedelta(hours=1)
    mine = await case_queries.queue_page(session, who, Queue.MINE, now)
    assert [g.id for g in mine.items] == [more[0].id]
    units_page = await case_queries.queue_page(session, who, Queue.UNITS, now, page=1, per_page=2)
    assert (units_page.page, units_page.pages, units_page.total, len(units_page.items)) == (1, 3, 5, 2)
    clamped = await case_queries.queue_page(session, who, Queue.UNITS, now, page=99, per_page=2)
    assert clamped.page == 2 and len(clamped.items) == 1
    overdue = await case_queries.queue_page(session, who, Queue.OVERDUE, now)
    assert [g.id for g in overdue.items] == [more[1].id]
    assert case_queries.is_overdue(more[1], now) and not case_queries.is_overdue(more[0], now)
    assert await case_queries.queue_counts(session, await case_queries.viewer(session, hcm, False), now) == {
        Queue.MINE: 0, Queue.UNITS: 0, Queue.OVERDUE: 0}
    await cases.resolve(session, more[0], grassroots, "Xong", NOW)
    assert (await case_queries.queue_page(session, who, Queue.MINE, now)).total == 0  # only open cases


async def test_timeline_pairs_messages_with_events_and_hides_identity(session):
    grievance, worker, grassroots, ward, _ = await world(session, identity="confidential")
    worker.first_name = "Nguyễn Văn Kín"
    grassroots.first_name, ward.first_name = "Hùng", "Mai"
    await cases.claim(session, grievance, ward, NOW)
    await cases.reply(session, grievance, ward, "Gửi giúp phiếu lương", NOW + timedelta(minutes=1),
                      asks_for_information=True)
    await cases.worker_message(session, grievance, worker, NOW + timedelta(minutes=2), file_id="F1",
                               file_kind="photo")
    await cases.add_note(session, grievance, ward, "Nội bộ: đã gọi nhân sự", NOW + timedelta(minutes=3))
    await case_queries.log_view(session, grievance, ward, NOW + timedelta(minutes=4))
    other = Member(telegram_id=99, first_name="Đồng Nghiệp", language="vi")
    session.add(other)
    await session.commit()
    await add_voice(session, grievance.id, other, NOW + timedelta(minutes=5), VN)

    seen_by_ward = await case_queries.timeline(session, grievance, viewer_unit_level=3)
    assert [(e.action, e.party) for e in seen_by_ward] == [
        ("created", Party.WORKER), ("claimed", Party.OFFICER), ("asked", Party.OFFICER),
        ("attachment", Party.WORKER), ("worker_answered", Party.WORKER), ("note", Party.OFFICER),
        ("cosigned", Party.CO_WORKER)]
    assert seen_by_ward[0].who == "Nguyễn Văn Kín" and seen_by_ward[0].text == "Công ty trả lương chậm ba tuần"
    assert seen_by_ward[2].text == "Gửi giúp phiếu lương" and seen_by_ward[5].text == "Nội bộ: đã gọi nhân sự"
    assert seen_by_ward[3].file_kind == "photo" and seen_by_ward[-1].who is None
    seen_below = await case_queries.timeline(session, grievance, viewer_unit_level=4)
    assert all(e.who != "Nguyễn Văn Kín" for e in seen_below)  # confidential: not for grassroots eyes
    assert "viewed" not in [e.action for e in seen_by_ward]
    viewed = await session.scalar(select(GrievanceEvent).where(GrievanceEvent.action == "viewed"))
    assert viewed.actor == f"member:{ward.id}" and viewed.note is None


async def test_transfer_targets_and_escalation_target(session):
    grievance, worker, grassroots, ward, hcm = await world(session)
    targets = {u.code for u in await cases.transfer_targets(session, ward, grievance)}
    assert targets == {"CDP-LONGBIEN", "LDLD-HN"}  # its own unit and its parent; grassroots holds it now
    assert (await case_queries.escalation_target(session, grievance)).code == "CDP-LONGBIEN"
    await session.execute(update(Unit).where(Unit.code == "CDP-LONGBIEN").values(inbox_chat_id=None))
    await session.commit()
    assert (await case_queries.escalation_target(session, grievance)).code == "LDLD-HN"
    assert {u.code for u in await cases.transfer_targets(session, ward, grievance)} == {"LDLD-HN"}
    assert await cases.transfer_targets(session, worker, grievance) == []


async def test_confidential_cases_have_no_grassroots_targets(session):
    grievance, _, _, ward, _ = await world(session, identity="confidential")
    assert grievance.unit_id == (await unit(session, "CDP-LONGBIEN")).id
    assert all(u.level < 4 for u in await cases.transfer_targets(session, ward, grievance))


async def test_attachments_in_order(session):
    grievance, worker, *_ = await world(session)
    await cases.worker_message(session, grievance, worker, NOW, file_id="A", file_kind="photo")
    await cases.worker_message(session, grievance, worker, NOW, text="chữ thôi")
    await cases.worker_message(session, grievance, worker, NOW, file_id="B", file_kind="voice")
    assert [m.file_id for m in await case_queries.attachments(session, grievance)] == ["A", "B"]


def test_ready_answers_are_valid_and_fit_the_case():
    assert check_canned_replies() == []
    for code in category_codes():
        for action in canned.ACTIONS:
            assert len(canned.canned_for(code, "acknowledged", action)) <= canned.SHOWN
    wages = canned.canned_for("wages", "acknowledged", "ask")
    assert wages[0].categories == ("wages",) and any(not reply.categories for reply in wages)
    assert "working_on_it" not in [r.id for r in canned.canned_for("wages", "open", "reply")]
    assert canned.get("wages_paid").text("en").startswith("The employer")


@pytest.mark.parametrize(("data", "problem"), [
    ({}, "needs a list under `replies`"),
    ({"replies": [{"id": "Bad Id", "actions": ["reply"], "vi": {"label": "a", "text": "b"},
                   "en": {"label": "a", "text": "b"}}]}, "id must be"),
    ({"replies": [{"id": "x", "actions": ["shout"], "vi": {"label": "a", "text": "b"},
                   "en": {"label": "a", "text": "b"}}]}, "actions must be"),
    ({"replies": [{"id": "x", "actions": ["reply"], "categories": ["nope"], "vi": {"label": "a", "text": "b"},
                   "en": {"label": "a", "text": "b"}}]}, "unknown category"),
    ({"replies": [{"id": "x", "actions": ["reply"], "vi": {"label": "a", "text": "b"}}]}, "en needs a label"),
    ({"replies": [{"id": "x", "actions": ["reply"], "vi": {"label": "a" * 41, "text": "b"},
                   "en": {"label": "a", "text": "b"}}]}, "label longer than 40"),
    ({"replies": [{"id": "x", "actions": ["reply"], "statuses": ["closed"], "vi": {"label": "a", "text": "b"},
                   "en": {"label": "a", "text": "b"}}]}, "statuses must be"),
])
def test_bad_ready_answers_are_reported(data, problem):
    replies, problems = canned.parse(data, category_codes())
    assert replies == [] and any(problem in line for line in problems), problems
