"""A call leg and a call engine on any clock (ivr.clock): the loop's (a virtual-time loop in the bridge tests) or a
:class:`ivr.clock.VirtualClock` (the session tests).

Playback is queued as on the real engine: each audio starts when the one before it ends and lasts its PCM length
(PCM16, 8 kHz); ``heard`` logs when each started and what it was (the label of :mod:`tests.kit.prompts` audio).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivr.app import (
    SAMPLE_RATE,
    AudioSink,
    Bridge,
    Call,
    CallEvent,
    DialFailed,
    DigitEvent,
    HangupEvent,
    Playback,
    TransferResult,
)
from ivr.clock import Clock, LoopClock
from tests.kit.prompts import label_of

_ids = itertools.count(1)


@dataclass
class _Item:
    playback: Playback
    label: str
    interruptible: bool
    task: asyncio.Task[None] | None = None


class FakeCall:
    """An answered call leg.

    Logs: ``played`` (bytes, interruptible) of every audio queued, ``heard`` (clock time, label) of every audio that
    started, ``stops`` (stop_playback calls), ``referred`` (REFER targets), ``hangup_reason`` (our hang-up).
    Controls: ``press(keys)``, ``remote_hangup()``, ``events`` (the queue ``next_event`` reads).
    A REFER succeeds (and ends the call) unless ``refer_ok`` is False.
    """

    def __init__(self, clock: Clock | None = None, *, call_id: str = "", caller: str = "13800000000",
                 called: str = "12345", refer_ok: bool = True) -> None:
        self.clock: Clock = clock or LoopClock()
        self._id = call_id or f"fake-{next(_ids)}"
        self._caller, self._called = caller, called
        self.refer_ok = refer_ok
        self.events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._ended: HangupEvent | None = None
        self._items: list[_Item] = []
        self._busy_until = 0.0
        self._pb_ids = itertools.count(1)
        self.played: list[tuple[int, bool]] = []
        self.heard: list[tuple[float, str]] = []
        self.stops = 0
        self.referred: list[str] = []
        self.hangup_reason: str | None = None
        self.sink: AudioSink | None = None

    @property
    def call_id(self) -> str:
        return self._id

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def called(self) -> str:
        return self._called

    @property
    def ended(self) -> bool:
        return self._ended is not None

    def play(self, pcm: bytes, *, interruptible: bool = True) -> Playback:
        pb = Playback(next(self._pb_ids), asyncio.get_running_loop().create_future())
        self.played.append((len(pcm), interruptible))
        if self.ended:
            pb.done.set_result(False)
            return pb
        now = self.clock.now()
        start = max(now, self._busy_until)
        self._busy_until = start + len(pcm) / (2 * SAMPLE_RATE)
        item = _Item(pb, label_of(pcm), interruptible)
        item.task = asyncio.ensure_future(self._run(item, start - now, self._busy_until - start))
        self._items.append(item)
        return pb

    async def _run(self, item: _Item, wait: float, seconds: float) -> None:
        if wait > 0:
            await self.clock.sleep(wait)
        self.heard.append((self.clock.now(), item.label))
        await self.clock.sleep(seconds)
        self._finish(item, True)

    def _finish(self, item: _Item, completed: bool) -> None:
        if item in self._items:
            self._items.remove(item)
        if not item.playback.done.done():
            item.playback.done.set_result(completed)

    def stop_playback(self, *, force: bool = False) -> None:
        self.stops += 1
        for item in list(self._items):
            if force or item.interruptible:
                if item.task is not None:
                    item.task.cancel()
                self._finish(item, False)
        if not self._items:
            self._busy_until = 0.0

    def set_audio_sink(self, sink: AudioSink | None) -> None:
        self.sink = sink

    async def next_event(self) -> CallEvent:
        if self._ended is not None and self.events.empty():
            return self._ended  # as ivr.app.Call: after hang-up it keeps returning the HangupEvent
        return await self.events.get()

    async def transfer(self, target: str) -> TransferResult:
        self.referred.append(target)
        if self.refer_ok:
            self.remote_hangup("transferred")
            return TransferResult(True, True, 202)
        return TransferResult(False, False, 603, "declined")

    async def hangup(self, reason: str = "normal") -> None:
        self.hangup_reason = reason
        self.remote_hangup(reason, by_remote=False)

    # ---- test controls -------------------------------------------------------------------------------------
    def remote_hangup(self, reason: str = "remote BYE", by_remote: bool = True) -> None:
        if self._ended is None:
            self._ended = HangupEvent(reason, by_remote)
            self.stop_playback(force=True)
            self.events.put_nowait(self._ended)

    def press(self, keys: str) -> None:
        for key in keys:
            self.events.put_nowait(DigitEvent(key, "rfc4733", 100))


@dataclass
class FakeBridge:
    a: Call
    b: Call
    active: bool = True

    def unbridge(self) -> None:
        self.active = False


@dataclass
class AgentBehaviour:
    answer_after: float | None = 1.0  # None: never answers (rings until timeout)
    busy: bool = False


@dataclass
class FakeEngine:
    """The call engine's dial / bridge / resolve on the loop's clock: agents answer after their behaviour's delay."""

    behaviours: dict[str, AgentBehaviour] = field(default_factory=dict)
    dialled: list[tuple[float, str]] = field(default_factory=list)
    legs: dict[str, FakeCall] = field(default_factory=dict)
    bridges: list[FakeBridge] = field(default_factory=list)
    registrar: dict[str, str] = field(default_factory=dict)

    async def dial(self, target: str, *, caller_id: str = "12345", timeout: float = 20.0,
                   early_audio: bool = False) -> Call:
        loop = asyncio.get_running_loop()
        self.dialled.append((loop.time(), target))
        b = self.behaviours.get(target, AgentBehaviour())
        if b.busy:
            raise DialFailed(486, "Busy Here")
        if b.answer_after is None or b.answer_after > timeout:
            await asyncio.sleep(timeout)
            raise DialFailed(0, "timeout")
        await asyncio.sleep(b.answer_after)
        leg = FakeCall(caller=caller_id, called=target)
        self.legs[target] = leg
        return leg

    def bridge(self, a: Call, b: Call) -> Bridge:
        if a.ended or b.ended:
            raise RuntimeError("cannot bridge an ended leg")
        br = FakeBridge(a, b)
        self.bridges.append(br)
        return br

    def resolve(self, aor: str) -> str | None:
        return self.registrar.get(aor)


class SpyEngine:
    """Delegates to a real call engine; calls ``on_bridge()`` just before it bridges two legs."""

    def __init__(self, engine: Any, on_bridge: Callable[[], None]) -> None:
        self.engine, self.on_bridge = engine, on_bridge

    async def dial(self, target: str, **kw: Any) -> Any:
        return await self.engine.dial(target, **kw)

    def bridge(self, a: Any, b: Any) -> Any:
        self.on_bridge()
        return self.engine.bridge(a, b)

    def resolve(self, aor: str) -> str | None:
        return self.engine.resolve(aor)  # type: ignore[no-any-return]
