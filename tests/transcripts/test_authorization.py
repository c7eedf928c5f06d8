"""No forged callback or command lets a worker act as an officer or an admin, an officer act outside their unit's
subtree, or a unit admin manage officers and invites outside theirs (issue 7).

The callback prefixes and commands are read from the running application (handlers/__init__.py and the feature
modules): test_every_prefix_and_command_is_classified fails when one is added that this file does not know, so
a new officer or admin button cannot ship without a forged press here. Every forged press uses the ids of real
objects (cases, cards, units, officers, broadcasts, surveys, contest rounds), in the private chat and in a group,
and the whole database (but the bot's persistence tables) must be the same afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ConversationHandler

from bot.services import admin_units, broadcasts, cases, contests, officers, quizzes, units
from bot.services.case_queries import Queue
from bot.services.grievances import CaseDraft, submit_case
from bot.services.limits import BurstLimiter
from bot.services.reports import PERIODS
from db.models import (
    Base,
    ContestRound,
    Grievance,
    Member,
    Officer,
    OfficerInvite,
    OfficerRole,
    Unit,
    Workplace,
)
from db.types import utcnow
from handlers import admin, digest_jobs, limits, officer_actions
from handlers.cards import show_card
from sandbox.emulator import EmulatorChat, EmulatorUser
from sandbox.emulator.server import NoMessage
from tests.support.harness import Harness, buttons_of, t
from tests.test_fuzz import ErrorCounter
from tests.transcripts.test_examples import NOMINEE, STORY
from tests.transcripts.test_ideas import TEXT as IDEA_TEXT
from tests.transcripts.test_ideas import TITLE as IDEA_TITLE
from tests.transcripts.test_join import inbox_with_officer, onboarded_worker
from tests.transcripts.test_quiz import CONTEST_FILE, use_fixtures
from tests.transcripts.test_survey import load_survey

# ----- what the application registers, and who may use it -----

# A worker's own screens: each acts only on the presser's own profile, drafts, cases and answers.
WORKER_PREFIXES = {
    "learn:", "priv:", "lang:", "consent:", "prov:", "provpage:", "sector:", "wp:", "wpprov:", "wpprovpage:",
    "union:", "set:", "rep:go:", "rep:cat:", "rep:scope:", "rep:size:", "rep:att:", "rep:wp:", "rep:prov:",
    "rep:provpage:", "rep:metoo:", "rep:id:", "rep:urg:", "rep:edit:", "rep:submit", "rep:faq:", "rep:cancel",
    "wcp:", "wnoop", "wcase:", "wans:", "wout:", "wrate:", "quiz:practice:", "quiz:a:", "quiz:home", "ct:",
    "survey:open:", "idea:", "ex:", "join:ask", "join:", "gy:",
}
# Officers' and admins' buttons. "sv:" and "bc:" are shared: results (sv:r/c/x) and composing or the admin
# section of broadcasts are not for workers; answering a survey or the stop / topic buttons are.
PRIVILEGED_PREFIXES = {
    "case:", "cases:", "inbox:", "adm:un:", "adm:ct:", "adm:sv:", "adm:rpt", "rpt:", "bc:", "sv:", "ec:", "ic:",
    "jr:", "svb:",
}
WORKER_COMMANDS = {"start", "menu", "help", "cancel", "learn", "quiz", "report", "mycases", "idea", "nominate",
                   "join", "gopy", "survey", "settings", "mydata", "forgetme"}
PRIVILEGED_COMMANDS = {"admin", "broadcast", "reports", "cases", "case", "inbox", "recognition"}

# What a refused press or command is told (the inbox language and the people here are Vietnamese).
REFUSALS = {t("vi", key) for key in (
    "input.stale_button", "card.not_allowed", "card.moved_away", "admin.not_allowed", "officers.only_officers",
    "officers.case_not_yours", "report.not_allowed", "broadcast.not_allowed", "survey.results_not_allowed",
    "inbox.not_officer")}
# Written by the bot's own bookkeeping on any update, not by what was pressed.
VOLATILE_TABLES = {"ptb_conversations", "ptb_user_data", "ptb_chat_data"}
VOLATILE_COLUMNS = {("members", "last_seen_at")}


def _all_handlers(handlers: list[BaseHandler]) -> list[BaseHandler]:  # type: ignore[type-arg]
    found: list[BaseHandler] = []  # type: ignore[type-arg]
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            nested = [*handler.entry_points, *handler.fallbacks]
            for state_handlers in handler.states.values():
                nested += state_handlers
            found += _all_handlers(nested)
        else:
            found.append(handler)
    return found


def _prefix(pattern: Any) -> str:
    """The literal start of a callback pattern: r"^rep:faq:\\d+$" → "rep:faq:"."""
    text = getattr(pattern, "pattern", pattern).removeprefix("^")
    for index, char in enumerate(text):
        if char in "$\\([.*+?{|":
            return text[:index]
    return text


def registered(harness: Harness) -> tuple[set[str], set[str]]:
    """(callback prefixes, commands) of every handler the running application has."""
    handlers = _all_handlers([h for group in harness.application.handlers.values() for h in group])
    prefixes = {_prefix(h.pattern) for h in handlers if isinstance(h, CallbackQueryHandler) and h.pattern is not None}
    commands = {c for h in handlers if isinstance(h, CommandHandler) for c in h.commands}
    return prefixes, commands


async def test_every_prefix_and_command_is_classified(harness):
    prefixes, commands = registered(harness)
    assert WORKER_PREFIXES.isdisjoint(PRIVILEGED_PREFIXES)
    unknown, gone = prefixes - WORKER_PREFIXES - PRIVILEGED_PREFIXES, (WORKER_PREFIXES | PRIVILEGED_PREFIXES) - prefixes
    assert not unknown, (f"callback prefixes {sorted(unknown)} are not classified in {__file__}: add each to "
                         "WORKER_PREFIXES, or to PRIVILEGED_PREFIXES with forged presses in forged_presses()")
    assert not gone, f"{sorted(gone)} are no longer registered: remove them from {__file__}"
    unknown = commands - WORKER_COMMANDS - PRIVILEGED_COMMANDS
    assert not unknown, (f"commands {sorted(unknown)} are not classified in {__file__}: add each to WORKER_COMMANDS, "
                         "or to PRIVILEGED_COMMANDS with a check in test_a_worker_is_refused_every_privileged_command")
    assert not (WORKER_COMMANDS | PRIVILEGED_COMMANDS) - commands
    # The /admin hub's sections are officer or admin buttons too.
    assert all(any(data.startswith(p) for p in PRIVILEGED_PREFIXES) for _, data in admin.ADMIN_SECTIONS)


# ----- the world: a hierarchy with officers, inboxes and one real object of every kind -----

@dataclass
class World:
    harness: Harness
    unit: dict[str, int]  # unit ids by code
    admin: EmulatorUser
    officer: EmulatorUser  # of CDCS-MAYSH (grassroots, under CDP-LONGBIEN, under LDLD-HN)
    group: EmulatorChat  # CDCS-MAYSH's inbox
    ward_officer: EmulatorUser  # of CDP-LONGBIEN, the parent
    ward_group: EmulatorChat
    cousin_officer: EmulatorUser  # of CDCS-DIENTUTL (under KCN-HN): outside CDCS-MAYSH's line
    cousin_group: EmulatorChat
    worker: EmulatorUser  # a registered member, not an officer
    case: dict[str, Grievance] = field(default_factory=dict)  # "own", "parent", "cousin"
    card: dict[str, dict] = field(default_factory=dict)  # the real card messages
    ids: dict[str, int] = field(default_factory=dict)  # broadcast, survey, round, officer roles, member


def quiet_background(harness: Harness) -> None:
    """No weekly digest posting into the inboxes mid-test, and no burst gate: these presses come faster than
    a person's (handlers/limits.py is not what this file tests)."""
    for job in harness.application.job_queue.get_jobs_by_name(digest_jobs.JOB_NAME):
        job.schedule_removal()
    harness.application.bot_data[limits.BURST_KEY] = BurstLimiter(limit=100_000)


