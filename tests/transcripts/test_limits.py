"""Per-member limits: new cases per day, bursts slowed down politely, accounts muted by an admin."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.services import limits, officers
from db.models import AuditLog, Grievance, Member, MemberMute
from handlers.limits import BURST_KEY
from tests.support.harness import t
from tests.test_cli import congdoan
from tests.transcripts.test_intake import no_answers_before_sending, to_review  # noqa: F401 - fixture
from tests.transcripts.test_mydata import VN, file_case, member_of, ready_member


def bot_messages(harness, user) -> list[dict]:
    return [m for m in harness.emulator.messages(user) if m["from"]["is_bot"]]


async def cases_of(harness, member_id) -> int:
    async with harness.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Grievance).where(
            Grievance.member_id == member_id))


async def test_five_cases_a_day_then_a_polite_no_at_entry_and_at_submit(harness):
    worker = harness.user("Lan", username="lan_may")
    member_id = await ready_member(harness, worker)
    for _ in range(4):
        await file_case(harness, member_id)
    review = await to_review(harness, worker)  # the fifth is allowed to start…
    await file_case(harness, member_id)  # …but meanwhile a fifth case was sent (e.g. from another phone)
    await harness.press(worker, review, "rep:submit")
    refused = await harness.next(worker)
    assert refused["text"] == t("vi", "limits.cases_per_day", limit=5)
    assert await cases_of(harness, member_id) == 5
    again = await harness.reply_to(worker, "/report")
    assert again["text"] == t("vi", "limits.cases_per_day", limit=5)


async def test_the_day_is_counted_in_vietnam_time(session):
    member = Member(telegram_id=1, language="vi")
    session.add(member)
    await session.flush()
    late_evening = datetime(2026, 11, 24, 23, 30, tzinfo=VN)
    for minute in range(5):
        session.add(Grievance(code=f"PA-2611-{minute:04d}", member_id=member.id, category="wages",
                              created_at=late_evening + timedelta(minutes=minute)))
    await session.commit()
    assert not await limits.may_open_case(session, member.id, late_evening + timedelta(minutes=20), VN, 5)
    assert await limits.may_open_case(session, member.id, datetime(2026, 11, 25, 0, 1, tzinfo=VN), VN, 5)
    assert await limits.may_open_case(session, member.id, late_evening, VN, 6)


class RecordingLimiter(limits.BurstLimiter):
    """The limiter on a frozen clock, noting each verdict so the test knows when an update was dropped."""

    def __init__(self) -> None:
        self.now = 1000.0
        super().__init__(limit=3, window=10, pause=30, clock=lambda: self.now)
        self.verdicts: list[str] = []
        self.changed = asyncio.Event()

    def check(self, user_id: int) -> str:
        verdict = super().check(user_id)
        self.verdicts.append(verdict)
        self.changed.set()
        return verdict

    async def until(self, count: int) -> None:
        while len(self.verdicts) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)


async def test_a_burst_gets_one_slow_down_and_the_rest_is_dropped(harness):
    limiter = harness.application.bot_data[BURST_KEY] = RecordingLimiter()
    user = harness.user("Nhanh")
    for _ in range(3):
        assert (await harness.reply_to(user, "/help"))["text"] == t("vi", "help.text_no_consent")
    slow = await harness.reply_to(user, "/help")
    assert slow["text"] == t("vi", "limits.slow_down")
    await harness.send(user, "/help")  # dropped: no answer
    await harness.send(user, "/menu")  # dropped too
    await limiter.until(6)
    assert limiter.verdicts == ["ok", "ok", "ok", "warn", "drop", "drop"]
    limiter.now += 31  # the pause is over
    answer = await harness.reply_to(user, "/cancel")  # the first answer after the dropped /help and /menu
    assert answer["text"] == t("vi", "cancel.done")
    answers = bot_messages(harness, user)
    assert len(answers) == 5  # 3 answers, 1 slow down, 1 answer after the pause
    assert [m["text"] for m in answers].count(t("vi", "limits.slow_down")) == 1


async def test_a_muted_account_gets_one_answer_then_nothing_until_unmuted(harness, db_url):
    worker = harness.user("Phá")
    await ready_member(harness, worker)
    await harness.stop_bot()
    muted = congdoan("member", "mute", str(worker.id), db_url=db_url)
    assert muted.returncode == 0, muted.stderr
    assert congdoan("member", "mute", str(worker.id), db_url=db_url).stdout.strip() == "Already muted."
    await harness.start_bot()

    first = await harness.reply_to(worker, "/start")
    assert first["text"] == t("vi", "limits.muted")
    await harness.send(worker, "/report")  # nothing at all
    await harness.send(worker, "xin chào")
    # The admin lifts it from /admin → Units and officers → Muted accounts.
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    hub = await harness.reply_to(admin, "/admin")
    await harness.press(admin, hub, "adm:un:top:0")
    top = await harness.next(admin)
    await harness.press(admin, top, "adm:un:m")
    mutes = await harness.next(admin)
    assert t("vi", "units.muted_title") in mutes["text"]
    await harness.press(admin, mutes, f"adm:un:um:{worker.id}")
    unmuted = await harness.next(admin)
    assert unmuted["text"].startswith(t("vi", "units.unmuted"))
    back = await harness.reply_to(worker, "/help")
    assert back["text"] == t("vi", "help.text")
    assert len(bot_messages(harness, worker)) == 2  # the one answer while muted, then /help's
    async with harness.session_factory() as session:
        actions = (await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
        assert "member.muted" in actions and "member.unmuted" in actions
        assert await session.scalar(select(func.count()).select_from(MemberMute)) == 0


async def test_muting_by_case_code_keeps_the_author_unknown(harness, db_url):
    worker = harness.user("Ẩn", username="an_danh")
    member_id = await ready_member(harness, worker)
    grievance = await file_case(harness, member_id, identity="anonymous")
    await harness.stop_bot()
    result = congdoan("member", "mute", grievance.code, db_url=db_url)
    assert result.returncode == 0 and result.stdout.strip() == "Muted."
    assert str(worker.id) not in result.stdout and "an_danh" not in result.stdout
    assert congdoan("member", "mute", "PA-0000-9999", db_url=db_url).returncode == 1
    await harness.start_bot()
    assert (await harness.reply_to(worker, "/menu"))["text"] == t("vi", "limits.muted")
    async with harness.session_factory() as session:
        assert (await session.get_one(MemberMute, worker.id)).member_id == member_id
    assert (await member_of(harness, worker)).id == member_id


async def test_button_presses_are_not_counted_as_a_burst(harness):
    limiter = harness.application.bot_data[BURST_KEY] = RecordingLimiter()
    user = harness.user("Bấm")
    screen = await harness.reply_to(user, "/settings")
    for _ in range(6):  # more presses than the limit: each still answered
        query = await harness.press(user, screen, "set:nothing", force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    assert limiter.verdicts == ["ok"]  # only the typed /settings
