"""Units and officers as admins and unit admins manage them: the unit tree, officers per unit, inbox
status, invites and revocations, and what happens when the bot loses a unit's inbox group.

Admins manage every unit; a unit admin manages the subtrees of the units they are unit admin of, and
nothing else. Every function that changes something takes the scope and re-checks it (callback data
can be forged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from rapidfuzz import fuzz, process
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, officers
from bot.services.cases import OPEN_STATUSES
from bot.services.units import subtree_ids
from bot.text import fold, nfc, search_key, vietnamese_sort_key
from db.models import Grievance, Member, Officer, OfficerInvite, OfficerRole, Unit
from db.types import utcnow


class NotAllowed(Exception):
    """Outside the person's scope, or the thing is gone (both look the same to a forger)."""


@dataclass(frozen=True)
class Scope:
    """The units someone may manage: None means all of them (the admins)."""

    units: frozenset[int] | None
    roots: tuple[int, ...]  # where their tree starts (unit admins); empty for admins

    def covers(self, unit_id: int | None) -> bool:
        return unit_id is not None and (self.units is None or unit_id in self.units)


async def scope_of(session: AsyncSession, member: Member | None, is_admin: bool) -> Scope | None:
    """None: this person manages nothing."""
    if is_admin:
        return Scope(None, ())
    if member is None:
        return None
    roots = list(await session.scalars(select(Officer.unit_id).where(
        Officer.member_id == member.id, Officer.role == OfficerRole.UNIT_ADMIN, Officer.revoked_at.is_(None))
        .order_by(Officer.unit_id)))
    if not roots:
        return None
    units: set[int] = set()
    for unit_id in roots:
        units |= await subtree_ids(session, unit_id)
    return Scope(frozenset(units), tuple(roots))


async def top_units(session: AsyncSession, scope: Scope) -> list[Unit]:
    """Where the tree starts: the level-1 units for admins, the unit admin's own units otherwise (one
    inside another's subtree is reached from there)."""
    if scope.units is None:
        query = select(Unit).where(Unit.parent_id.is_(None))
    else:
        query = select(Unit).where(Unit.id.in_(scope.roots))
    units = list(await session.scalars(query.order_by(Unit.level, Unit.code)))
    if scope.units is not None:
        nested: set[int] = set()
        for unit in units:
            nested |= (await subtree_ids(session, unit.id)) - {unit.id}
        units = [unit for unit in units if unit.id not in nested]
    return units


@dataclass(frozen=True)
class UnitInfo:
    unit: Unit
    parent_in_scope: bool
    officers: int
    open_cases: int
    children: list[Unit]


async def unit_info(session: AsyncSession, unit_id: int, scope: Scope) -> UnitInfo:
    unit = await session.get(Unit, unit_id) if scope.covers(unit_id) else None
    if unit is None:
        raise NotAllowed
    officer_count = await session.scalar(select(func.count()).select_from(Officer).where(
        Officer.unit_id == unit.id, Officer.revoked_at.is_(None))) or 0
    open_cases = await session.scalar(select(func.count()).select_from(Grievance).where(
        Grievance.unit_id == unit.id, Grievance.status.in_(OPEN_STATUSES))) or 0
    children = list(await session.scalars(select(Unit).where(Unit.parent_id == unit.id)
                                          .order_by(Unit.level, Unit.code)))
    return UnitInfo(unit, scope.covers(unit.parent_id), officer_count, open_cases, children)


@dataclass(frozen=True)
class OfficerRow:
    officer: Officer
    name: str | None
    username: str | None


async def unit_officers(session: AsyncSession, unit_id: int, scope: Scope) -> tuple[Unit, list[OfficerRow]]:
    unit = await session.get(Unit, unit_id) if scope.covers(unit_id) else None
    if unit is None:
        raise NotAllowed
    rows = await session.execute(select(Officer, Member).join(Member, Member.id == Officer.member_id).where(
        Officer.unit_id == unit.id, Officer.revoked_at.is_(None)).order_by(Officer.created_at, Officer.id))
    return unit, [OfficerRow(officer, " ".join(p for p in (m.first_name, m.last_name) if p) or None, m.username)
                  for officer, m in rows]


async def officer_in_scope(session: AsyncSession, officer_id: int, scope: Scope) -> tuple[Officer, Unit, Member]:
    officer = await session.get(Officer, officer_id)
    if officer is None or officer.revoked_at is not None or not scope.covers(officer.unit_id):
        raise NotAllowed
    return officer, await session.get_one(Unit, officer.unit_id), await session.get_one(Member, officer.member_id)


async def revoke_officer(session: AsyncSession, officer_id: int, scope: Scope, actor: str,
                         now: datetime | None = None) -> tuple[Officer, Unit]:
    """End an officer's role in a unit; the open cases they held there are free to claim again."""
    officer, unit, _ = await officer_in_scope(session, officer_id, scope)
    officer.revoked_at = now or utcnow()
    await session.execute(update(Grievance).where(
        Grievance.unit_id == unit.id, Grievance.holder_member_id == officer.member_id,
        Grievance.status.in_(OPEN_STATUSES)).values(holder_member_id=None))
    audit.record(session, actor, "officer.revoked", f"officer:{officer.id}", unit=unit.code,
                 member=officer.member_id)
    await session.commit()
    return officer, unit


