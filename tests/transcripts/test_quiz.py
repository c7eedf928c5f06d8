"""Quizzes and contests through the real application: a practice quiz with instant feedback; a contest round
with two attempts and the tiebreak, closed with each entrant told their rank; leaderboards; a restart in the
middle of an attempt; forged and stale buttons, a second answer, an answer after the time limit; /admin."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.services import contests, quizzes
from bot.services.officers import add_admin
from db.models import ContestAttempt, ContestResult, ContestRound, LeaderboardOptIn, Member, Point, Workplace
from db.types import utcnow
from handlers import contest_jobs
from tests.support.harness import buttons_of, t

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quizzes"
CONTEST_FILE = FIXTURES / "contests" / "luat-cong-doan-2026.yaml"
TITLE = "Cuộc thi tìm hiểu Luật Công đoàn 2024"


def use_fixtures(harness) -> dict[str, quizzes.Quiz]:
    harness.application.bot_data["quiz_dir"] = FIXTURES
    harness.application.bot_data.pop("quiz_library", None)
    return quizzes.load_quizzes(FIXTURES).quizzes


async def open_contest(harness):
    """The fixture contest loaded, with round 1 open since an hour and for another day, round 2 next week."""
    library = use_fixtures(harness)
    spec, _ = quizzes.load_contest(CONTEST_FILE, library)
    async with harness.session_factory() as session:
        contest, *_ = await contests.load_contest(session, spec, library)
        round_ = await session.scalar(select(ContestRound).where(ContestRound.contest_id == contest.id,
                                                                 ContestRound.number == 1))
        round_two = await session.scalar(select(ContestRound).where(ContestRound.contest_id == contest.id,
                                                                    ContestRound.number == 2))
        now = utcnow()
        round_.starts_at, round_.ends_at = now - timedelta(hours=1), now + timedelta(days=1)
        # the file's dates are fixed (December 2026): the tests must not depend on today's date
        round_two.starts_at, round_two.ends_at = now + timedelta(days=6), now + timedelta(days=13)
        await session.commit()
        return contest, round_


async def answer_text(harness, query_id) -> str:
    return (await harness.emulator.wait_answer(query_id))["text"]


async def next_sent(harness, user):
    while True:
        event = await harness.emulator.next_event(user)
        if event["kind"] == "sent":
            return event["message"]


async def test_a_practice_quiz_one_question_at_a_time_with_explanations(harness):
    library = use_fixtures(harness)
    lan = harness.user("Lan")
    home = await harness.reply_to(lan, "/quiz")
    assert home["text"].startswith(t("vi", "quiz.home").split("\n")[0])
    assert ("Bộ luật Lao động cơ bản", "quiz:practice:labour-code-basics") in buttons_of(home)
    await harness.press(lan, home, "quiz:practice:labour-code-basics")
    intro = await harness.next(lan)
    assert intro["text"] == t("vi", "quiz.practice_intro", title="Bộ luật Lao động cơ bản", count=3)
    quiz = library["labour-code-basics"]
    question = await harness.next(lan)
    assert question["text"].startswith("Câu 1/3") and "1/1/2021" in question["text"]
    wrong = [data for text, data in buttons_of(question) if text == "A"][0]
    await harness.press(lan, question, wrong)
    feedback = await harness.next(lan)
    assert feedback["message_id"] == question["message_id"] and not buttons_of(feedback)
    assert "❌" in feedback["text"] and quiz.questions[0].explanation["vi"] in feedback["text"]
    second = await harness.next(lan)
    assert second["text"].startswith("Câu 2/3")

    again = await harness.press(lan, question, wrong, force=True)  # the first question, answered already
    assert await answer_text(harness, again) == t("vi", "quiz.already_answered")
    forged = await harness.press(lan, second, "quiz:a:000000:1:0", force=True)
    assert await answer_text(harness, forged) == t("vi", "input.stale_button")
    out_of_range = await harness.press(lan, second, second["reply_markup"]["inline_keyboard"][0][0]
                                       ["callback_data"][:-1] + "7", force=True)
    assert await answer_text(harness, out_of_range) == t("vi", "input.stale_button")

    for position, message in ((1, second), (2, None)):
        message = message or await harness.next(lan)
        letter = "ABC"[quiz.questions[position].correct]
        await harness.press(lan, message, [d for text, d in buttons_of(message) if text == letter][0])
        assert "✅" in (await harness.next(lan))["text"]
    done = await harness.next(lan)
    assert done["text"] == t("vi", "quiz.practice_done", score=2, total=3)
    async with harness.session_factory() as session:
        points = list(await session.scalars(select(Point)))
    assert [(p.reason, p.amount, p.ref) for p in points] == [("practice_quiz", 1, "quiz:labour-code-basics")]

    unknown = await harness.press(lan, done, "quiz:practice:no-such-quiz", force=True)
    assert await answer_text(harness, unknown) == t("vi", "quiz.unknown")


async def play_attempt(harness, user, contest, round_, right: int, prediction: str | None):
    """Start an attempt from the round's screen, answer `right` questions correctly, type the prediction."""
    screen = await harness.reply_to(user, "/quiz")
    await harness.press(user, screen, "ct:list")
    listing = await harness.next(user)
    await harness.press(user, listing, f"ct:r:{round_.id}")
    info = await harness.next(user)
    start = [data for _, data in buttons_of(info) if data == f"ct:go:{round_.id}"]
    assert start, buttons_of(info)
    await harness.press(user, info, start[0])
    started = await next_sent(harness, user)
    assert "⏱" in started["text"]
    async with harness.session_factory() as session:
        attempt = await session.scalar(select(ContestAttempt).join(Member).where(
            Member.telegram_id == user.id).order_by(ContestAttempt.id.desc()))
    for position in range(3):
        question = await next_sent(harness, user)
        assert question["text"].startswith(f"Câu {position + 1}/3") and "⏰" in question["text"]
        correct = contests.question_at(contest, attempt, position).correct
        chosen = correct if position < right else (correct + 1) % len(
            contests.question_at(contest, attempt, position).options)
        await harness.press(user, question, f"ct:a:{attempt.id}:{position}:{chosen}")
        recorded = await harness.next(user)
        assert recorded["message_id"] == question["message_id"] and "✔️" in recorded["text"]
    tiebreak = await next_sent(harness, user)
    assert "🎯" in tiebreak["text"]
    if prediction is not None and prediction.isdigit():
        submitted = await harness.reply_to(user, prediction)
        assert submitted["text"].startswith("📨") and f"{right}/3" in submitted["text"]
    elif prediction is not None:
        await harness.send(user, prediction)
    return attempt


