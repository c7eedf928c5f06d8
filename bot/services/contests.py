"""Quiz contests as unions run them ("cuộc thi tìm hiểu"): rounds with a start and an end, N questions drawn
per attempt (by a seed stored with the attempt), a time limit, up to `attempts_allowed` attempts of which the
best counts, and a tiebreak prediction of how many entrants will answer everything right.

Everything is checked here, on the server: whose attempt it is, which question is next, whether the deadline
passed. One answer per question is also a unique key in the database. Times are UTC datetimes; the contest
files give local Asia/Ho_Chi_Minh times, converted on loading.

Ranking (best attempt per member first, by the same order): higher score, then the prediction closest to
the actual number of entrants with everything right (no prediction is farthest), then the shorter time,
then the earlier submission. Members equal on every key share a rank (1, 2, 2, 4).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.quizzes import ContestSpec, Question, Quiz, record_points
from db.models import (
    Contest,
    ContestAnswer,
    ContestAttempt,
    ContestResult,
    ContestRound,
    LeaderboardOptIn,
    Member,
    MemberStatus,
    Unit,
    Workplace,
)

ATTEMPT_POINTS = 2
PREDICTION_MAX = 1_000_000
NO_PREDICTION_DISTANCE = PREDICTION_MAX * 10


class ContestError(Exception):
    pass


# ----- loading from the content file -----

def pool_of(spec: ContestSpec, quizzes: dict[str, Quiz]) -> list[dict]:
    return [question.to_json(slug) for slug in spec.quizzes for question in quizzes[slug].questions]


async def load_contest(session: AsyncSession, spec: ContestSpec, quizzes: dict[str, Quiz]) -> tuple[Contest, int, int]:
    """Create or update the contest and its rounds; returns (contest, rounds created, rounds updated).
    Once anyone has entered, the question pool and a started round's times can no longer change."""
    pool = pool_of(spec, quizzes)
    contest = await session.scalar(select(Contest).where(Contest.slug == spec.slug))
    entered = contest is not None and await _has_attempts(session, contest.id)
    if contest is None:
        contest = Contest(slug=spec.slug)
        session.add(contest)
    elif entered and (contest.pool != pool or contest.questions_per_attempt != spec.questions_per_attempt):
        raise ContestError("people have already entered: the question pool cannot change")
    contest.title, contest.tiebreak, contest.pool = spec.title, spec.tiebreak, pool
    contest.questions_per_attempt = spec.questions_per_attempt
    contest.time_limit_minutes, contest.attempts_allowed = spec.time_limit_minutes, spec.attempts
    await session.flush()
    existing = {r.number: r for r in await session.scalars(
        select(ContestRound).where(ContestRound.contest_id == contest.id))}
    created = updated = 0
    for item in spec.rounds:
        round_ = existing.get(item.number)
        if round_ is None:
            session.add(ContestRound(contest_id=contest.id, number=item.number, starts_at=item.starts_at,
                                     ends_at=item.ends_at))
            created += 1
        elif round_.closed_at is None:
            round_.starts_at, round_.ends_at = item.starts_at, item.ends_at
            updated += 1
    await session.commit()
    return contest, created, updated


async def _has_attempts(session: AsyncSession, contest_id: int) -> bool:
    count = await session.scalar(select(func.count(ContestAttempt.id)).join(
        ContestRound, ContestRound.id == ContestAttempt.round_id).where(ContestRound.contest_id == contest_id))
    return bool(count)


# ----- rounds -----

def is_open(round_: ContestRound, now: datetime) -> bool:
    return round_.closed_at is None and round_.starts_at <= now < round_.ends_at


async def get_round(session: AsyncSession, round_id: int) -> tuple[ContestRound, Contest] | None:
    round_ = await session.get(ContestRound, round_id)
    if round_ is None:
        return None
    return round_, await session.get(Contest, round_.contest_id)


