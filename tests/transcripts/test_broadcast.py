"""Broadcasts through the emulator with Telegram's limits enforced: 2,000 recipients with blocked members and
injected 429s (paid mode), the free rate and one message a second per chat, a sender killed mid-broadcast
and restarted, the composer (an admin, quiet hours, a unit officer held to their subtree, a non-admin refused), the
"stop these messages" button and the topic settings, and the /admin section."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from bot.services import broadcasts, officers, units
from db.models import (
    Broadcast,
    BroadcastRun,
    Member,
    MemberStatus,
    Officer,
    TopicOptOut,
    UnionStatus,
    Workplace,
)
from db.types import utcnow
from handlers import broadcast_jobs, notify
from sandbox.emulator import BotApiEmulator, EmulatorUser
from sandbox.emulator.limits import SENDING_METHODS
from tests.support.harness import Harness, buttons_of, data_of, t

NO_QUIET = (0, 0)
TEXT_VI = "Thông báo: nghỉ lễ Quốc khánh 2/9 được hưởng nguyên lương."
TEXT_EN = "Notice: the National Day holiday on 2 September is paid in full."


async def seed_members(harness: Harness, users: list[EmulatorUser], **fields: object) -> None:
    """Members straight into the database (as if each had done /start), in one statement."""
    now = utcnow()
    rows = [{"telegram_id": user.id, "first_name": user.first_name, "language": "vi", "status": MemberStatus.ACTIVE,
             "created_at": now, "last_seen_at": now, "onboarded_at": now, "consent_version": "1",
             **fields} for user in users]
    async with harness.session_factory() as session:
        await session.execute(insert(Member), rows)
        await session.commit()


async def member_of(harness: Harness, user: EmulatorUser) -> Member:
    async with harness.session_factory() as session:
        return await session.scalar(select(Member).where(Member.telegram_id == user.id))


async def new_broadcast(harness: Harness, composer: EmulatorUser, audience: dict | None = None,
                        text_en: str | None = None) -> int:
    """A broadcast "now" without quiet hours (so the test does not depend on the hour it runs at)."""
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == composer.id))
        if member is None:
            member = Member(telegram_id=composer.id, first_name=composer.first_name)
            session.add(member)
            await session.commit()
        broadcast = await broadcasts.create_broadcast(
            session, member=member, chat_id=composer.id, language="vi", scope_unit_id=None,
            content={"kind": "text", "text": {"vi": TEXT_VI, "en": text_en}, "file_id": None, "attach": None},
            audience=audience or broadcasts.empty_audience(), schedule={"kind": "now"}, now=utcnow(),
            tz=harness.settings.tz, quiet=NO_QUIET)
    broadcast_jobs.schedule_broadcast(harness.application, broadcast.id, broadcast.next_run_at)
    return broadcast.id


async def run_of(harness: Harness, broadcast_id: int, timeout: float = 30) -> BroadcastRun:
    """The broadcast's run, once started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with harness.session_factory() as session:
            run = await session.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id))
        if run is not None:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"broadcast {broadcast_id} never started")


async def finished(harness: Harness, broadcast_id: int, timeout: float = 120) -> BroadcastRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with harness.session_factory() as session:
            run = await session.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id))
        if run is not None and run.status == "done":
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"broadcast {broadcast_id} did not finish in {timeout} s")


def received(emulator: BotApiEmulator, user: EmulatorUser, text: str = TEXT_VI) -> int:
    return sum(1 for message in emulator.messages(user) if message.get("text") == text)


def sends(emulator: BotApiEmulator) -> list:
    return [call for call in emulator.calls if call.method.lower() in SENDING_METHODS and call.status == 200]


# ----- delivery under the limits -----