async def test_a_full_round_two_attempts_tiebreak_results_and_leaderboards(harness):
    contest, round_ = await open_contest(harness)
    lan, minh = harness.user("Lan"), harness.user("Minh")
    first = await play_attempt(harness, lan, contest, round_, 2, "abc")  # not a number: asked again
    retry = await harness.next(lan)
    assert retry["text"] == t("vi", "quiz.type_number")
    assert (await harness.reply_to(lan, "1"))["text"].startswith("📨")
    await play_attempt(harness, lan, contest, round_, 3, "1")  # the second attempt is the better one
    await play_attempt(harness, minh, contest, round_, 3, "7")  # as good, but a farther prediction

    screen = await harness.reply_to(lan, "/quiz")
    await harness.press(lan, screen, "ct:list")
    await harness.press(lan, await harness.next(lan), f"ct:r:{round_.id}")
    info = await harness.next(lan)
    assert t("vi", "quiz.no_attempts_left") in info["text"]
    assert f"ct:go:{round_.id}" not in [d for _, d in buttons_of(info)]
    third = await harness.press(lan, info, f"ct:go:{round_.id}", force=True)
    assert await answer_text(harness, third) == t("vi", "quiz.no_attempts_left")

    async with harness.session_factory() as session:  # Lan consented at onboarding, so her name is kept
        await session.execute(update(Member).where(Member.telegram_id == lan.id)
                              .values(first_name="Lan", consent_version="2026.1"))
        await session.commit()
    await harness.press(lan, screen, "ct:name:1", force=True)  # and she shows it on leaderboards
    assert t("vi", "quiz.name_shown") in [text for text, _ in buttons_of(await harness.next(lan))]

    assert await contest_jobs.close_and_announce(harness.application, round_.id, utcnow())
    lan_result, minh_result = await next_sent(harness, lan), await next_sent(harness, minh)
    assert lan_result["text"] == t("vi", "quiz.round_result", title=TITLE, number=1, score=3, total=3, rank=1,
                                   entrants=2, all_correct=2)
    assert t("vi", "quiz.round_result", title=TITLE, number=1, score=3, total=3, rank=2, entrants=2,
             all_correct=2) == minh_result["text"]
    async with harness.session_factory() as session:
        results = list(await session.scalars(select(ContestResult).order_by(ContestResult.rank)))
        assert all(r.notified_at is not None for r in results)
        assert results[0].attempt_id != first.id
        points = await session.scalar(select(Point.id).where(Point.reason == "contest_attempt").limit(1))
        assert points is not None
    assert not await contest_jobs.close_and_announce(harness.application, round_.id, utcnow())

    await harness.press(minh, minh_result, f"ct:lb:{round_.id}:0")
    people = await harness.next(minh)
    assert "1. Lan: 3" in people["text"]
    async with harness.session_factory() as session:
        minh_id = await session.scalar(select(Member.id).where(Member.telegram_id == minh.id))
    assert f"2. {t('vi', 'quiz.alias', number=minh_id)}: 3" in people["text"]
    await harness.press(minh, people, f"ct:lb:{round_.id}:1")
    assert t("vi", "quiz.board_units") in (await harness.next(minh))["text"]
    board = await harness.press(minh, people, f"ct:lb:{round_.id}:9", force=True)
    assert await answer_text(harness, board) == t("vi", "input.stale_button")


