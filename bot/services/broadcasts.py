"""Broadcasts: who receives them (audience queries), when (schedules, quiet hours), and the per-recipient
delivery rows the sender works through (handlers/broadcast_jobs.py). No Telegram here.

Documents stored as JSON on a broadcast:
- content:  {"kind": "text"|"photo"|"document", "text": {"vi": html, "en": html|None}, "file_id": str|None,
             "attach": {"kind": "article"|"quiz"|"survey", "ref": slug or id} | None}
- audience: {"provinces": [code], "sectors": [code], "unit_id": id|None, "union": "member"|"not_yet"|None,
             "language": "vi"|"en"|None, "active_days": n|None, "exclude_open_cases": bool}
- schedule: {"kind": "now"} | {"kind": "once", "at": "YYYY-MM-DDTHH:MM"} (local time) |
            {"kind": "daily", "time": "HH:MM"} | {"kind": "weekly", "days": [0..6 Monday first], "time": …} |
            {"kind": "monthly", "day": 1..31, "time": …} (day 31 means the month's last day in shorter months)

Exclusions always applied: members blocked or erased, without a Telegram id, or opted out of the topic.
Queueing is one INSERT … SELECT, so a million recipients never pass through Python.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import officers
from bot.services.units import subtree_ids
from db.models import (
    Broadcast,
    BroadcastDelivery,
    BroadcastRun,
    CaseStatus,
    Grievance,
    Member,
    MemberStatus,
    TopicOptOut,
    UnionStatus,
    Unit,
    Workplace,
)

TOPICS = ("news", "quizzes", "surveys")
SCHEDULE_KINDS = ("now", "once", "daily", "weekly", "monthly")
OPEN_CASE = (CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED, CaseStatus.WAITING_WORKER)
DEFAULT_QUIET = (21 * 60, 7 * 60)
NO_QUIET = (0, 0)
# The quiet hours the composer offers: (start, end) in minutes after local midnight; NO_QUIET for urgent notices.
QUIET_PRESETS = (DEFAULT_QUIET, (22 * 60, 6 * 60), (20 * 60, 8 * 60), NO_QUIET)
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Delivery statuses. "skipped": opted out, blocked or erased between queueing and sending.
PENDING, SENT, BLOCKED, FAILED, SKIPPED = "pending", "sent", "blocked", "failed", "skipped"
FINAL = (SENT, BLOCKED, FAILED, SKIPPED)


def topic_of(content: dict[str, Any]) -> str:
    attach = (content.get("attach") or {}).get("kind")
    return {"quiz": "quizzes", "survey": "surveys"}.get(attach, "news")


def text_for(content: dict[str, Any], language: str) -> str:
    """The member's language, falling back to Vietnamese."""
    texts = content.get("text") or {}
    return texts.get(language) or texts.get("vi") or ""


def empty_audience() -> dict[str, Any]:
    return {"provinces": [], "sectors": [], "unit_id": None, "union": None, "language": None,
            "active_days": None, "exclude_open_cases": False}


# ----- who may compose, and for whom -----

@dataclass
class Scope:
    """Admins reach everyone; a unit officer only members under the units they serve."""

    is_admin: bool
    units: list[Unit]
    allowed: set[int]  # unit ids an officer may target (their units' subtrees)

    @property
    def may_compose(self) -> bool:
        return self.is_admin or bool(self.units)

    def may_target(self, unit_id: int | None) -> bool:
        return self.is_admin or (unit_id is not None and unit_id in self.allowed)


async def composer_scope(session: AsyncSession, member: Member, is_admin: bool) -> Scope:
    units = await officers.officer_units(session, member.id)
    allowed: set[int] = set()
    for unit in units:
        allowed |= await subtree_ids(session, unit.id)
    return Scope(is_admin, units, allowed)


# ----- audience -----

