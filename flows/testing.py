"""Test doubles for the flow engine: a table-driven classifier, and a call, speech, prompts and hand-off on
virtual time for session tests.  The real classifier is ``flows.classifier``; these only isolate an edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from asr import api as speech_api
from asr.api import ListenSpec, Recognition, SpeechStatus
from bridge.api import Handoff, OrderDraft, OrderRef, TransferOutcome
from flows.clock import Clock
from flows.events import Listen
from ivr.app import (
    SAMPLE_RATE,
    AudioSink,
    Call,
    CallEvent,
    DigitEvent,
    HangupEvent,
    Playback,
    TransferResult,
)
from prompts.api import UnknownPrompt


@dataclass(frozen=True)
class FakeClassification:
    text: str
    disposition: str
    category: str | None = None
    channel: str | None = None
    rule: str | None = None
    confidence: float = 0.9
    request_type: str | None = "求助"
    confirm: bool = False
    secondary: FakeClassification | None = None


class FakeClassifier:
    """Classifies by the first table keyword found in the text; anything else is ``clarify``."""

    def __init__(self, table: dict[str, FakeClassification] | None = None) -> None:
        self.table = table if table is not None else default_table()
        self.calls: list[str] = []

    def classify(self, text: str) -> FakeClassification:
        self.calls.append(text)
        for keyword, result in self.table.items():
            if keyword in text:
                return FakeClassification(text, result.disposition, result.category, result.channel, result.rule,
                                          result.confidence, result.request_type, result.confirm, result.secondary)
        return FakeClassification(text, "clarify", confidence=0.9, request_type=None)


def default_table() -> dict[str, FakeClassification]:
    def e(rule: str, channel: str, confirm: bool = False) -> FakeClassification:
        return FakeClassification("", "emergency", None, channel, rule, 0.95, "求助", confirm)

    def r(rule: str, channel: str) -> FakeClassification:
        return FakeClassification("", "redirect", None, channel, rule, 0.9, None)

    return {
        "欠薪和离婚": FakeClassification("", "redirect", None, "court", "litigation", 0.8, None, secondary=(
            FakeClassification("", "accept", category="wages", confidence=0.8))),
        "着火": e("fire", "119"),
        "好像有点烟": e("fire", "119", confirm=True),
        "拿刀": e("crime", "110"),
        "叫不醒": e("medical", "120"),
        "撞车": e("traffic_accident", "122"),
        "煤气味": e("gas_leak", "119"),
        "离婚": r("litigation", "court"),
        "仲裁": r("labour_arbitration", "arbitration"),
        "贪污": r("official_misconduct", "12388"),
        "罚款不服": r("admin_reconsideration", "reconsideration"),
        "信访": r("petition_case", "petition"),
        "请不起律师": r("legal_aid", "12348"),
        "商家不退": r("consumer_dispute", "12315"),
        "外地": r("other_city", "other_city_12345"),
        "风水": FakeClassification("", "decline", rule="fengshui", request_type=None),
        "土葬": FakeClassification("", "decline", rule="burial", request_type=None),
        "路灯": FakeClassification("", "accept", category="street_lights", request_type="求助"),
        "噪音": FakeClassification("", "accept", category="noise", request_type="投诉"),
    }


# ---- session fakes: a call, speech, prompts and hand-off on virtual time -------------------------------------


class VirtualClock:
    """Virtual time: ``sleep`` returns when every task is idle and this timer is the earliest one due.

    Idle is judged by letting ready tasks run before each jump; work in threads declares itself with
    :meth:`busy` (see :class:`BusyHandoff`) so that no timer fires while it runs.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._seq = 0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._driver: asyncio.Task[None] | None = None
        self._busy = 0
        self._busy_ended = 0  # busy spells over: the work they unblock gets a full idle round before time moves

    @contextlib.asynccontextmanager
    async def busy(self) -> AsyncIterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._busy_ended += 1

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._seq += 1
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), self._seq, future))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await future

    async def _drive(self) -> None:
        while self._timers:
            ended = self._busy_ended
            for _ in range(30):  # let every ready task run first: time only moves when all are idle
                await asyncio.sleep(0)
            if ended != self._busy_ended:  # a thread's work ended during this round: what it unblocked runs first
                continue
            while self._timers and self._timers[0][2].done():  # cancelled sleepers
                heapq.heappop(self._timers)
            if not self._timers:
                break
            if self._busy:  # work in threads (a database) is invisible to the loop: wait for it in real time
                await asyncio.sleep(0.002)
                continue
            if self._timers[0][2].done():
                continue
            due, _, future = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            future.set_result(None)