async def case_held_by(harness: Harness, user: EmulatorUser, unit_code: str, workplace_code: str) -> Grievance:
    """A named case of the user's, held by `unit_code`, its card posted in that unit's inbox."""
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == user.id))
        workplace = await session.scalar(select(Workplace.id).where(Workplace.code == workplace_code))
        grievance = (await submit_case(session, member, CaseDraft(
            "wages", "Công ty trả lương chậm ba tuần liên tục, cả tổ may đều bị.", workplace_id=workplace),
            utcnow(), harness.settings.tz)).grievance
        grievance.unit_id = (await units.get_unit_by_code(session, unit_code)).id
        await session.commit()
        await show_card(harness.application.bot, session, grievance, harness.settings.tz)
        return grievance


def card_in(harness: Harness, chat: EmulatorChat, prefix: str, item_id: int | None = None) -> dict:
    """The latest message in the chat with a button `prefix…[:item_id]`."""
    for message in reversed(harness.emulator.messages(chat.id)):
        for _, data in buttons_of(message):
            if data.startswith(prefix) and (item_id is None or data.split(":")[2] == str(item_id)):
                return message
    raise AssertionError(f"no {prefix} card in chat {chat.id}")


async def engagement_cards(harness: Harness, author: EmulatorUser, group: EmulatorChat) -> dict[str, dict]:
    """An idea, a nomination and a join request from `author`, whose cards land in `group`."""
    async def step(message: dict, data: str) -> dict:
        await harness.press(author, message, data)
        return await harness.next(author)

    await harness.reply_to(author, "/idea")
    await harness.reply_to(author, IDEA_TITLE)
    asked = await harness.reply_to(author, IDEA_TEXT)
    await step(await step(await step(asked, "idea:skip"), "idea:id:named"), "idea:send")
    asked = await harness.reply_to(author, "/nominate")
    await step(asked, "ex:kind:person")
    await harness.reply_to(author, NOMINEE)
    asked = await harness.reply_to(author, STORY)
    await step(await step(await step(asked, "ex:skip"), "ex:consent"), "ex:send")
    await step(await harness.reply_to(author, "/join"), "join:send")
    return {prefix: card_in(harness, group, prefix) for prefix in ("ic:", "ec:", "jr:")}