async def audience_query(session: AsyncSession, audience: dict[str, Any], topic: str,
                         now: datetime) -> Select[Any]:
    """select(Member.id) of everyone the audience reaches today, exclusions applied."""
    query = select(Member.id).where(
        Member.status == MemberStatus.ACTIVE, Member.telegram_id.is_not(None),
        ~exists().where(TopicOptOut.member_id == Member.id, TopicOptOut.topic == topic))
    if audience.get("provinces"):
        query = query.where(Member.province_code.in_(audience["provinces"]))
    if audience.get("sectors"):
        query = query.where(Member.sector.in_(audience["sectors"]))
    if audience.get("unit_id") is not None:
        units = await subtree_ids(session, audience["unit_id"])
        query = query.where(exists().where(Workplace.id == Member.workplace_id,
                                           Workplace.grassroots_unit_id.in_(units)))
    if audience.get("union"):
        query = query.where(Member.union_status == UnionStatus(audience["union"]))
    if audience.get("language"):
        query = query.where(Member.language == audience["language"])
    if audience.get("active_days"):
        query = query.where(Member.last_seen_at >= now - timedelta(days=int(audience["active_days"])))
    if audience.get("exclude_open_cases"):
        query = query.where(~exists().where(Grievance.member_id == Member.id, Grievance.status.in_(OPEN_CASE)))
    return query


async def count_audience(session: AsyncSession, audience: dict[str, Any], topic: str, now: datetime) -> int:
    query = await audience_query(session, audience, topic, now)
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def queue_deliveries(session: AsyncSession, run: BroadcastRun, audience: dict[str, Any], topic: str,
                           now: datetime) -> int:
    """One pending row per recipient, written set-based (INSERT … SELECT). Not committed here."""
    members = (await audience_query(session, audience, topic, now)).subquery()
    # Inlined constants (run.id is our own integer): PostgreSQL cannot type a bare parameter in a SELECT list.
    rows = select(literal_column(str(int(run.id))), members.c.id, literal_column(f"'{PENDING}'"))
    result = await session.execute(
        insert(BroadcastDelivery).from_select(["run_id", "member_id", "status"], rows))
    return int(result.rowcount or 0)


# ----- schedules -----

def parse_clock(text: str) -> time | None:
    """"8:00", "08:00", "8h30", "20.15" → a time; None when it is not one."""
    cleaned = text.strip().lower().replace("h", ":").replace(".", ":")
    hours, _, minutes = cleaned.partition(":")
    minutes = minutes or "0"
    if not (f"{hours}{minutes}".isascii() and hours.isdigit() and minutes.isdigit()) \
            or not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        return None
    return time(int(hours), int(minutes))


def parse_local_datetime(text: str) -> datetime | None:
    """"25/12/2026 08:00" (day first, as in Vietnam) → a naive local datetime."""
    day_part, _, clock_part = text.strip().partition(" ")
    pieces = day_part.replace("-", "/").replace(".", "/").split("/")
    clock = parse_clock(clock_part) if clock_part.strip() else None
    if len(pieces) != 3 or not all(p.isascii() and p.isdigit() for p in pieces) or clock is None:
        return None
    day, month, year = (int(p) for p in pieces)
    try:
        return datetime.combine(date(year, month, day), clock)
    except ValueError:
        return None


def _occurs_on(schedule: dict[str, Any], day: date) -> bool:
    kind = schedule["kind"]
    if kind == "daily":
        return True
    if kind == "weekly":
        return day.weekday() in schedule.get("days", [])
    if kind == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(int(schedule["day"]), last)
    return False


def occurrence_after(schedule: dict[str, Any], after: datetime, tz: tzinfo) -> datetime | None:
    """The first occurrence of a recurring schedule strictly after `after` (UTC), or None."""
    if schedule["kind"] not in ("daily", "weekly", "monthly"):
        return None
    clock = parse_clock(schedule["time"])
    assert clock is not None
    local = after.astimezone(tz)
    for offset in range(0, 400):
        day = local.date() + timedelta(days=offset)
        if not _occurs_on(schedule, day):
            continue
        candidate = datetime.combine(day, clock, tzinfo=tz)
        if candidate > local:
            return candidate.astimezone(UTC)
    return None


def first_run_at(schedule: dict[str, Any], now: datetime, tz: tzinfo) -> datetime | None:
    kind = schedule["kind"]
    if kind == "now":
        return now
    if kind == "once":
        at = datetime.fromisoformat(schedule["at"]).replace(tzinfo=tz).astimezone(UTC)
        return max(at, now)
    return occurrence_after(schedule, now - timedelta(seconds=1), tz)


