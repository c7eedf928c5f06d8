"""Officers in their private chat: /cases queues with paging, /case CODE with the whole timeline and the
action buttons, the subtree rule, and every view on record."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from db.models import Grievance, GrievanceEvent, GrievanceMessage, Member
from handlers.officer_actions import PENDING
from tests.support.harness import buttons_of, t
from tests.transcripts.test_officer_actions import events, file_case, inbox_with_officer

PAST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


async def set_deadlines(harness, grievance, due):
    async with harness.session_factory() as session:
        await session.execute(update(Grievance).where(Grievance.id == grievance.id)
                              .values(acknowledge_due_at=due, resolve_due_at=due))
        await session.commit()


async def test_only_officers_and_admins(harness):
    worker = harness.user("Lan")
    await harness.send(worker, "/cases")
    assert (await harness.next(worker))["text"] == t("vi", "officers.only_officers")
    await harness.send(worker, "/case PA-2611-0001")
    assert (await harness.next(worker))["text"] == t("vi", "officers.only_officers")


async def test_queues_with_paging_and_opening_a_case(harness):
    officer, group = await inbox_with_officer(harness)
    workers = [harness.user(f"Công nhân {n}") for n in range(10)]
    filed, cards = [], []
    for worker in workers:
        filed.append(await file_case(harness, worker))
        cards.append(await harness.next(group.id))
    for grievance in filed:
        await set_deadlines(harness, grievance, FUTURE)
    await set_deadlines(harness, filed[3], PAST)
    await harness.press(officer, cards[0], f"case:claim:{filed[0].id}")
    await harness.edited(group.id, cards[0]["message_id"])

    await harness.send(officer, "/cases")
    mine = await harness.next(officer)
    assert mine["text"].startswith(t("vi", "officers.queue_title_mine", count=1))
    assert filed[0].code in mine["text"]
    assert (t("vi", "officers.queue_units", count=10), "cases:q:units:0") in buttons_of(mine)

    await harness.press(officer, mine, "cases:q:units:0")
    units_page = await harness.edited(officer, mine["message_id"])
    assert units_page["text"].startswith(t("vi", "officers.queue_title_units", count=10))
    opens = [data for _, data in buttons_of(units_page) if data.startswith("cases:open:")]
    assert len(opens) == 8 and ("1/2", "cases:q:units:0") in buttons_of(units_page)
    assert t("vi", "officers.late").strip() in units_page["text"]  # the overdue one is flagged
    await harness.press(officer, units_page, "cases:q:units:1")
    second = await harness.edited(officer, mine["message_id"])
    assert len([d for _, d in buttons_of(second) if d.startswith("cases:open:")]) == 2
    assert ("2/2", "cases:q:units:1") in buttons_of(second)

    await harness.press(officer, second, "cases:q:overdue:0")
    overdue = await harness.edited(officer, mine["message_id"])
    assert overdue["text"].startswith(t("vi", "officers.queue_title_overdue", count=1))
    assert [d for _, d in buttons_of(overdue) if d.startswith("cases:open:")] == [f"cases:open:{filed[3].id}"]

    await harness.press(officer, overdue, f"cases:open:{filed[3].id}")
    opened = await harness.next(officer)
    assert opened["text"].startswith(f"📋 {filed[3].code}")
    assert f"case:reply:{filed[3].id}" in [data for _, data in buttons_of(opened)]
    assert [e.action for e in await events(harness, filed[3])] == ["created", "viewed"]

    forged = await harness.press(officer, overdue, "cases:q:nowhere:0", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "input.stale_button")


async def test_case_timeline_and_actions_in_private(harness):
    officer, group = await inbox_with_officer(harness)
    worker = harness.user("Lan", username="lan_may")
    grievance = await file_case(harness, worker, identity="anonymous")
    card = await harness.next(group.id)
    await harness.press(officer, card, f"case:claim:{grievance.id}")
    await harness.edited(group.id, card["message_id"])
    await harness.next(worker)  # acknowledged
    code = grievance.code.lower().replace("-", " ")  # "pa 2611 0001": case and spaces do not matter

    await harness.send(officer, f"/case {code}")
    view = await harness.next(officer)
    assert view["text"].startswith(f"📋 {grievance.code}")
    assert t("vi", "officers.timeline_title") in view["text"]
    assert "Hùng Trần nhận xử lý" in view["text"]
    assert "24/11/2026 09:30" in view["text"]  # local time
    for secret in ("Lan", "lan_may", "+84912345678"):
        assert secret not in view["text"]  # anonymous: never the worker's name
    assert t("vi", "timeline.the_worker") in view["text"]

    # Reply from the private chat: the next message is the text.
    await harness.press(officer, view, f"case:reply:{grievance.id}")
    prompt = await harness.next(officer)
    assert prompt["text"].startswith(t("vi", "officers.ask_reply", code=grievance.code, limit=3000)[:40])
    await harness.send(officer, "Công đoàn sẽ làm việc với công ty trong tuần này.")
    relayed = await harness.next(worker)
    assert "trong tuần này" in relayed["text"] and "Hùng" not in relayed["text"]
    assert (await harness.next(officer))["text"] == t("vi", "card.reply_sent")

    # A note, then a cancelled prompt: the next message is ordinary again.
    await harness.press(officer, view, f"case:note:{grievance.id}")
    await harness.next(officer)
    await harness.send(officer, "Ghi chú nội bộ: công ty hứa trả ngày 30.")
    assert (await harness.next(officer))["text"] == t("vi", "officers.note_saved")
    await harness.press(officer, view, f"case:ask:{grievance.id}")
    prompt = await harness.next(officer)
    await harness.press(officer, prompt, f"case:stop:{grievance.id}")
    assert (await harness.next(officer))["text"] == t("vi", "officers.cancelled")

    # A request left for too long lapses: what the officer types much later is not sent to the worker.
    await harness.press(officer, view, f"case:reply:{grievance.id}")
    await harness.next(officer)
    harness.application.user_data[officer.id][PENDING]["at"] = 0
    await harness.send(officer, "Tin nhắn gõ nhầm chỗ")
    assert (await harness.next(officer))["text"] != t("vi", "card.reply_sent")

    await harness.send(officer, f"/case {grievance.code}")
    again = await harness.next(officer)
    assert "Ghi chú nội bộ: công ty hứa trả ngày 30." in again["text"]
    assert "trong tuần này" in again["text"]
    actions = [e.action for e in await events(harness, grievance)]
    assert actions == ["created", "claimed", "viewed", "replied", "note", "viewed"]
    async with harness.session_factory() as session:
        union_texts = list(await session.scalars(select(GrievanceMessage.text).where(
            GrievanceMessage.grievance_id == grievance.id, GrievanceMessage.from_worker.is_(False))))
    assert union_texts == ["Công đoàn sẽ làm việc với công ty trong tuần này."]


async def test_long_timelines_are_split_and_the_buttons_come_last(harness):
    officer, group = await inbox_with_officer(harness)
    grievance = await file_case(harness, harness.user("Lan"))
    await harness.next(group.id)
    async with harness.session_factory() as session:
        officer_id = await session.scalar(select(Member.id).where(Member.telegram_id == officer.id))
        for n in range(12):
            session.add(GrievanceEvent(grievance_id=grievance.id, actor=f"member:{officer_id}", action="note",
                                       note=f"Ghi chú số {n}: " + "nội dung dài " * 40, at=PAST))
        await session.commit()
    await harness.send(officer, f"/case {grievance.code}")
    parts = [await harness.next(officer) for _ in range(2)]
    assert all(len(part["text"]) <= 4096 for part in parts)
    assert buttons_of(parts[0]) == [] and buttons_of(parts[1])
    assert "Ghi chú số 11" in parts[1]["text"] or "Ghi chú số 11" in parts[0]["text"]


async def test_another_branch_can_neither_see_nor_act(harness):
    _, group = await inbox_with_officer(harness)
    hcm_officer, _ = await inbox_with_officer(harness, "LDLD-HCM", "Tâm", "Lê")
    grievance = await file_case(harness, harness.user("Lan"))
    await harness.next(group.id)
    await harness.send(hcm_officer, f"/case {grievance.code}")
    assert (await harness.next(hcm_officer))["text"] == t("vi", "officers.case_not_yours")
    await harness.send(hcm_officer, "/cases")
    queues = await harness.next(hcm_officer)
    assert grievance.code not in queues["text"] and t("vi", "officers.queue_empty") in queues["text"]
    forged = await harness.press(hcm_officer, queues, f"cases:open:{grievance.id}", force=True)
    await harness.emulator.wait_answer(forged)
    assert (await harness.next(hcm_officer))["text"] == t("vi", "officers.case_not_yours")
    forged = await harness.press(hcm_officer, queues, f"case:reply:{grievance.id}", force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] == t("vi", "card.not_allowed")
    await harness.send(hcm_officer, "/case PA-9999-9999")
    assert (await harness.next(hcm_officer))["text"] == t("vi", "officers.case_not_found", code="PA-9999-9999")
    assert [e.action for e in await events(harness, grievance)] == ["created"]  # refused views are not views