async def open_rounds(session: AsyncSession, now: datetime) -> list[tuple[ContestRound, Contest]]:
    rows = await session.execute(
        select(ContestRound, Contest).join(Contest, Contest.id == ContestRound.contest_id)
        .where(ContestRound.closed_at.is_(None), ContestRound.starts_at <= now, ContestRound.ends_at > now)
        .order_by(ContestRound.ends_at, ContestRound.id))
    return [(r, c) for r, c in rows]


async def closed_rounds(session: AsyncSession, limit: int = 5) -> list[tuple[ContestRound, Contest]]:
    rows = await session.execute(
        select(ContestRound, Contest).join(Contest, Contest.id == ContestRound.contest_id)
        .where(ContestRound.closed_at.is_not(None)).order_by(ContestRound.closed_at.desc()).limit(limit))
    return [(r, c) for r, c in rows]


async def all_rounds(session: AsyncSession) -> list[tuple[ContestRound, Contest]]:
    rows = await session.execute(
        select(ContestRound, Contest).join(Contest, Contest.id == ContestRound.contest_id)
        .order_by(Contest.id, ContestRound.number))
    return [(r, c) for r, c in rows]


async def unclosed_rounds(session: AsyncSession) -> list[ContestRound]:
    return list(await session.scalars(select(ContestRound).where(ContestRound.closed_at.is_(None))))


async def mark_opened(session: AsyncSession, round_id: int, now: datetime) -> ContestRound | None:
    round_ = await session.get(ContestRound, round_id)
    if round_ is None or round_.opened_at is not None or not is_open(round_, now):
        return None
    round_.opened_at = now
    await session.commit()
    return round_


async def open_now(session: AsyncSession, round_id: int, now: datetime) -> ContestRound | None:
    """An admin opens a round ahead of its schedule; None when it is closed, open, or its end has passed."""
    round_ = await session.get(ContestRound, round_id)
    if round_ is None or round_.closed_at is not None or is_open(round_, now) or round_.ends_at <= now:
        return None
    round_.starts_at, round_.opened_at = now, now
    await session.commit()
    return round_


# ----- attempts -----

class StartOutcome(enum.StrEnum):
    STARTED = "started"
    RESUMED = "resumed"
    NOT_OPEN = "not_open"
    NO_ATTEMPTS_LEFT = "no_attempts_left"


@dataclass
class Started:
    outcome: StartOutcome
    attempt: ContestAttempt | None = None


async def attempts_of(session: AsyncSession, round_id: int, member_id: int) -> list[ContestAttempt]:
    return list(await session.scalars(select(ContestAttempt).where(
        ContestAttempt.round_id == round_id, ContestAttempt.member_id == member_id).order_by(ContestAttempt.number)))


def draw_questions(seed: int, pool_size: int, count: int) -> list[int]:
    return random.Random(seed).sample(range(pool_size), min(count, pool_size))


async def start_attempt(session: AsyncSession, round_id: int, member: Member, now: datetime,
                        seed: int | None = None) -> Started:
    found = await get_round(session, round_id)
    if found is None or not is_open(found[0], now):
        return Started(StartOutcome.NOT_OPEN)
    round_, contest = found
    attempts = await attempts_of(session, round_id, member.id)
    for attempt in attempts:
        if attempt.submitted_at is None:
            if now < attempt.deadline_at:
                return Started(StartOutcome.RESUMED, attempt)
            await _submit(session, attempt, attempt.deadline_at)
    if len(attempts) >= contest.attempts_allowed:
        await session.commit()
        return Started(StartOutcome.NO_ATTEMPTS_LEFT)
    seed = random.SystemRandom().randrange(2**62) if seed is None else seed
    attempt = ContestAttempt(
        round_id=round_id, member_id=member.id, number=len(attempts) + 1, seed=seed,
        questions=draw_questions(seed, len(contest.pool), contest.questions_per_attempt), started_at=now,
        deadline_at=min(now + timedelta(minutes=contest.time_limit_minutes), round_.ends_at), score=0)
    session.add(attempt)
    await session.commit()
    return Started(StartOutcome.STARTED, attempt)