async def build_world(harness: Harness, tmp_path) -> World:  # type: ignore[no-untyped-def]
    quiet_background(harness)
    admin_user = harness.user("Quản", last_name="Trị")
    officer, group = await inbox_with_officer(harness, "CDCS-MAYSH", "Hùng", "Trần")
    ward_officer, ward_group = await inbox_with_officer(harness, "CDP-LONGBIEN", "Phường", "Lê")
    cousin_officer, cousin_group = await inbox_with_officer(harness, "CDCS-DIENTUTL", "Điện", "Tử")
    worker = await onboarded_worker(harness, first_name="Mai", username="mai_may")
    author = await onboarded_worker(harness, first_name="Lan", username="lan_may")
    cousin_author = await onboarded_worker(harness, "WP-DIENTUTL", first_name="Thu", username="thu_dt")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin_user.id, "test")
        unit = {u.code: u.id for u in await session.scalars(select(Unit))}
    world = World(harness, unit, admin_user, officer, group, ward_officer, ward_group, cousin_officer, cousin_group,
                  worker)
    for name, user, code, workplace, chat in (("own", author, "CDCS-MAYSH", "WP-MAYSH", group),
                                              ("parent", author, "CDP-LONGBIEN", "WP-MAYSH", ward_group),
                                              ("cousin", cousin_author, "CDCS-DIENTUTL", "WP-DIENTUTL", cousin_group)):
        world.case[name] = await case_held_by(harness, user, code, workplace)
        world.card[name] = card_in(harness, chat, "case:", world.case[name].id)
    world.card.update(await engagement_cards(harness, author, group))
    world.card.update({f"cousin {p}": c for p, c in (await engagement_cards(harness, cousin_author, cousin_group)).items()})
    now = utcnow()
    survey = await load_survey(harness, tmp_path, opens=now + timedelta(days=1), closes=now + timedelta(days=2))
    quiet_background(harness)  # load_survey relaxes the gate its own way
    library = use_fixtures(harness)
    spec, _ = quizzes.load_contest(CONTEST_FILE, library)
    async with harness.session_factory() as session:
        contest, *_ = await contests.load_contest(session, spec, library)
        for round_ in await session.scalars(select(ContestRound).where(ContestRound.contest_id == contest.id)):
            round_.starts_at, round_.ends_at = now + timedelta(days=10), now + timedelta(days=11)
            world.ids.setdefault("round", round_.id)
        composer = Member(telegram_id=admin_user.id, first_name=admin_user.first_name)
        session.add(composer)
        await session.commit()
        broadcast = await broadcasts.create_broadcast(
            session, member=composer, chat_id=admin_user.id, language="vi", scope_unit_id=None,
            content={"kind": "text", "text": {"vi": "Thông báo thử", "en": None}, "file_id": None, "attach": None},
            audience=broadcasts.empty_audience(), schedule={"kind": "once", "at": "2030-01-02T08:00"}, now=now,
            tz=harness.settings.tz)
        roles = {m.telegram_id: o.id for o, m in await session.execute(
            select(Officer, Member).join(Member, Member.id == Officer.member_id))}
        worker_member = await session.scalar(select(Member.id).where(Member.telegram_id == worker.id))
    world.ids.update(broadcast=broadcast.id, survey=survey.id, worker_member=worker_member,
                     officer_role=roles[officer.id], ward_role=roles[ward_officer.id],
                     cousin_role=roles[cousin_officer.id])
    return world