async def test_two_thousand_recipients_blocked_and_429s_paid_mode(paid_harness):
    harness, emulator = paid_harness, paid_harness.emulator
    emulator.enforce_limits(global_per_second=1000, per_chat_per_second=1)
    admin = harness.user("Quản trị")
    users = [emulator.create_user(f"CN{i}") for i in range(2000)]
    blocked = users[::33]  # 61 of 2,000: about 3%
    for user in blocked:
        emulator.block_chat(user)
    await seed_members(harness, users)
    emulator.add_429(method="sendMessage", times=4, retry_after=1)

    broadcast_id = await new_broadcast(harness, admin)
    run = await finished(harness, broadcast_id)

    blocked_ids = {user.id for user in blocked}
    assert [received(emulator, user) for user in users if user.id not in blocked_ids] == [1] * (2000 - len(blocked))
    assert all(received(emulator, user) == 0 for user in blocked)
    async with harness.session_factory() as session:
        statuses = dict((await session.execute(select(Member.telegram_id, Member.status))).all())
        counts = await broadcasts.run_counts(session, run.id)
    assert {statuses[user.id] for user in blocked} == {MemberStatus.BLOCKED}
    reachable = 2000 - len(blocked) + 1  # the admin is a member too
    assert received(emulator, admin) == 1
    assert counts == {"pending": 0, "sent": reachable, "blocked": len(blocked), "failed": 0, "skipped": 0}
    assert emulator.flood_violations == []
    assert all(call.params.get("allow_paid_broadcast") is True for call in emulator.calls_of("sendMessage")
               if call.params.get("chat_id") != admin.id)
    final = emulator.get_message(admin.id, run.progress_message_id)
    assert final["text"].startswith(t("vi", "broadcast.final", sent=reachable, total=2001, blocked=len(blocked),
                                      failed=0, skipped=0, duration="", rate="").split("\n")[0])
    # A later audience leaves the blocked members out.
    async with harness.session_factory() as session:
        assert await broadcasts.count_audience(session, broadcasts.empty_audience(), "news", utcnow()) == \
            reachable


async def test_free_rate_stays_under_30_per_second_and_1_per_second_per_chat(harness):
    emulator = harness.emulator
    emulator.enforce_limits(global_per_second=30, per_chat_per_second=1)
    admin = harness.user("Quản trị")
    users = [emulator.create_user(f"CN{i}") for i in range(40)]
    await seed_members(harness, users)
    emulator.reset_calls()
    # Two broadcasts at once to the same 40 people: each chat gets two messages, never within a second.
    first = await new_broadcast(harness, admin)
    second = await new_broadcast(harness, admin, text_en=None)
    await finished(harness, first)
    await finished(harness, second)
    assert all(received(emulator, user) == 2 for user in users)
    assert emulator.flood_violations == []
    stamps = sorted(call.time for call in sends(emulator))
    assert max(sum(1 for s in stamps if start <= s < start + 1.0) for start in stamps) <= 30
    for user in users:
        times = sorted(call.time for call in sends(emulator) if call.params.get("chat_id") == user.id)
        assert times[1] - times[0] >= 1.0


async def test_killed_mid_broadcast_resumes_and_nobody_is_missed(harness):
    emulator = harness.emulator
    emulator.enforce_limits(global_per_second=30, per_chat_per_second=1)
    admin = harness.user("Quản trị")
    users = [emulator.create_user(f"CN{i}") for i in range(120)]
    await seed_members(harness, users)
    broadcast_id = await new_broadcast(harness, admin)
    run = await run_of(harness, broadcast_id)
    while sum(received(emulator, user) for user in users) < 40:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    sender = broadcast_jobs.sender_of(harness.application)
    in_flight_bound = sender.workers + int(sender.pacer.rate * broadcast_jobs.FLUSH_EVERY) + 2
    sender.tasks[run.id].cancel()  # the crash: no flush of outcomes not yet written
    await asyncio.sleep(0)
    async with harness.session_factory() as session:
        pending_after_crash = (await broadcasts.run_counts(session, run.id))["pending"]
    assert 0 < pending_after_crash < 120

    await harness.restart_bot()  # timers and unfinished runs rebuilt from the database
    await finished(harness, broadcast_id)

    counts = [received(emulator, user) for user in users]
    assert min(counts) == 1  # nobody missed
    repeated = sum(count - 1 for count in counts)
    assert repeated <= in_flight_bound
    assert not [v for v in emulator.flood_violations if v["limit"] == "global"]


# ----- the composer -----

async def _admin(harness: Harness, name: str = "Hà") -> EmulatorUser:
    admin = harness.user(name)
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    return admin