async def test_the_unit_board_counts_members_of_the_unit(harness):
    contest, round_ = await open_contest(harness)
    lan, hoa = harness.user("Lan"), harness.user("Hoa")
    await play_attempt(harness, lan, contest, round_, 2, "3")
    await harness.reply_to(hoa, "/quiz")  # Hoa is registered at the same workplace but does not play
    async with harness.session_factory() as session:
        place = await session.scalar(select(Workplace).where(Workplace.code == harness.demo["garment_workplace"]))
        await session.execute(update(Member).values(workplace_id=place.id, province_code=place.province_code))
        await session.commit()
    await contest_jobs.close_and_announce(harness.application, round_.id, utcnow())
    result = await next_sent(harness, lan)
    await harness.press(lan, result, f"ct:lb:{round_.id}:1")
    units = await harness.next(lan)
    assert "1. Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội: 1/2" in units["text"]
    assert "(50%)" in units["text"] and "2.0" in units["text"]
    await harness.press(lan, units, f"ct:lb:{round_.id}:2")
    assert "1/2" in (await harness.next(lan))["text"]


async def test_a_restart_in_the_middle_of_an_attempt_changes_nothing(harness):
    contest, round_ = await open_contest(harness)
    lan = harness.user("Lan")
    screen = await harness.reply_to(lan, "/quiz")
    await harness.press(lan, screen, "ct:list")
    await harness.press(lan, await harness.next(lan), f"ct:r:{round_.id}")
    await harness.press(lan, await harness.next(lan), f"ct:go:{round_.id}")
    await next_sent(harness, lan)
    question = await next_sent(harness, lan)
    async with harness.session_factory() as session:
        attempt = await session.scalar(select(ContestAttempt))
    await harness.press(lan, question, f"ct:a:{attempt.id}:0:0")
    await harness.next(lan)
    second = await next_sent(harness, lan)

    await harness.restart_bot()
    use_fixtures(harness)
    await harness.press(lan, second, f"ct:a:{attempt.id}:1:0")
    assert "✔️" in (await harness.next(lan))["text"]
    third = await next_sent(harness, lan)
    assert third["text"].startswith("Câu 3/3")
    await harness.restart_bot()
    await harness.press(lan, third, f"ct:a:{attempt.id}:2:1")
    await harness.next(lan)
    await next_sent(harness, lan)  # the tiebreak question
    await harness.restart_bot()
    submitted = await harness.reply_to(lan, "12")
    assert submitted["text"].startswith("📨") and "12" in submitted["text"]
    async with harness.session_factory() as session:
        stored = await session.get(ContestAttempt, attempt.id)
    assert stored.prediction == 12 and stored.submitted_at is not None