async def answered_count(session: AsyncSession, attempt_id: int) -> int:
    return await session.scalar(select(func.count(ContestAnswer.id)).where(ContestAnswer.attempt_id == attempt_id))


def question_at(contest: Contest, attempt: ContestAttempt, position: int) -> Question:
    return Question.from_json(contest.pool[attempt.questions[position]])


class AnswerOutcome(enum.StrEnum):
    RECORDED = "recorded"  # counted (right or wrong)
    ALREADY = "already"  # that question was answered before
    LATE = "late"  # after the deadline: kept, not counted, the attempt is submitted
    FINISHED = "finished"  # the attempt was already submitted
    INVALID = "invalid"  # not this member's attempt, not the current question, or no such option


@dataclass
class Answered:
    outcome: AnswerOutcome
    correct: bool = False
    next_position: int | None = None  # the next question, or None when all are answered


async def own_attempt(session: AsyncSession, attempt_id: int, member_id: int) -> ContestAttempt | None:
    attempt = await session.get(ContestAttempt, attempt_id)
    return attempt if attempt is not None and attempt.member_id == member_id else None


async def answer(session: AsyncSession, attempt_id: int, member_id: int, position: int, chosen: int,
                 now: datetime) -> Answered:
    attempt = await own_attempt(session, attempt_id, member_id)
    if attempt is None or not 0 <= position < len(attempt.questions):
        return Answered(AnswerOutcome.INVALID)
    contest = await _contest_of(session, attempt)
    if not 0 <= chosen < len(question_at(contest, attempt, position).options):
        return Answered(AnswerOutcome.INVALID)
    done = await answered_count(session, attempt.id)
    if position < done:
        return Answered(AnswerOutcome.ALREADY)
    if attempt.submitted_at is not None:
        return Answered(AnswerOutcome.FINISHED)
    if position > done:
        return Answered(AnswerOutcome.INVALID)
    correct = question_at(contest, attempt, position).correct == chosen
    late = now >= attempt.deadline_at
    session.add(ContestAnswer(attempt_id=attempt.id, position=position, chosen=chosen, correct=correct,
                              late=late, answered_at=now))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return Answered(AnswerOutcome.ALREADY)
    if late:
        await _submit(session, attempt, attempt.deadline_at)
        await session.commit()
        return Answered(AnswerOutcome.LATE)
    await session.commit()
    following = position + 1
    return Answered(AnswerOutcome.RECORDED, correct, following if following < len(attempt.questions) else None)


class PredictionOutcome(enum.StrEnum):
    SUBMITTED = "submitted"
    LATE = "late"  # the deadline passed: submitted without a prediction
    NOT_READY = "not_ready"  # questions are still unanswered
    FINISHED = "finished"


async def predict(session: AsyncSession, attempt: ContestAttempt, prediction: int, now: datetime) -> PredictionOutcome:
    if attempt.submitted_at is not None:
        return PredictionOutcome.FINISHED
    if now >= attempt.deadline_at:
        await _submit(session, attempt, attempt.deadline_at)
        await session.commit()
        return PredictionOutcome.LATE
    if await answered_count(session, attempt.id) < len(attempt.questions):
        return PredictionOutcome.NOT_READY
    attempt.prediction = max(0, min(prediction, PREDICTION_MAX))
    await _submit(session, attempt, now)
    await session.commit()
    return PredictionOutcome.SUBMITTED


async def expire_if_due(session: AsyncSession, attempt: ContestAttempt, now: datetime) -> bool:
    """Submit an attempt whose deadline passed (without a prediction); True when it did."""
    if attempt.submitted_at is not None or now < attempt.deadline_at:
        return False
    await _submit(session, attempt, attempt.deadline_at)
    await session.commit()
    return True