async def _make_due_now(harness: Harness) -> int:
    """The broadcast the composer just made, sent now even in the quiet hours (the test may run at night)."""
    async with harness.session_factory() as session:
        broadcast = await session.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
        broadcast.quiet_start = broadcast.quiet_end = 0
        broadcast.next_run_at = utcnow()
        await session.commit()
        broadcast_id = broadcast.id
    broadcast_jobs.schedule_broadcast(harness.application, broadcast_id, utcnow())
    return broadcast_id


async def test_admin_composes_previews_and_sends_in_each_language(harness):
    emulator = harness.emulator
    admin = await _admin(harness)
    vi_members = [emulator.create_user(f"CN{i}") for i in range(3)]
    en_member = emulator.create_user("Anna", language_code="en")
    outsider = emulator.create_user("Bình")
    await seed_members(harness, vi_members, union_status=UnionStatus.MEMBER)
    await seed_members(harness, [en_member], union_status=UnionStatus.MEMBER, language="en")
    await seed_members(harness, [outsider], union_status=UnionStatus.NOT_YET)

    await harness.send(admin, "/broadcast")
    kinds = await harness.next(admin)
    assert kinds["text"].startswith(t("vi", "broadcast.ask_kind").split("\n")[0])
    await harness.press(admin, kinds, "bc:k:message")
    assert (await harness.next(admin))["text"] == t("vi", "broadcast.ask_vi")
    await harness.send(admin, TEXT_VI)
    ask_en = await harness.next(admin)
    assert data_of(ask_en, t("vi", "broadcast.skip_en")) == "bc:en:skip"
    await harness.send(admin, TEXT_EN)
    audience = await harness.next(admin)
    assert t("vi", "broadcast.audience_count", count=6) in audience["text"]  # 5 members + the admin
    await harness.press(admin, audience, "bc:a:union:member")
    audience = await harness.next(admin)
    assert t("vi", "broadcast.audience_count", count=4) in audience["text"]
    await harness.press(admin, audience, "bc:preview")
    previews = [await harness.next(admin) for _ in range(5)]
    assert previews[0]["text"] == t("vi", "broadcast.preview_vi")
    assert previews[1]["text"] == TEXT_VI and "🔕" in buttons_of(previews[1])[-1][0]
    assert previews[3]["text"] == TEXT_EN
    summary = previews[4]
    assert t("vi", "broadcast.preview_summary", count=4) in summary["text"]
    await harness.press(admin, summary, "bc:when")
    when = await harness.next(admin)
    await harness.press(admin, when, "bc:w:now")
    created = await harness.next(admin)
    async with harness.session_factory() as session:
        broadcast = await session.scalar(select(Broadcast))
        broadcast_id = broadcast.id
    if broadcast.next_run_at <= utcnow():
        assert created["text"] == t("vi", "broadcast.created_now", count=4)
    else:  # in the quiet hours (21:00–07:00 in Vietnam, when this runs then): deferred to their end
        assert created["text"] == t("vi", "broadcast.created_scheduled", count=4,
                                    at=notify.when(broadcast.next_run_at, harness.settings.tz))
        await _make_due_now(harness)
    await finished(harness, broadcast_id)
    assert [received(emulator, user) for user in vi_members] == [1, 1, 1]
    assert received(emulator, en_member, TEXT_EN) == 1
    assert emulator.messages(outsider) == []


async def test_english_falls_back_to_vietnamese_and_media_is_checked(harness):
    admin = await _admin(harness)
    await harness.send(admin, "/broadcast")
    await harness.press(admin, await harness.next(admin), "bc:k:message")
    await harness.next(admin)
    await harness.emulator.send_sticker(admin)
    assert (await harness.next(admin))["text"] == t("vi", "broadcast.need_message")
    await harness.emulator.send_photo(admin, b"\x89PNG fake", caption="Ảnh hội thao")
    ask_en = await harness.next(admin)
    await harness.press(admin, ask_en, "bc:en:skip")
    audience = await harness.next(admin)
    await harness.press(admin, audience, "bc:preview")
    assert (await harness.next(admin))["text"] == t("vi", "broadcast.preview_vi")
    photo = await harness.next(admin)
    assert photo.get("photo") and photo.get("caption") == "Ảnh hội thao"