async def test_forged_stale_twice_and_late_answers(harness):
    contest, round_ = await open_contest(harness)
    lan, minh = harness.user("Lan"), harness.user("Minh")
    screen = await harness.reply_to(lan, "/quiz")
    await harness.press(lan, screen, "ct:list")
    await harness.press(lan, await harness.next(lan), f"ct:r:{round_.id}")
    await harness.press(lan, await harness.next(lan), f"ct:go:{round_.id}")
    await next_sent(harness, lan)
    question = await next_sent(harness, lan)
    async with harness.session_factory() as session:
        attempt = await session.scalar(select(ContestAttempt))

    someone_else = await harness.press(minh, question, f"ct:a:{attempt.id}:0:0", force=True)
    assert await answer_text(harness, someone_else) == t("vi", "input.stale_button")
    for forged in (f"ct:a:{attempt.id}:0:9", f"ct:a:{attempt.id}:2:0", "ct:a:x:0:0", "ct:zz", f"ct:go:{10**6}"):
        query = await harness.press(lan, question, forged, force=True)
        assert await answer_text(harness, query) in (t("vi", "input.stale_button"), t("vi", "quiz.round_not_open"))

    await harness.press(lan, question, f"ct:a:{attempt.id}:0:0")
    await harness.next(lan)
    second = await next_sent(harness, lan)
    twice = await harness.press(lan, question, f"ct:a:{attempt.id}:0:1", force=True)
    assert await answer_text(harness, twice) == t("vi", "quiz.answer_already")

    async with harness.session_factory() as session:  # the time limit passes
        await session.execute(update(ContestAttempt).values(deadline_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    late = await harness.press(lan, second, f"ct:a:{attempt.id}:1:0")
    assert await answer_text(harness, late) == t("vi", "quiz.answer_late")
    assert (await harness.next(lan))["text"].startswith("⏰")
    async with harness.session_factory() as session:
        stored = await session.get(ContestAttempt, attempt.id)
    assert stored.submitted_at is not None and stored.score <= 1
    assert (await harness.reply_to(lan, "5"))["text"] == t("vi", "input.not_understood")  # no prediction asked


async def test_admin_opens_and_closes_rounds(harness):
    contest, round_ = await open_contest(harness)
    lan = harness.user("Lan")
    refused = await harness.reply_to(lan, "/admin")
    assert refused["text"] == t("vi", "admin.not_allowed")
    forged = await harness.press(lan, refused, f"adm:ct:close:{round_.id}", force=True)
    assert await answer_text(harness, forged) == t("vi", "admin.not_allowed")
    await play_attempt(harness, lan, contest, round_, 1, "0")

    admin = harness.user("Quản trị")  # the emulator numbers users itself: made an admin in the database
    async with harness.session_factory() as session:
        await add_admin(session, admin.id, "test")
    hub = await harness.reply_to(admin, "/admin")
    assert hub["text"].startswith(t("vi", "admin.hub_title").split(":")[0])
    await harness.press(admin, hub, "adm:ct:list")
    overview = await harness.next(admin)
    assert overview["text"].startswith(t("vi", "admin.contests_title"))
    async with harness.session_factory() as session:
        round_two = await session.scalar(select(ContestRound).where(ContestRound.number == 2))
    assert (t("vi", "admin.open_round", number=2, slug=contest.slug), f"adm:ct:open:{round_two.id}") \
        in buttons_of(overview)
    await harness.press(admin, overview, f"adm:ct:open:{round_two.id}")
    opened = await harness.next(admin)
    assert f"adm:ct:close:{round_two.id}" in [d for _, d in buttons_of(opened)]
    await harness.press(admin, opened, f"adm:ct:close:{round_.id}")
    await harness.next(admin)
    result = await next_sent(harness, lan)
    assert result["text"].startswith("🏁")
    again = await harness.press(admin, opened, f"adm:ct:close:{round_.id}", force=True)
    assert await answer_text(harness, again) == t("vi", "admin.contest_unchanged")


async def test_rounds_close_on_schedule_and_unsent_results_go_out_after_a_restart(harness):
    contest, round_ = await open_contest(harness)
    lan = harness.user("Lan")
    await play_attempt(harness, lan, contest, round_, 3, "1")
    async with harness.session_factory() as session:
        await session.execute(update(ContestRound).where(ContestRound.id == round_.id)
                              .values(ends_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
        round_two = await session.scalar(select(ContestRound).where(ContestRound.number == 2))
    await harness.restart_bot()  # the schedule is rebuilt from the database: the overdue round closes at once
    queue = harness.application.job_queue
    assert queue.get_jobs_by_name(contest_jobs.TICK_NAME)
    assert queue.get_jobs_by_name(f"contest-open-{round_two.id}") and \
        queue.get_jobs_by_name(f"contest-close-{round_two.id}")
    result = await next_sent(harness, lan)
    assert result["text"] == t("vi", "quiz.round_result", title=TITLE, number=1, score=3, total=3, rank=1,
                               entrants=1, all_correct=1)
    assert await contest_jobs.send_results(harness.application, round_.id) == 0  # waits for the job's lock
    async with harness.session_factory() as session:
        assert (await session.get(ContestRound, round_.id)).closed_at is not None
        await session.execute(update(ContestResult).values(notified_at=None))  # as if the bot stopped mid-way
        await session.commit()
    await harness.restart_bot()
    await contest_jobs.tick(harness.application, utcnow())
    assert (await next_sent(harness, lan))["text"] == result["text"]
    await contest_jobs.tick(harness.application, utcnow())  # nothing more to send
    async with harness.session_factory() as session:
        assert await session.scalar(select(LeaderboardOptIn)) is None
        assert all(r.notified_at for r in await session.scalars(select(ContestResult)))


async def test_a_prediction_after_the_time_limit_does_not_count(harness):
    contest, round_ = await open_contest(harness)
    lan = harness.user("Lan")
    attempt = await play_attempt(harness, lan, contest, round_, 2, None)  # stops at the tiebreak question
    async with harness.session_factory() as session:
        await session.execute(update(ContestAttempt).values(deadline_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    late = await harness.reply_to(lan, "9")
    assert late["text"].startswith("⏰") and "2/3" in late["text"]
    async with harness.session_factory() as session:
        stored = await session.get(ContestAttempt, attempt.id)
    assert stored.prediction is None and stored.score == 2 and stored.submitted_at is not None
    assert (await harness.reply_to(lan, "10"))["text"] == t("vi", "input.not_understood")  # nothing pending now


async def test_an_english_speaker_practises_in_english(harness):
    use_fixtures(harness)
    john = harness.user("John", language_code="en")
    home = await harness.reply_to(john, "/quiz")
    assert home["text"].startswith("🏆 Quizzes and contests")
    await harness.press(john, home, "quiz:practice:trade-union-law-2024")
    assert (await harness.next(john))["text"] == t("en", "quiz.practice_intro", title="Trade Union Law 2024", count=3)
    question = await harness.next(john)
    assert question["text"].startswith("Question 1/3") and "1 July 2025" in question["text"]
    await harness.press(john, question, [d for text, d in buttons_of(question) if text == "B"][0])
    feedback = await harness.next(john)
    assert "✅ Correct!" in feedback["text"] and "took effect on 1 July 2025" in feedback["text"]


async def test_a_round_past_its_end_not_yet_closed_offers_close_not_open(harness):
    contest, round_ = await open_contest(harness)
    lan = harness.user("Lan")
    await play_attempt(harness, lan, contest, round_, 1, "0")
    async with harness.session_factory() as session:
        await session.execute(update(ContestRound).where(ContestRound.id == round_.id)
                              .values(ends_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await add_admin(session, admin.id, "test")
    hub = await harness.reply_to(admin, "/admin")
    await harness.press(admin, hub, "adm:ct:list")
    overview = await harness.next(admin)
    assert t("vi", "admin.round_ended") in overview["text"]
    pressable = [data for _, data in buttons_of(overview)]
    assert f"adm:ct:close:{round_.id}" in pressable and f"adm:ct:open:{round_.id}" not in pressable
    await harness.press(admin, overview, f"adm:ct:close:{round_.id}")
    await harness.next(admin)
    assert (await next_sent(harness, lan))["text"].startswith("🏁")


def stop_the_tick(harness) -> None:
    """These tests drive the tick themselves: the minute job must not send in between."""
    for job in harness.application.job_queue.get_jobs_by_name(contest_jobs.TICK_NAME):
        job.schedule_removal()


def results_in(harness, user) -> list[str]:
    """The round results that reached the user's chat."""
    return [m["text"] for m in harness.emulator.messages(user) if m.get("text", "").startswith("🏁")]


async def told(harness) -> dict[int, bool]:
    async with harness.session_factory() as session:
        rows = await session.execute(select(Member.telegram_id, ContestResult.notified_at)
                                     .join(Member, Member.id == ContestResult.member_id))
        return {telegram_id: notified_at is not None for telegram_id, notified_at in rows}


async def test_a_result_refused_with_429_waits_for_a_later_tick_and_arrives_once(harness):
    contest, round_ = await open_contest(harness)
    lan, minh = harness.user("Lan"), harness.user("Minh")
    await play_attempt(harness, lan, contest, round_, 3, "1")  # rank 1: her result goes first
    await play_attempt(harness, minh, contest, round_, 1, "1")
    stop_the_tick(harness)
    # One more 429 than the rate limiter's 3 retries (bot/app.py): the send fails.
    harness.emulator.add_429(method="sendMessage", chat_id=lan, times=4, retry_after=1)
    assert await contest_jobs.close_and_announce(harness.application, round_.id, utcnow())
    assert len([c for c in harness.emulator.calls_of("sendMessage")
                if c.params.get("chat_id") == lan.id and c.status == 429]) == 4
    # Lan is left for later, and the 429 paused the batch: Minh waits too.
    assert await told(harness) == {lan.id: False, minh.id: False}
    assert results_in(harness, lan) == [] and results_in(harness, minh) == []

    await harness.restart_bot()  # the database says who is still owed a result
    stop_the_tick(harness)
    await contest_jobs.tick(harness.application, utcnow())
    assert await told(harness) == {lan.id: True, minh.id: True}
    await contest_jobs.tick(harness.application, utcnow())  # nothing more to send
    assert results_in(harness, lan) == [t("vi", "quiz.round_result", title=TITLE, number=1, score=3, total=3,
                                          rank=1, entrants=2, all_correct=1)]
    assert len(results_in(harness, minh)) == 1


async def test_a_blocked_entrant_is_marked_and_the_others_get_their_results(harness):
    contest, round_ = await open_contest(harness)
    lan, minh = harness.user("Lan"), harness.user("Minh")
    await play_attempt(harness, lan, contest, round_, 3, "1")  # rank 1: her result goes first
    await play_attempt(harness, minh, contest, round_, 1, "1")
    stop_the_tick(harness)
    harness.emulator.block_chat(lan)
    assert await contest_jobs.send_results(harness.application, round_.id) == 0  # not closed: no results yet
    assert await contest_jobs.close_and_announce(harness.application, round_.id, utcnow())
    assert await told(harness) == {lan.id: True, minh.id: True}
    assert results_in(harness, lan) == [] and len(results_in(harness, minh)) == 1
    tries = len(harness.emulator.calls_of("sendMessage"))
    await contest_jobs.tick(harness.application, utcnow())
    assert len(harness.emulator.calls_of("sendMessage")) == tries  # Lan is not tried again
    async with harness.session_factory() as session:
        assert (await session.scalar(select(Member.status).where(Member.telegram_id == lan.id))) == "blocked"