def in_quiet_hours(at: datetime, quiet: tuple[int, int], tz: tzinfo) -> bool:
    start, end = quiet
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if start == end:
        return False
    return start <= minute or minute < end if start > end else start <= minute < end


def out_of_quiet_hours(at: datetime, quiet: tuple[int, int], tz: tzinfo) -> datetime:
    """`at`, or the end of the quiet hours it falls in (local time)."""
    if not in_quiet_hours(at, quiet, tz):
        return at
    local = at.astimezone(tz)
    end = datetime.combine(local.date(), time(quiet[1] // 60, quiet[1] % 60), tzinfo=tz)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def quiet_preset(start: int, end: int) -> tuple[int, int] | None:
    """(start, end) when it is one of QUIET_PRESETS, else None (callback data and drafts are not trusted)."""
    return (start, end) if (start, end) in QUIET_PRESETS else None


def _quiet(broadcast: Broadcast) -> tuple[int, int]:
    return broadcast.quiet_start, broadcast.quiet_end


def next_after(broadcast: Broadcast, after: datetime, tz: tzinfo) -> datetime | None:
    occurrence = occurrence_after(broadcast.schedule, after, tz)
    return out_of_quiet_hours(occurrence, _quiet(broadcast), tz) if occurrence else None


# ----- broadcasts and runs -----

async def create_broadcast(session: AsyncSession, *, member: Member, chat_id: int, language: str,
                           scope_unit_id: int | None, content: dict[str, Any], audience: dict[str, Any],
                           schedule: dict[str, Any], now: datetime, tz: tzinfo,
                           quiet: tuple[int, int] = DEFAULT_QUIET) -> Broadcast:
    """Committed. `quiet`: (start, end) in minutes after local midnight; equal values mean none."""
    broadcast = Broadcast(created_by_member_id=member.id, composer_chat_id=chat_id, composer_language=language,
                          scope_unit_id=scope_unit_id, topic=topic_of(content), content=content,
                          audience=audience, schedule=schedule, quiet_start=quiet[0], quiet_end=quiet[1],
                          status="active")
    first = first_run_at(schedule, now, tz)
    broadcast.next_run_at = out_of_quiet_hours(first, _quiet(broadcast), tz) if first else None
    session.add(broadcast)
    await session.commit()
    return broadcast


async def due_broadcast_ids(session: AsyncSession, now: datetime) -> list[int]:
    return list((await session.scalars(select(Broadcast.id).where(
        Broadcast.status == "active", Broadcast.next_run_at.is_not(None), Broadcast.next_run_at <= now))).all())


async def scheduled(session: AsyncSession) -> list[tuple[int, datetime]]:
    rows = await session.execute(select(Broadcast.id, Broadcast.next_run_at).where(
        Broadcast.status == "active", Broadcast.next_run_at.is_not(None)))
    return [(row[0], row[1]) for row in rows]


async def start_run(session: AsyncSession, broadcast_id: int, now: datetime, tz: tzinfo) -> BroadcastRun | None:
    """Start the due run of a broadcast: its audience snapshot queued, the next occurrence set. None when
    nothing is due (paused, cancelled, already started by another job, or in the quiet hours: then
    next_run_at moves to their end). Committed."""
    broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
    if broadcast is None or broadcast.status != "active" or broadcast.next_run_at is None \
            or broadcast.next_run_at > now:
        return None
    if in_quiet_hours(now, _quiet(broadcast), tz):
        broadcast.next_run_at = out_of_quiet_hours(now, _quiet(broadcast), tz)
        await session.commit()
        return None
    run = BroadcastRun(broadcast_id=broadcast.id, due_at=broadcast.next_run_at, status="running", started_at=now)
    session.add(run)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return None
    run.total = await queue_deliveries(session, run, broadcast.audience, broadcast.topic, now)
    broadcast.next_run_at = next_after(broadcast, max(now, run.due_at), tz)
    await session.commit()
    return run


async def unfinished_runs(session: AsyncSession) -> list[BroadcastRun]:
    """Runs with recipients left whose broadcast is not paused (a paused one waits for /admin's resume)."""
    return list((await session.scalars(
        select(BroadcastRun).join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
        .where(BroadcastRun.status == "running", Broadcast.status == "active").order_by(BroadcastRun.id))).all())


async def run_with_broadcast(session: AsyncSession, run_id: int) -> tuple[BroadcastRun, Broadcast] | None:
    row = (await session.execute(select(BroadcastRun, Broadcast).join(
        Broadcast, Broadcast.id == BroadcastRun.broadcast_id).where(BroadcastRun.id == run_id))).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    member_id: int
    chat_id: int
    language: str


async def claim_page(session: AsyncSession, run_id: int, topic: str, after_id: int,
                     limit: int) -> tuple[list[Recipient], int, int]:
    """The next pending recipients (by id, after after_id). Those who blocked the bot, erased their data
    or opted out since the queueing are marked skipped here. Returns them, the last id seen and how many
    were skipped."""
    opted_out = exists().where(TopicOptOut.member_id == Member.id, TopicOptOut.topic == topic)
    rows = (await session.execute(
        select(BroadcastDelivery.id, Member.id, Member.telegram_id, Member.language, Member.status,
               opted_out.label("out"))
        .join(Member, Member.id == BroadcastDelivery.member_id)
        .where(BroadcastDelivery.run_id == run_id, BroadcastDelivery.status == PENDING,
               BroadcastDelivery.id > after_id)
        .order_by(BroadcastDelivery.id).limit(limit))).all()
    recipients, skipped = [], []
    for delivery_id, member_id, chat_id, language, status, out in rows:
        if status != MemberStatus.ACTIVE or chat_id is None or out:
            skipped.append(delivery_id)
        else:
            recipients.append(Recipient(delivery_id, member_id, chat_id, language))
    if skipped:
        await session.execute(update(BroadcastDelivery).where(BroadcastDelivery.id.in_(skipped))
                              .values(status=SKIPPED))
        await session.commit()
    return recipients, rows[-1][0] if rows else after_id, len(skipped)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    member_id: int
    status: str
    error: str | None = None


async def record(session: AsyncSession, outcomes: Iterable[Outcome], now: datetime) -> None:
    """Write what happened to each recipient (one UPDATE per status and error), mark members who blocked
    the bot, commit."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    blocked: list[int] = []
    for outcome in outcomes:
        groups.setdefault((outcome.status, outcome.error), []).append(outcome.delivery_id)
        if outcome.status == BLOCKED:
            blocked.append(outcome.member_id)
    for (status, error), ids in groups.items():
        for chunk in _chunks(ids, 500):
            await session.execute(update(BroadcastDelivery).where(BroadcastDelivery.id.in_(chunk))
                                  .values(status=status, at=now, error=error))
    for chunk in _chunks(blocked, 500):
        # As bot.services.members.mark_blocked, for many at once: later audiences skip them.
        await session.execute(update(Member).where(Member.id.in_(chunk), Member.status == MemberStatus.ACTIVE)
                              .values(status=MemberStatus.BLOCKED))
    await session.commit()


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


async def run_counts(session: AsyncSession, run_id: int) -> dict[str, int]:
    rows = await session.execute(select(BroadcastDelivery.status, func.count()).where(
        BroadcastDelivery.run_id == run_id).group_by(BroadcastDelivery.status))
    counts = {status: 0 for status in (PENDING, *FINAL)}
    counts.update({status: int(count) for status, count in rows})
    return counts


async def set_progress_message(session: AsyncSession, run_id: int, message_id: int) -> None:
    await session.execute(update(BroadcastRun).where(BroadcastRun.id == run_id)
                          .values(progress_message_id=message_id))
    await session.commit()


async def defer_run(session: AsyncSession, run_id: int, until: datetime) -> None:
    await session.execute(update(BroadcastRun).where(BroadcastRun.id == run_id).values(not_before=until))
    await session.commit()


async def finish_run(session: AsyncSession, run_id: int, now: datetime) -> None:
    """The run is done (nothing pending); a broadcast with no further occurrence is finished."""
    run = await session.get(BroadcastRun, run_id)
    if run is None or run.status != "running":
        return
    run.status, run.finished_at = "done", now
    broadcast = await session.get(Broadcast, run.broadcast_id)
    if broadcast is not None and broadcast.status == "active" and broadcast.next_run_at is None:
        broadcast.status = "finished"
    await session.commit()


# ----- pause, resume, cancel (/admin) -----

async def control(session: AsyncSession, broadcast_id: int, action: str, now: datetime,
                  tz: tzinfo) -> Broadcast | None:
    """pause | resume | cancel. Returns the broadcast when it changed, None otherwise. Committed."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        return None
    if action == "pause" and broadcast.status == "active":
        broadcast.status = "paused"
    elif action == "resume" and broadcast.status == "paused":
        broadcast.status = "active"
        if broadcast.schedule["kind"] not in ("now", "once") and broadcast.next_run_at is not None \
                and broadcast.next_run_at < now:
            broadcast.next_run_at = next_after(broadcast, now, tz)  # no backlog of missed occurrences
    elif action == "cancel" and broadcast.status in ("active", "paused"):
        broadcast.status, broadcast.next_run_at = "cancelled", None
        running = select(BroadcastRun.id).where(BroadcastRun.broadcast_id == broadcast.id,
                                                BroadcastRun.status == "running")
        # Not sent and never will be: skipped, so the run's statistics add up (a send in flight now is
        # still recorded as sent when its outcome is written).
        await session.execute(update(BroadcastDelivery).where(BroadcastDelivery.run_id.in_(running),
                                                              BroadcastDelivery.status == PENDING)
                              .values(status=SKIPPED, error="cancelled", at=now))
        await session.execute(update(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast.id,
                                                         BroadcastRun.status == "running")
                              .values(status="cancelled", finished_at=now))
    else:
        return None
    await session.commit()
    return broadcast


async def open_broadcasts(session: AsyncSession, scope: Scope | None = None) -> list[tuple[Broadcast, bool]]:
    """Broadcasts scheduled, running or paused, with whether a run is sending; an officer's scope sees only
    broadcasts for their units."""
    running = exists().where(BroadcastRun.broadcast_id == Broadcast.id, BroadcastRun.status == "running")
    query = (select(Broadcast, running.label("running"))
             .where(Broadcast.status.in_(("active", "paused"))).order_by(Broadcast.id))
    if scope is not None and not scope.is_admin:
        query = query.where(Broadcast.scope_unit_id.in_(scope.allowed or {-1}))
    return [(row[0], bool(row[1])) for row in await session.execute(query)]


async def running_run_ids(session: AsyncSession, broadcast_id: int) -> list[int]:
    return list((await session.scalars(select(BroadcastRun.id).where(
        BroadcastRun.broadcast_id == broadcast_id, BroadcastRun.status == "running"))).all())


# ----- topic opt-outs -----

async def opted_out(session: AsyncSession, member_id: int) -> set[str]:
    return set((await session.scalars(select(TopicOptOut.topic).where(TopicOptOut.member_id == member_id))).all())


async def set_opt_out(session: AsyncSession, member_id: int, topic: str, out: bool) -> None:
    """Committed. Idempotent: pressing "stop" twice is one opt-out."""
    if topic not in TOPICS:
        raise ValueError(topic)
    current = await session.get(TopicOptOut, (member_id, topic))
    if out and current is None:
        session.add(TopicOptOut(member_id=member_id, topic=topic))
    elif not out and current is not None:
        await session.execute(delete(TopicOptOut).where(and_(TopicOptOut.member_id == member_id,
                                                             TopicOptOut.topic == topic)))
    await session.commit()


# ----- a group chat that became a supergroup -----

async def chat_migrated(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
    """Telegram said the chat moved (ChatMigrated): every stored reference follows it. Committed."""
    await session.execute(update(Unit).where(Unit.inbox_chat_id == old_chat_id).values(inbox_chat_id=new_chat_id))
    await session.execute(update(Member).where(Member.telegram_id == old_chat_id).values(telegram_id=new_chat_id))
    await session.execute(update(Broadcast).where(Broadcast.composer_chat_id == old_chat_id)
                          .values(composer_chat_id=new_chat_id))
    await session.commit()
