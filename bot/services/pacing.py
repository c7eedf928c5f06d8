"""Pacing broadcast sends under Telegram's flood limits (DOMAIN.md, "Telegram limits").

Telegram counts a message when it *arrives*, and all we know is that it arrived between the moment we
started sending it and the moment its answer came back. So a message is counted here from its start until
one second after its answer (and while it is in flight): in any second of arrivals at most floor(rate) can
then land, whatever the network or Telegram's side did meanwhile. Counting only start times was not enough:
when the receiver stalls for 60 ms, the messages sent meanwhile arrive together and, with the second of sends
that follows, exceed the ceiling (bench/broadcast.py saw that at 950/s of 1000).

Telegram's limit is for everything the bot sends, and members' conversations go on during a broadcast. So
the window (SendWindow) is shared: the application's own requests count in it too (bot/http.py reports
them; they are never delayed), and the broadcast yields the room they take. Within the window, broadcast
sends are evenly spaced at `rate` per second (a token bucket in its virtual-scheduling form, GCRA), the
configured BROADCAST_RATE kept a little under the ceiling. One chat gets at most one message per
CHAT_INTERVAL after the previous one's answer; a 429 pauses every send for its retry_after (Telegram's
limit is per bot, not per chat) and slows the pace by 5% for a while.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

FREE_CEILING = 30.0
PAID_CEILING = 1000.0
# Of the ceiling: the window (module doc) already bounds arrivals; the headroom leaves room for the few
# messages the bot itself sends outside broadcasts (answers to members) and for clock granularity.
HEADROOM = 0.97
PAID_HEADROOM = 0.99
CHAT_INTERVAL = 1.1  # seconds between two messages to one chat (Telegram: about 1/s)
IN_FLIGHT = math.inf  # a chat's "last answer" while a send to it is in flight
RECOVER_AFTER = 30.0  # seconds without a 429 before the pace slowed by one goes back to the configured rate


# What Telegram counts against the bot's limit (sending a new message); edits, answers to button presses
# and reads do not count.
SENDING_METHODS = frozenset({
    "sendmessage", "sendphoto", "senddocument", "sendvoice", "sendaudio", "sendvideo", "sendanimation",
    "sendsticker", "sendpoll", "sendmediagroup", "sendlocation", "sendcontact", "sendvideonote", "senddice",
    "sendvenue", "copymessage", "copymessages", "forwardmessage", "forwardmessages",
})


def ceiling(paid: bool) -> float:
    """Messages per second for the whole bot, kept a little under Telegram's ceiling."""
    return PAID_CEILING * PAID_HEADROOM if paid else FREE_CEILING * HEADROOM


def effective_rate(configured: float, paid: bool) -> float:
    """The rate the sender uses: the configured one, kept under Telegram's ceiling by the headroom."""
    return min(configured, ceiling(paid))


