"""Per-member limits against abuse: new cases per day, bursts of updates, and accounts an admin muted.

The daily case limit counts rows in the database (it holds across restarts and processes). The burst
limiter and the cache of muted ids live in the process's memory: a burst is a matter of seconds, so a
restart forgetting it costs nothing, and the muted ids are re-read from the database every minute.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from db.models import Grievance, Member, MemberMute

BURST_UPDATES = 20  # more than this many updates…
BURST_WINDOW = 10.0  # …within this many seconds is a burst
BURST_PAUSE = 30.0  # seconds during which the rest is dropped
MUTES_REFRESH = 60.0  # seconds between re-reads of the muted ids (a CLI mute reaches a running bot)


# ----- new cases per day -----

def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of `now`'s day in the union's time zone, as an aware datetime."""
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def cases_today(session: AsyncSession, member_id: int, now: datetime, tz: ZoneInfo) -> int:
    start = day_start(now, tz)
    return await session.scalar(select(func.count()).select_from(Grievance).where(
        Grievance.member_id == member_id, Grievance.created_at >= start,
        Grievance.created_at < start + timedelta(days=1))) or 0


async def may_open_case(session: AsyncSession, member_id: int, now: datetime, tz: ZoneInfo, per_day: int) -> bool:
    return await cases_today(session, member_id, now, tz) < per_day


# ----- bursts -----

@dataclass
class _Recent:
    times: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0


class BurstLimiter:
    """Over `limit` updates within `window` seconds from one user: the first update over the limit is
    answered once ("please slow down"), the rest are dropped for `pause` seconds. The clock can be given
    (tests freeze it)."""

    def __init__(self, limit: int = BURST_UPDATES, window: float = BURST_WINDOW, pause: float = BURST_PAUSE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.pause, self.clock = limit, window, pause, clock
        self._users: dict[int, _Recent] = {}

    def check(self, user_id: int) -> str:
        """"ok", "warn" (answer once, then drop) or "drop"."""
        now = self.clock()
        recent = self._users.setdefault(user_id, _Recent())
        if now < recent.paused_until:
            return "drop"
        while recent.times and recent.times[0] <= now - self.window:
            recent.times.popleft()
        recent.times.append(now)
        if len(recent.times) > self.limit:
            recent.times.clear()
            recent.paused_until = now + self.pause
            return "warn"
        if len(self._users) > 10_000:
            self._forget_idle(now)
        return "ok"

    def _forget_idle(self, now: float) -> None:
        idle = [user for user, recent in self._users.items()
                if now >= recent.paused_until and (not recent.times or recent.times[-1] <= now - self.window)]
        for user in idle:
            del self._users[user]


# ----- muting -----

async def mute(session: AsyncSession, telegram_id: int, actor: str) -> bool:
    """Mute an account; False when it already was."""
    if await session.get(MemberMute, telegram_id) is not None:
        return False
    member_id = await session.scalar(select(Member.id).where(Member.telegram_id == telegram_id))
    session.add(MemberMute(telegram_id=telegram_id, member_id=member_id, muted_by=actor))
    audit.record(session, actor, "member.muted", f"telegram:{telegram_id}")
    await session.commit()
    return True


async def unmute(session: AsyncSession, telegram_id: int, actor: str) -> bool:
    """Lift a mute; False when the account was not muted."""
    result = await session.execute(delete(MemberMute).where(MemberMute.telegram_id == telegram_id))
    if result.rowcount == 0:
        await session.rollback()
        return False
    audit.record(session, actor, "member.unmuted", f"telegram:{telegram_id}")
    await session.commit()
    return True


async def muted_ids(session: AsyncSession) -> set[int]:
    return set(await session.scalars(select(MemberMute.telegram_id)))


async def muted_list(session: AsyncSession) -> list[MemberMute]:
    return list(await session.scalars(select(MemberMute).order_by(MemberMute.at.desc())))


class MuteCache:
    """The muted Telegram ids, re-read at most every `refresh` seconds; and whom we already told."""

    def __init__(self, refresh: float = MUTES_REFRESH, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh, self.clock = refresh, clock
        self.ids: set[int] = set()
        self.told: set[int] = set()
        self._loaded_at: float | None = None

    def stale(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at >= self.refresh

    def load(self, ids: set[int]) -> None:
        self.ids, self._loaded_at = ids, self.clock()
        self.told &= ids

    def set(self, telegram_id: int, muted: bool) -> None:
        if muted:
            self.ids.add(telegram_id)
        else:
            self.ids.discard(telegram_id)
            self.told.discard(telegram_id)

    def first_time(self, telegram_id: int) -> bool:
        """Whether this muted account has not been told yet (it is told once, then nothing)."""
        if telegram_id in self.told:
            return False
        self.told.add(telegram_id)
        return True