async def _submit(session: AsyncSession, attempt: ContestAttempt, at: datetime) -> None:
    attempt.submitted_at = at
    attempt.score = await session.scalar(select(func.count(ContestAnswer.id)).where(
        ContestAnswer.attempt_id == attempt.id, ContestAnswer.correct.is_(True), ContestAnswer.late.is_(False)))
    attempt.duration_ms = int((at - attempt.started_at).total_seconds() * 1000)
    await record_points(session, attempt.member_id, "contest_attempt", ATTEMPT_POINTS, f"attempt:{attempt.id}", at)


async def _contest_of(session: AsyncSession, attempt: ContestAttempt) -> Contest:
    round_ = await session.get(ContestRound, attempt.round_id)
    return await session.get(Contest, round_.contest_id)


# ----- ranking -----

@dataclass(frozen=True)
class Entry:
    member_id: int
    attempt_id: int
    score: int
    prediction: int | None
    duration_ms: int
    submitted_at: datetime


def all_correct_count(entries: Iterable[Entry], questions: int) -> int:
    return len({entry.member_id for entry in entries if entry.score >= questions})


def sort_key(entry: Entry, actual: int) -> tuple[int, int, int, datetime]:
    distance = NO_PREDICTION_DISTANCE if entry.prediction is None else abs(entry.prediction - actual)
    return (-entry.score, distance, entry.duration_ms, entry.submitted_at)


def rank(entries: Sequence[Entry], questions: int) -> tuple[list[tuple[int, Entry]], int]:
    """(rank, best entry) per member, best first, and the number of entrants with everything right."""
    actual = all_correct_count(entries, questions)
    best: dict[int, Entry] = {}
    for entry in entries:
        held = best.get(entry.member_id)
        if held is None or sort_key(entry, actual) < sort_key(held, actual):
            best[entry.member_id] = entry
    ordered = sorted(best.values(), key=lambda e: (sort_key(e, actual), e.member_id))
    ranked: list[tuple[int, Entry]] = []
    for index, entry in enumerate(ordered):
        same = ranked and sort_key(ranked[-1][1], actual) == sort_key(entry, actual)
        ranked.append((ranked[-1][0] if same else index + 1, entry))
    return ranked, actual


async def close_round(session: AsyncSession, round_id: int, now: datetime) -> ContestRound | None:
    """Submit what is still running, rank the best attempts and store the results; None if already closed."""
    found = await get_round(session, round_id)
    if found is None or found[0].closed_at is not None:
        return None
    round_, contest = found
    round_.ends_at = min(round_.ends_at, now)
    attempts = list(await session.scalars(select(ContestAttempt).where(ContestAttempt.round_id == round_id)))
    for attempt in attempts:
        if attempt.submitted_at is None:
            await _submit(session, attempt, min(attempt.deadline_at, now))
    entries = [Entry(a.member_id, a.id, a.score, a.prediction, a.duration_ms or 0, a.submitted_at) for a in attempts]
    ranked, actual = rank(entries, contest.questions_per_attempt)
    for place, entry in ranked:
        session.add(ContestResult(round_id=round_id, member_id=entry.member_id, attempt_id=entry.attempt_id,
                                  rank=place, score=entry.score))
    round_.closed_at, round_.all_correct = now, actual
    await session.commit()
    return round_


async def close_now(session: AsyncSession, round_id: int, now: datetime) -> ContestRound | None:
    return await close_round(session, round_id, now)


async def results_to_notify(session: AsyncSession, round_id: int) -> list[tuple[ContestResult, Member]]:
    rows = await session.execute(
        select(ContestResult, Member).join(Member, Member.id == ContestResult.member_id)
        .where(ContestResult.round_id == round_id, ContestResult.notified_at.is_(None))
        .order_by(ContestResult.rank, ContestResult.id))
    return [(r, m) for r, m in rows]


async def rounds_with_unsent_results(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(ContestResult.round_id).where(
        ContestResult.notified_at.is_(None)).distinct()))


async def mark_notified(session: AsyncSession, result_id: int, now: datetime) -> None:
    result = await session.get(ContestResult, result_id)
    if result is not None:
        result.notified_at = now
        await session.commit()


