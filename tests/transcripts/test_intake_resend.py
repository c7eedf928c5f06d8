"""A report is sent once, however often Send is pressed: twice in a row, or again after the bot stopped
between storing the case and telling the worker (bench/faults.py found a second case made that way). The
worker gets the acknowledgement of the case already stored: the same code, unit and deadline."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from db.models import CaseCard, ConversationState, Grievance, Member, StoredUserData
from db.session import create_engine, create_session_factory
from tests.support.harness import buttons_of, t
from tests.transcripts.test_cards import inbox_with_officer
from tests.transcripts.test_intake import LONG_ENOUGH, no_answers_before_sending, ready_worker, to_review

__all__ = ["no_answers_before_sending"]  # the autouse fixture: Send sends, no answers are offered first


async def cases_of(harness, user) -> list[Grievance]:
    async with harness.session_factory() as session:
        member_id = await session.scalar(select(Member.id).where(Member.telegram_id == user.id))
        return list(await session.scalars(select(Grievance).where(Grievance.member_id == member_id)))


async def cards_of(harness, grievance_id) -> int:
    async with harness.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(CaseCard)
                                    .where(CaseCard.grievance_id == grievance_id))


async def acknowledgement(harness, user) -> dict:
    """The next new message to the worker that carries a case code (the review edited to "sent" may come
    first)."""
    while True:
        message = await harness.emulator.next_message(user.id)
        if t("vi", "intake.submitted", code="X", unit="X", due="X", mycases="X").split("\n")[0] in message["text"]:
            return message


async def stored_state(harness, user) -> tuple[dict | None, list[tuple[str, dict]]]:
    """What the persistence has written for this worker right now: their user_data and intake states."""
    await harness.application.update_persistence()
    await harness.application.persistence.flush()  # the writes above run in a task of their own
    async with harness.session_factory() as session:
        data = await session.scalar(select(StoredUserData.data).where(StoredUserData.user_id == user.id))
        states = (await session.execute(select(ConversationState.conv_key, ConversationState.state)
                                        .where(ConversationState.name == "intake"))).all()
    return data, [(key, state) for key, state in states]


async def crash_and_restart(harness, user, data: dict, states: list[tuple[str, dict]]) -> None:
    """Stop the bot and put back what the persistence held before Send: as after a SIGKILL that came
    between the commit of the case and the next write of the conversation state."""
    await harness.stop_bot()  # a clean stop writes the state after Send: undone below
    harness.emulator.unblock_chat(user.id)
    engine = create_engine(harness.settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            await session.execute(delete(StoredUserData).where(StoredUserData.user_id == user.id))
            await session.execute(delete(ConversationState).where(ConversationState.name == "intake"))
            session.add(StoredUserData(user_id=user.id, data=data))
            session.add_all(ConversationState(name="intake", conv_key=key, state=state) for key, state in states)
            await session.commit()
    finally:
        await engine.dispose()
    await harness.start_bot()


async def send_unacknowledged(harness, user, review) -> Grievance:
    """Send, with the worker's chat unreachable so the acknowledgement is lost (until crash_and_restart);
    returns the stored case."""
    harness.emulator.block_chat(user.id)
    query = await harness.press(user, review, "rep:submit")
    await harness.emulator.wait_answer(query)  # answered right after the commit
    [grievance] = await cases_of(harness, user)
    return grievance


async def test_send_pressed_twice_makes_one_case_and_both_presses_get_its_code(harness):
    await inbox_with_officer(harness)
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    await harness.press(user, review, "rep:submit")
    await harness.press(user, review, "rep:submit", force=True)  # before the first is answered
    first = await acknowledgement(harness, user)
    second = await acknowledgement(harness, user)
    [grievance] = await cases_of(harness, user)
    assert grievance.code in first["text"] and first["text"] == second["text"]
    assert "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội" in second["text"]
    assert await cards_of(harness, grievance.id) == 1
    assert t("vi", "intake.sent", summary="X").split("\n")[-1] in harness.emulator.get_message(
        user.id, review["message_id"])["text"]  # the review, marked sent once


@pytest.mark.parametrize("stored_at", ["review", "identity"])
async def test_send_again_after_a_restart_that_lost_the_acknowledgement(harness, stored_at):
    """The stored draft may be the review or a step behind it (the state is written every interval): Send
    pressed again gets the code of the case already stored."""
    _, group = await inbox_with_officer(harness)
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    data, states = await stored_state(harness, user)
    if stored_at == "identity":  # written while the identity question was on screen; not since
        data = {**data, "intake": {**data["intake"], "step": "identity", "identity": None, "urgent": None,
                                   "editing": False}}
        states = [(key, {"value": "identity"}) for key, _ in states]
    grievance = await send_unacknowledged(harness, user, review)
    assert (await harness.next(group.id))["text"].startswith(f"📋 {grievance.code}")

    await crash_and_restart(harness, user, data, states)
    # After a real crash the worker's screen still shows the review with Send (here an edit got through)
    await harness.press(user, review, "rep:submit", force=True)
    ack = await acknowledgement(harness, user)

    assert [g.id for g in await cases_of(harness, user)] == [grievance.id]
    assert grievance.code in ack["text"] and "Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội" in ack["text"]
    assert grievance.text == LONG_ENOUGH
    assert await cards_of(harness, grievance.id) == 1  # the card was posted; it is not posted again
    assert "intake" not in harness.application.user_data[user.id]


async def test_report_again_after_a_restart_gets_the_code_and_the_card_missed_is_posted(harness):
    """The worker types /report instead: the stored draft was sent, so they hear its code. Here the bot also
    stopped before the card reached the officers' group: it is posted now."""
    _, group = await inbox_with_officer(harness)
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    data, states = await stored_state(harness, user)
    harness.emulator.block_chat(group.id, reason="kicked")
    grievance = await send_unacknowledged(harness, user, review)
    assert await cards_of(harness, grievance.id) == 0
    harness.emulator.unblock_chat(group.id)

    await crash_and_restart(harness, user, data, states)
    await harness.send(user, "/report")
    ack = await acknowledgement(harness, user)

    assert grievance.code in ack["text"] and not buttons_of(ack)
    assert (await harness.next(group.id))["text"].startswith(f"📋 {grievance.code}")
    assert [g.id for g in await cases_of(harness, user)] == [grievance.id]
    harness.emulator.drain(user)
    again = await harness.reply_to(user, "/report")  # and then a new report can begin
    assert again["text"] == t("vi", "intake.ask_category")


async def test_a_new_report_is_a_new_case(harness):
    """The same worker, the same words, two reports: two cases (only the same draft is sent once)."""
    user = await ready_worker(harness)
    for _ in range(2):
        harness.emulator.drain(user)
        review = await to_review(harness, user)
        await harness.press(user, review, "rep:submit")
        await acknowledgement(harness, user)
    assert len({g.code for g in await cases_of(harness, user)}) == 2


async def test_an_old_send_after_a_cancelled_draft_is_not_the_last_case(harness):
    user = await ready_worker(harness)
    review = await to_review(harness, user)
    await harness.press(user, review, "rep:submit")
    await acknowledgement(harness, user)
    harness.emulator.drain(user)
    second = await to_review(harness, user)
    harness.emulator.drain(user)
    await harness.press(user, second, "rep:cancel")
    assert (await harness.emulator.next_message(user.id))["text"] == t("vi", "menu.title")
    query = await harness.press(user, second, "rep:submit", force=True)
    await harness.emulator.wait_answer(query)
    lost = await harness.emulator.next_message(user.id)
    assert lost["text"] == t("vi", "intake.lost")
    assert len(await cases_of(harness, user)) == 1