class SendWindow:
    """The bot's sends of the last second (module doc): each counts while in flight and for one second after
    its answer. Broadcast sends wait in admit(); the application's own sends are only counted (started, then
    answered), so a member's answer never waits behind a broadcast."""

    def __init__(self, cap: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cap = max(1, int(cap))
        self._clock = clock
        self._answered: deque[float] = deque()  # answer times within the last second
        self._in_flight = 0
        self._answer = asyncio.Event()  # set (and replaced) whenever a send is answered

    def started(self) -> None:
        self._in_flight += 1

    def answered(self) -> float:
        now = self._clock()
        self._in_flight = max(0, self._in_flight - 1)
        self._answered.append(now)
        self._answer.set()
        self._answer = asyncio.Event()
        return now

    def recent(self) -> int:
        """Sends in flight or answered within the last second."""
        now = self._clock()
        return self._in_flight + sum(1 for at in self._answered if at > now - 1.0)

    async def answer(self) -> None:
        """Until the next answer."""
        await self._answer.wait()

    async def admit(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Wait until fewer than cap sends are in flight or answered within the last second, and start one.
        This also holds after the event loop stalled, when every send that had a slot wakes at once."""
        while True:
            now = self._clock()
            while self._answered and self._answered[0] <= now - 1.0:
                self._answered.popleft()
            if len(self._answered) + self._in_flight < self.cap:
                self._in_flight += 1  # no await between the check and this: concurrent sends see it
                return
            if self._answered:
                await sleep(self._answered[0] + 1.0 - now + 1e-4)
            else:  # all in flight: an answer starts its second, then the loop sleeps until it ends
                await self.answer()


class Pacer:
    """Virtual scheduling (GCRA): each send reserves the next slot, 1/rate after the previous one, or up to
    `burst - 1` intervals earlier when the sender fell behind (an oversleep is made up, a backlog is not).
    Reserving is synchronous, so many sends can be admitted in one turn of the event loop: a lock handed
    from waiter to waiter costs a loop turn per message, which capped a busy sender at ~200/s.

    Use `async with pacer.sending(chat_id):` around the request, so that its answer is counted."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 chat_interval: float = CHAT_INTERVAL,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, window: SendWindow | None = None) -> None:
        self.configured_rate = rate
        self.burst = max(1.5, rate * 0.01)
        self.chat_interval = chat_interval
        self._clock = clock
        self._sleep = sleep
        self._set_rate(rate)
        self._next = clock()  # the theoretical time of the next send
        self._paused_until = 0.0
        self._last_429 = float("-inf")
        self.window = window or SendWindow(rate, clock)
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

    @asynccontextmanager
    async def sending(self, chat_id: int | None = None) -> AsyncIterator[None]:
        """Wait until a send to chat_id is allowed, take the slot for it, and count it until a second after
        the body of the with-block (the request) returned or raised."""
        await self.acquire(chat_id)
        try:
            yield
        finally:
            self.answered(chat_id)

    async def acquire(self, chat_id: int | None = None) -> None:
        """Wait until a send to chat_id is allowed and take the slot for it; answered() must follow."""
        if chat_id is not None:
            await self._wait_for_chat(chat_id)
        try:
            await self._next_slot()
            await self.window.admit(self._sleep)
        except BaseException:  # cancelled while waiting: the chat is free again
            if chat_id is not None:
                self._chat_last.pop(chat_id, None)
            raise

    async def _next_slot(self) -> None:
        if self.rate < self.configured_rate and self._clock() - self._last_429 > RECOVER_AFTER:
            self._set_rate(self.configured_rate)
        while True:
            now = self._clock()
            slot = max(self._next - self._tolerance, now, self._paused_until)
            self._next = max(self._next, slot) + self._interval
            if slot > now:
                await self._sleep(slot - now)
            if self._clock() >= self._paused_until:
                return  # no 429 came meanwhile; otherwise take a slot after the pause

    def answered(self, chat_id: int | None = None) -> None:
        """The send taken by acquire() got its answer (or failed): from now on it counts for one second."""
        now = self.window.answered()
        if chat_id is not None:
            self._remember_chat(chat_id, now)

    async def _wait_for_chat(self, chat_id: int) -> None:
        """CHAT_INTERVAL after the previous send's answer; a send still in flight holds the chat."""
        while True:
            last = self._chat_last.get(chat_id)
            if last == IN_FLIGHT:
                await self.window.answer()
                continue
            wait = 0.0 if last is None else last + self.chat_interval - self._clock()
            if wait <= 0:
                self._chat_last[chat_id] = IN_FLIGHT  # reserved: a concurrent send to it waits
                return
            await self._sleep(wait)

    def _remember_chat(self, chat_id: int, now: float) -> None:
        self._chat_last[chat_id] = now
        if len(self._chat_last) > 10_000:  # forget chats whose interval has passed
            horizon = now - self.chat_interval
            self._chat_last = {chat: at for chat, at in self._chat_last.items() if at > horizon}