# ----- pressing and checking -----

async def snapshot(harness: Harness) -> dict[str, list[tuple]]:
    """Every row of every table but the bot's persistence, for comparing before and after."""
    rows: dict[str, list[tuple]] = {}
    async with harness.session_factory() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
            result = await session.execute(select(*columns).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    return rows


def changed_tables(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, Any]:
    return {name: {"before": [r for r in rows if r not in after[name]], "after": [r for r in after[name] if r not in rows]}
            for name, rows in before.items() if after[name] != rows}


async def refusal(harness: Harness, user: EmulatorUser, message: dict, data: str) -> str:
    """Press `data` on `message` as `user`: what they are told (an alert, or a message in that chat)."""
    chat_id = message["chat"]["id"]
    harness.emulator.drain(chat_id)
    query = await harness.press(user, message, data, force=True)
    answer = (await harness.emulator.wait_answer(query)).get("text") or ""
    return answer or await _told(harness, chat_id)


async def _told(harness: Harness, chat_id: int) -> str:
    seen = []
    try:
        while True:
            text = (await harness.emulator.next_message(chat_id, timeout=3)).get("text", "")
            if text in REFUSALS:
                return text
            seen.append(text)
    except NoMessage:
        return f"no refusal; the chat got {seen!r}"


async def assert_refused(world: World, user: EmulatorUser, presses: dict[str, list[str]],
                         where: dict[str, dict]) -> None:
    """Every press (grouped by prefix) on every message in `where` is refused, and nothing is written."""
    harness = world.harness
    for prefix, data_list in presses.items():
        before = await snapshot(harness)
        for place, message in where.items():
            for data in data_list:
                answer = await refusal(harness, user, message, data)
                assert answer in REFUSALS, f"{data!r} pressed in {place} by {user.first_name}: {answer!r}"
        after = await snapshot(harness)
        assert before == after, f"{prefix} presses changed {changed_tables(before, after)}"


async def private_anchor(harness: Harness, user: EmulatorUser) -> dict:
    """A bot message in the user's private chat to press forged data on."""
    return await harness.reply_to(user, "/help")


def case_presses(grievance: Grievance, unit: dict[str, int], card: dict | None = None) -> list[str]:
    """Every case action the application knows (officer_actions._PRESSES), with and without an extra, and
    every button of the real card."""
    gid = grievance.id
    presses = [f"case:{action}:{gid}" for action in officer_actions._PRESSES]
    presses += [f"case:xt:{gid}:{unit['CDP-LONGBIEN']}", f"case:xt:{gid}:{unit['CDCS-MAYSH']}", f"case:xp:{gid}:1",
                f"case:cn:{gid}:received", f"case:escok:{gid}:1"]
    return presses + [data for _, data in buttons_of(card or {}) if data not in presses]


def forged_presses(world: World) -> dict[str, list[str]]:
    """For each privileged prefix, forged presses on real objects that a worker must never get through."""
    unit, ids, case = world.unit, world.ids, world.case["own"]
    maysh = unit["CDCS-MAYSH"]
    card_buttons = {prefix: [data for _, data in buttons_of(world.card[prefix])] for prefix in ("ic:", "ec:", "jr:")}
    items = {prefix: buttons[0].split(":")[2] for prefix, buttons in card_buttons.items()}
    presses = {
        "case:": case_presses(case, unit, world.card["own"]),
        "cases:": [f"cases:open:{case.id}", *(f"cases:q:{q.value}:0" for q in Queue)],
        "inbox:": [f"inbox:{maysh}", f"inbox:{unit['CDP-LONGBIEN']}"],
        "adm:un:": ["adm:un:top:0", f"adm:un:u:{maysh}:0", f"adm:un:o:{maysh}", "adm:un:s", "adm:un:sp:0",
                    f"adm:un:r:{ids['officer_role']}", f"adm:un:R:{ids['officer_role']}", f"adm:un:io:{maysh}",
                    f"adm:un:ia:{maysh}", "adm:un:m", f"adm:un:um:{ids['worker_member']}"],
        "adm:ct:": ["adm:ct:list", f"adm:ct:open:{ids['round']}", f"adm:ct:close:{ids['round']}"],
        "adm:sv:": ["adm:sv:list", f"adm:sv:open:{ids['survey']}", f"adm:sv:close:{ids['survey']}", "adm:sv:upload"],
        "svb:": ["svb:new", "svb:fresh", "svb:resume", "svb:kind:single", "svb:anon:1", "svb:days:7", "svb:save",
                 "svb:cancel"],
        "adm:rpt": ["adm:rpt"],
        "rpt:": ["rpt:pg:0", f"rpt:u:{maysh}", *(f"rpt:p:{maysh}:{period}" for period in PERIODS)],
        "bc:": ["bc:adm:list", *(f"bc:adm:{a}:{ids['broadcast']}" for a in ("pause", "resume", "cancel")),
                "bc:k:message", f"bc:a:u:{maysh}", "bc:a:all", "bc:preview", "bc:when", "bc:cancel"],
        "sv:": ["sv:r", f"sv:c:{ids['survey']}", f"sv:x:{ids['survey']}"],
        "ic:": card_buttons["ic:"] + [f"ic:{a}:{items['ic:']}" for a in ("ack", "reply", "acc", "rej", "file")],
        "ec:": card_buttons["ec:"] + [f"ec:{a}:{items['ec:']}" for a in ("ok", "no", "photo")],
        "jr:": card_buttons["jr:"] + [f"jr:{a}:{items['jr:']}" for a in ("contacted", "joined", "notnow")],
    }
    return {prefix: list(dict.fromkeys(data)) for prefix, data in presses.items()}


@pytest.fixture
async def world(harness, tmp_path) -> World:  # type: ignore[no-untyped-def]
    return await build_world(harness, tmp_path)


# ----- (a) a worker pressing officers' and admins' buttons -----

async def test_a_worker_cannot_press_any_officer_or_admin_button(world):
    harness, worker = world.harness, world.worker
    presses = forged_presses(world)
    assert set(presses) == PRIVILEGED_PREFIXES, "every privileged prefix needs forged presses here"
    harness.emulator.chats[world.group.id].members[worker.id] = "member"  # a worker who is in the inbox group
    where = {"the private chat": await private_anchor(harness, worker), "the inbox group": world.card["own"]}
    await assert_refused(world, worker, presses, where)
    # The cards of ideas, nominations and join requests, pressed where they are.
    for prefix in ("ic:", "ec:", "jr:"):
        await assert_refused(world, worker, {prefix: presses[prefix]}, {"its card": world.card[prefix]})
    # A worker replying to a case card in the group does not reach the worker who filed it.
    before = await snapshot(harness)
    harness.emulator.drain(world.group.id)
    await harness.send(worker, "Tôi trả lời thay công đoàn", chat=world.group, reply_to=world.card["own"])
    assert (await harness.next(world.group.id))["text"] == t("vi", "card.not_allowed")
    assert before == await snapshot(harness)


async def test_a_worker_is_refused_every_privileged_command(world):
    harness, worker, case = world.harness, world.worker, world.case["own"]
    harness.emulator.chats[world.group.id].members[worker.id] = "member"
    expected = {"/admin": "admin.not_allowed", "/broadcast": "broadcast.not_allowed", "/reports": "report.not_allowed",
                "/cases": "officers.only_officers", f"/case {case.code}": "officers.only_officers"}
    in_group = {"/inbox": "inbox.not_officer", "/recognition": "card.not_allowed"}
    assert {c.split()[0].lstrip("/") for c in [*expected, *in_group]} == PRIVILEGED_COMMANDS
    before = await snapshot(harness)
    for command, key in expected.items():
        assert (await harness.reply_to(worker, command))["text"] == t("vi", key), command
    for command, key in in_group.items():
        harness.emulator.drain(world.group.id)
        await harness.send(worker, command, chat=world.group)
        assert (await harness.next(world.group.id))["text"] == t("vi", key), command
    after = await snapshot(harness)
    assert before == after, changed_tables(before, after)


async def test_a_worker_cannot_open_answer_or_rate_someone_elses_case(world):
    """Not officer buttons, but forged ids all the same: a worker's own-case buttons with another's case."""
    gid = world.case["own"].id
    presses = {"wcase:": [f"wcase:{gid}"], "wans:": [f"wans:{gid}"],
               "wout:": [f"wout:{gid}:{outcome.value}" for outcome in cases.Outcome],
               "wrate:": [f"wrate:{gid}:{outcome.value}:5" for outcome in cases.Outcome]}
    await assert_refused(world, world.worker, presses,
                         {"the private chat": await private_anchor(world.harness, world.worker)})


# ----- (b) an officer outside their subtree -----

async def test_an_officer_cannot_act_on_a_parents_or_a_cousins_case(world):
    harness, officer, unit = world.harness, world.officer, world.unit
    for group in (world.ward_group, world.cousin_group):  # an officer who is also in those groups
        harness.emulator.chats[group.id].members[officer.id] = "member"
    anchor = await private_anchor(harness, officer)
    for name in ("parent", "cousin"):
        grievance = world.case[name]
        presses = {"case:": case_presses(grievance, unit, world.card[name]), "cases:": [f"cases:open:{grievance.id}"]}
        await assert_refused(world, officer, presses, {"the private chat": anchor, f"the {name}'s inbox": world.card[name]})
        before = await snapshot(harness)
        answer = await harness.reply_to(officer, f"/case {grievance.code}")
        assert answer["text"] == t("vi", "officers.case_not_yours")
        harness.emulator.drain(world.card[name]["chat"]["id"])
        await harness.send(officer, "Trả lời thay", chat=world.card[name]["chat"]["id"], reply_to=world.card[name])
        assert (await harness.next(world.card[name]["chat"]["id"]))["text"] == t("vi", "card.not_allowed")
        assert before == await snapshot(harness), f"/case or a reply on the {name}'s case changed the database"
    # Their own case cannot be handed to a unit beside them (CDCS-DIENTUTL has an inbox) or elsewhere.
    own = world.case["own"]
    before = await snapshot(harness)
    for target in ("CDCS-DIENTUTL", "LDLD-HCM", "CDCS-GIAYBT"):
        answer = await refusal(harness, officer, world.card["own"], f"case:xt:{own.id}:{unit[target]}")
        assert answer == t("vi", "card.refused_outside_subtree"), target
    assert before == await snapshot(harness)
    # Reports of units above or beside, the cards of the cousin unit's ideas, nominations and join requests.
    outside = [unit[c] for c in ("CDP-LONGBIEN", "LDLD-HN", "VGCL", "CDCS-DIENTUTL", "LDLD-HCM")]
    await assert_refused(world, officer, {"rpt:": [f"rpt:{kind}:{u}{tail}" for u in outside
                                                   for kind, tail in (("u", ""), ("p", ":this_month"))]},
                         {"the private chat": anchor})
    for prefix in ("ic:", "ec:", "jr:"):
        card = world.card[f"cousin {prefix}"]
        await assert_refused(world, officer, {prefix: [data for _, data in buttons_of(card)]}, {"its card": card})
    harness.emulator.drain(world.cousin_group.id)
    await harness.send(officer, "/recognition", chat=world.cousin_group)
    assert (await harness.next(world.cousin_group.id))["text"] == t("vi", "card.not_allowed")
    # Admin-only buttons stay closed to a unit officer.
    presses = forged_presses(world)
    await assert_refused(world, officer, {p: presses[p] for p in ("adm:un:", "adm:ct:", "adm:sv:", "svb:", "adm:rpt")},
                         {"the private chat": anchor})
    await assert_refused(world, officer, {"bc:": [f"bc:adm:{a}:{world.ids['broadcast']}" for a in ("pause", "cancel")]},
                         {"the private chat": anchor})
    # Making another unit's group an inbox: only that unit's officers may.
    other = harness.emulator.create_group("Nhóm khác", members=[officer])
    message = await harness.application.bot.send_message(other.id, "…")
    await assert_refused(world, officer, {"inbox:": [f"inbox:{u}" for u in outside]},
                         {"a group": harness.emulator.get_message(other.id, message.message_id)})
    # A broadcast draft cannot be aimed at a unit outside the officer's subtree.
    start = await harness.reply_to(officer, "/broadcast")
    assert start["text"] == t("vi", "broadcast.ask_kind")
    for target in outside:
        assert await refusal(harness, officer, start, f"bc:a:u:{target}") == t("vi", "input.stale_button")
    assert harness.application.user_data[officer.id]["bc"]["audience"]["unit_id"] == unit["CDCS-MAYSH"]


async def test_the_officer_of_the_unit_may_press_the_same_data(world):
    """The forged presses above are well-formed: the same data works for someone allowed."""
    harness, case = world.harness, world.case["own"]
    query = await harness.press(world.officer, world.card["own"], f"case:claim:{case.id}", force=True)
    assert (await harness.emulator.wait_answer(query)).get("text") is None
    parent_query = await harness.press(world.ward_officer, await private_anchor(harness, world.ward_officer),
                                       f"case:full:{case.id}", force=True)
    assert (await harness.emulator.wait_answer(parent_query)).get("text") not in REFUSALS
    async with harness.session_factory() as session:
        claimed = await session.get_one(Grievance, case.id)
        holder = await session.scalar(select(Member.telegram_id).where(Member.id == claimed.holder_member_id))
    assert holder == world.officer.id


async def test_a_revoked_officer_is_a_worker_again(world):
    """The cards and buttons an officer saw while in office are refused once their role is revoked."""
    harness, officer = world.harness, world.officer
    # Pressed while in office: a reply to the worker (private chat) and an answer to an idea (its card).
    anchor = await private_anchor(harness, officer)
    await harness.press(officer, anchor, f"case:reply:{world.case['own'].id}", force=True)
    await harness.next(officer)  # the prompt
    assert harness.application.user_data[officer.id][officer_actions.PENDING]["grievance_id"] == world.case["own"].id
    reply_data = next(data for _, data in buttons_of(world.card["ic:"]) if data.startswith("ic:reply:"))
    await harness.press(officer, world.card["ic:"], reply_data)
    idea_prompt = await harness.next(world.group.id)
    async with harness.session_factory() as session:
        await admin_units.revoke_officer(session, world.ids["officer_role"], admin_units.Scope(None, ()), "test")
    before = await snapshot(harness)
    assert (await harness.reply_to(officer, "Công ty sẽ trả đủ lương"))["text"] == t("vi", "card.not_allowed")
    harness.emulator.drain(world.group.id)
    await harness.send(officer, "Cảm ơn sáng kiến của bạn", chat=world.group, reply_to=idea_prompt)
    assert (await harness.next(world.group.id))["text"] == t("vi", "card.not_allowed")
    assert before == await snapshot(harness), changed_tables(before, await snapshot(harness))
    presses = forged_presses(world)
    await assert_refused(world, officer, {p: presses[p] for p in ("case:", "cases:", "ic:", "ec:", "jr:", "rpt:", "sv:")},
                         {"the inbox group": world.card["own"], "the private chat": anchor})
    for prefix in ("ic:", "ec:", "jr:"):
        await assert_refused(world, officer, {prefix: presses[prefix]}, {"its card": world.card[prefix]})
    harness.emulator.drain(world.group.id)
    await harness.send(officer, "/recognition", chat=world.group)
    assert (await harness.next(world.group.id))["text"] == t("vi", "card.not_allowed")


# ----- (c) a unit admin outside their subtree -----

async def test_a_grassroots_unit_admin_manages_nothing_above_or_beside(world):
    harness, unit, ids = world.harness, world.unit, world.ids
    unit_admin = harness.user("Cơ", last_name="Sở")
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, "CDCS-MAYSH"), "test",
                                              OfficerRole.UNIT_ADMIN)
    await harness.reply_to(unit_admin, f"/start officer-{invite.token}")
    own = await harness.reply_to(unit_admin, "/admin")
    assert own["text"].startswith("🏢 Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội (CDCS-MAYSH)")
    outside = [unit[c] for c in ("CDP-LONGBIEN", "LDLD-HN", "VGCL", "CDCS-DIENTUTL", "KCN-HN")]
    presses = [f"adm:un:{action}:{u}{tail}" for u in outside
               for action, tail in (("u", ":0"), ("o", ""), ("io", ""), ("ia", ""))]
    presses += [f"adm:un:{a}:{ids[role]}" for a in ("r", "R") for role in ("ward_role", "cousin_role")]
    presses += ["adm:un:m", f"adm:un:um:{ids['worker_member']}", f"adm:un:u:{unit['CDCS-MAYSH']}:x", "adm:un:R:x"]
    await assert_refused(world, unit_admin, {"adm:un:": presses}, {"the private chat": own})
    async with harness.session_factory() as session:
        assert (await session.get_one(Officer, ids["ward_role"])).revoked_at is None
    # Inside their unit the same kind of press works: an invite for CDCS-MAYSH.
    before = await _invites(harness)
    await harness.press(unit_admin, own, f"adm:un:io:{unit['CDCS-MAYSH']}", force=True)
    assert "start=officer-" in (await harness.next(unit_admin))["text"]
    assert await _invites(harness) == before + 1


