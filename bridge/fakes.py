"""Test doubles of the call contract (ivr.app) and the prompt source, for tests and benchmarks.

Audio from :class:`FakePrompts` carries its prompt id in a small header so :class:`FakeCall` can log what each
party heard and when; playback durations follow the PCM length (8 kHz, 16 bit) on the event loop's clock, so on a
virtual-time loop a test runs instantly yet sees real durations.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.app import Bridge, Call, CallEvent, DialFailed, DigitEvent, HangupEvent, Playback, TransferResult

_HDR = b"PROMPT:"
_ids = itertools.count(1)


def fake_pcm(label: str, seconds: float) -> bytes:
    head = _HDR + label.encode() + b"\n"
    n = max(len(head), int(seconds * 16000))
    return head + b"\x00" * (n - len(head))


def label_of(pcm: bytes) -> str:
    if pcm.startswith(_HDR):
        return pcm[len(_HDR): pcm.index(b"\n")].decode()
    return "audio"


def tone(freq: float, seconds: float, amplitude: float = 0.5) -> bytes:
    """PCM16 8 kHz sine tone."""
    import numpy as np

    t = np.arange(int(seconds * 8000)) / 8000
    return bytes((np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes())


TONES = {"transfer.notice": (440.0, 1.0), "hold.music": (520.0, 1.0), "whisper.agent": (800.0, 1.5),
         "transfer.no_agent_callback": (300.0, 1.0), "callback.promise": (300.0, 1.0),
         "transfer.agent_unavailable_retry": (350.0, 1.0)}


class TonePrompts:
    """Prompts as distinct tones (notice 440 Hz, hold 520 Hz, whisper 800 Hz) for tests on real phones."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def has(self, prompt_id: str) -> bool:
        return prompt_id in TONES

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        return prompt_id

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        self.rendered.append(prompt_id)
        f, s = TONES.get(prompt_id, (300.0, 0.5))
        return tone(f, s)

    def say(self, text: str) -> bytes:
        return tone(300.0, 0.5)


class FakePrompts:
    def __init__(self, durations: Mapping[str, float] | None = None) -> None:
        self.durations = {"transfer.notice": 2.0, "hold.music": 4.0, "whisper.agent": 2.5, **(durations or {})}
        self.rendered: list[tuple[str, dict[str, str]]] = []

    def has(self, prompt_id: str) -> bool:
        return True

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        return prompt_id + (" " + " ".join(f"{k}={v}" for k, v in sorted((slots or {}).items())) if slots else "")

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        self.rendered.append((prompt_id, dict(slots or {})))
        return fake_pcm(prompt_id, self.durations.get(prompt_id, 1.5))

    def say(self, text: str) -> bytes:
        return fake_pcm("say:" + text, 1.0)


@dataclass
class _Item:
    playback: Playback
    label: str
    interruptible: bool
    handle: asyncio.TimerHandle | None = None


class FakeCall:
    def __init__(self, call_id: str = "", caller: str = "13800000000", called: str = "12345") -> None:
        self._id = call_id or f"fake-{next(_ids)}"
        self._caller, self._called = caller, called
        self._ended: HangupEvent | None = None
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._items: list[_Item] = []
        self._busy_until = 0.0
        self.heard: list[tuple[float, str]] = []  # (loop time, label) when each playback started
        self.sink: object = None
        self._pb_ids = itertools.count(1)

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
        loop = asyncio.get_running_loop()
        pb = Playback(next(self._pb_ids), loop.create_future())
        item = _Item(pb, label_of(pcm), interruptible)
        if self.ended:
            pb.done.set_result(False)
            return pb
        start = max(loop.time(), self._busy_until)
        end = start + len(pcm) / 16000
        self._busy_until = end
        loop.call_at(start, self._started, item)
        item.handle = loop.call_at(end, self._finish, item, True)
        self._items.append(item)
        return pb

    def _started(self, item: _Item) -> None:
        if item in self._items:
            self.heard.append((asyncio.get_running_loop().time(), item.label))

    def _finish(self, item: _Item, completed: bool) -> None:
        if item in self._items:
            self._items.remove(item)
        if not item.playback.done.done():
            item.playback.done.set_result(completed)

    def stop_playback(self, *, force: bool = False) -> None:
        for item in list(self._items):
            if force or item.interruptible:
                if item.handle:
                    item.handle.cancel()
                self._finish(item, False)
        if not self._items:
            self._busy_until = 0.0

    def set_audio_sink(self, sink: object) -> None:
        self.sink = sink

    async def next_event(self) -> CallEvent:
        if self._ended is not None and self._events.empty():
            return self._ended
        return await self._events.get()

    async def transfer(self, target: str) -> TransferResult:
        return TransferResult(False, False, 501, "not supported by fake")

    async def hangup(self, reason: str = "normal") -> None:
        self._end(HangupEvent(reason, by_remote=False))

    # test controls
    def remote_hangup(self) -> None:
        self._end(HangupEvent("remote BYE", by_remote=True))

    def press(self, digit: str) -> None:
        self._events.put_nowait(DigitEvent(digit, "rfc4733"))

    def _end(self, ev: HangupEvent) -> None:
        if self._ended is None:
            self._ended = ev
            self.stop_playback(force=True)
            self._events.put_nowait(ev)


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
