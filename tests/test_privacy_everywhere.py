"""Property tests over everything officers are shown, through the real application and the Bot API emulator.

For random first and last names, usernames, phone numbers and Telegram ids in workers' profiles:
- an anonymous case: no message the bot puts in front of an officer or an admin (cards and their edits, the
  moved-card marks, the escalation and transfer cards, prompts, relayed answers and files posted to the case
  thread, attachment captions, /case timelines, reminders and notices of the deadline check) contains any of
  them, and neither does the card or timeline rendered for any level;
- a confidential case: never held by, never carded in, never posted to a grassroots (level 4) unit, whatever
  officers and admins do with it (transfers, escalations, reopening), and what is rendered for a grassroots
  viewer never shows who raised it.

One bot and one database serve all examples of a test, so every check also covers the earlier examples'
cases as they keep moving (the deadline check acts on all of them)."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.services import case_queries, case_views, officers, units
from db.models import CaseCard, Grievance, GrievanceEvent, Member, Unit, Workplace
from handlers import cards, officer_cases, sla_jobs
from sandbox.demo import load_demo_units
from sandbox.emulator import BotApiEmulator, EmulatorChat, EmulatorUser
from tests.support.harness import BOT_USERNAME, TOKEN, Harness, buttons_of, make_settings, t
from tests.transcripts.test_case_life import datas, new_card, report, text_has, until
from tests.transcripts.test_officer_actions import inbox_with_officer

# "Qz"/"qz" keep a random value from matching the fixed words of the bot's texts by chance.
names = st.text(alphabet=st.characters(categories=("L",)), min_size=2, max_size=30).map(lambda n: "Qz" + n)
usernames = st.from_regex(r"qz[a-z0-9_]{3,20}", fullmatch=True)
phones = st.from_regex(r"\+849[0-9]{8}", fullmatch=True)
telegram_ids = st.integers(10**9, 8 * 10**9)
# Shrinking is left out: the examples share a bot and a database, so a smaller replay is not the same
# situation; the failing example is printed as found.
EXAMPLES = settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SHOWN = ("text", "caption", "entities", "caption_entities", "reply_markup", "forward_origin", "quote")
GRASSROOTS_LEVEL = case_views.GRASSROOTS_LEVEL


@pytest.fixture
async def live(db_url: str) -> AsyncIterator[Harness]:
    """The bot running against the emulator with the demo units, as tests/transcripts/conftest.py sets it up."""
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.add_bot(token=TOKEN, username=BOT_USERNAME, first_name="Công đoàn")
    await load_demo_units(db_url)
    harness = Harness(emulator, make_settings(db_url, emulator))
    await harness.start_bot()
    try:
        yield harness
    finally:
        await harness.stop_bot()
        await emulator.stop()


@dataclass
class World:
    """Each example gets new groups for the units (Telegram lets a bot post about 20 messages a minute in a
    group, and the bot keeps to that), a new officer for each, one admin for all; and the chats so far."""

    groups: dict[str, EmulatorChat] = field(default_factory=dict)
    officers: dict[str, EmulatorUser] = field(default_factory=dict)
    admin: EmulatorUser | None = None
    chats: dict[int, str] = field(default_factory=dict)  # every officer-side chat so far → its unit code
    secrets: set[str] = field(default_factory=set)  # of every anonymous worker so far
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))  # the deadline check's time, only forward

    def officer_chats(self, codes: tuple[str, ...] | None = None) -> list[int]:
        return [chat for chat, code in self.chats.items() if codes is None or code in codes]


async def fresh_world(harness, codes: tuple[str, ...]) -> World:
    world = getattr(harness, "privacy_world", None)
    if world is None:
        world = harness.privacy_world = World(admin=harness.user("Quản", last_name="Trị"))
        async with harness.session_factory() as session:
            await officers.add_admin(session, world.admin.id, "test")
        world.chats[world.admin.id] = "admins"
    for code in codes:
        officer, group = await inbox_with_officer(harness, code, "Cán", f"Bộ {code}")
        world.officers[code], world.groups[code] = officer, group
        world.chats[officer.id] = world.chats[group.id] = code
    return world


async def worker_with(harness, telegram_id: int, first: str, last: str, username: str, phone: str,
                      workplace_code: str = "WP-MAYSH") -> EmulatorUser:
    """A worker with exactly this Telegram profile (the emulator's own ids are small and sequential) and a
    finished profile with this phone, as onboarding leaves it."""
    emulator = harness.emulator
    while telegram_id in emulator.users:  # hypothesis replays examples against the same bot and database
        telegram_id += 1
    user = EmulatorUser(telegram_id, first, last, username, "vi")
    emulator.users[user.id] = user
    emulator.chats[user.id] = EmulatorChat(user.id, "private", user=user)
    async with harness.session_factory() as session:
        workplace = await session.scalar(select(Workplace).where(Workplace.code == workplace_code))
        session.add(Member(telegram_id=user.id, first_name=first, last_name=last, username=username, phone=phone,
                           language="vi", consent_version="2026.1", consented_at=datetime.now(UTC),
                           province_code=workplace.province_code, sector="garment", workplace_id=workplace.id,
                           onboarded_at=datetime.now(UTC)))
        await session.commit()
    return user


def forms(*values: str) -> set[str]:
    """The values as typed and as any NFC/NFKC normalisation on the way could render them."""
    return {form for value in values for form in (value, unicodedata.normalize("NFC", value),
                                                  unicodedata.normalize("NFKC", value))}


def shown(message: dict) -> str:
    return " ".join(str(message.get(key, "")) for key in SHOWN)


def leaks_in_chats(harness, chat_ids: list[int], secrets: set[str]) -> list[tuple[int, str]]:
    """(chat, secret) for every bot message in those chats that shows a secret."""
    found = []
    for chat_id in chat_ids:
        for message in harness.emulator.messages(chat_id):
            if message.get("from", {}).get("is_bot"):
                found += [(chat_id, secret) for secret in secrets if secret in shown(message)]
    return found


async def rendered_for(harness, grievance_id: int, level: int | None) -> str:
    """The card and the /case timeline as a viewer at that level would be shown them (the real renderers)."""
    async with harness.session_factory() as session:
        grievance = await session.get(Grievance, grievance_id)
        view = await case_views.officer_view(session, grievance, level)
        entries = await case_queries.timeline(session, grievance, level, [])
        lines = [cards.card_text(view, await cards.holder_name(session, grievance), harness.settings.tz)]
        lines += [officer_cases._timeline_line(entry, "vi", harness.settings.tz) for entry in entries]
        return "\n".join(lines)


async def stored(harness, grievance_id: int) -> Grievance:
    async with harness.session_factory() as session:
        return await session.get(Grievance, grievance_id)


# ----- anonymous -----

@EXAMPLES
@given(first=names, last=names, username=usernames, phone=phones, telegram_id=telegram_ids)
async def test_no_officer_ever_sees_who_raised_an_anonymous_case(live, first, last, username, phone, telegram_id):
    harness = live
    world = await fresh_world(harness, ("CDCS-MAYSH", "CDP-LONGBIEN"))
    worker = await worker_with(harness, telegram_id, first, last, username, phone)
    world.secrets |= forms(first, last, username, phone, str(worker.id))
    officer, group = world.officers["CDCS-MAYSH"], world.groups["CDCS-MAYSH"]
    ward_officer, ward_group = world.officers["CDP-LONGBIEN"], world.groups["CDP-LONGBIEN"]

    grievance, _ = await report(harness, worker, identity="anonymous", files=("photo",))
    card = await new_card(harness, group.id, grievance)
    # A reply to the card reaches the worker; the worker answers by replying, in text and with a photo.
    await harness.send(officer, "Bạn làm ở tổ nào?", chat=group, reply_to=card)
    relayed = await until(harness, worker, text_has(grievance.code, "Bạn làm ở tổ nào?"), "the relayed question")
    await harness.send(worker, "Tổ cắt, ca ngày.", reply_to=relayed)
    await until(harness, group.id, text_has(grievance.code, "Tổ cắt, ca ngày."), "the answer in the thread")
    await harness.emulator.send_photo(worker, b"timesheet", caption="Bảng chấm công tháng 10", reply_to=relayed)
    await until(harness, group.id, lambda m: "photo" in m and grievance.code in m.get("caption", ""), "the photo")
    # The files of the intake, and the timeline in the officer's private chat.
    await harness.press(officer, card, data_of_files(card))
    await until(harness, group.id, lambda m: "photo" in m and "1/2" in m.get("caption", ""), "the first file")
    await harness.send(officer, f"/case {grievance.code}")
    await until(harness, officer, text_has(f"📋 {grievance.code}"), "the timeline")

    # The deadline check, travelling in time from this case's start: a reminder, then the case overdue and
    # sent up to the ward (the earlier examples' cases get what is due for them at those times too).
    case = await stored(harness, grievance.id)
    start = case.created_at.replace(tzinfo=case.created_at.tzinfo or UTC)
    due = case.resolve_due_at.replace(tzinfo=case.resolve_due_at.tzinfo or UTC)
    await sla_jobs.check_deadlines(harness.application, start + (due - start) * 0.9)
    await until(harness, group.id, text_has(grievance.code, "⏰"), "the reminder")
    await sla_jobs.check_deadlines(harness.application, due + timedelta(minutes=1))
    ward_card = await new_card(harness, ward_group.id, grievance, "the ward's card")
    # The ward sends it back down with the transfer buttons: a new card, the ward's card marked.
    await harness.press(ward_officer, ward_card, f"case:xfer:{grievance.id}")
    picker = await harness.edited(ward_group.id, ward_card["message_id"])
    await harness.press(ward_officer, picker, next(d for d in datas(picker) if d.startswith("case:xt:")))
    await until(harness, worker, text_has(grievance.code, "↔️"), "the worker told of the transfer")
    await harness.send(ward_officer, f"/case {grievance.code}")
    await until(harness, ward_officer, text_has(f"📋 {grievance.code}"), "the ward's timeline")
    await resolve_and_answer(harness, world, worker, grievance, "yes")  # closed: later examples leave it be

    assert leaks_in_chats(harness, world.officer_chats(), world.secrets) == []
    for level in (None, 1, 2, 3, 4):
        rendered = await rendered_for(harness, grievance.id, level)
        assert [secret for secret in world.secrets if secret in rendered] == [], level


def data_of_files(card: dict) -> str:
    return next(data for text, data in buttons_of(card) if data.startswith("case:files:"))


# ----- confidential -----

MOVES = st.lists(st.sampled_from(["transfer", "escalate", "reopen", "deadline"]), min_size=1, max_size=4)


@EXAMPLES
@given(first=names, last=names, username=usernames, phone=phones, telegram_id=telegram_ids,
       workplace=st.sampled_from(["WP-MAYSH", "WP-DIENTUTL"]), moves=MOVES, data=st.data())
async def test_a_confidential_case_never_reaches_a_grassroots_union(live, first, last, username, phone, telegram_id,
                                                                   workplace, moves, data):
    harness = live
    world = await fresh_world(harness, ("CDCS-MAYSH", "CDCS-DIENTUTL", "CDP-LONGBIEN", "KCN-HN", "LDLD-HN"))
    worker = await worker_with(harness, telegram_id, first, last, username, phone, workplace)
    secrets = forms(first, last, username, phone, str(worker.id))
    grievance, _ = await report(harness, worker, identity="confidential")
    for move in moves:
        await MOVE[move](harness, world, worker, grievance, data)
        case = await stored(harness, grievance.id)
        assert case.unit_id is None or await level_of(harness, case.unit_id) < GRASSROOTS_LEVEL, move
    await resolve_and_answer(harness, world, worker, grievance, "yes")  # closed: later examples leave it be

    async with harness.session_factory() as session:
        carded = await session.scalars(select(Unit.level).join(CaseCard, CaseCard.unit_id == Unit.id)
                                       .where(CaseCard.grievance_id == grievance.id))
        assert all(level < GRASSROOTS_LEVEL for level in carded)
        held = await session.scalars(select(Unit.level).join(GrievanceEvent, GrievanceEvent.to_unit_id == Unit.id)
                                     .where(GrievanceEvent.grievance_id == grievance.id))
        assert all(level < GRASSROOTS_LEVEL for level in held)
    grassroots_chats = world.officer_chats(("CDCS-MAYSH", "CDCS-DIENTUTL"))
    assert leaks_in_chats(harness, grassroots_chats, secrets | {grievance.code}) == []
    rendered = await rendered_for(harness, grievance.id, GRASSROOTS_LEVEL)
    assert [secret for secret in secrets if secret in rendered] == []
    # A grassroots officer asking for it by its code is told it is not theirs.
    officer = world.officers["CDCS-MAYSH"]
    await harness.send(officer, f"/case {grievance.code}")
    await until(harness, officer, lambda m: m.get("text") == t("vi", "officers.case_not_yours"), "the refusal")


async def level_of(harness, unit_id: int) -> int:
    async with harness.session_factory() as session:
        return (await session.get(Unit, unit_id)).level


async def where_it_is(harness, world: World, grievance_id: int) -> tuple[EmulatorUser, int, int]:
    """(who acts on it, the chat and message id of its card there): the holding unit's officer in the
    unit's group, or the admin in their private chat. Waits until the card is on record (it is stored
    just after it is posted)."""
    for _ in range(500):
        async with harness.session_factory() as session:
            grievance = await session.get(Grievance, grievance_id)
            card = await cards.current_card(session, grievance)
            unit = await session.get(Unit, grievance.unit_id) if grievance.unit_id else None
        if card is not None:
            return (world.officers[unit.code] if unit else world.admin), card.chat_id, card.message_id
        await asyncio.sleep(0.01)
    raise AssertionError(f"case {grievance_id} has no card where it is held")


async def transfer(harness, world: World, worker, grievance, data) -> None:
    """Whoever holds it picks one of the offered units, after a forged press for a grassroots unit."""
    actor, chat_id, message_id = await where_it_is(harness, world, grievance.id)
    async with harness.session_factory() as session:
        grassroots = (await units.get_unit_by_code(session, "CDCS-MAYSH")).id
    forged = await harness.press(actor, message_id, f"case:xt:{grievance.id}:{grassroots}", chat=chat_id, force=True)
    assert (await harness.emulator.wait_answer(forged))["text"] in (
        t("vi", "card.refused_confidential_to_grassroots"), t("vi", "card.refused_outside_subtree"))
    query = await harness.press(actor, message_id, f"case:xfer:{grievance.id}", chat=chat_id)
    answer = await harness.emulator.wait_answer(query)
    if answer.get("text") == t("vi", "officers.no_transfer_targets"):
        return
    picker = await until(harness, chat_id, lambda m: m["message_id"] == message_id
                         and any(d.startswith("case:xt:") for d in datas(m)), "the unit buttons")
    targets = [d for d in datas(picker) if d.startswith(f"case:xt:{grievance.id}:")]
    await harness.press(actor, message_id, data.draw(st.sampled_from(targets)), chat=chat_id)
    await until(harness, worker, text_has(grievance.code, "↔️"), "the worker told of the transfer")


async def escalate(harness, world: World, worker, grievance, data) -> None:
    actor, chat_id, message_id = await where_it_is(harness, world, grievance.id)
    card = harness.emulator.get_message(chat_id, message_id)
    if f"case:esc:{grievance.id}" not in datas(card):
        assert (await stored(harness, grievance.id)).unit_id is None  # only the admins have nobody above
        return
    await harness.press(actor, message_id, f"case:esc:{grievance.id}", chat=chat_id)
    await harness.emulator.wait_answer(await harness.press(actor, message_id, f"case:escok:{grievance.id}",
                                                           chat=chat_id, force=True))
    await until(harness, worker, text_has(grievance.code, "⬆️"), "the worker told of the escalation")


async def reopen(harness, world: World, worker, grievance, data) -> None:
    """Whoever holds it resolves it; the worker says it was not: it goes one level up."""
    await resolve_and_answer(harness, world, worker, grievance, "no")
    await until(harness, worker, text_has(grievance.code, "⬆️"), "the worker told of the reopening")


async def resolve_and_answer(harness, world: World, worker, grievance, choice: str) -> None:
    """Whoever holds it resolves it (in the group by replying to the prompt, or in the admin's private chat);
    the worker gives the verdict without a rating."""
    actor, chat_id, message_id = await where_it_is(harness, world, grievance.id)
    card = harness.emulator.get_message(chat_id, message_id)
    if chat_id < 0:
        group = harness.emulator.chats[chat_id]
        await harness.press(actor, card, f"case:resolve:{grievance.id}")
        prompt = await until(harness, chat_id, lambda m: (m.get("reply_keyboard") or {}).get("force_reply")
                             and m["reply_to_message"]["message_id"] == message_id, "the officer's prompt")
        await harness.send(actor, "Đã làm việc với công ty.", chat=group, reply_to=prompt)
    else:
        await harness.press(actor, card, f"case:resolve:{grievance.id}")
        await until(harness, actor, text_has(t("vi", "officers.ask_resolve", code=grievance.code, limit=3000)),
                    "the admin's prompt")
        await harness.send(actor, "Đã làm việc với công ty.")
    question = await until(harness, worker, lambda m: f"wout:{grievance.id}:{choice}" in datas(m), "the question")
    await harness.press(worker, question, f"wout:{grievance.id}:{choice}")
    rating = await until(harness, worker, lambda m: f"wrate:{grievance.id}:{choice}:0" in datas(m), "the rating")
    await harness.press(worker, rating, f"wrate:{grievance.id}:{choice}:0")
    if choice != "no":
        await until(harness, worker, text_has(t("vi", "worker.outcome_thanks", code=grievance.code)), "the thanks")


async def deadline(harness, world: World, worker, grievance, data) -> None:
    """The deadline check runs well past every deadline: every late case (all examples') moves up once."""
    world.clock = max(world.clock, datetime.now(UTC)) + timedelta(days=30)
    before = await stored(harness, grievance.id)
    await sla_jobs.check_deadlines(harness.application, world.clock)
    if before.unit_id is not None:
        await until(harness, worker, text_has(grievance.code, "⬆️"), "the worker told of the escalation")


MOVE = {"transfer": transfer, "escalate": escalate, "reopen": reopen, "deadline": deadline}