async def _invites(harness: Harness) -> int:
    async with harness.session_factory() as session:
        return len((await session.scalars(select(OfficerInvite.id))).all())


# ----- forged numbers, past the permission checks -----

FORGED_IDS = ("²", "١", "9" * 10, "9" * 30, "-1", "1.0", "")


async def test_forged_numbers_pressed_by_an_admin_are_refused_politely(world):
    """An admin passes every permission check, so their presses reach the parsing of ids: "²".isdigit() is true
    but int() refuses it, "١" is a digit to int() but no id, and ten digits overflow a PostgreSQL INTEGER."""
    harness, own = world.harness, world.case["own"].id
    templates = ["case:claim:{}", f"case:xt:{own}:{{}}", f"case:xp:{own}:{{}}", "cases:open:{}", "cases:q:mine:{}",
                 "inbox:{}", "adm:un:u:{}:0", "adm:un:top:{}", "adm:un:o:{}", "adm:un:r:{}", "adm:un:R:{}",
                 "adm:un:io:{}", "adm:un:um:{}", "adm:ct:open:{}", "adm:ct:close:{}", "adm:sv:open:{}",
                 "adm:sv:close:{}", "rpt:pg:{}", "rpt:u:{}", "rpt:p:{}:this_month", "bc:adm:pause:{}", "sv:c:{}",
                 "sv:x:{}", "ic:ack:{}", "ec:ok:{}", "jr:joined:{}", "learn:s:{}", "learn:fb:{}:1", "wcase:{}",
                 "gy:v:{}", "survey:open:{}"]
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    try:
        anchor = await private_anchor(harness, world.admin)
        before = await snapshot(harness)
        for template in templates:
            for number in FORGED_IDS:
                query = await harness.press(world.admin, anchor, template.format(number), force=True)
                await harness.emulator.wait_answer(query)  # answered, whatever it says
        assert errors.describe() == []
        assert before == await snapshot(harness), changed_tables(before, await snapshot(harness))
    finally:
        logging.getLogger().removeHandler(errors)