async def test_composer_quiet_hours_are_chosen_shown_and_saved(harness):
    emulator = harness.emulator
    admin = await _admin(harness)
    worker = harness.user("Lan")
    await seed_members(harness, [worker])
    await harness.send(admin, "/broadcast")
    await harness.press(admin, await harness.next(admin), "bc:k:message")
    await harness.next(admin)
    await harness.send(admin, TEXT_VI)
    await harness.press(admin, await harness.next(admin), "bc:en:skip")
    await harness.press(admin, await harness.next(admin), "bc:preview")
    summary = [await harness.next(admin) for _ in range(3)][-1]
    assert t("vi", "broadcast.quiet_line", window="21:00–07:00") in summary["text"]

    await harness.press(admin, summary, "bc:q:p")
    choices = await harness.next(admin)
    assert choices["message_id"] == summary["message_id"]  # in place of the summary
    assert buttons_of(choices) == [
        ("✅ " + t("vi", "broadcast.quiet_default", window="21:00–07:00"), "bc:q:p:1260-420"),
        ("22:00–06:00", "bc:q:p:1320-360"), ("20:00–08:00", "bc:q:p:1200-480"),
        (t("vi", "broadcast.quiet_off"), "bc:q:p:0-0"), (t("vi", "broadcast.back"), "bc:q:p:back")]
    await harness.press(admin, choices, "bc:q:p:1320-360")
    summary = await harness.next(admin)
    assert t("vi", "broadcast.quiet_line", window="22:00–06:00") in summary["text"]
    assert t("vi", "broadcast.preview_summary", count=2) in summary["text"]

    # Forged or stale presses get a polite answer and change nothing.
    for forged in ("bc:q:p:60-120", "bc:q:x:1320-360", "bc:q:p:²²-1", "bc:q:p:1320", "bc:q"):
        query = await harness.press(admin, summary, forged, force=True)
        assert (await emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    query = await harness.press(worker, await harness.send(worker, "xin chào"), "bc:q:p:0-0", force=True)
    assert (await emulator.wait_answer(query))["text"] == t("vi", "broadcast.not_allowed")

    await harness.press(admin, summary, "bc:when")
    when = await harness.next(admin)
    assert when["text"] == t("vi", "broadcast.ask_when", tz=harness.settings.tz_name,
                             quiet=t("vi", "broadcast.quiet_when", start="22:00", end="06:00"))
    await harness.press(admin, when, "bc:q:w")
    choices = await harness.next(admin)
    assert ("✅ 22:00–06:00", "bc:q:w:1320-360") in buttons_of(choices)
    await harness.press(admin, choices, "bc:q:w:1200-480")
    when = await harness.next(admin)
    assert when["text"] == t("vi", "broadcast.ask_when", tz=harness.settings.tz_name,
                             quiet=t("vi", "broadcast.quiet_when", start="20:00", end="08:00"))
    await harness.press(admin, when, "bc:w:once")
    await harness.next(admin)
    await harness.send(admin, "01/01/2099 22:30")  # in the quiet hours: deferred to their end
    created = await harness.next(admin)
    assert created["text"] == t("vi", "broadcast.created_scheduled", count=2, at="02/01/2099 08:00")
    async with harness.session_factory() as session:
        broadcast = await session.scalar(select(Broadcast))
        assert (broadcast.quiet_start, broadcast.quiet_end) == (20 * 60, 8 * 60)
        assert broadcast.next_run_at == datetime(2099, 1, 2, 1, 0, tzinfo=UTC)
        broadcast.status = "cancelled"
        await session.commit()
    query = await harness.press(admin, when, "bc:q:w:0-0", force=True)  # the draft is gone
    assert (await emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")


async def test_unit_officer_is_limited_to_their_subtree(harness):
    emulator = harness.emulator
    officer = harness.user("Tâm")
    async with harness.session_factory() as session:
        grassroots = await units.get_unit_by_code(session, "CDCS-MAYSH")
        hanoi = await units.get_unit_by_code(session, "LDLD-HN")
        workplace = await session.scalar(select(Workplace).where(Workplace.code == "WP-MAYSH"))
        member = Member(telegram_id=officer.id, first_name="Tâm", onboarded_at=utcnow(), consent_version="1")
        session.add(member)
        await session.flush()
        session.add(Officer(member_id=member.id, unit_id=grassroots.id))
        await session.commit()
        grassroots_id, hanoi_id, workplace_id = grassroots.id, hanoi.id, workplace.id
    ours = [emulator.create_user(f"May{i}") for i in range(3)]
    others = [emulator.create_user(f"Khác{i}") for i in range(2)]
    await seed_members(harness, ours, workplace_id=workplace_id, province_code=1)
    await seed_members(harness, others, province_code=1)

    await harness.send(officer, "/broadcast")
    await harness.press(officer, await harness.next(officer), "bc:k:message")
    await harness.next(officer)
    await harness.send(officer, TEXT_VI)
    await harness.press(officer, await harness.next(officer), "bc:en:skip")
    audience = await harness.next(officer)
    assert t("vi", "broadcast.audience_count", count=3) in audience["text"]
    await harness.press(officer, audience, "bc:a:all")  # "everyone" is everyone in their units
    audience = await harness.next(officer)
    assert t("vi", "broadcast.audience_count", count=3) in audience["text"]
    query = await harness.press(officer, audience, f"bc:a:u:{hanoi_id}", force=True)  # forged: above their unit
    assert (await emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    await harness.press(officer, audience, "bc:a:unit")
    units_screen = await harness.next(officer)
    assert buttons_of(units_screen)[0][1] == f"bc:a:u:{grassroots_id}"
    await harness.send(officer, "LDLD-HN")
    assert (await harness.next(officer))["text"] == t("vi", "broadcast.unit_not_allowed")
    await harness.send(officer, "CDCS-MAYSH")
    audience = await harness.next(officer)
    await harness.press(officer, audience, "bc:preview")
    previews = [await harness.next(officer) for _ in range(3)]
    assert t("vi", "broadcast.preview_summary", count=3) in previews[2]["text"]
    await harness.press(officer, previews[2], "bc:when")
    await harness.press(officer, await harness.next(officer), "bc:w:now")
    created = await harness.next(officer)
    if created["text"] != t("vi", "broadcast.created_now", count=3):
        await _make_due_now(harness)
    async with harness.session_factory() as session:
        broadcast = await session.scalar(select(Broadcast))
    assert broadcast.scope_unit_id == grassroots_id
    await finished(harness, broadcast.id)
    assert [received(emulator, user) for user in ours] == [1, 1, 1]
    assert [received(emulator, user) for user in others] == [0, 0]


async def test_a_member_without_rights_is_refused(harness):
    worker = harness.user("Lan")
    await harness.send(worker, "/broadcast")
    assert (await harness.next(worker))["text"] == t("vi", "broadcast.not_allowed")
    reply = await harness.send(worker, "xin chào")
    query = await harness.press(worker, reply, "bc:w:now", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "broadcast.not_allowed")
    query = await harness.press(worker, reply, "bc:adm:cancel:1", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "admin.not_allowed")
    async with harness.session_factory() as session:
        assert await session.scalar(select(Broadcast)) is None


# ----- members: stop button and settings -----

async def test_stop_button_and_topic_settings(harness):
    emulator = harness.emulator
    admin = await _admin(harness)
    worker = harness.user("Lan")
    await seed_members(harness, [worker])
    broadcast_id = await new_broadcast(harness, admin)
    await finished(harness, broadcast_id)
    message = await harness.next(worker)
    assert message["text"] == TEXT_VI
    query = await harness.press(worker, message, data_of(message, "🔕"))
    assert (await emulator.wait_answer(query))["text"] == t("vi", "broadcast.stopped",
                                                            topic=t("vi", "broadcast.topic_news"))
    member = await member_of(harness, worker)
    async with harness.session_factory() as session:
        assert await broadcasts.opted_out(session, member.id) == {"news"}
        assert await broadcasts.count_audience(session, broadcasts.empty_audience(), "news", utcnow()) == 1
        assert await broadcasts.count_audience(session, broadcasts.empty_audience(), "surveys", utcnow()) == 2

    await harness.send(worker, "/settings")
    settings = await harness.next(worker)
    await harness.press(worker, settings, data_of(settings, t("vi", "settings.topics")))
    topics = await harness.next(worker)
    assert buttons_of(topics)[0] == ("🔕 " + t("vi", "broadcast.topic_news"), "bc:tg:news")
    await harness.press(worker, topics, "bc:tg:news")
    topics = await harness.next(worker)
    assert buttons_of(topics)[0] == ("🔔 " + t("vi", "broadcast.topic_news"), "bc:tg:news")
    async with harness.session_factory() as session:
        assert await session.scalar(select(TopicOptOut)) is None
    await harness.press(worker, topics, "bc:topics:back")
    assert data_of(await harness.next(worker), t("vi", "settings.topics")) == "bc:topics"


async def test_admin_section_pauses_resumes_and_cancels(harness):
    admin = await _admin(harness)
    async with harness.session_factory() as session:
        member = Member(telegram_id=admin.id, first_name="Hà")
        session.add(member)
        await session.commit()
        weekly = await broadcasts.create_broadcast(
            session, member=member, chat_id=admin.id, language="vi", scope_unit_id=None,
            content={"kind": "text", "text": {"vi": TEXT_VI}}, audience=broadcasts.empty_audience(),
            schedule={"kind": "weekly", "days": [0], "time": "08:00"}, now=utcnow(), tz=harness.settings.tz)
    await harness.send(admin, "/admin")
    hub = await harness.next(admin)
    await harness.press(admin, hub, data_of(hub, t("vi", "admin.section_broadcasts")))
    listing = await harness.next(admin)
    assert f"#{weekly.id}" in listing["text"] and t("vi", "broadcast.state_scheduled") in listing["text"]
    await harness.press(admin, listing, f"bc:adm:pause:{weekly.id}")
    listing = await harness.next(admin)
    assert t("vi", "broadcast.state_paused") in listing["text"]
    await harness.press(admin, listing, f"bc:adm:resume:{weekly.id}")
    listing = await harness.next(admin)
    assert t("vi", "broadcast.state_scheduled") in listing["text"]
    await harness.press(admin, listing, f"bc:adm:cancel:{weekly.id}")
    listing = await harness.next(admin)
    assert listing["text"].endswith(t("vi", "broadcast.admin_none"))
    query = await harness.press(admin, listing, f"bc:adm:cancel:{weekly.id}", force=True)
    assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "broadcast.unchanged")
    async with harness.session_factory() as session:
        assert (await session.get(Broadcast, weekly.id)).status == "cancelled"


async def test_schedules_survive_a_restart(harness):
    admin = await _admin(harness)
    async with harness.session_factory() as session:
        member = Member(telegram_id=admin.id, first_name="Hà")
        session.add(member)
        await session.commit()
        later = await broadcasts.create_broadcast(
            session, member=member, chat_id=admin.id, language="vi", scope_unit_id=None,
            content={"kind": "text", "text": {"vi": TEXT_VI}}, audience=broadcasts.empty_audience(),
            schedule={"kind": "once", "at": "2099-01-01T08:00"}, now=utcnow(), tz=harness.settings.tz)
    await harness.restart_bot()
    jobs = harness.application.job_queue.get_jobs_by_name(f"broadcast-{later.id}")
    assert len(jobs) == 1
    assert jobs[0].next_t == datetime(2099, 1, 1, 1, 0, tzinfo=UTC)
    async with harness.session_factory() as session:
        await session.execute(update(Broadcast).values(status="cancelled"))
        await session.commit()


async def test_pause_from_admin_stops_sending_and_resume_finishes(harness):
    emulator = harness.emulator
    emulator.enforce_limits(global_per_second=30, per_chat_per_second=1)
    admin = await _admin(harness)
    users = [emulator.create_user(f"CN{i}") for i in range(75)]
    await seed_members(harness, users, province_code=1)
    # Not to the admin, whose own conversation here would share the chat's one message a second.
    broadcast_id = await new_broadcast(harness, admin, {**broadcasts.empty_audience(), "provinces": [1]})
    while sum(received(emulator, user) for user in users) < 10:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await harness.send(admin, "/admin")
    hub = await harness.next(admin)
    while hub.get("text", "").startswith("📣"):  # the progress message may come first
        hub = await harness.next(admin)
    await harness.press(admin, hub, "bc:adm:list")
    listing = await harness.next(admin)
    assert t("vi", "broadcast.state_running") in listing["text"]
    await harness.press(admin, listing, f"bc:adm:pause:{broadcast_id}")
    run = await run_of(harness, broadcast_id)
    while broadcast_jobs.sender_of(harness.application).tasks.get(run.id):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    sent_when_paused = sum(received(emulator, user) for user in users)
    assert sent_when_paused < 75
    await broadcast_jobs.tick(harness.application)  # the minute tick leaves a paused run alone
    await asyncio.sleep(0.5)
    assert sum(received(emulator, user) for user in users) == sent_when_paused
    progress = emulator.get_message(admin.id, (await run_of(harness, broadcast_id)).progress_message_id)
    assert progress["text"].endswith(t("vi", "broadcast.progress_paused", progress="").strip())

    await harness.press(admin, listing, f"bc:adm:resume:{broadcast_id}", force=True)
    await finished(harness, broadcast_id)
    assert [received(emulator, user) for user in users] == [1] * 75
    # The admin's own chat is left out: the interactive bot answers /admin there while the sender posts the
    # progress message, and neither knows of the other's sends.
    assert [v for v in emulator.flood_violations if v["chat_id"] != admin.id] == []


async def test_buttons_of_an_earlier_draft_cannot_send_a_new_empty_one(harness):
    """Callback data names no draft: "send now" from an old preview, pressed while a new draft has no
    message yet, must not create a broadcast without a message; nor may a forged survey id be attached."""
    admin = await _admin(harness)
    await harness.send(admin, "/broadcast")
    kinds = await harness.next(admin)
    await harness.press(admin, kinds, "bc:k:message")
    asked = await harness.next(admin)
    assert asked["text"] == t("vi", "broadcast.ask_vi")
    for data in ("bc:w:now", "bc:preview"):
        query = await harness.press(admin, asked, data, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "broadcast.need_message")

    await harness.send(admin, "/broadcast")
    kinds = await harness.next(admin)
    await harness.press(admin, kinds, "bc:k:survey")
    picker = await harness.next(admin)
    for forged in ("bc:r:999999", "bc:r:²", "bc:r:12345678901"):
        query = await harness.press(admin, picker, forged, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    async with harness.session_factory() as session:
        assert await session.scalar(select(Broadcast.id)) is None


async def test_an_officer_manages_the_broadcasts_of_their_units_only(harness):
    officer = harness.user("Tâm")
    admin = await _admin(harness)
    async with harness.session_factory() as session:
        grassroots = await units.get_unit_by_code(session, "CDCS-MAYSH")
        officer_member = Member(telegram_id=officer.id, first_name="Tâm", onboarded_at=utcnow(), consent_version="1")
        admin_member = Member(telegram_id=admin.id, first_name="Hà")
        session.add_all([officer_member, admin_member])
        await session.flush()
        session.add(Officer(member_id=officer_member.id, unit_id=grassroots.id))
        await session.commit()
        weekly = {"kind": "weekly", "days": [0], "time": "08:00"}
        content = {"kind": "text", "text": {"vi": TEXT_VI}}
        own = await broadcasts.create_broadcast(
            session, member=officer_member, chat_id=officer.id, language="vi", scope_unit_id=grassroots.id,
            content=content, audience={**broadcasts.empty_audience(), "unit_id": grassroots.id}, schedule=weekly,
            now=utcnow(), tz=harness.settings.tz)
        everyone = await broadcasts.create_broadcast(
            session, member=admin_member, chat_id=admin.id, language="vi", scope_unit_id=None, content=content,
            audience=broadcasts.empty_audience(), schedule=weekly, now=utcnow(), tz=harness.settings.tz)

    await harness.send(officer, "/broadcast")
    kinds = await harness.next(officer)
    await harness.press(officer, kinds, data_of(kinds, t("vi", "broadcast.manage_button")))
    listing = await harness.next(officer)
    assert f"#{own.id}" in listing["text"] and f"#{everyone.id}" not in listing["text"]
    for action in ("pause", "cancel"):  # the admin's broadcast to everyone is not theirs to stop
        query = await harness.press(officer, listing, f"bc:adm:{action}:{everyone.id}", force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    await harness.press(officer, listing, f"bc:adm:cancel:{own.id}")
    listing = await harness.next(officer)
    assert listing["text"].endswith(t("vi", "broadcast.admin_none"))
    async with harness.session_factory() as session:
        assert (await session.get(Broadcast, own.id)).status == "cancelled"
        assert (await session.get(Broadcast, everyone.id)).status == "active"
