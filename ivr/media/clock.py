"""Clocks for the media layer: the asyncio loop's monotonic clock, or virtual time for tests and simulations."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
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


class AsyncioClock:
    """``loop.time()`` / ``loop.call_at``; with Twisted's asyncio reactor this is the reactor's loop too."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()

    def now(self) -> float:
        return self.loop.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self.loop.call_at(when, callback)


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Time moves only when :meth:`advance` (or :meth:`advance_to`) is called; due timers run in order.

    ``delay`` models a busy process: every timer fires that many seconds after its due time; :meth:`stall` models
    a process that was blocked: time jumps without running timers, which then fire late.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._order = itertools.count()
        self.delay = 0.0

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
