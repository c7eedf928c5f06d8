"""Pacing broadcast sends under Telegram's flood limits (DOMAIN.md, "Telegram limits").

A token bucket in its virtual-scheduling form (GCRA) so that sends are evenly spaced at `rate` per second,
and a sliding window so that in any second at most floor(rate) start. Telegram counts messages when they
*arrive*, and network jitter moves arrivals closer together than the sends started: the rate actually used
keeps a headroom below the ceiling (97% of 30/s, 95% of 1000/s with paid broadcasts), which is what lets a
full-speed broadcast finish without a 429. On top of that: one chat gets at most one message per
CHAT_INTERVAL, and a 429 pauses every send for its retry_after (Telegram's limit is per bot, not per chat)
and slows the pace by 5% for a while.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

FREE_CEILING = 30.0
PAID_CEILING = 1000.0
# Of the ceiling: room for arrival jitter (see the module doc). At 1000/s the same jitter is more messages:
# bench/broadcast.py saw a few 429s at 97% in paid mode on a loaded two-core machine.
HEADROOM = 0.97
PAID_HEADROOM = 0.95
CHAT_INTERVAL = 1.1  # seconds between two messages to one chat (Telegram: about 1/s)
RECOVER_AFTER = 30.0  # seconds without a 429 before the pace slowed by one goes back to the configured rate


def effective_rate(configured: float, paid: bool) -> float:
    """The rate the sender uses: the configured one, kept under Telegram's ceiling by the headroom."""
    ceiling = PAID_CEILING * PAID_HEADROOM if paid else FREE_CEILING * HEADROOM
    return min(configured, ceiling)


class Pacer:
    """Virtual scheduling (GCRA): each send reserves the next slot, 1/rate after the previous one, or up to
    `burst - 1` intervals earlier when the sender fell behind (an oversleep is made up, a backlog is not).
    Reserving is synchronous, so many sends can be admitted in one turn of the event loop: a lock handed
    from waiter to waiter costs a loop turn per message, which capped a busy sender at ~200/s."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 chat_interval: float = CHAT_INTERVAL,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.configured_rate = rate
        self.burst = max(1.5, rate * 0.01)
        self.chat_interval = chat_interval
        self._clock = clock
        self._sleep = sleep
        self._set_rate(rate)
        self._next = clock()  # the theoretical time of the next send
        self._paused_until = 0.0
        self._last_429 = float("-inf")
        self._sent: deque[float] = deque()  # start times of the sends of the last second
        self._chat_last: dict[int, float] = {}
        self.pauses = 0  # 429s honoured, for the statistics

    def pause(self, seconds: float) -> None:
        """A 429 said retry_after: nobody sends before then, and 5% slower (down to half the configured
        rate) until RECOVER_AFTER seconds pass without one: a 429 means Telegram counted more than we think
        we sent, e.g. when network delays bunched our messages together."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._last_429 = self._clock()
        self._set_rate(max(self.configured_rate * 0.5, self.rate * 0.95))

    def _set_rate(self, rate: float) -> None:
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (self.burst - 1.0) * self._interval

    async def acquire(self, chat_id: int | None = None) -> None:
        """Wait until a send to chat_id is allowed, and take the slot for it."""
        if chat_id is not None:
            await self._wait_for_chat(chat_id)
        if self.rate < self.configured_rate and self._clock() - self._last_429 > RECOVER_AFTER:
            self._set_rate(self.configured_rate)
        while True:
            now = self._clock()
            slot = max(self._next - self._tolerance, now, self._paused_until)
            self._next = max(self._next, slot) + self._interval
            if slot > now:
                await self._sleep(slot - now)
            if self._clock() >= self._paused_until:
                break  # no 429 came meanwhile; otherwise take a slot after the pause
        await self._within_window()
        if chat_id is not None:
            self._remember_chat(chat_id, self._clock())

    async def _within_window(self) -> None:
        """Never more than floor(rate) sends started in any second, whatever happened: after the event loop
        stalled, every send that had reserved a slot wakes at once, and the slots after them follow."""
        cap = max(1, int(self.rate))
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < cap:
                self._sent.append(now)  # no await between the check and this: concurrent sends see it
                return
            await self._sleep(self._sent[0] + 1.0 - now + 1e-4)

    async def _wait_for_chat(self, chat_id: int) -> None:
        while True:
            last = self._chat_last.get(chat_id)
            wait = 0.0 if last is None else last + self.chat_interval - self._clock()
            if wait <= 0:
                self._chat_last[chat_id] = self._clock()  # reserved now: a concurrent send to it waits
                return
            await self._sleep(wait)

    def _remember_chat(self, chat_id: int, now: float) -> None:
        self._chat_last[chat_id] = now
        if len(self._chat_last) > 10_000:  # forget chats whose interval has passed
            horizon = now - self.chat_interval
            self._chat_last = {chat: at for chat, at in self._chat_last.items() if at > horizon}