async def entrants(session: AsyncSession, round_id: int) -> int:
    return await session.scalar(select(func.count(ContestResult.id)).where(ContestResult.round_id == round_id))


async def result_of(session: AsyncSession, round_id: int, member_id: int) -> ContestResult | None:
    return await session.scalar(select(ContestResult).where(
        ContestResult.round_id == round_id, ContestResult.member_id == member_id))


# ----- leaderboards -----

@dataclass(frozen=True)
class PersonRow:
    rank: int
    member_id: int
    name: str | None  # only for members who opted in; the alias uses member_id otherwise
    score: int


@dataclass(frozen=True)
class GroupRow:
    key: int  # unit id or province code
    name: str | None
    members: int
    entrants: int
    average_score: float

    @property
    def participation(self) -> float:
        return self.entrants / self.members if self.members else 0.0


async def set_show_name(session: AsyncSession, member: Member, show: bool) -> None:
    held = await session.get(LeaderboardOptIn, member.id)
    if show and held is None:
        session.add(LeaderboardOptIn(member_id=member.id))
    elif not show and held is not None:
        await session.delete(held)
    await session.commit()


async def shows_name(session: AsyncSession, member_id: int) -> bool:
    return await session.get(LeaderboardOptIn, member_id) is not None


def display_name(member: Member) -> str | None:
    name = " ".join(part for part in (member.first_name, member.last_name) if part)
    return name or None


async def person_board(session: AsyncSession, round_id: int, limit: int = 10) -> list[PersonRow]:
    rows = await session.execute(
        select(ContestResult, Member, LeaderboardOptIn.member_id)
        .join(Member, Member.id == ContestResult.member_id)
        .outerjoin(LeaderboardOptIn, LeaderboardOptIn.member_id == Member.id)
        .where(ContestResult.round_id == round_id).order_by(ContestResult.rank, ContestResult.id).limit(limit))
    return [PersonRow(result.rank, member.id, display_name(member) if opted else None, result.score)
            for result, member, opted in rows]


async def unit_board(session: AsyncSession, round_id: int, limit: int = 10) -> list[GroupRow]:
    """Grassroots units by participation rate (entrants / people registered at the unit's workplaces),
    then by average score."""
    unit_of = Workplace.grassroots_unit_id
    members = dict((await session.execute(
        select(unit_of, func.count(Member.id)).join(Workplace, Workplace.id == Member.workplace_id)
        .where(unit_of.is_not(None), Member.status != MemberStatus.ERASED).group_by(unit_of))).all())
    scores = await session.execute(
        select(unit_of, func.count(ContestResult.id), func.avg(ContestResult.score))
        .join(Member, Member.id == ContestResult.member_id).join(Workplace, Workplace.id == Member.workplace_id)
        .where(ContestResult.round_id == round_id, unit_of.is_not(None)).group_by(unit_of))
    rows = []
    for unit_id, count, average in scores:
        unit = await session.get(Unit, unit_id)
        rows.append(GroupRow(unit_id, unit.name if unit else None, max(members.get(unit_id, 0), count), count,
                             float(average or 0)))
    return _ordered(rows)[:limit]


async def province_board(session: AsyncSession, round_id: int, limit: int = 10) -> list[GroupRow]:
    province = Member.province_code
    members = dict((await session.execute(
        select(province, func.count(Member.id)).where(province.is_not(None), Member.status != MemberStatus.ERASED)
        .group_by(province))).all())
    scores = await session.execute(
        select(province, func.count(ContestResult.id), func.avg(ContestResult.score))
        .join(Member, Member.id == ContestResult.member_id)
        .where(ContestResult.round_id == round_id, province.is_not(None)).group_by(province))
    rows = [GroupRow(code, None, max(members.get(code, 0), count), count, float(average or 0))
            for code, count, average in scores]
    return _ordered(rows)[:limit]


def _ordered(rows: list[GroupRow]) -> list[GroupRow]:
    return sorted(rows, key=lambda r: (-r.participation, -r.average_score, -r.entrants, r.key))
