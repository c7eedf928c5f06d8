"""Contest rules on the server: rounds, drawn questions, one answer per question, deadlines, attempts (the
best counts), the tiebreak ranking with ties on every key, results at closing, and leaderboards normalised
by membership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.services import contests, quizzes
from bot.services.contests import AnswerOutcome, Entry, PredictionOutcome, StartOutcome
from db.models import ContestAttempt, ContestResult, ContestRound, Member, Point, Unit, Workplace

FIXTURES = Path(__file__).parent / "fixtures" / "quizzes"
OPENED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi on day one of round 1
T0 = datetime(2026, 12, 1, tzinfo=UTC)


async def loaded_contest(session):
    library = quizzes.load_quizzes(FIXTURES).quizzes
    spec, _ = quizzes.load_contest(FIXTURES / "contests" / "luat-cong-doan-2026.yaml", library)
    contest, created, updated = await contests.load_contest(session, spec, library)
    round_ = await session.scalar(select(ContestRound).where(ContestRound.number == 1))
    return contest, round_, spec, library


async def new_member(session, telegram_id, **fields) -> Member:
    member = Member(telegram_id=telegram_id, language="vi", first_name=f"Tên{telegram_id}", **fields)
    session.add(member)
    await session.commit()
    return member


async def play(session, contest, round_id, member, right: int, at=OPENED, prediction: int | None = 5,
               seconds_each: int = 10) -> ContestAttempt:
    """One attempt: the first `right` answers correct, the others wrong, then the prediction."""
    started = await contests.start_attempt(session, round_id, member, at)
    attempt = started.attempt
    for position in range(len(attempt.questions)):
        question = contests.question_at(contest, attempt, position)
        chosen = question.correct if position < right else (question.correct + 1) % len(question.options)
        answered = await contests.answer(session, attempt.id, member.id, position, chosen,
                                         at + timedelta(seconds=seconds_each * (position + 1)))
        assert answered.outcome is AnswerOutcome.RECORDED
    if prediction is not None:
        done = at + timedelta(seconds=seconds_each * (len(attempt.questions) + 1))
        assert await contests.predict(session, attempt, prediction, done) is PredictionOutcome.SUBMITTED
    return attempt


async def test_loading_creates_then_updates_and_protects_the_pool(session):
    contest, round_, spec, library = await loaded_contest(session)
    assert len(contest.pool) == 6 and round_.starts_at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    again = await contests.load_contest(session, spec, library)
    assert again[1:] == (0, 2)
    member = await new_member(session, 1)
    await play(session, contest, round_.id, member, 3)
    changed = quizzes.ContestSpec(**{**spec.__dict__, "quizzes": ("labour-code-basics",)})
    with pytest.raises(contests.ContestError):
        await contests.load_contest(session, changed, library)


async def test_questions_are_drawn_from_the_stored_seed(session):
    contest, round_, *_ = await loaded_contest(session)
    member = await new_member(session, 2)
    started = await contests.start_attempt(session, round_.id, member, OPENED, seed=1234)
    assert started.outcome is StartOutcome.STARTED
    assert started.attempt.seed == 1234
    assert started.attempt.questions == contests.draw_questions(1234, 6, 3)
    assert len(set(started.attempt.questions)) == 3
    assert started.attempt.deadline_at == OPENED + timedelta(minutes=20)


async def test_a_round_outside_its_times_cannot_be_entered(session):
    contest, round_, *_ = await loaded_contest(session)
    member = await new_member(session, 3)
    before = await contests.start_attempt(session, round_.id, member, round_.starts_at - timedelta(seconds=1))
    after = await contests.start_attempt(session, round_.id, member, round_.ends_at)
    assert before.outcome is after.outcome is StartOutcome.NOT_OPEN


async def test_the_deadline_never_passes_the_end_of_the_round(session):
    contest, round_, *_ = await loaded_contest(session)
    member = await new_member(session, 4)
    late_start = round_.ends_at - timedelta(minutes=5)
    started = await contests.start_attempt(session, round_.id, member, late_start)
    assert started.attempt.deadline_at == round_.ends_at


async def test_one_answer_per_question_checked_on_the_server(session):
    contest, round_, *_ = await loaded_contest(session)
    member, other = await new_member(session, 5), await new_member(session, 6)
    attempt = (await contests.start_attempt(session, round_.id, member, OPENED)).attempt
    at = OPENED + timedelta(seconds=5)
    assert (await contests.answer(session, attempt.id, other.id, 0, 0, at)).outcome is AnswerOutcome.INVALID
    assert (await contests.answer(session, attempt.id, member.id, 1, 0, at)).outcome is AnswerOutcome.INVALID
    assert (await contests.answer(session, attempt.id, member.id, 0, 9, at)).outcome is AnswerOutcome.INVALID
    assert (await contests.answer(session, attempt.id, member.id, 7, 0, at)).outcome is AnswerOutcome.INVALID
    first = await contests.answer(session, attempt.id, member.id, 0, 0, at)
    assert first.outcome is AnswerOutcome.RECORDED and first.next_position == 1
    assert (await contests.answer(session, attempt.id, member.id, 0, 1, at)).outcome is AnswerOutcome.ALREADY
    assert await contests.answered_count(session, attempt.id) == 1


async def test_a_late_answer_does_not_count_and_submits_the_attempt(session):
    contest, round_, *_ = await loaded_contest(session)
    member = await new_member(session, 7)
    attempt = (await contests.start_attempt(session, round_.id, member, OPENED)).attempt
    correct = [contests.question_at(contest, attempt, i).correct for i in range(3)]
    await contests.answer(session, attempt.id, member.id, 0, correct[0], OPENED + timedelta(minutes=1))
    late = await contests.answer(session, attempt.id, member.id, 1, correct[1], attempt.deadline_at)
    assert late.outcome is AnswerOutcome.LATE
    assert attempt.submitted_at == attempt.deadline_at and attempt.score == 1
    assert attempt.duration_ms == 20 * 60 * 1000
    after = await contests.answer(session, attempt.id, member.id, 2, correct[2], attempt.deadline_at)
    assert after.outcome is AnswerOutcome.FINISHED
    assert await contests.predict(session, attempt, 3, attempt.deadline_at) is PredictionOutcome.FINISHED


async def test_the_prediction_comes_after_the_questions_and_before_the_deadline(session):
    contest, round_, *_ = await loaded_contest(session)
    member = await new_member(session, 8)
    attempt = await play(session, contest, round_.id, member, 2, prediction=None)
    early = (await contests.start_attempt(session, round_.id, await new_member(session, 9), OPENED)).attempt
    assert await contests.predict(session, early, 4, OPENED) is PredictionOutcome.NOT_READY
    assert await contests.predict(session, attempt, 4, attempt.deadline_at) is PredictionOutcome.LATE
    assert attempt.prediction is None and attempt.score == 2


async def test_two_attempts_at_most_and_a_running_one_resumes(session):
    contest, round_, *_ = await loaded_contest(session)
    member = await new_member(session, 10)
    first = (await contests.start_attempt(session, round_.id, member, OPENED)).attempt
    resumed = await contests.start_attempt(session, round_.id, member, OPENED + timedelta(minutes=1))
    assert resumed.outcome is StartOutcome.RESUMED and resumed.attempt.id == first.id
    # The first attempt runs out unfinished: starting again submits it and opens the second.
    second = await contests.start_attempt(session, round_.id, member, OPENED + timedelta(minutes=30))
    assert second.outcome is StartOutcome.STARTED and second.attempt.number == 2
    assert first.submitted_at == first.deadline_at
    await contests.expire_if_due(session, second.attempt, second.attempt.deadline_at)
    third = await contests.start_attempt(session, round_.id, member, OPENED + timedelta(hours=2))
    assert third.outcome is StartOutcome.NO_ATTEMPTS_LEFT


async def test_the_best_attempt_counts_and_closing_ranks_everyone(session):
    contest, round_, *_ = await loaded_contest(session)
    ana, binh, chi = [await new_member(session, 20 + i) for i in range(3)]
    await play(session, contest, round_.id, ana, 3, prediction=2)
    await play(session, contest, round_.id, ana, 1, at=OPENED + timedelta(hours=1))  # worse: ignored
    await play(session, contest, round_.id, binh, 1, prediction=2)
    await play(session, contest, round_.id, binh, 3, at=OPENED + timedelta(hours=1), prediction=1)  # better
    running = (await contests.start_attempt(session, round_.id, chi, round_.ends_at - timedelta(minutes=10))).attempt
    closed = await contests.close_round(session, round_.id, round_.ends_at)
    assert closed.all_correct == 2 and running.submitted_at == round_.ends_at and running.score == 0
    results = {r.member_id: r for r in await session.scalars(select(ContestResult))}
    assert (results[ana.id].rank, results[ana.id].score) == (1, 3)  # prediction 2 is exactly right
    assert (results[binh.id].rank, results[binh.id].score) == (2, 3)
    assert results[chi.id].rank == 3
    assert await contests.close_round(session, round_.id, round_.ends_at) is None
    points = list(await session.scalars(select(Point).where(Point.reason == "contest_attempt")))
    assert len(points) == 5 and {p.amount for p in points} == {contests.ATTEMPT_POINTS}


def entry(member, score=3, prediction=5, duration=60_000, second=0, attempt=None):
    return Entry(member, attempt or member * 10, score, prediction, duration, T0 + timedelta(seconds=second))


def ranks(entries, questions=3):
    ranked, _ = contests.rank(entries, questions)
    return [(place, e.member_id) for place, e in ranked]


def test_score_first_then_the_closest_prediction():
    # Members 1, 2 and 3 have everything right, so the actual number is 3.
    entries = [entry(1, prediction=10), entry(2, prediction=3), entry(3, prediction=None), entry(4, score=2)]
    assert ranks(entries) == [(1, 2), (2, 1), (3, 3), (4, 4)]


def test_equal_distance_predictions_fall_to_time_then_submission():
    # actual = 2: predictions 1 and 3 are equally close.
    entries = [entry(1, prediction=3, duration=50_000), entry(2, prediction=1, duration=40_000)]
    assert ranks(entries) == [(1, 2), (2, 1)]
    same_time = [entry(1, prediction=3, second=5), entry(2, prediction=1, second=4)]
    assert ranks(same_time) == [(1, 2), (2, 1)]


def test_a_tie_on_every_key_shares_the_rank():
    entries = [entry(1), entry(2), entry(3, duration=70_000)]
    assert ranks(entries) == [(1, 1), (1, 2), (3, 3)]


def test_the_best_attempt_of_a_member_is_chosen_by_the_same_order():
    entries = [entry(1, score=2, attempt=11), entry(1, score=3, prediction=1, attempt=12),
               entry(1, score=3, prediction=50, attempt=13)]
    ranked, actual = contests.rank(entries, 3)
    assert actual == 1 and [e.attempt_id for _, e in ranked] == [12]


entries_strategy = st.lists(st.builds(
    entry, member=st.integers(1, 8), score=st.integers(0, 3),
    prediction=st.one_of(st.none(), st.integers(0, 10)), duration=st.integers(1, 5) .map(lambda s: s * 1000),
    second=st.integers(0, 3), attempt=st.integers(1, 10_000)), min_size=1, max_size=20)


@given(entries_strategy, st.randoms())
def test_ranking_properties(entries, rnd):
    ranked, actual = contests.rank(entries, 3)
    assert len(ranked) == len({e.member_id for e in entries})
    places = [place for place, _ in ranked]
    assert places[0] == 1 and places == sorted(places)
    keys = [contests.sort_key(e, actual) for _, e in ranked]
    assert keys == sorted(keys)
    for (place_a, a), (place_b, b) in zip(ranked, ranked[1:], strict=False):
        assert (place_a == place_b) == (contests.sort_key(a, actual) == contests.sort_key(b, actual))
    for _, best in ranked:  # nobody's other attempt would have ranked better
        own = [e for e in entries if e.member_id == best.member_id]
        assert contests.sort_key(best, actual) == min(contests.sort_key(e, actual) for e in own)
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    again, _ = contests.rank(shuffled, 3)
    assert [(p, e.member_id, contests.sort_key(e, actual)) for p, e in again] == \
        [(p, e.member_id, contests.sort_key(e, actual)) for p, e in ranked]


async def test_leaderboards_are_normalised_by_membership(session):
    contest, round_, *_ = await loaded_contest(session)
    small = Unit(code="CDCS-A", name="CĐCS A", level=4, province_code=1)
    large = Unit(code="CDCS-B", name="CĐCS B", level=4, province_code=79)
    session.add_all([small, large])
    await session.flush()
    place_a = Workplace(code="WP-A", name="A", search_key="a", province_code=1, grassroots_unit_id=small.id)
    place_b = Workplace(code="WP-B", name="B", search_key="b", province_code=79, grassroots_unit_id=large.id)
    session.add_all([place_a, place_b])
    await session.commit()
    a1 = await new_member(session, 31, workplace_id=place_a.id, province_code=1)
    b = [await new_member(session, 40 + i, workplace_id=place_b.id, province_code=79) for i in range(4)]
    await play(session, contest, round_.id, a1, 1)
    await play(session, contest, round_.id, b[0], 3)
    await play(session, contest, round_.id, b[1], 2)
    await contests.set_show_name(session, b[0], True)
    await contests.close_round(session, round_.id, round_.ends_at)

    units = await contests.unit_board(session, round_.id)
    assert [(u.name, u.entrants, u.members, u.participation) for u in units] == [
        ("CĐCS A", 1, 1, 1.0), ("CĐCS B", 2, 4, 0.5)]
    assert units[1].average_score == 2.5
    provinces = await contests.province_board(session, round_.id)
    assert [(p.key, p.entrants, p.members) for p in provinces] == [(1, 1, 1), (79, 2, 4)]
    people = await contests.person_board(session, round_.id)
    assert [(p.rank, p.name, p.member_id) for p in people] == [
        (1, "Tên40", b[0].id), (2, None, b[1].id), (3, None, a1.id)]
    await contests.set_show_name(session, b[0], False)
    assert (await contests.person_board(session, round_.id))[0].name is None


def test_congdoan_contest_load_creates_then_updates(db_url, tmp_path):
    from tests.test_cli import congdoan

    args = ("contest", "load", str(FIXTURES / "contests" / "luat-cong-doan-2026.yaml"), "--quiz-dir", str(FIXTURES))
    first = congdoan(*args, db_url=db_url)
    assert first.returncode == 0, first.stderr
    assert "luat-cong-doan-2026: 6 questions in the pool; rounds: 2 created, 0 updated" in first.stdout
    again = congdoan(*args, db_url=db_url)
    assert "rounds: 0 created, 2 updated" in again.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("slug: x\nquizzes: [nope]\n", encoding="utf-8")
    refused = congdoan("contest", "load", str(broken), "--quiz-dir", str(FIXTURES), db_url=db_url)
    assert refused.returncode == 1 and "unknown or invalid quiz 'nope'" in refused.stderr
    assert "Nothing loaded" in refused.stderr


async def test_an_admin_opens_a_round_early_but_not_one_that_ended(session):
    contest, round_, *_ = await loaded_contest(session)
    round_two = await session.scalar(select(ContestRound).where(ContestRound.number == 2))
    early = OPENED - timedelta(days=1)
    assert await contests.open_now(session, round_two.id, early) is not None
    assert contests.is_open(round_two, early) and round_two.opened_at == early
    assert await contests.open_now(session, round_two.id, early) is None  # already open
    assert await contests.open_now(session, round_.id, round_.ends_at) is None  # its end has passed