async def invite(session: AsyncSession, unit_id: int, scope: Scope, actor: str, role: OfficerRole,
                 ttl: timedelta = officers.DEFAULT_INVITE_TTL) -> tuple[Unit, OfficerInvite]:
    unit = await session.get(Unit, unit_id) if scope.covers(unit_id) else None
    if unit is None:
        raise NotAllowed
    return unit, await officers.create_invite(session, unit, actor, role, ttl)


# ----- finding a unit by what is typed -----

SEARCH_MAX = 100  # characters of a typed search
SEARCH_LIMIT = 40  # units listed at most: more words narrow it down
_TYPO_SCORE = 80.0
_TYPO_MIN_LENGTH = 4  # shorter words must match the start of a word exactly


@dataclass(frozen=True)
class Found:
    units: list[Unit]  # best first, at most the limit
    total: int  # how many matched in all


async def search_units(session: AsyncSession, scope: Scope, typed: str, limit: int = SEARCH_LIMIT) -> Found:
    """Units within the scope whose name or code has every typed word (no diacritics needed, đ→d, any case,
    abbreviations such as "cdcs" or "hn" expanded, small typos in longer words forgiven).
    The exact code comes first, then words that start words, then substrings, then typos; broader units first."""
    typed = nfc(typed)[:SEARCH_MAX]
    queries = [words for words in {tuple(fold(typed).split()), tuple(search_key(typed).split())} if words]
    if not queries:
        return Found([], 0)
    compact = fold(typed).replace(" ", "")
    ranked = []
    for row in await session.execute(select(Unit.id, Unit.name, Unit.code, Unit.level)):
        if not scope.covers(row.id):
            continue
        rank = _match_rank(queries, compact, row.name, row.code)
        if rank is not None:
            ranked.append(((rank, row.level, vietnamese_sort_key(row.name), row.id), row.id))
    ranked.sort()
    ids = [unit_id for _, unit_id in ranked[:limit]]
    found = {unit.id: unit for unit in await session.scalars(select(Unit).where(Unit.id.in_(ids)))} if ids else {}
    return Found([found[unit_id] for unit_id in ids], len(ranked))


def _match_rank(queries: list[tuple[str, ...]], compact: str, name: str, code: str) -> int | None:
    """0 exact code, 1 every word starts a word, 2 every word inside a word, 3 with typos; None: no match."""
    compact_code, words = _unit_words(name, code)
    if compact and compact == compact_code:
        return 0
    ranks = [rank for query in queries if (rank := _words_rank(query, words)) is not None]
    return min(ranks, default=None)


@lru_cache(maxsize=20_000)  # folding every unit on every search costs more than the matching
def _unit_words(name: str, code: str) -> tuple[str, tuple[str, ...]]:
    folded_code = fold(code)
    compact_code = folded_code.replace(" ", "")
    words = {*fold(name).split(), *search_key(name).split(), *folded_code.split(), compact_code}
    return compact_code, tuple(sorted(words))


def _words_rank(query: tuple[str, ...], words: tuple[str, ...]) -> int | None:
    worst = 1
    for typed in query:
        if any(word.startswith(typed) for word in words):
            continue
        if any(typed in word for word in words):
            worst = max(worst, 2)
        elif len(typed) >= _TYPO_MIN_LENGTH and process.extractOne(typed, words, scorer=fuzz.ratio,
                                                                   score_cutoff=_TYPO_SCORE):
            worst = 3
        else:
            return None
    return worst


# ----- the command line -----

async def revoke_by_token_or_id(session: AsyncSession, value: str, actor: str) -> str:
    """`congdoan officer revoke`: an invite (its token, `officer-<token>` or the whole link) or an officer
    id (as `congdoan officer list` prints). Returns what was revoked; raises NotAllowed when nothing."""
    token = value.strip().rsplit("start=", 1)[-1].removeprefix(officers.INVITE_PREFIX)
    found = await session.scalar(select(OfficerInvite).where(OfficerInvite.token == token))
    if found is not None:
        if found.revoked_at is not None or found.used_at is not None:
            raise NotAllowed
        await officers.revoke_invite(session, found, actor)
        return f"invite:{found.id}"
    if value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 9:
        officer, unit = await revoke_officer(session, int(value), Scope(None, ()), actor)
        return f"officer:{officer.id}@{unit.code}"
    raise NotAllowed


async def officers_of_unit_code(session: AsyncSession, code: str) -> tuple[Unit, list[OfficerRow]] | None:
    unit = await session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        return None
    return await unit_officers(session, unit.id, Scope(None, ()))


# ----- losing an inbox -----

async def lose_inbox(session: AsyncSession, chat_id: int, actor: str) -> tuple[Unit, list[int]] | None:
    """The bot left (or was removed from) a group: if it was a unit's inbox, the unit has none now.
    Returns the unit and its open cases (to be sent up, one by one), or None for any other group."""
    unit = await session.scalar(select(Unit).where(Unit.inbox_chat_id == chat_id))
    if unit is None:
        return None
    unit.inbox_chat_id, unit.inbox_is_forum = None, False
    audit.record(session, actor, "inbox.lost", f"unit:{unit.code}", chat=chat_id)
    await session.commit()
    open_ids = list(await session.scalars(select(Grievance.id).where(
        Grievance.unit_id == unit.id, Grievance.status.in_(OPEN_STATUSES)).order_by(Grievance.id)))
    return unit, open_ids
