"""ivr.clock: the one clock of every component (media pacer timers by hand, session sleeps on their own)."""

from __future__ import annotations

import asyncio
import threading
import time

from ivr.clock import Clock, LoopClock, VirtualClock


def test_timers_run_in_due_order_when_advanced_by_hand_late_with_delay_or_after_a_stall() -> None:
    clock = VirtualClock(start=10.0)
    fired: list[tuple[str, float]] = []
    clock.call_at(12.0, lambda: fired.append(("b", clock.now())))
    clock.call_at(11.0, lambda: fired.append(("a", clock.now())))
    clock.call_at(11.5, lambda: fired.append(("never", clock.now()))).cancel()
    clock.advance(1.5)
    assert fired == [("a", 11.0)] and clock.now() == 11.5
    clock.delay = 0.25
    clock.advance_to(12.1)
    assert fired == [("a", 11.0)]  # due at 12, fires at 12.25
    clock.advance_to(13.0)
    assert fired[-1] == ("b", 12.25) and clock.now() == 13.0
    clock.stall(5.0)
    assert clock.now() == 18.0


def test_sleepers_wake_in_due_order_ties_first_come_in_no_real_time() -> None:
    clock = VirtualClock()
    log: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        log.append((name, clock.now()))
        if name == "a":
            await clock.sleep(0)  # due at once: wakes without moving time
            log.append(("a again", clock.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("b", 3600.0), sleeper("a", 3600.0), sleeper("c", 30.0))

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 2
    assert log == [("c", 30.0), ("b", 3600.0), ("a", 3600.0), ("a again", 3600.0)]


def test_a_cancelled_sleep_neither_fires_nor_moves_time() -> None:
    clock = VirtualClock()

    async def main() -> float:
        long = asyncio.ensure_future(clock.sleep(100.0))
        await clock.sleep(1.0)
        long.cancel()
        await asyncio.sleep(0)
        await clock.sleep(2.0)
        return clock.now()

    assert asyncio.run(main()) == 3.0


def test_time_holds_while_work_in_a_thread_is_declared_busy() -> None:
    clock = VirtualClock()
    done = threading.Event()

    async def work() -> float:
        async with clock.busy():
            await asyncio.to_thread(lambda: (time.sleep(0.1), done.set()))
        return clock.now()

    async def main() -> tuple[float, float]:
        timer = asyncio.ensure_future(clock.sleep(5.0))
        at = await work()
        await timer
        return at, clock.now()

    assert asyncio.run(main()) == (0.0, 5.0) and done.is_set()


def test_loop_clock_made_before_the_loop_runs_uses_the_running_loop() -> None:
    clock: Clock = LoopClock()

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        fired = loop.create_future()
        start = clock.now()
        clock.call_at(start + 0.01, lambda: fired.set_result(clock.now()))
        await clock.sleep(0.02)
        return abs(clock.now() - loop.time()) < 0.01 and fired.done() and fired.result() >= start + 0.01

    assert asyncio.run(main())