class FakePrompts:
    """Prompt audio of 0.5 s per id (silence), texts as ``[id]``; ids in ``broken`` raise."""

    def __init__(self, broken: tuple[str, ...] = (), seconds: float = 0.5) -> None:
        self.broken = broken
        self.bytes = int(seconds * SAMPLE_RATE) * 2

    def has(self, prompt_id: str) -> bool:
        return prompt_id not in self.broken

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        if prompt_id in self.broken or "*" in self.broken:
            raise UnknownPrompt(prompt_id)
        return f"[{prompt_id}]"

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        self.text(prompt_id, slots)
        return b"\0" * self.bytes

    def say(self, text: str) -> bytes:
        return b"\0" * self.bytes


@dataclass
class FakeHandoff:
    agent_status: str = "bridged"
    fail_orders: bool = False
    orders: list[tuple[str, OrderDraft]] = field(default_factory=list)
    transfers: list[tuple[str, OrderDraft]] = field(default_factory=list)
    call_ends_after_bridge: bool = True
    bridged_calls: dict[str, FakeCall] = field(default_factory=dict)

    async def create_order(self, draft: OrderDraft) -> OrderRef:
        return self._store("order", draft)

    async def record_unreasonable(self, draft: OrderDraft) -> OrderRef:
        return self._store("unreasonable", draft)

    def _store(self, kind: str, draft: OrderDraft) -> OrderRef:
        if self.fail_orders:
            raise ConnectionError("order store down")
        self.orders.append((kind, draft))
        return OrderRef(order_no=f"F{len(self.orders):04d}", due_at=None, journaled=False)

    async def warm_transfer(self, call: Call, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        self.transfers.append((order.order_no, draft))
        if self.agent_status == "bridged" and isinstance(call, FakeCall):
            self.bridged_calls[call.call_id] = call
            if self.call_ends_after_bridge:
                call.remote_hangup("agent and caller finished")
        return TransferOutcome(self.agent_status)  # type: ignore[arg-type]

    async def wait_done(self, call_id: str) -> None:
        """Like the real hand-off: returns once the bridged call has ended."""
        call = self.bridged_calls.get(call_id)
        while call is not None and not call.ended:
            await asyncio.sleep(0.01)


class BusyHandoff:
    """A real hand-off whose calls (database work in threads) hold the virtual clock while they run."""

    def __init__(self, inner: Handoff, clock: VirtualClock) -> None:
        self.inner = inner
        self.clock = clock

    async def create_order(self, draft: OrderDraft) -> OrderRef:
        async with self.clock.busy():
            return await self.inner.create_order(draft)

    async def record_unreasonable(self, draft: OrderDraft) -> OrderRef:
        async with self.clock.busy():
            return await self.inner.record_unreasonable(draft)

    async def warm_transfer(self, call: Call, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        return await self.inner.warm_transfer(call, order, draft)

    async def wait_done(self, call_id: str) -> None:
        await self.inner.wait_done(call_id)


class FakeListener:
    def __init__(self) -> None:
        self.events: asyncio.Queue[speech_api.SpeechEvent] = asyncio.Queue()
        self.armed: ListenSpec | None = None
        self.armed_at: list[tuple[float, ListenSpec]] = []
        self.frames = 0
        self.closed = False
        self.prompt_marks: list[tuple[bool, float]] = []  # set_prompt(playing, now) calls

    def listen(self, spec: ListenSpec, now: float) -> None:
        self.armed = spec
        self.armed_at.append((now, spec))

    def set_prompt(self, playing: bool, now: float) -> None:
        self.prompt_marks.append((playing, now))

    def tick(self, now: float) -> None:
        pass

    def cancel(self) -> None:
        self.armed = None

    def feed(self, frame: bytes, now: float) -> None:
        self.frames += 1

    async def next_event(self) -> speech_api.SpeechEvent:
        return await self.events.get()

    def close(self) -> None:
        self.closed = True


class FakeSpeech:
    def __init__(self, available: bool = True) -> None:
        self.listener = FakeListener()
        self._status = SpeechStatus(available, "speech" if available else "dtmf", reason="" if available else "test")

    @property
    def status(self) -> SpeechStatus:
        return self._status

    def open_listener(self) -> FakeListener:
        return self.listener

    def close(self) -> None:
        pass


class FakeCall:
    """An answered call leg on virtual time: playback takes its audio's duration, stop_playback cuts it."""

    def __init__(self, clock: Clock, caller: str = "13700000000", refer_ok: bool = True) -> None:
        self.clock = clock
        self._caller = caller
        self.refer_ok = refer_ok
        self.events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self.played: list[tuple[int, bool]] = []  # (bytes, interruptible)
        self.stops = 0
        self.referred: list[str] = []
        self._ended = False
        self._pending: list[tuple[bool, asyncio.Future[bool]]] = []
        self.sink: AudioSink | None = None
        self.hangup_reason: str | None = None
        self.tasks: set[asyncio.Future[None]] = set()

    @property
    def call_id(self) -> str:
        return "fake-call"

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def called(self) -> str:
        return "12345"

    @property
    def ended(self) -> bool:
        return self._ended

    def play(self, pcm: bytes, *, interruptible: bool = True) -> Playback:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.played.append((len(pcm), interruptible))
        self._pending.append((interruptible, future))

        async def run() -> None:
            await self.clock.sleep(len(pcm) / (2 * SAMPLE_RATE))
            if not future.done():
                future.set_result(True)

        self.tasks.add(asyncio.ensure_future(run()))
        return Playback(len(self.played), future)

    def stop_playback(self, *, force: bool = False) -> None:
        self.stops += 1
        for interruptible, future in self._pending:
            if (interruptible or force) and not future.done():
                future.set_result(False)

    def set_audio_sink(self, sink: AudioSink | None) -> None:
        self.sink = sink

    async def next_event(self) -> CallEvent:
        event = await self.events.get()
        if isinstance(event, HangupEvent):  # as ivr.app.Call: after hang-up it keeps returning the HangupEvent
            self.events.put_nowait(event)
        return event

    async def transfer(self, target: str) -> TransferResult:
        self.referred.append(target)
        if self.refer_ok:
            self.remote_hangup("transferred")
            return TransferResult(True, True, 202)
        return TransferResult(False, False, 603, "declined")

    async def hangup(self, reason: str = "normal") -> None:
        self.hangup_reason = reason
        self.remote_hangup(reason, by_remote=False)

    def remote_hangup(self, reason: str = "bye", by_remote: bool = True) -> None:
        if not self._ended:
            self._ended = True
            self.stop_playback(force=True)
            self.events.put_nowait(HangupEvent(reason, by_remote))

    def press(self, keys: str) -> None:
        for key in keys:
            self.events.put_nowait(DigitEvent(key, "rfc4733", 100))


Turn = tuple[str, str]  # ("say", text) | ("keys", "123#") | ("silence", "") | ("hangup", "") | ("barge", text)


class ScriptedCaller:
    """Answers each question (each Listen the session executes) with the next scripted turn."""

    def __init__(self, call: FakeCall, speech: FakeSpeech | None, turns: list[Turn], clock: Clock,
                 think: float = 1.0) -> None:
        self.think = think
        self.call = call
        self.speech = speech
        self.turns = list(turns)
        self.clock = clock
        self.actions: list[object] = []
        self.tasks: set[asyncio.Future[None]] = set()

    def observe(self, action: object) -> None:
        self.actions.append(action)
        if isinstance(action, Listen) and self.turns:
            self.tasks.add(asyncio.ensure_future(self._answer(self.turns.pop(0), action)))

    async def _answer(self, turn: Turn, listen: Listen) -> None:
        kind, value = turn
        listener = self.speech.listener if self.speech is not None else None
        if kind == "barge" and listener is not None:  # speaks over the prompt
            await self.clock.sleep(0.2)
            listener.events.put_nowait(speech_api.BargeIn(self.clock.now()))
            kind = "say"
        else:
            await self.clock.sleep(self.think if kind != "silence" else 0.0)
        if kind == "say" and listener is not None:
            result = Recognition(value, value, 0.9, False)
            now = self.clock.now()
            listener.events.put_nowait(speech_api.Recognized(result, now - 1.0, now))
        elif kind == "keys":
            for key in value:
                self.call.press(key)
                await self.clock.sleep(self.think / 3)
        elif kind == "silence" and listener is not None and listen.speech and listener.armed is not None:
            await self.clock.sleep(listener.armed.no_input_timeout)
            listener.events.put_nowait(speech_api.NoInput(self.clock.now()))
        elif kind == "hangup":
            self.call.remote_hangup()
