"""Async driver of the warm-transfer state machine (bridge.transfer_sm) over ivr.app.Call / CallEngine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge import transfer_sm as sm
from bridge.agents import AgentState
from ivr.app import Bridge, Call, CallEngine, DialFailed, HangupEvent, PlaybackFinished
from prompts.api import PromptSource

log = logging.getLogger(__name__)

PopFn = Callable[[str], Awaitable[None]]  # agent_id → screen pop delivered (or given up)
MarkFn = Callable[[sm.MarkOrder], Awaitable[None]]
ResolveFn = Callable[[str], Awaitable[str | None]]  # agent_id → SIP URI to dial


@dataclass
class TransferMetrics:
    started: float = 0.0
    dial_started: float = 0.0
    answered: float = 0.0
    whisper_started: float = 0.0
    popped: float = 0.0  # screen pop delivered to the desk hub
    bridged: float = 0.0
    ring_total: float = 0.0  # summed over agents tried

    @property
    def setup_s(self) -> float | None:
        """Confirmation → whisper start, ring time excluded."""
        if not self.whisper_started:
            return None
        return self.whisper_started - self.started - self.ring_total


@dataclass
class TransferDriver:
    call: Call
    engine: CallEngine
    prompts: PromptSource
    agents: AgentState
    resolve: ResolveFn
    pop: PopFn
    mark: MarkFn
    whisper_slots: Mapping[str, str]
    prompt_slots: Mapping[str, str] = field(default_factory=dict)
    settings: sm.Settings = field(default_factory=sm.Settings)
    ring_timeout_s: float = 15.0
    caller_id: str = "12345"
    skill: str | None = None
    wall_clock: Callable[[], float] = time.time
    render_in_thread: bool = True  # TTS may take a while; tests on virtual time render inline
    metrics: TransferMetrics = field(default_factory=TransferMetrics)

    def __post_init__(self) -> None:
        self._q: asyncio.Queue[sm.Event] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hold: asyncio.Task[None] | None = None
        self._dial: asyncio.Task[None] | None = None
        self.leg: Call | None = None
        self.bridge: Bridge | None = None
        self.state = sm.State(self.settings)
        self.result: asyncio.Future[sm.Finish] = asyncio.get_running_loop().create_future()
        self.done = asyncio.Event()

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    def _post(self, ev: sm.Event) -> None:
        self._q.put_nowait(ev)

    async def _audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        if self.render_in_thread:
            return await asyncio.to_thread(self.prompts.audio, prompt_id, slots)
        return self.prompts.audio(prompt_id, slots)

    async def _caller_pump(self) -> None:
        while True:
            ev = await self.call.next_event()
            if isinstance(ev, HangupEvent):
                self._post(sm.CallerHungUp())
                return
            if not isinstance(ev, PlaybackFinished):
                self._post(sm.CallerDigit(ev.digit))

    async def _agent_pump(self, leg: Call) -> None:
        while True:
            ev = await leg.next_event()
            if isinstance(ev, HangupEvent):
                if leg is self.leg:
                    self._post(sm.AgentHungUp())
                return

    async def run(self) -> sm.Finish:
        """Start the transfer; returns the first outcome (``bridged`` or a failure), keeps supervising after it."""
        self.metrics.started = asyncio.get_running_loop().time()
        log.info("call %s: warm transfer started", self.call.call_id)
        # render the whisper (dynamic TTS) while the agent's phone rings, off the set-up critical path
        self._whisper_pcm: asyncio.Task[bytes] = self._spawn(self._audio("whisper.agent", self.whisper_slots))
        self._spawn(self._loop())
        return await self.result

    async def _loop(self) -> None:
        pump = self._spawn(self._caller_pump())
        self._post(sm.Start())
        try:
            while self.state.phase != "done":
                ev = await self._q.get()
                self.state, actions = sm.step(self.state, ev)
                for a in actions:
                    await self._do(a)
        except Exception as exc:  # never leave the caller in silence on a bug
            log.exception("warm transfer failed")
            if not self.result.done():
                self.result.set_result(sm.Finish("failed", None, str(exc)))
        finally:
            pump.cancel()
            await self._safe(self.agents.dequeue(self.call.call_id))
            for h in self._timers.values():
                h.cancel()
            self._stop_hold()
            self.done.set()

    # -- actions --------------------------------------------------------------------------------------------------
    async def _do(self, a: sm.Action) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(a, sm.PlayCaller):
            pcm = await self._audio(a.prompt_id, {**self.prompt_slots, **dict(a.slots)})
            pb = self.call.play(pcm)
            if a.notify_done:
                self._spawn(self._after(pb.done, sm.CallerPromptDone()))
        elif isinstance(a, sm.StartHold):
            self._stop_hold()
            self._hold = asyncio.ensure_future(self._hold_loop())
        elif isinstance(a, sm.StopCallerAudio):
            self._stop_hold()
            self.call.stop_playback(force=True)
        elif isinstance(a, sm.Claim):
            self._spawn(self._claim(a.exclude))
        elif isinstance(a, sm.Dial):
            self._dial = self._spawn(self._dial_agent(a.agent_id))
        elif isinstance(a, sm.CancelDial):
            if self._dial is not None:
                self._dial.cancel()
        elif isinstance(a, sm.ScreenPop):
            self._spawn(self._pop(a.agent_id))
        elif isinstance(a, sm.Whisper):
            self._spawn(self._whisper(a.agent_id))
        elif isinstance(a, sm.Bridge):
            if self.leg is not None:
                self.bridge = self.engine.bridge(self.call, self.leg)
                self.metrics.bridged = loop.time()
                await self._safe(self.agents.set_call_state(a.agent_id, "talking", self.call.call_id))
        elif isinstance(a, sm.Unbridge):
            if self.bridge is not None and self.bridge.active:
                self.bridge.unbridge()
            self.bridge = None
        elif isinstance(a, sm.HangupAgent):
            leg, self.leg = self.leg, None
            if leg is not None and not leg.ended:
                await leg.hangup("transfer ended")
        elif isinstance(a, sm.HangupCaller):
            if not self.call.ended:
                await self.call.hangup("normal")
        elif isinstance(a, sm.ReleaseAgent):
            await self._safe(self.agents.release(a.agent_id, self.wall_clock()))
        elif isinstance(a, sm.MarkOrder):
            try:
                await self.mark(a)
            except Exception:
                log.exception("could not mark order (%s)", a)
        elif isinstance(a, sm.StartTimer):
            old = self._timers.pop(a.name, None)
            if old:
                old.cancel()
            self._timers[a.name] = loop.call_later(a.seconds, self._post, sm.TimerFired(a.name))
        elif isinstance(a, sm.CancelTimer):
            h = self._timers.pop(a.name, None)
            if h:
                h.cancel()
        elif isinstance(a, sm.Finish):
            await self._safe(self.agents.dequeue(self.call.call_id))
            if not self.result.done():
                log.info("call %s: transfer %s %s", self.call.call_id, a.status, a.agent_id or a.detail)
                self.result.set_result(a)

    async def _safe(self, aw: Awaitable[Any]) -> None:
        try:
            await aw
        except Exception:
            log.exception("agent state update failed")

    async def _after(self, fut: Awaitable[Any], ev: sm.Event) -> None:
        with contextlib.suppress(Exception):
            await fut
        self._post(ev)

    def _stop_hold(self) -> None:
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None

    async def _hold_loop(self) -> None:
        pcm = await self._audio("hold.music")
        while not self.call.ended:
            pb = self.call.play(pcm)
            if not await pb.done:
                return

    async def _claim(self, exclude: tuple[str, ...]) -> None:
        try:
            await self.agents.enqueue(self.call.call_id, self.wall_clock())  # keeps the first time (FIFO)
            got = await self.agents.claim(self.call.call_id, self.skill, exclude)
        except Exception:
            log.exception("agent claim failed")
            got = None
        if got:
            log.info("call %s: agent %s reserved", self.call.call_id, got)
        self._post(sm.AgentClaimed(got) if got else sm.NoAgentFree())

    async def _dial_agent(self, agent_id: str) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.metrics.dial_started = t0
        leg: Call | None = None
        try:
            uri = await self.resolve(agent_id)
            if not uri:
                raise DialFailed(0, f"no SIP address for agent {agent_id}")
            await self._safe(self.agents.set_call_state(agent_id, "ringing", self.call.call_id))
            leg = await self.engine.dial(uri, caller_id=self.caller_id, timeout=self.ring_timeout_s)
        except DialFailed as exc:
            log.info("call %s: agent %s not reached (%s)", self.call.call_id, agent_id, exc)
            self.metrics.ring_total += loop.time() - t0
            self._post(sm.DialFailedEv(agent_id, exc.status, exc.reason))
            return
        except asyncio.CancelledError:
            if leg is not None:
                await leg.hangup("caller gone")
            raise
        except Exception as exc:
            log.exception("dialing agent %s failed", agent_id)
            self.metrics.ring_total += loop.time() - t0
            self._post(sm.DialFailedEv(agent_id, 0, str(exc)))
            return
        self.metrics.ring_total += loop.time() - t0
        self.metrics.answered = loop.time()
        if self.state.phase != "dialing" or self.call.ended:  # the caller left while it rang
            await leg.hangup("caller gone")
            return
        self.leg = leg
        self._spawn(self._agent_pump(leg))
        self._post(sm.AgentAnswered(agent_id))

    async def _pop(self, agent_id: str) -> None:
        try:
            await self.pop(agent_id)
        except Exception:
            log.exception("screen pop to %s failed; bridging anyway", agent_id)
        self.metrics.popped = asyncio.get_running_loop().time()
        self._post(sm.PopDone())

    async def _whisper(self, agent_id: str) -> None:
        leg = self.leg
        if leg is None:
            return
        await self._safe(self.agents.set_call_state(agent_id, "whisper", self.call.call_id))
        try:
            pcm = await self._whisper_pcm
        except Exception:
            log.exception("whisper could not be rendered; bridging without it")
            pcm = b""
        self.metrics.whisper_started = asyncio.get_running_loop().time()
        if pcm:
            pb = leg.play(pcm, interruptible=False)
            with contextlib.suppress(Exception):
                await pb.done
        self._post(sm.WhisperDone())
