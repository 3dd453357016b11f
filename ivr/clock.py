"""Time for every component: the event loop's clock in production, virtual time for simulations, benches and tests.

One :class:`Clock` protocol: ``now()`` (monotonic seconds), ``call_at(when, callback)`` (the media pacer's
timers) and ``async sleep(seconds)`` (the flow session's guards and timeouts).  Standard library only, so any
package (the media layer, the flow session) can take a clock without loading the call engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once at (or as soon as possible after) ``when``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` on this clock (at once for zero or less)."""
        ...


class LoopClock:
    """``loop.time()`` / ``loop.call_at`` / ``asyncio.sleep``; with Twisted's asyncio reactor this is the reactor's
    loop too.  Without ``loop``: the loop running at each call (so it can be made before the loop starts)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop

    def _loop(self) -> asyncio.AbstractEventLoop:
        return self.loop or asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop().time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self._loop().call_at(when, callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Virtual time: due timers run in order when time moves, and time moves in two ways.

    - By hand: :meth:`advance` / :meth:`advance_to` (the media layer's tests drive the pacer so).
    - By itself while a task awaits :meth:`sleep`: once every task on the loop is idle, time jumps to the next
      timer (so a whole call with its timeouts runs in an instant).  Idle is judged by letting ready tasks run
      before each jump; work in threads (a database) is invisible to the loop and declares itself with
      :meth:`busy`, so that no timer fires while it runs.

    ``delay`` models a busy process: every timer fires that many seconds after its due time; :meth:`stall` models
    a process that was blocked: time jumps without running timers, which then fire late.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._order = itertools.count()
        self.delay = 0.0
        self._sleepers: set[asyncio.Future[None]] = set()
        self._driver: asyncio.Task[None] | None = None
        self._busy = 0
        self._busy_ended = 0  # busy spells over: the work they unblock gets a full idle round before time moves

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _VirtualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def stall(self, seconds: float) -> None:
        self._now += seconds

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)

    def advance_to(self, target: float) -> None:
        while self._timers:
            when, _, timer = self._timers[0]
            fire_at = when + self.delay
            if fire_at > target:
                break
            heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, fire_at)
            timer.callback()
        self._now = max(self._now, target)

    # ---- time that moves by itself while tasks sleep on it ---------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        timer = self.call_at(self._now + max(0.0, seconds), lambda: None if future.done() else future.set_result(None))
        self._sleepers.add(future)

        def forget(done: asyncio.Future[None]) -> None:
            self._sleepers.discard(done)
            timer.cancel()  # a cancelled sleep leaves no timer behind

        future.add_done_callback(forget)
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await future

    @contextlib.asynccontextmanager
    async def busy(self) -> AsyncIterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._busy_ended += 1

    async def _drive(self) -> None:
        while self._sleepers:
            ended = self._busy_ended
            for _ in range(30):  # let every ready task run first: time only moves when all are idle
                await asyncio.sleep(0)
            if ended != self._busy_ended:  # a thread's work ended during this round: what it unblocked runs first
                continue
            if not self._sleepers:
                break
            if self._busy:  # work in threads is invisible to the loop: wait for it in real time
                await asyncio.sleep(0.002)
                continue
            self._fire_next()

    def _fire_next(self) -> None:
        """Run the earliest timer alone (its task then runs before the next one is due, even at the same time)."""
        while self._timers:
            when, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._now = max(self._now, when + self.delay)
                timer.callback()
                return
